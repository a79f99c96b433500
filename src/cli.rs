//! The command-line surface (clap derive). Parsing only: commands turn these into settings.

use crate::config::JudgeChoice;
use crate::input::Selector;
use crate::model::{Direction, Duration, Margin};
use crate::report::Format;
use crate::stats::{Alternative, Method};
use clap::builder::{EnumValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

mod parse;
pub use parse::{Look, color_flag, parse};

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

const SERVE_HELP: &str = "\
Endpoints (docs/serve.md):
  POST /flagger/HOOK  Flagger webhook; HOOK: rollout, confirm-traffic-increase,
                      confirm-promotion (200 on a pass only) or rollback (200 on a fail only);
                      metadata.analysis names the analysis, other metadata keys are variables
  POST /argo          Argo Rollouts web metric, body {\"analysis\": NAME, \"variables\": {..}};
                      200 with {\"verdict\": \"pass\"|\"fail\"|\"inconclusive\", ...}
  GET /healthz, GET /metrics (Prometheus text format), without authentication

Exit codes: 0 stopped by SIGTERM or SIGINT; 2 cannot start (bad analysis, no secret, address in use).";

/// `canary serve`: the analyses, the listening address, the callers' secret and the bounds.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of analysis files (*.yaml, *.yml), each served under its `name`; all are checked
    /// at start (one bad file stops the start) and reloaded on SIGHUP (a bad reload keeps the old set).
    #[arg(long, value_name = "DIR")]
    pub analyses: PathBuf,
    /// Address and port to listen on; loopback unless told otherwise.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Environment variable holding the callers' secret (a bearer token, or the password of HTTP
    /// basic auth).
    #[arg(long, value_name = "NAME", default_value = "CANARY_SERVE_TOKEN")]
    pub secret_env: String,
    /// File holding the callers' secret (a mounted Kubernetes Secret); wins over --secret-env.
    #[arg(long, value_name = "PATH", env = "CANARY_SERVE_TOKEN_FILE")]
    pub secret_file: Option<PathBuf>,
    /// Serve without authenticating callers: only on a loopback address.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Judgments running at once; a request over the bound is answered 503 at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_judgments: u16,
    /// Time limit of one judgment, fetching included; past it the answer is 504 (keep it under the
    /// caller's own timeout: Flagger's webhook `timeout`, Argo's `timeoutSeconds`).
    #[arg(long, value_name = "DURATION", default_value = "50s")]
    pub deadline: Duration,
    /// The largest request body accepted (B, KiB, MiB).
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = parse_size)]
    pub max_body_size: u64,
    /// Fix the clock (RFC 3339): every judged window ends a minute before this time (for
    /// backfilled data, demos and tests).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    #[command(flatten)]
    pub source: SourceArgs,
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
pub struct JudgeArgs {
    /// The analysis file (YAML), e.g. analyses/checkout.yaml; several are judged in one run (one
    /// report each, a summary, the exit code of the worst verdict).
    #[arg(required_unless_present = "fleet")]
    pub analysis: Vec<PathBuf>,
    /// Judge every service of a fleet file (an analysis and its variables per service) in one
    /// run, with grouped queries where their shapes allow.
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// Set a template variable, overriding the analysis (repeatable): --var canary=checkout-7f9c.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_variable)]
    pub vars: Vec<(String, String)>,
    /// Judge recorded data (from `canary record`) instead of querying the source.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = JudgeFormat::Table, env = "CANARY_FORMAT")]
    pub format: JudgeFormat,
    /// Also write a report to a file (repeatable): --output json=report.json --output junit=junit.xml.
    #[arg(long = "output", value_name = "FORMAT=PATH", value_parser = parse_output)]
    pub outputs: Vec<(JudgeFormat, PathBuf)>,
    /// Which judge decides, overriding `judgment.judge`: default, kayenta (the Kayenta-compatible
    /// judge), or both (the default judge decides; Kayenta's verdict is shown beside it).
    #[arg(long, value_name = "JUDGE", value_parser = choice::<JudgeArg, JudgeChoice>())]
    pub judge: Option<JudgeChoice>,
    #[command(flatten)]
    pub rollback: RollbackArgs,
    #[command(flatten)]
    pub watchdog: WatchdogArgs,
}

/// The cron watchdog: one judgment per run, a rollback only on the transition to fail.
#[derive(Debug, Args, Default)]
pub struct WatchdogArgs {
    /// Keep a lock and the last verdict per canary in DIR: overlapping runs stop with exit 4, and
    /// the rollback webhook is called on the transition to fail only, not again on the next run.
    #[arg(long, value_name = "DIR", env = "CANARY_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print nothing on stdout when the verdict is pass (cron mails whatever a job prints);
    /// --output files are still written.
    #[arg(long, short)]
    pub quiet: bool,
    /// GET this URL after every run that reached a verdict (a heartbeat, healthchecks.io style);
    /// a failed ping is a warning and does not change the exit code.
    #[arg(long, value_name = "URL", env = "CANARY_PING_URL", hide_env_values = true)]
    pub ping_url: Option<String>,
}

/// The rollback webhook; each flag overrides the analysis's `rollback`. The signing secret comes
/// from CANARY_ROLLBACK_SECRET or a file, never from a flag value.
#[derive(Debug, Args, Default)]
pub struct RollbackArgs {
    /// URL to POST the report to on a fail verdict (prefer CANARY_ROLLBACK_WEBHOOK when the URL
    /// itself is a secret, as with many webhook services).
    #[arg(long, value_name = "URL", env = "CANARY_ROLLBACK_WEBHOOK", hide_env_values = true)]
    pub rollback_webhook: Option<String>,
    /// File holding the HMAC-SHA256 signing secret.
    #[arg(long, value_name = "PATH", env = "CANARY_ROLLBACK_SECRET_FILE")]
    pub rollback_secret_file: Option<PathBuf>,
    /// Also call the webhook when the verdict is inconclusive.
    #[arg(long)]
    pub rollback_on_inconclusive: bool,
    /// Print the webhook request (signature included, secret not) instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
}

/// The analysis file and the values of its template variables, as every command that queries
/// takes them.
#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    /// The analysis file (YAML), e.g. analyses/checkout.yaml.
    pub analysis: PathBuf,
    /// Set a template variable, overriding the analysis (repeatable): --var canary=checkout-7f9c.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_variable)]
    pub vars: Vec<(String, String)>,
}

