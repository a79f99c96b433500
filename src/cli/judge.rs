//! `canary judge`: its flags, its report formats, and the rollback and cron-watchdog flags it
//! shares with `watch`.

use super::query::{ServicesArgs, SourceArgs, WindowArgs};
use super::values::{JudgeArg, choice};
use crate::config::JudgeChoice;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct JudgeArgs {
    #[command(flatten)]
    pub services: ServicesArgs,
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
    /// With --state-dir: `window` judges each run's window (fetching only the points the last run
    /// did not); `sequential` carries one always-valid sequence across runs, so that a run every
    /// minute is one continuous monitor (the decision of `canary watch --looks sequential`).
    #[arg(long, value_enum, value_name = "LOOKS", requires = "state_dir")]
    pub looks: Option<WatchdogLooks>,
}

/// How the cron watchdog judges from run to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WatchdogLooks {
    Window,
    Sequential,
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

/// Report formats of `canary judge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JudgeFormat {
    Table,
    Json,
    Markdown,
    Junit,
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
