//! The watchdog's state file and the transition rule it serves: per canary, the last verdict,
//! since when it has held, the rollback webhook's delivery for the current fail and the
//! sustained-breach stretches still running; reading it (a corrupt file is moved aside to
//! `<name>.corrupt-<unix time>-<pid>` and the run starts afresh), and writing it atomically.
//! See the parent module for the rule's table.

use super::lock::open_regular;
use crate::error::CanaryError;
use crate::judge::report::{JudgmentReport, WebhookOutcome};
use crate::model::{Verdict, clock::now, window::format_timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Version of the state file's format.
pub const STATE_VERSION: u32 = 1;
/// Entries of canaries not judged for this long are dropped from the state file.
pub(super) const FORGET_AFTER_SECONDS: i64 = 30 * 24 * 3600;
/// A state file larger than this is not read (it is moved aside as corrupt).
const MAX_STATE_BYTES: u64 = 16 << 20;

/// A verdict as the state file records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordedVerdict {
    Pass,
    Fail,
    Inconclusive,
    /// Deployment healthy, feature(s) turned off (never calls the rollback webhook).
    #[serde(rename = "feature_off")]
    FeatureOff,
}

impl From<Verdict> for RecordedVerdict {
    fn from(verdict: Verdict) -> RecordedVerdict {
        match verdict {
            Verdict::Pass => RecordedVerdict::Pass,
            Verdict::Fail => RecordedVerdict::Fail,
            Verdict::Inconclusive => RecordedVerdict::Inconclusive,
            Verdict::FeatureOff => RecordedVerdict::FeatureOff,
        }
    }
}

/// What the state file keeps for one canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryState {
    /// The canary's resolved variables (what its key is made of), for people reading the file.
    pub canary: BTreeMap<String, String>,
    pub verdict: RecordedVerdict,
    /// When the last run judged (RFC 3339).
    pub judged_at: String,
    /// When the verdict became what it is (the first run of the streak).
    pub since: String,
    /// The judged window of the last run.
    pub window_start: String,
    pub window_end: String,
    /// The rollback webhook's delivery for the current fail streak, when it was called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Delivery>,
    /// Sustained-breach stretches still running at the end of the last run, by metric and rule:
    /// the next run continues them, so a stretch spanning two runs still fires.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trailing: BTreeMap<String, crate::judge::sustained::Stretch>,
    /// What the next run continues from: the points fetched and, with `--looks sequential`, the
    /// always-valid sequence (`super::sequence`; validated when read, never trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<serde_json::Value>,
}

/// One call of the rollback webhook, as the state file keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// When it was called (RFC 3339).
    pub at: String,
    pub url: String,
    /// Whether the receiver answered 2xx.
    pub delivered: bool,
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The state file of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    pub analysis: String,
    /// Keyed by `crate::actions::webhook::canary_key`.
    pub canaries: BTreeMap<String, CanaryState>,
}

/// Whether a verdict calls the rollback webhook at all.
pub fn calls_webhook(verdict: RecordedVerdict, on_inconclusive: bool) -> bool {
    verdict == RecordedVerdict::Fail || (verdict == RecordedVerdict::Inconclusive && on_inconclusive)
}

/// What this run does with the rollback webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollback {
    /// The verdict does not call the webhook.
    NotNeeded,
    /// A transition to fail: call it.
    Deliver,
    /// Still failing, but the delivery at `at` failed (or was never made): call it again.
    Retry { at: String, error: String },
    /// Still failing and already delivered at `at`; the fail has held since `since`.
    AlreadyDelivered { at: String, since: String },
}

/// The transition rule (see the module documentation): call the webhook when the verdict calls
/// it and the last recorded verdict of the same canary did not, or did without a delivery.
pub fn rollback_rule(previous: Option<&CanaryState>, verdict: RecordedVerdict, on_inconclusive: bool) -> Rollback {
    if !calls_webhook(verdict, on_inconclusive) {
        return Rollback::NotNeeded;
    }
    match previous {
        Some(last) if calls_webhook(last.verdict, on_inconclusive) => match &last.rollback {
            Some(delivery) if delivery.delivered => {
                Rollback::AlreadyDelivered { at: delivery.at.clone(), since: last.since.clone() }
            }
            Some(delivery) => Rollback::Retry {
                at: delivery.at.clone(),
                error: delivery.error.clone().unwrap_or_else(|| "not delivered".into()),
            },
            None => Rollback::Deliver,
        },
        _ => Rollback::Deliver,
    }
}