/// The judged window; each flag overrides the analysis's `window`.
#[derive(Debug, Clone, Args, Default)]
pub struct WindowArgs {
    /// Judge the last DURATION (e.g. 30m), ending a minute before now: the newest minute may not
    /// be scraped yet. Not with --start/--end, which win over CANARY_LAST.
    #[arg(long, value_name = "DURATION", env = "CANARY_LAST")]
    pub last: Option<Duration>,
    /// Start of the window (RFC 3339, e.g. 2026-11-23T10:00:00Z).
    #[arg(long, value_name = "TIME", requires = "end", value_parser = parse_time)]
    pub start: Option<i64>,
    /// End of the window (RFC 3339).
    #[arg(long, value_name = "TIME", requires = "start", value_parser = parse_time)]
    pub end: Option<i64>,
    /// Resolution of the queried series (e.g. 1m).
    #[arg(long, value_name = "DURATION", env = "CANARY_STEP")]
    pub step: Option<Duration>,
    /// Leading part of the window that is not judged (e.g. 5m).
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<Duration>,
}

/// Where live data comes from; each flag overrides the analysis's `source`. Credentials are read
/// from files or from the environment, never from flag values.
#[derive(Debug, Clone, Args, Default)]
pub struct SourceArgs {
    /// Base URL of the metrics API: Prometheus-compatible with any path prefix
    /// (http://mimir/prometheus), or a Datadog API host.
    #[arg(long, value_name = "URL", env = "CANARY_SOURCE_URL", hide_env_values = true)]
    pub source_url: Option<String>,
    /// File holding a bearer token. A token can also be given in the environment variable
    /// CANARY_SOURCE_TOKEN, or named by the analysis (`token_env`, `token_file`).
    #[arg(long, value_name = "PATH", env = "CANARY_SOURCE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Extra request header (repeatable), e.g. --header 'X-Scope-OrgID: team-a'. Not for secrets.
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// PEM file of an extra certificate authority to trust.
    #[arg(long, value_name = "PATH", env = "CANARY_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Queries in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Time limit of one HTTP request (each retry gets its own).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub query_timeout: Duration,
    /// Time limit of all the queries of a run together.
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    pub timeout: Duration,
    /// Retries of a request that failed with 5xx, 429, a timeout or a connection error.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// The most bytes one answer of the source may have (B, KiB, MiB, GiB); a larger answer is
    /// refused while it streams (exit 4).
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_response_size: u64,
    /// The most series one query may return; more is refused (exit 4): aggregate the query.
    #[arg(long, value_name = "N", default_value_t = crate::source::points::DEFAULT_MAX_SERIES, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    pub max_series: usize,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub target: AnalysisArgs,
    /// Also run every query once for both sides and show what came back.
    #[arg(long)]
    pub live: bool,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub target: AnalysisArgs,
    /// How long the canary runs, from its start (the first judgment is at warm-up + interval).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub lifetime: Duration,
    /// Time between judgments.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub interval: Duration,
    /// Leading part of the lifetime that is never judged (default: the analysis's window.warmup).
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<Duration>,
    /// Judge a sliding window of this length instead of everything since the warm-up.
    #[arg(long, value_name = "DURATION")]
    pub lookback: Option<Duration>,
    /// Resolution of the queried series (default: the analysis's window.step).
    #[arg(long, value_name = "DURATION", env = "CANARY_STEP")]
    pub step: Option<Duration>,
    /// The canary's start (RFC 3339). Fixes the clock: judgments run one after another without
    /// waiting, as if time had passed (for backfilled or recorded data and reproducible runs).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Watch recorded data instead of querying the source (the start defaults to the recording's;
    /// looks stop at the recording's end, and a recording shorter than the lifetime cannot pass).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// How long after each look's time it queries the live source, so that the source holds the
    /// data up to it (scrape interval plus ingestion delay).
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub settle: Duration,
    /// `table`: one row per judgment; `json`: one JSON event per line.
    #[arg(long, value_enum, default_value_t = WatchFormat::Table)]
    pub format: WatchFormat,
    /// `fixed`: alpha spent O'Brien-Fleming style over the planned looks; `sequential`:
    /// always-valid tests (confidence sequences), as many looks as wanted at the full alpha.
    #[arg(long, value_enum, default_value_t = WatchLooks::Fixed)]
    pub looks: WatchLooks,
    /// Stop with pass (exit 0) at the first look where every metric's confidence sequence rules
    /// out a regression beyond its margin (sequential looks only).
    #[arg(long)]
    pub promote_early: bool,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub rollback: RollbackArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchFormat {
    Table,
    Json,
}

/// How `watch` keeps its false-alarm level over repeated looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchLooks {
    Fixed,
    Sequential,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub target: AnalysisArgs,
    /// Where to write the recording (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub source: SourceArgs,
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

/// Report formats of `canary judge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JudgeFormat {
    Table,
    Json,
    Markdown,
    Junit,
}

