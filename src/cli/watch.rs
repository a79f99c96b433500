//! `canary watch`: its flags, its output formats and its kinds of looks.

use super::judge::RollbackArgs;
use super::query::{ServicesArgs, SourceArgs, parse_time};
use crate::model::Duration;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub services: ServicesArgs,
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
    /// One analysis only.
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