/// The entry this run leaves: the new verdict, the streak's start, and the delivery that counts
/// for the current fail (this run's, or the one already made).
pub fn next_state(
    previous: Option<&CanaryState>,
    report: &JudgmentReport,
    now: i64,
    rule: &Rollback,
    outcome: Option<&WebhookOutcome>,
) -> CanaryState {
    let verdict = RecordedVerdict::from(report.verdict);
    let at = format_timestamp(now);
    let since = previous.filter(|last| last.verdict == verdict).map_or_else(|| at.clone(), |last| last.since.clone());
    let rollback = match (rule, outcome) {
        (_, Some(outcome)) if !outcome.dry_run => Some(Delivery {
            at: at.clone(),
            url: outcome.url.clone(),
            delivered: outcome.delivered,
            idempotency_key: outcome.idempotency_key.clone(),
            status: outcome.status,
            error: outcome.error.clone(),
        }),
        (Rollback::AlreadyDelivered { .. }, _) => previous.and_then(|last| last.rollback.clone()),
        _ => None,
    };
    CanaryState {
        canary: report.canary.variables.clone(),
        verdict,
        judged_at: at,
        since,
        window_start: format_timestamp(report.window.start),
        window_end: format_timestamp(report.window.end),
        rollback,
        trailing: trailing_stretches(report),
        carried: None,
    }
}

/// The sustained-breach stretches still running at the end of `report`'s window.
pub fn trailing_stretches(report: &JudgmentReport) -> BTreeMap<String, crate::judge::sustained::Stretch> {
    let mut carried = BTreeMap::new();
    for metric in &report.metrics {
        let rules = metric.tests.iter().filter_map(|t| t.sustained.as_ref());
        for (index, evidence) in rules.enumerate() {
            if let Some(stretch) = &evidence.trailing {
                carried.insert(crate::judge::metric::carry_key(&metric.name, index), stretch.clone());
            }
        }
    }
    carried
}

/// The state file at `path`, or an empty one for `analysis` when there is none yet, and where a
/// corrupt one was moved aside. A file that is not a regular file stops the run (exit 4); one
/// that cannot be parsed is moved aside and reported, and the run starts afresh: a missed
/// rollback costs more than a repeated one.
pub(crate) fn load(path: &Path, analysis: &str) -> Result<(StateFile, Option<PathBuf>), CanaryError> {
    let empty = StateFile { version: STATE_VERSION, analysis: analysis.to_string(), canaries: BTreeMap::default() };
    let Some(file) = open_regular(path, "watchdog state file", false)? else { return Ok((empty, None)) };
    let mut bytes = Vec::new();
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CanaryError::Watchdog(format!("cannot read the watchdog state file {}: {e}", path.display())))?;
    let problem = if bytes.len() as u64 > MAX_STATE_BYTES {
        format!("is larger than {} MiB", MAX_STATE_BYTES >> 20)
    } else {
        match serde_json::from_slice::<StateFile>(&bytes) {
            Ok(state) if state.version == STATE_VERSION => return Ok((state, None)),
            Ok(state) => format!("has version {}, expected {STATE_VERSION}", state.version),
            Err(e) => format!("is not valid ({e})"),
        }
    };
    let aside = move_aside(path)?;
    eprintln!(
        "canary: warning: the watchdog state {} {problem}; moved it aside to {} for inspection and starting afresh",
        path.display(),
        aside.display()
    );
    Ok((empty, Some(aside)))
}

/// Renames the state file to `<name>.corrupt-<unix time>-<pid>` in the same directory.
fn move_aside(path: &Path) -> Result<PathBuf, CanaryError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let aside = path.with_file_name(format!("{name}.corrupt-{}-{}", now(), std::process::id()));
    fs::rename(path, &aside).map_err(|e| {
        CanaryError::Watchdog(format!(
            "the watchdog state file {} is corrupt and cannot be moved aside to {}: {e}",
            path.display(),
            aside.display()
        ))
    })?;
    Ok(aside)
}