fn parse_variable(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

fn parse_output(text: &str) -> Result<(JudgeFormat, PathBuf), String> {
    let (format, path) =
        text.split_once('=').ok_or_else(|| format!("`{text}` is not FORMAT=PATH (e.g. json=report.json)"))?;
    let format = <JudgeFormat as clap::ValueEnum>::from_str(format, true)
        .map_err(|_| format!("`{format}` is not a format (expected table, json, markdown or junit)"))?;
    if path.is_empty() {
        return Err(format!("`{text}` names no file"));
    }
    Ok((format, PathBuf::from(path)))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.trim().to_string())),
        _ => Err("not NAME: VALUE".to_string()),
    }
}

/// `64MiB`, `512KiB`, `1GiB`, `1000000` (bytes); KB/MB/GB are taken as powers of 1024 too.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a size such as 64MiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` (use B, KiB, MiB or GiB)")),
    };
    match number.checked_mul(factor) {
        Some(0) => Err("the size must be larger than 0".into()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("`{text}` is too large")),
    }
}

fn parse_time(text: &str) -> Result<i64, String> {
    crate::model::window::parse_timestamp(text)
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// File of baseline numbers (whitespace or newline separated, `#` comments, `-` for stdin), a
    /// CSV file with --column, or a hyperfine --export-json file (a name ending in .json, or
    /// --command).
    pub baseline: PathBuf,
    /// File of canary numbers, in the same format (it may be the same CSV or JSON file, with
    /// --canary-column or --canary-command).
    pub canary: PathBuf,
    /// Read the files as CSV and take this column: its header name, or its position from 1 (a
    /// first row that is not a number there is a header).
    #[arg(long, value_name = "NAME|POSITION", conflicts_with_all = ["command", "canary_command"])]
    pub column: Option<Selector>,
    /// The canary file's column, when it differs from --column.
    #[arg(long, value_name = "NAME|POSITION", requires = "column")]
    pub canary_column: Option<Selector>,
    /// Read the files as hyperfine --export-json results and take this command's `times`: its
    /// name, or its position from 1 (needed when a file holds several commands).
    #[arg(long, value_name = "NAME|POSITION")]
    pub command: Option<Selector>,
    /// The canary file's command, when it differs from --command.
    #[arg(long, value_name = "NAME|POSITION")]
    pub canary_command: Option<Selector>,
    /// Alternative hypothesis of the Mann-Whitney test (`greater`: the canary tends to be larger).
    #[arg(long, default_value = "two-sided", value_parser = choice::<AlternativeArg, Alternative>())]
    pub alternative: Alternative,
    /// Two-sided confidence of the interval of the shift, strictly between 0 and 1.
    #[arg(long, default_value_t = 0.95, value_parser = parse_confidence)]
    pub confidence: f64,
    /// How the p-value is computed: exact null distribution (no ties), normal approximation, or
    /// exact when there are no ties and the smaller sample² × larger ≤ 1.6e7.
    #[arg(long, default_value = "auto", value_parser = choice::<MethodArg, Method>())]
    pub method: Method,
    /// Which change is bad.
    #[arg(long, default_value = "increase", value_parser = choice::<DirectionArg, Direction>())]
    pub direction: Direction,
    /// Practical margin a change must exceed to fail: absolute (`20`, in the samples' units) or
    /// relative to the baseline median (`5%`).
    #[arg(long, default_value = "0")]
    pub margin: Margin,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = choice::<FormatArg, Format>())]
    pub format: Format,
}

