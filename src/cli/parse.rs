//! Turning the process's arguments into a [`Cli`]: what clap's derive cannot say by itself.
//!
//! - `--color` is read before clap parses, so that clap's own errors and help follow it;
//! - help and errors are wrapped to the width and coloured by the rules of `settings::output`
//!   (decided by the caller and passed in);
//! - a value from a `CANARY_*` environment variable yields to the command line: `CANARY_LAST`
//!   is dropped when `--start`/`--end` are given (clap would call that a conflict);
//! - an invalid value that came from an environment variable is reported with the variable's name.

use super::{Cli, ColorWhen, Command};
use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;

/// How help and errors look: whether each stream is coloured, and the width help wraps to.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub stdout_styled: bool,
    pub stderr_styled: bool,
    pub width: usize,
}

/// The value of the last `--color` before `--` (`auto` when absent or not a known value); clap
/// checks the value properly when it parses.
pub fn color_flag(args: &[OsString]) -> ColorWhen {
    let mut when = ColorWhen::Auto;
    let mut args = args.iter().skip(1).map(|arg| arg.to_str().unwrap_or(""));
    while let Some(arg) = args.next() {
        let value = match arg {
            "--" => break,
            "--color" => args.next(),
            _ => arg.strip_prefix("--color="),
        };
        if let Some(value) = value {
            when = <ColorWhen as clap::ValueEnum>::from_str(value, true).unwrap_or(when);
        }
    }
    when
}

/// The command, wrapping to `width`, coloured when `styled`.
fn command(width: usize, styled: bool) -> clap::Command {
    let color = if styled { clap::ColorChoice::Always } else { clap::ColorChoice::Never };
    Cli::command().color(color).term_width(width)
}

/// Parses `args` (the program name first). Help and `--version` come back as the error clap
/// prints on stdout with exit code 0.
pub fn parse(args: Vec<OsString>, look: Look) -> Result<Cli, clap::Error> {
    let mut errors = command(look.width, look.stderr_styled);
    let matches = match errors.try_get_matches_from_mut(args.iter()) {
        Ok(matches) => matches,
        // Help goes to stdout: render it with stdout's colour.
        Err(error) if !error.use_stderr() => {
            return Err(command(look.width, look.stdout_styled).try_get_matches_from(args.iter()).unwrap_err());
        }
        Err(mut error) => {
            name_the_environment_variable(&mut error, &errors, &args);
            return Err(error);
        }
    };
    let mut cli = Cli::from_arg_matches(&matches).map_err(|error| error.format(&mut errors))?;
    let Some((name, subcommand)) = matches.subcommand() else { return Ok(cli) };
    let window = match &mut cli.command {
        Command::Judge(args) => &mut args.window,
        Command::Validate(args) => &mut args.window,
        Command::Record(args) => &mut args.window,
        _ => return Ok(cli),
    };
    if window.start.is_some() {
        match subcommand.value_source("last") {
            Some(ValueSource::CommandLine) => {
                let message = "the argument '--last <DURATION>' cannot be used with '--start <TIME>'";
                let command = errors.find_subcommand_mut(name).expect("the parsed subcommand");
                return Err(command.error(ErrorKind::ArgumentConflict, message));
            }
            Some(ValueSource::EnvVariable) => window.last = None,
            _ => {}
        }
    }
    Ok(cli)
}

/// Adds to an invalid-value error the environment variable the value came from, when it did:
/// the flag is not on the command line and its variable is set.
fn name_the_environment_variable(error: &mut clap::Error, command: &clap::Command, args: &[OsString]) {
    if !matches!(error.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return;
    }
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else { return };
    let invalid = invalid.clone();
    let given = |long: &str| {
        args.iter().any(|arg| arg.to_str().is_some_and(|arg| arg == long || arg.starts_with(&format!("{long}="))))
    };
    let found = command.get_subcommands().flat_map(|sub| sub.get_arguments()).find_map(|arg| {
        let long = format!("--{}", arg.get_long()?);
        let variable = arg.get_env()?;
        let named = invalid == long || invalid.starts_with(&format!("{long} "));
        (named && !given(&long) && std::env::var_os(variable).is_some())
            .then(|| (variable.to_string_lossy().into_owned(), long))
    });
    if let Some((variable, long)) = found {
        let tip =
            format!("the value comes from the environment variable {variable}; correct or unset it, or give {long}");
        error.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![StyledStr::from(tip)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn reads_the_last_color_flag_before_the_separator() {
        assert_eq!(color_flag(&args(&["canary", "judge", "x.yaml"])), ColorWhen::Auto);
        assert_eq!(color_flag(&args(&["canary", "--color", "never", "judge"])), ColorWhen::Never);
        assert_eq!(color_flag(&args(&["canary", "judge", "--color=always"])), ColorWhen::Always);
        assert_eq!(color_flag(&args(&["canary", "--color=always", "--color", "never"])), ColorWhen::Never);
        assert_eq!(color_flag(&args(&["canary", "--color=sometimes"])), ColorWhen::Auto);
        assert_eq!(color_flag(&args(&["canary", "--", "--color=always"])), ColorWhen::Auto);
    }
}
