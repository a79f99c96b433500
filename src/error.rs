//! The errors a run can end with, each mapped to one documented exit code.

use crate::model::Verdict;
use std::path::PathBuf;

/// Everything that can stop a command before it reaches a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    /// Bad flags or values on the command line.
    #[error("{0}")]
    Usage(String),
    /// A file that could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// A malformed input file: which file, which line, what was found and what was expected.
    #[error("{}:{line}: {message}", path.display())]
    BadInput { path: PathBuf, line: usize, message: String },
    /// Too little data to judge (an empty sample, for instance).
    #[error("{0}")]
    NotEnoughData(String),
    /// Could not write the result (a closed pipe, a full disk).
    #[error("cannot write the result: {0}")]
    Output(#[source] std::io::Error),
    /// Could not write a result file.
    #[error("cannot write {}: {source}", path.display())]
    Unwritable { path: PathBuf, source: std::io::Error },
    /// An invalid analysis file.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A query or variable template that cannot be rendered.
    #[error(transparent)]
    Template(#[from] crate::config::template::TemplateError),
    /// A recording that cannot be used.
    #[error(transparent)]
    Recording(#[from] crate::source::recorded::RecordingError),
    /// A query the source refused as written (exit 2) or a source that could not answer (exit 4).
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// The cron watchdog cannot run: another run holds the lock, or the state directory is unusable.
    #[error("{0}")]
    Watchdog(String),
}

/// Exit codes, as documented in the README and `canary --help`.
pub mod exit_code {
    pub const PASS: u8 = 0;
    pub const FAIL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INCONCLUSIVE: u8 = 3;
    pub const COULD_NOT_JUDGE: u8 = 4;
    /// Deployment healthy, feature(s) turned off by their actions.
    pub const FEATURE_OFF: u8 = 5;
    /// Ended by SIGINT (128 + 2), with `--state-dir`: lock removed, state consistent.
    pub const INTERRUPTED: u8 = 130;
    /// Ended by SIGTERM (128 + 15), with `--state-dir`: lock removed, state consistent.
    pub const TERMINATED: u8 = 143;
}

/// The process exit code of an outcome; an error is first reported on stderr (`canary: error: …`,
/// or `canary: inconclusive: …` for too little data), cleaned of terminal control characters.
pub(crate) fn report_and_exit_code(outcome: Result<Verdict, CanaryError>, styled: bool) -> u8 {
    match outcome {
        Ok(verdict) => verdict.exit_code(),
        Err(error) => {
            let inconclusive = error.exit_code() == exit_code::INCONCLUSIVE;
            let label = if inconclusive { "inconclusive:" } else { "error:" };
            // Styled as clap styles its own `error:` (bold red), a warning-like bold yellow for
            // inconclusive, under the same colour rules (`settings::output`).
            let label = match (styled, inconclusive) {
                (false, _) => label.to_string(),
                (true, false) => format!("\x1b[1m\x1b[31m{label}\x1b[0m"),
                (true, true) => format!("\x1b[1m\x1b[33m{label}\x1b[0m"),
            };
            eprintln!("canary: {label} {}", crate::input::terminal_safe(&error.to_string()));
            error.exit_code()
        }
    }
}

impl From<crate::input::NumbersError> for CanaryError {
    fn from(error: crate::input::NumbersError) -> Self {
        match error {
            crate::input::NumbersError::Unreadable { path, source } => CanaryError::Unreadable { path, source },
            crate::input::NumbersError::BadInput { path, line, message } => {
                CanaryError::BadInput { path, line, message }
            }
        }
    }
}

impl From<crate::comparison::ComparisonError> for CanaryError {
    fn from(error: crate::comparison::ComparisonError) -> Self {
        match error {
            crate::comparison::ComparisonError::EmptySample { .. } => CanaryError::NotEnoughData(error.to_string()),
            crate::comparison::ComparisonError::Statistics(_) => CanaryError::Usage(error.to_string()),
        }
    }
}

impl CanaryError {
    /// The error of writing the result to stdout. A reader that closed the pipe early (`| head`)
    /// is not an error: the verdict still decides the exit code.
    pub fn stdout(result: std::io::Result<()>) -> Result<(), CanaryError> {
        match result {
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(CanaryError::Output),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CanaryError::Usage(_)
            | CanaryError::Unreadable { .. }
            | CanaryError::BadInput { .. }
            | CanaryError::Config(_)
            | CanaryError::Template(_)
            | CanaryError::Recording(_)
            | CanaryError::Source(crate::source::SourceError::Request(_)) => exit_code::USAGE,
            CanaryError::Source(
                crate::source::SourceError::Unavailable(_) | crate::source::SourceError::OverBudget(_),
            ) => exit_code::COULD_NOT_JUDGE,
            CanaryError::NotEnoughData(_) => exit_code::INCONCLUSIVE,
            CanaryError::Output(_) | CanaryError::Unwritable { .. } | CanaryError::Watchdog(_) => {
                exit_code::COULD_NOT_JUDGE
            }
        }
    }
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => exit_code::PASS,
            Verdict::Fail => exit_code::FAIL,
            Verdict::Inconclusive => exit_code::INCONCLUSIVE,
            Verdict::FeatureOff => exit_code::FEATURE_OFF,
        }
    }
}