fn parse_confidence(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(c) if c > 0.0 && c < 1.0 => Ok(c),
        _ => Err(format!(
            "`{text}` is not a confidence level (expected a number strictly between 0 and 1, such as 0.95)"
        )),
    }
}

// The command-line spellings of the values the lower layers define. clap knows only these
// mirrors (their doc comments are the help text of each value, in this order); `choice` parses
// one and converts it, so `stats`, `judge`, `config` and `report` do not depend on clap.

/// A parser of the values of `A` that yields the `T` each converts to.
fn choice<A, T>() -> impl TypedValueParser<Value = T>
where
    A: ValueEnum + Clone + Send + Sync + 'static,
    T: From<A> + Clone + Send + Sync + 'static,
{
    EnumValueParser::<A>::new().map(T::from)
}

/// Mirrors [`Alternative`].
#[derive(Debug, Clone, Copy, ValueEnum)]
enum AlternativeArg {
    /// The canary differs from the baseline in either direction.
    TwoSided,
    /// The canary tends to be larger than the baseline.
    Greater,
    /// The canary tends to be smaller than the baseline.
    Less,
}

impl From<AlternativeArg> for Alternative {
    fn from(value: AlternativeArg) -> Alternative {
        match value {
            AlternativeArg::TwoSided => Alternative::TwoSided,
            AlternativeArg::Greater => Alternative::Greater,
            AlternativeArg::Less => Alternative::Less,
        }
    }
}

