//! What every command that queries takes: the analysis and its variables, the judged window
//! and the source's connection; `validate` and `record`, which take only these; and the parsers
//! of their values.

use crate::model::Duration;
use clap::Args;
use std::path::PathBuf;

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

/// The analyses `judge` and `watch` take: one, several (one process, one client, grouped
/// queries, each service as alone, a summary, the exit code of the worst outcome), or a fleet file.
#[derive(Debug, Clone, Args)]
pub struct ServicesArgs {
    /// The analysis file (YAML), e.g. analyses/checkout.yaml; several are handled in one run (one
    /// client, each service as alone, a summary, the exit code of the worst outcome).
    #[arg(required_unless_present = "fleet")]
    pub analysis: Vec<PathBuf>,
    /// Every service of a fleet file (an analysis and its variables per service) in one run, with
    /// grouped queries where their shapes allow.
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
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

pub(super) fn parse_variable(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

pub(super) fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.trim().to_string())),
        _ => Err("not NAME: VALUE".to_string()),
    }
}

/// `64MiB`, `512KiB`, `1GiB`, `1000000` (bytes); KB/MB/GB are taken as powers of 1024 too.
pub(super) fn parse_size(text: &str) -> Result<u64, String> {
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

pub(super) fn parse_time(text: &str) -> Result<i64, String> {
    crate::model::window::parse_timestamp(text)
}
