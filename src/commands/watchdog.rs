//! The judgment of a cron watchdog run (`canary judge ... --state-dir DIR`): it continues from
//! what the last run of the same canary left ([`crate::actions::watchdog::sequence`]), fetches
//! only the points that run did not (and the last few it did again, for late samples), and with `--looks sequential` judges everything since the
//! sequence's start with the always-valid tests of `canary watch --looks sequential`, so that a
//! run every minute is one continuous monitor. What this run leaves for the next is returned for
//! the watchdog to record with the verdict.

use super::judging::{LookInput, judge_source, plan_queries, sequential_look};
use crate::actions::watchdog::sequence::{self, Carried, Looks, Wanted};
use crate::cli::WatchdogLooks;
use crate::config::Analysis;
use crate::config::template::ResolvedSides;
use crate::error::CanaryError;
use crate::judge::report::{Finding, FindingKind, JudgmentReport, WatchdogRun};
use crate::judge::sequential;
use crate::judge::sustained::Carry;
use crate::model::{Duration, Window, window::format_timestamp};
use crate::source::MetricSource;
use crate::source::incremental::IncrementalSource;
use std::collections::BTreeMap;

/// What the run continues from.
pub(crate) struct Continuing {
    pub(crate) looks: Looks,
    /// Whether the window's start was set (`--start`, or a recording's start): a different one
    /// is a new deployment and starts a new sequence.
    pub(crate) explicit_start: bool,
    /// What the last run left (`Err`: why it cannot be used), if anything.
    pub(crate) carried: Option<Result<Carried, String>>,
    /// Whether the points the last run fetched are reused. A recording is read whole on every
    /// run instead: the sequence then continues on whatever the recording holds now.
    pub(crate) reuse_points: bool,
}

impl From<WatchdogLooks> for Looks {
    fn from(looks: WatchdogLooks) -> Looks {
        match looks {
            WatchdogLooks::Window => Looks::Window,
            WatchdogLooks::Sequential => Looks::Sequential,
        }
    }
}

/// Judges one watchdog run over `window` (its end is this run's; with `--looks sequential` its
/// start is the sequence's, when one continues). Returns the report, with its `watchdog` part,
/// and what to keep for the next run (`None` when it is too large to keep: said on stderr).
pub(crate) fn judge_run(
    analysis: &Analysis,
    source: &dyn MetricSource,
    window: Window,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
    carries: &BTreeMap<String, Carry>,
    continuing: Continuing,
) -> Result<(JudgmentReport, Option<serde_json::Value>), CanaryError> {
    let Continuing { looks, explicit_start, carried, reuse_points } = continuing;
    let queries = plan_queries(analysis, window, sides, overrides)?;
    let fingerprint = sequence::fingerprint(
        analysis,
        &source.description(),
        queries.iter().map(|q| (analysis.metrics[q.metric].name().to_string(), q.side, q.role, q.query.clone())),
        window.step_seconds,
        looks,
    );
    let had_state = carried.is_some();
    let wanted = Wanted {
        looks,
        fingerprint: &fingerprint,
        step_seconds: window.step_seconds,
        window_start: window.start,
        explicit_start,
        window_end: window.end,
    };
    let continuation = sequence::continuation(carried, &wanted);
    if let Some(why) = &continuation.restart {
        match looks {
            Looks::Sequential => eprintln!("canary: warning: a new always-valid sequence starts at this run: {why}"),
            Looks::Window => {
                eprintln!("canary: the points of the last run are not reused ({why}): fetching the whole window")
            }
        }
    }
    let incremental = IncrementalSource::with_known(source, if reuse_points { continuation.known } else { Vec::new() });
    let alpha = analysis.judgment.alpha;
    let (mut report, sequences) = match looks {
        Looks::Window => (judge_source(analysis, &incremental, window, sides, overrides, alpha, carries)?, Vec::new()),
        Looks::Sequential => {
            let step = Duration::from_secs(window.step_seconds);
            let judged =
                Window::between(continuation.start, window.end, step, Duration::from_secs(window.warmup_seconds))
                    .map_err(CanaryError::Usage)?;
            let look = LookInput { analysis, source: &incremental, window: judged, sides, overrides, alpha };
            let (mut report, sequences) = sequential_look(&look)?;
            super::watch::refuse_a_pass_without_evidence(&mut report, alpha);
            (report, sequences)
        }
    };
    let new_sequence = continuation.runs == 0;
    if looks == Looks::Sequential && new_sequence {
        let why = continuation.restart.clone().unwrap_or_else(|| "the first run of this canary".into());
        let message = format!("a new always-valid sequence starts at this run: {why}");
        for metric in report.metrics.iter_mut().filter(|m| sequences.iter().any(|s| s.metric == m.name)) {
            metric.findings.push(Finding { kind: FindingKind::NewSequence, side: None, message: message.clone() });
        }
    }
    for revision in incremental.take_revisions() {
        eprintln!("canary: note: {revision}");
    }
    let cost = incremental.cost();
    let leaving = Carried {
        looks,
        fingerprint,
        step_seconds: window.step_seconds,
        start: continuation.start,
        end: window.end,
        runs: continuation.runs + 1,
        known: incremental.known(),
    };
    let kept = match sequence::to_value(&leaving) {
        Ok(value) => Some(value),
        Err(why) => {
            eprintln!("canary: warning: {why}: the next run fetches everything again (and starts a new sequence)");
            None
        }
    };
    let promotable = looks == Looks::Sequential && sequential::promotable(&report, &sequences);
    report.watchdog = Some(WatchdogRun {
        looks: format!("{looks:?}").to_lowercase(),
        since: format_timestamp(continuation.start),
        runs: leaving.runs,
        new_sequence,
        restart_reason: continuation.restart.filter(|_| had_state),
        fetched_queries: cost.queries,
        fetched_points: cost.points,
        fetched_from: cost.from.map(format_timestamp),
        sequences,
        promotable,
    });
    Ok((report, kept))
}