/// Mirrors [`Method`].
#[derive(Debug, Clone, Copy, ValueEnum)]
enum MethodArg {
    /// Exact when there are no ties and the exact law is cheap, asymptotic otherwise.
    Auto,
    /// The exact null distribution (no ties allowed).
    Exact,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
}

impl From<MethodArg> for Method {
    fn from(value: MethodArg) -> Method {
        match value {
            MethodArg::Auto => Method::Auto,
            MethodArg::Exact => Method::Exact,
            MethodArg::Asymptotic => Method::Asymptotic,
        }
    }
}

/// Mirrors [`Direction`].
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DirectionArg {
    /// A rise is bad (latency, errors).
    Increase,
    /// A fall is bad (conversion, throughput).
    Decrease,
    /// Any change is bad.
    Either,
}

impl From<DirectionArg> for Direction {
    fn from(value: DirectionArg) -> Direction {
        match value {
            DirectionArg::Increase => Direction::Increase,
            DirectionArg::Decrease => Direction::Decrease,
            DirectionArg::Either => Direction::Either,
        }
    }
}

/// Mirrors [`Format`].
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// A readable table (plain when stdout is not a terminal or NO_COLOR is set).
    Table,
    /// The JSON document described in the README.
    Json,
}

impl From<FormatArg> for Format {
    fn from(value: FormatArg) -> Format {
        match value {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Mirrors [`JudgeChoice`].
#[derive(Debug, Clone, Copy, ValueEnum)]
enum JudgeArg {
    /// This project's judge.
    Default,
    /// The Kayenta-compatible judge (Spinnaker's NetflixACAJudge): its classifications and verdict.
    Kayenta,
    /// Both: the default judge's verdict, with Kayenta's classifications and verdict beside it.
    Both,
}

impl From<JudgeArg> for JudgeChoice {
    fn from(value: JudgeArg) -> JudgeChoice {
        match value {
            JudgeArg::Default => JudgeChoice::Default,
            JudgeArg::Kayenta => JudgeChoice::Kayenta,
            JudgeArg::Both => JudgeChoice::Both,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_value_mirrors_spell_the_names_the_reports_use() {
        let name = |value: &dyn Fn() -> Option<clap::builder::PossibleValue>| value().unwrap().get_name().to_string();
        for value in AlternativeArg::value_variants() {
            assert_eq!(name(&|| value.to_possible_value()), Alternative::from(*value).name());
        }
        for value in DirectionArg::value_variants() {
            assert_eq!(name(&|| value.to_possible_value()), Direction::from(*value).name());
        }
        for value in JudgeArg::value_variants() {
            let serialized = serde_json::to_string(&JudgeChoice::from(*value)).unwrap();
            assert_eq!(format!("\"{}\"", name(&|| value.to_possible_value())), serialized);
        }
        let formats: Vec<Format> = FormatArg::value_variants().iter().map(|v| Format::from(*v)).collect();
        assert_eq!(formats, [Format::Table, Format::Json]);
        let methods: Vec<Method> = MethodArg::value_variants().iter().map(|v| Method::from(*v)).collect();
        assert_eq!(methods, [Method::Auto, Method::Exact, Method::Asymptotic]);
    }

    #[test]
    fn confidence_must_be_a_probability() {
        assert!(parse_confidence("0.99").is_ok());
        assert!(parse_confidence("1").is_err());
        assert!(parse_confidence("95").unwrap_err().contains("`95`"));
    }
}
