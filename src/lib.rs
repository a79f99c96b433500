//! `canary` judges a canary deployment against its baseline.
//!
//! Data flows one way: [`cli`] parses the command line, [`commands`] orchestrate, [`input`] reads
//! files, [`stats`] and [`judge`] compute (pure), [`report`] renders. [`model`] holds the shared
//! vocabulary at the bottom (sides, windows, series, verdicts) and imports nothing else of the
//! crate; only [`cli`] knows clap. [`error`] maps every outcome to one documented exit code, in one
//! place ([`exit_code`]).

pub mod actions;
pub mod cli;
pub mod commands;
pub mod comparison;
pub mod config;
pub mod error;
pub mod input;
pub mod judge;
pub mod kayenta;
pub mod model;
pub mod report;
pub(crate) mod settings;
pub mod source;
pub mod stats;

use error::CanaryError;
use model::Verdict;

/// Runs a parsed command line to its verdict.
pub fn run(cli: cli::Cli) -> Result<Verdict, CanaryError> {
    match &cli.command {
        cli::Command::Judge(args) => commands::judge::run(args),
        cli::Command::Validate(args) => commands::validate::run(args),
        cli::Command::Record(args) => commands::record::run(args),
        cli::Command::Watch(args) => commands::watch::run(args),
        cli::Command::Compare(args) => commands::compare::run(args),
        cli::Command::Schema(args) => commands::schema::run(args),
        cli::Command::Import(args) => commands::import::run(args),
    }
}

/// The process exit code of an outcome; errors are reported on stderr first.
pub fn exit_code(outcome: Result<Verdict, CanaryError>) -> u8 {
    error::report_and_exit_code(outcome)
}
