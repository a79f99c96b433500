//! How output looks, decided once per run: colour on stdout and on stderr, and the width that
//! tables, wrapped text and `--help` fit.
//!
//! - Colour: `--color always|never` wins; with `auto` (the default) a stream is coloured only when
//!   it is a terminal, `NO_COLOR` is unset or empty (no-color.org) and `TERM` is not `dumb`.
//! - Width: `COLUMNS` when it holds a number, else the width of the terminal on stdout, else
//!   [`DEFAULT_WIDTH`]; always kept within [`MIN_WIDTH`]..=[`MAX_WIDTH`] (wider lines are not read
//!   comfortably, narrower ones cannot hold a table row).

use crate::cli::ColorWhen;
use crate::report::Page;
use std::io::IsTerminal;
use std::sync::OnceLock;

/// The width when `COLUMNS` is unset and stdout is not a terminal (a pipe, a file, CI logs).
pub(crate) const DEFAULT_WIDTH: usize = 100;
/// The narrowest width output is fitted to.
pub(crate) const MIN_WIDTH: usize = 40;
/// The widest width output is fitted to.
pub(crate) const MAX_WIDTH: usize = 120;

/// The resolved output settings of this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// Colour and box-drawing on stdout.
    pub stdout_styled: bool,
    /// Colour of the error and warning prefixes on stderr (canary's and clap's alike).
    pub stderr_styled: bool,
    /// Columns that tables, wrapped text and `--help` fit.
    pub width: usize,
}

/// What the decision reads from the process: kept apart so that it can be tested.
#[derive(Debug, Clone, Default)]
pub(crate) struct Environment {
    pub no_color: Option<String>,
    pub term: Option<String>,
    pub columns: Option<String>,
    pub stdout_terminal: bool,
    pub stderr_terminal: bool,
    pub terminal_width: Option<usize>,
}

impl Environment {
    fn of_process() -> Environment {
        let text = |name: &str| std::env::var_os(name).map(|value| value.to_string_lossy().into_owned());
        let stdout_terminal = std::io::stdout().is_terminal();
        Environment {
            no_color: text("NO_COLOR"),
            term: text("TERM"),
            columns: text("COLUMNS"),
            stdout_terminal,
            stderr_terminal: std::io::stderr().is_terminal(),
            terminal_width: if stdout_terminal {
                terminal_size::terminal_size().map(|(width, _)| usize::from(width.0))
            } else {
                None
            },
        }
    }
}

impl Output {
    /// Decides from `--color` and `environment`.
    pub(crate) fn decide(when: ColorWhen, environment: &Environment) -> Output {
        let auto =
            environment.no_color.as_deref().is_none_or(str::is_empty) && environment.term.as_deref() != Some("dumb");
        let styled = |terminal: bool| match when {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => auto && terminal,
        };
        let columns =
            environment.columns.as_deref().and_then(|text| text.trim().parse::<usize>().ok()).filter(|&w| w > 0);
        let width = columns.or(environment.terminal_width).unwrap_or(DEFAULT_WIDTH).clamp(MIN_WIDTH, MAX_WIDTH);
        Output {
            stdout_styled: styled(environment.stdout_terminal),
            stderr_styled: styled(environment.stderr_terminal),
            width,
        }
    }
}

impl Output {
    /// The page stdout's renderers fit.
    pub(crate) fn page(&self) -> Page {
        Page { styled: self.stdout_styled, width: self.width }
    }
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

/// Decides the output settings of this process once, from `--color` and the environment; later
/// calls return the first decision.
pub(crate) fn init(when: ColorWhen) -> Output {
    *OUTPUT.get_or_init(|| Output::decide(when, &Environment::of_process()))
}

/// The output settings of this run (`--color auto` when [`init`] was not called, as in unit tests).
pub(crate) fn get() -> Output {
    init(ColorWhen::Auto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal() -> Environment {
        Environment { stdout_terminal: true, stderr_terminal: true, terminal_width: Some(90), ..Environment::default() }
    }

    #[test]
    fn no_color_counts_only_when_set_and_not_empty() {
        let mut environment = terminal();
        assert!(Output::decide(ColorWhen::Auto, &environment).stdout_styled);
        environment.no_color = Some(String::new());
        assert!(Output::decide(ColorWhen::Auto, &environment).stdout_styled, "NO_COLOR= (empty) is ignored");
        environment.no_color = Some("1".into());
        let output = Output::decide(ColorWhen::Auto, &environment);
        assert!(!output.stdout_styled && !output.stderr_styled);
        assert!(Output::decide(ColorWhen::Always, &environment).stdout_styled, "--color always wins over NO_COLOR");
    }

    #[test]
    fn auto_colours_only_terminals_that_are_not_dumb() {
        let mut environment = terminal();
        environment.stdout_terminal = false;
        let output = Output::decide(ColorWhen::Auto, &environment);
        assert!(!output.stdout_styled && output.stderr_styled);
        environment.term = Some("dumb".into());
        assert!(!Output::decide(ColorWhen::Auto, &environment).stderr_styled);
        assert!(!Output::decide(ColorWhen::Never, &terminal()).stdout_styled);
        assert!(Output::decide(ColorWhen::Always, &Environment::default()).stderr_styled);
    }

    #[test]
    fn width_is_columns_then_the_terminal_then_the_default_within_bounds() {
        let mut environment = terminal();
        assert_eq!(Output::decide(ColorWhen::Auto, &environment).width, 90);
        environment.columns = Some("60".into());
        assert_eq!(Output::decide(ColorWhen::Auto, &environment).width, 60);
        environment.columns = Some("wide".into());
        assert_eq!(Output::decide(ColorWhen::Auto, &environment).width, 90);
        environment.columns = Some("10".into());
        assert_eq!(Output::decide(ColorWhen::Auto, &environment).width, MIN_WIDTH);
        environment.columns = Some("400".into());
        assert_eq!(Output::decide(ColorWhen::Auto, &environment).width, MAX_WIDTH);
        assert_eq!(Output::decide(ColorWhen::Auto, &Environment::default()).width, DEFAULT_WIDTH);
    }
}
