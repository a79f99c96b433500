//! `canary` judges a canary deployment against its baseline.
//!
//! # Layers
//!
//! Data flows one way, and every import points down this stack (bottom first; the test
//! `tests/integration/architecture.rs` enforces it):
//!
//! 1. `model` (the shared vocabulary: sides, windows, series, verdicts, number formatting, the
//!    clock) and `stats` (the statistics): they import nothing of the crate.
//! 2. `input`: bounded reading of files.
//! 3. `config`: the analysis file.
//! 4. `source` (Prometheus, Datadog, recordings) and `judge` (pure).
//! 5. `kayenta` (the Kayenta-compatible judge) and `comparison` (`canary compare`).
//! 6. `error`: every failure below mapped to one documented exit code.
//! 7. `report` (renderers) and `actions` (webhooks, feature flags, the cron watchdog).
//! 8. `cli`, the only module that knows clap.
//! 9. `settings`: flags, environment and the analysis resolved once into typed settings.
//! 10. `commands`, which only orchestrate; then this crate root ([`run`], [`exit_code`]).
//!
//! # Public surface
//!
//! The binary, the integration tests, the fuzz targets and the benches use only what is exported
//! here: the modules [`model`], [`stats`] (checked against SciPy) and [`kayenta`] (checked against
//! Kayenta's own results), and the items below. Everything else is internal to the crate.

pub(crate) mod actions;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod comparison;
pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod input;
pub(crate) mod judge;
pub mod kayenta;
pub mod model;
pub(crate) mod report;
pub(crate) mod settings;
pub(crate) mod source;
pub mod stats;

/// The command line, parsed by the binary and given to [`run`].
pub use cli::Cli;

/// An error that stops a run, with its exit code.
pub use error::CanaryError;

/// The analysis file, its Datadog API choice and judge choice, and its query templates.
pub use config::template::{render_metric, resolve_sides};
pub use config::{Analysis, DatadogApi, JudgeChoice};

/// The parser of Datadog's answer to one v2 request carrying several queries (issue 16).
pub use source::datadog::parse_combined_response_bytes as parse_datadog_combined_response;
/// Metric sources: the trait and its request, recordings, and the parsers of both HTTP sources'
/// answers.
pub use source::datadog::parse_response_bytes as parse_datadog_response;
pub use source::prometheus::parse_response_bytes as parse_prometheus_response;
pub use source::recorded::{RecordedMetric, RecordedQuery, RecordedSeries, RecordedSide, RecordedSource, Recording};
#[doc(hidden)]
pub use source::targets::parse_targets_bytes as parse_prometheus_targets;
pub use source::{MetricSource, QueryRequest};

/// Judging a source over a window, the judgment report, and its rendering as `canary judge` prints
/// it.
pub use cli::JudgeFormat;
pub use commands::judge::render as render_judgment;
pub use commands::judging::judge_source;
pub use judge::report::JudgmentReport;
pub use report::Page;

/// Many analyses in one run: the fleet file and the PromQL and Datadog shapes that can be fetched
/// grouped (the recognisers and rewriters).
pub use config::fleet::FleetFile;
pub use source::grouping::{
    GroupableShape, groupable as groupable_shape, groupable_datadog as groupable_datadog_shape,
};

/// `canary compare`: reading a file of numbers and comparing two samples.
pub use comparison::{CompareSettings, compare};
pub use input::parse_numbers;
/// `canary compare`'s other sample files: a CSV column, a hyperfine export's times.
pub use input::{Selector, parse_csv_column, parse_hyperfine};

/// `canary serve`: the parsers of Flagger's webhook payload and of Argo Rollouts' `web` body.
pub use commands::serve::requests::{
    JudgeRequest, MAX_VARIABLES as SERVE_MAX_VARIABLES, parse_argo_request, parse_flagger_request,
};

/// The cron watchdog's state file and its rollback rule.
pub use actions::watchdog::{RecordedVerdict, StateFile, rollback_rule};

/// What the cron watchdog carries from run to run (`--looks sequential`, the incremental fetch):
/// the validating parser of a state entry's `carried` part, its stored form, and the rule that
/// continues a sequence or starts a new one.
pub use actions::watchdog::sequence::{
    Carried as WatchdogCarried, Looks as WatchdogLooks, Wanted as WatchdogWanted,
    continuation as watchdog_continuation, parse as parse_watchdog_carried, to_value as watchdog_carried_value,
};

use model::Verdict;

/// Parses the process's command line, and decides once how output looks (`--color`, `NO_COLOR`,
/// `COLUMNS`, the terminal); prints help, the version or a usage error and exits when that is
/// what the arguments ask for or hold.
pub fn parse_command_line() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let output = settings::output::init(cli::color_flag(&args));
    let look =
        cli::Look { stdout_styled: output.stdout_styled, stderr_styled: output.stderr_styled, width: output.width };
    cli::parse(args, look).unwrap_or_else(|error| error.exit())
}

/// Runs a parsed command line to its verdict.
pub fn run(cli: cli::Cli) -> Result<Verdict, CanaryError> {
    settings::output::init(cli.color);
    match &cli.command {
        cli::Command::Judge(args) => commands::judge::run(args),
        cli::Command::Validate(args) => commands::validate::run(args),
        cli::Command::Record(args) => commands::record::run(args),
        cli::Command::Watch(args) => commands::watch::run(args),
        cli::Command::Compare(args) => commands::compare::run(args),
        cli::Command::Schema(args) => commands::schema::run(args),
        cli::Command::Import(args) => commands::import::run(args),
        cli::Command::Completions(args) => commands::shell::completions(args),
        cli::Command::Man => commands::shell::man(),
        cli::Command::Serve(args) => commands::serve::run(args),
    }
}

/// The process exit code of an outcome; errors are reported on stderr first.
pub fn exit_code(outcome: Result<Verdict, CanaryError>) -> u8 {
    error::report_and_exit_code(outcome, settings::output::get().stderr_styled)
}