/// Writes `value` as JSON to a temporary file next to `path` (an unpredictable name, created
/// exclusively with mode 0600), syncs it and renames it over `path`.
pub fn write_atomically(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Removed on drop unless persisted.
    let mut temporary = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir)?;
    serde_json::to_writer_pretty(temporary.as_file_mut(), value)?;
    temporary.as_file_mut().write_all(b"\n")?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable; not every platform can sync a directory.
    let _ = File::open(dir).and_then(|d| d.sync_all());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entry(verdict: RecordedVerdict, delivered: Option<bool>) -> CanaryState {
        CanaryState {
            canary: BTreeMap::from([("canary".to_string(), "checkout-7f9c".to_string())]),
            verdict,
            judged_at: "2026-11-23T10:05:00Z".into(),
            since: "2026-11-23T10:00:00Z".into(),
            window_start: "2026-11-23T09:35:00Z".into(),
            window_end: "2026-11-23T10:05:00Z".into(),
            rollback: delivered.map(|delivered| Delivery {
                at: "2026-11-23T10:00:00Z".into(),
                url: "http://deploy/rollback".into(),
                delivered,
                idempotency_key: "k".into(),
                status: Some(if delivered { 200 } else { 503 }),
                error: (!delivered).then(|| "the receiver answered HTTP 503".into()),
            }),
            trailing: BTreeMap::new(),
            carried: None,
        }
    }

    use RecordedVerdict::{Fail, Inconclusive, Pass};

    #[test]
    fn the_webhook_fires_on_the_transition_to_fail_only() {
        assert_eq!(rollback_rule(None, Fail, false), Rollback::Deliver);
        assert_eq!(rollback_rule(Some(&entry(Pass, None)), Fail, false), Rollback::Deliver);
        assert_eq!(
            rollback_rule(Some(&entry(Fail, Some(true))), Fail, false),
            Rollback::AlreadyDelivered { at: "2026-11-23T10:00:00Z".into(), since: "2026-11-23T10:00:00Z".into() }
        );
        for previous in [None, Some(entry(Pass, None)), Some(entry(Fail, Some(true)))] {
            assert_eq!(rollback_rule(previous.as_ref(), Pass, false), Rollback::NotNeeded);
        }
    }

    #[test]
    fn a_failed_or_missing_delivery_is_retried_on_the_next_fail() {
        assert_eq!(
            rollback_rule(Some(&entry(Fail, Some(false))), Fail, false),
            Rollback::Retry { at: "2026-11-23T10:00:00Z".into(), error: "the receiver answered HTTP 503".into() }
        );
        // A fail recorded when no webhook was configured (or on a dry run) delivers now.
        assert_eq!(rollback_rule(Some(&entry(Fail, None)), Fail, false), Rollback::Deliver);
    }

    #[test]
    fn inconclusive_ends_a_fail_streak_unless_it_calls_the_webhook_too() {
        assert_eq!(rollback_rule(Some(&entry(Inconclusive, None)), Fail, false), Rollback::Deliver);
        assert_eq!(rollback_rule(Some(&entry(Fail, Some(true))), Inconclusive, false), Rollback::NotNeeded);
        // With on_inconclusive, inconclusive and fail are one streak: delivered once.
        assert_eq!(rollback_rule(None, Inconclusive, true), Rollback::Deliver);
        assert!(matches!(
            rollback_rule(Some(&entry(Inconclusive, Some(true))), Fail, true),
            Rollback::AlreadyDelivered { .. }
        ));
    }

    #[test]
    fn atomic_writes_replace_the_whole_file() {
        let dir = std::env::temp_dir().join(format!("canary-watchdog-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        write_atomically(&path, &serde_json::json!({"a": 1})).unwrap();
        write_atomically(&path, &serde_json::json!({"b": 2})).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), serde_json::json!({"b": 2}));
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().filter_map(Result::ok).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_writes_never_go_through_a_planted_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        // The name the state writer used to take: `.NAME.<pid>.tmp`, created following links.
        let planted = dir.path().join(format!(".state.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // A symbolic link at the state path itself is replaced, not written through.
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_atomically(&path, &serde_json::json!({"b": 2})).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }
}
