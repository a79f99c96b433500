//! The command-line surface (clap derive). Parsing only: commands turn these into settings.
//! The arguments of each command group live in a submodule; every type is re-exported here, so
//! `crate::cli::JudgeArgs` and the like are the paths the commands use.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

mod compare;
mod judge;
mod parse;
mod query;
mod serve;
mod values;
mod watch;

pub use compare::CompareArgs;
pub use judge::{JudgeArgs, JudgeFormat, RollbackArgs, WatchdogLooks};
pub use parse::{Look, color_flag, parse};
pub use query::{RecordArgs, ServicesArgs, SourceArgs, ValidateArgs, WindowArgs};
use serve::SERVE_HELP;
pub use serve::ServeArgs;
pub use watch::{WatchArgs, WatchFormat, WatchLooks};

const EXIT_CODES: &str = "\
Exit codes:
  0  pass
  1  fail: a regression was found
  2  usage or configuration error (bad flag, unreadable or malformed input)
  3  inconclusive: not enough data to decide
  4  could not judge (backend unreachable, query error, could not write the result, or
     another run holds the --state-dir lock)
  5  deployment healthy, feature(s) turned off: only feature-scoped groups failed and
     their actions succeeded (no rollback)
  130, 143  interrupted by SIGINT or SIGTERM (with --state-dir: lock removed, state consistent)";

/// `--version`: the package version, the commit and the build date (see build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CANARY_BUILD_INFO"), ")");

/// Judge a canary against its baseline with rank tests, count tests and thresholds.
#[derive(Debug, Parser)]
#[command(name = "canary", version = VERSION, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// When to colour output: auto (only on a terminal, and not when NO_COLOR is set to a
    /// non-empty value or TERM is dumb), always, or never.
    #[arg(long, global = true, value_name = "WHEN", value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

/// The values of `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge a canary against its baseline with the metrics of an analysis file.
    #[command(after_help = EXIT_CODES)]
    Judge(JudgeArgs),
    /// Check an analysis file: parse it strictly and render every query for both sides.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Judge a canary repeatedly over its lifetime; stop at the first fail (the rollback fires once).
    #[command(after_help = EXIT_CODES)]
    Watch(WatchArgs),
    /// Query the source for every metric of an analysis and save the series for --replay.
    #[command(after_help = EXIT_CODES)]
    Record(RecordArgs),
    /// Compare two samples of numbers (latency samples, benchmark runs), like ministat.
    #[command(after_help = EXIT_CODES)]
    Compare(CompareArgs),
    /// Print the JSON Schemas of the documents canary writes and reads.
    Schema(SchemaArgs),
    /// Write an analysis file from another tool's configuration (Kayenta canary configs).
    #[command(after_help = EXIT_CODES)]
    Import(ImportArgs),
    /// Print a shell completion script (see the README for where each shell reads it).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), every subcommand included: `canary man > canary.1`.
    Man,
    /// Serve judgments over HTTP to Flagger webhooks and Argo Rollouts' `web` metric provider.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub from: ImportFrom,
}

#[derive(Debug, Subcommand)]
pub enum ImportFrom {
    /// A Kayenta canary config (JSON): Prometheus and Datadog metric sets, groups and weights,
    /// per-metric analysis settings. The analysis selects `judge: kayenta`.
    Kayenta(KayentaImportArgs),
}

#[derive(Debug, Args)]
pub struct KayentaImportArgs {
    /// The Kayenta canary config, e.g. canary-config.json.
    pub config: PathBuf,
    /// Write the analysis here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Kayenta's pass threshold (Kayenta takes it from the execution request).
    #[arg(long, default_value_t = 95.0)]
    pub pass_score: f64,
    /// Kayenta's marginal threshold.
    #[arg(long, default_value_t = 75.0)]
    pub marginal_score: f64,
    /// Write what can be imported even when some of the config has no equivalent (listed on stderr).
    #[arg(long)]
    pub partial: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which document; all of them (as one JSON object keyed by name) when omitted.
    #[arg(value_enum)]
    pub document: Option<SchemaDocument>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaDocument {
    /// The judgment report (`canary judge --format json`, the rollback webhook body).
    Report,
    /// Recorded data (`canary record`, `canary judge --replay`).
    Recording,
    /// The `canary compare --format json` document.
    Compare,
    /// One event of `canary watch --format json` (one JSON object per line).
    Watch,
    /// The `canary judge --fleet … --format json` document (several analyses in one run).
    Fleet,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
