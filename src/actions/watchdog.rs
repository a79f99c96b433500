//! The cron watchdog behind `canary judge ... --state-dir DIR`: a lock against overlapping runs,
//! the last verdict per analysis and canary, the rule that calls the rollback webhook once per
//! fail, clean ends on SIGINT/SIGTERM, and the heartbeat ping. All of the watchdog's file and
//! network I/O lives here; `commands::judge` only calls in.
//!
//! # Files in the state directory
//!
//! - `<analysis>.lock` exists while a run of that analysis is in progress. It is created with
//!   `create_new` and holds the PID, host and start time of the run (JSON, for people and for the
//!   error message), and the run also holds an advisory lock on it (`File::try_lock`, flock(2)).
//!   A second run while it is held stops at once with exit 4 ("could not judge"), naming the file
//!   and the holder's PID. A lock file whose advisory lock is free was left by a run that died
//!   without cleaning up (SIGKILL, OOM kill, power loss): the kernel releases the advisory lock
//!   with the process, so the file is stale and is taken over with a warning. The advisory lock
//!   is what makes this right where a PID check alone is not: in containers every run is PID 1
//!   of its own PID namespace, and PIDs are reused. On a file system without advisory locks the
//!   PID is checked instead (`/proc/<pid>` on the same host; a lock from another host is left
//!   alone). The run removes its lock file when it ends: on success, on every error path (a drop
//!   guard), and on SIGINT/SIGTERM (the signal thread, below).
//! - `<analysis>.state.json` keeps, per canary, the last verdict, when it was reached and since
//!   when it has held, and the rollback webhook's delivery for the current fail. The canary's key
//!   ([`webhook::canary_key`]) is the analysis name plus the canary's resolved variables: the ingredients
//!   of the webhook's idempotency key without the window, which moves on every tick. The file is
//!   written atomically (a temporary file in the same directory, synced, then renamed over it),
//!   so a reader or a killed writer never sees half a file. Entries not judged for 30 days are
//!   dropped. Only the run holding the lock writes it. A state file that cannot be parsed (or
//!   has another version, or is larger than 16 MiB) is moved aside to
//!   `<analysis>.state.json.corrupt-<unix time>-<pid>`, kept for inspection and named on stderr;
//!   the run starts afresh, and a failing canary's rollback is then delivered again (loudly): a
//!   missed rollback costs more than a repeated one, and the receiver gets the usual
//!   `Idempotency-Key` (the same for the same canary and window).
//!
//! # Safety against other local users and odd files
//!
//! The directory is created with mode 0700, and a directory that others can write to (group or
//! world), or that belongs to another user (other than root), is refused: whoever can write there could forge a state that says "already rolled back"
//! and suppress a rollback. Files are only ever opened without following symbolic links and
//! without blocking (`O_NOFOLLOW | O_NONBLOCK`, then checked with `fstat`); a lock or state path
//! that is a symbolic link, FIFO, socket, device or directory stops the run with exit 4, naming
//! the path. The lock file is created exclusively with mode 0600; the state file is written
//! through a temporary file with an unpredictable name, created exclusively with mode 0600
//! (`tempfile`), and renamed over the state file.
//!
//! # When the rollback webhook is called
//!
//! A verdict *calls* the webhook when it is fail (or inconclusive, with `on_inconclusive`). The
//! webhook is called on the *transition* to such a verdict, compared with the last verdict
//! recorded for the same canary ([`rollback_rule`]):
//!
//! | last recorded verdict                   | now  | webhook                                  |
//! |-----------------------------------------|------|------------------------------------------|
//! | none, pass, or inconclusive             | fail | called                                   |
//! | fail, and its delivery succeeded        | fail | not called: "already rolled back at …"   |
//! | fail, delivery failed or never made     | fail | called again (a retry)                   |
//! | anything                                | pass | not called; the fail streak ends         |
//!
//! So pass → fail → fail delivers once, and fail → pass → fail delivers twice: a canary that
//! recovered and regressed again is a new event. An inconclusive run (no canary traffic after a
//! rollback, for instance) also ends a fail streak, because a canary that fails after it is
//! judged on new data (usually a new deployment under the same name), and a missed rollback
//! costs more than a repeated one. A run that could not judge (exit 4) leaves the state as it
//! was. `--dry-run` reads the state and says what would happen, but does not write it.
//!
//! # Signals
//!
//! The judgment runs inside the sources' tokio runtime and blocks for up to `--timeout`, so a
//! flag checked between phases alone would not end a run promptly. `signal-hook`'s iterator
//! runs a small thread that receives SIGINT and SIGTERM (no unsafe code in this crate, and it
//! fits the synchronous flow of `judge`, where tokio's signal streams would need a runtime of
//! their own). On the first signal the thread waits for the critical section (the webhook
//! delivery and the state write, which must happen together or not at all) to finish, removes
//! the lock file and exits with 128 + the signal: 130 for SIGINT, 143 for SIGTERM. The main
//! thread checks for a signal at the end of the critical section too and exits the same way, so
//! a signal during the delivery always ends the run with 130/143 (never with the verdict's
//! code). The delivery itself is bounded by [`webhook::DELIVERY_BUDGET`] (20 s, all retries
//! included), so the run ends within Kubernetes' 30 s grace period. Outside that section
//! nothing is half done: the judgment has no side effects, and the state file is only ever
//! replaced whole. A second signal while the thread waits ends the run at once.
//!
//! # Heartbeat
//!
//! `--ping-url` sends a GET (healthchecks.io style) after every run that reached a verdict and
//! wrote its report, with a short timeout. A run that could not judge does not ping, so the
//! heartbeat service raises the alarm when the watchdog stops watching. A failed ping is a
//! warning on stderr and never changes the exit code.

use super::webhook;
use crate::config::window::{format_timestamp, parse_timestamp};
use crate::error::{CanaryError, Verdict, exit_code};
use crate::judge::report::{JudgmentReport, WebhookOutcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, TryLockError};
use std::time::Duration;

/// Version of the state file's format.
pub const STATE_VERSION: u32 = 1;
/// Entries of canaries not judged for this long are dropped from the state file.
const FORGET_AFTER_SECONDS: i64 = 30 * 24 * 3600;
/// Time limit of the heartbeat ping.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);
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
    /// Keyed by [`webhook::canary_key`].
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

/// A watchdog run: the lock is held and the signal thread is running until it is dropped.
#[derive(Debug)]
pub struct Watchdog {
    analysis: String,
    state_path: PathBuf,
    critical: Arc<Mutex<()>>,
    /// The exit code of a signal received (0: none yet).
    signalled: Arc<AtomicU8>,
    /// Where a corrupt state file was moved aside in this run, if it was.
    moved_aside: Mutex<Option<PathBuf>>,
    signals: signal_hook::iterator::Handle,
    // Dropped last: the lock file goes when everything else is done.
    lock: Lock,
}

impl Watchdog {
    /// Creates the state directory if needed, takes the analysis's lock and starts the signal
    /// thread. Fails with exit 4 when another run holds the lock.
    pub fn start(dir: &Path, analysis: &str) -> Result<Watchdog, CanaryError> {
        prepare_dir(dir)?;
        let stem = file_stem(analysis);
        // The handler first, so that no signal can come between the lock and its handler.
        let critical = Arc::new(Mutex::new(()));
        let signalled = Arc::new(AtomicU8::new(0));
        let taken = Arc::new(OnceLock::new());
        let signals = watch_signals(taken.clone(), critical.clone(), signalled.clone())
            .map_err(|e| CanaryError::Watchdog(format!("cannot install the SIGINT/SIGTERM handler: {e}")))?;
        let lock = Lock::acquire(&dir.join(format!("{stem}.lock"))).inspect_err(|_| signals.close())?;
        let _ = taken.set(lock.owned.clone());
        let state_path = dir.join(format!("{stem}.state.json"));
        // Refuse an odd state path before judging (the lock is released by the drop guard).
        open_regular(&state_path, "watchdog state file", false).inspect_err(|_| signals.close())?;
        Ok(Watchdog {
            analysis: analysis.to_string(),
            state_path,
            critical,
            signalled,
            moved_aside: Mutex::new(None),
            signals,
            lock,
        })
    }

    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock.owned.path
    }

    /// Applies the transition rule to a finished judgment: calls `deliver` (which returns `None`
    /// when no webhook is configured) when the rule says so, puts its outcome in the report, and
    /// records the verdict. A signal waits until this is done. With `dry_run` the state is read
    /// but not written.
    /// The stretches the last run of this canary left running (empty when there is no state).
    pub fn carries(
        &self,
        canary: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, crate::judge::sustained::Stretch>, CanaryError> {
        let key = webhook::canary_key_of(&self.analysis, canary);
        Ok(self.load()?.canaries.remove(&key).map(|state| state.trailing).unwrap_or_default())
    }

    pub fn act(
        &self,
        report: &mut JudgmentReport,
        on_inconclusive: bool,
        dry_run: bool,
        now: i64,
        deliver: impl FnOnce(&JudgmentReport) -> Option<WebhookOutcome>,
    ) -> Result<(), CanaryError> {
        let _critical = self.critical.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = self.load()?;
        let key = webhook::canary_key(report);
        let previous = state.canaries.get(&key);
        let rule = rollback_rule(previous, report.verdict.into(), on_inconclusive);
        let outcome = match &rule {
            Rollback::NotNeeded => None,
            Rollback::Deliver => {
                if let Some(aside) = self.moved_aside.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                    eprintln!(
                        "canary: warning: the watchdog state was lost (kept at {}), so whether this canary's rollback \
                         was already delivered is unknown: calling the rollback webhook (again, if it was)",
                        aside.display()
                    );
                }
                deliver(report)
            }
            Rollback::Retry { at, error } => {
                eprintln!("canary: the rollback webhook called at {at} was not delivered ({error}); calling it again");
                deliver(report)
            }
            Rollback::AlreadyDelivered { at, since } => {
                eprintln!(
                    "canary: already rolled back at {at}: this canary has failed since {since}, and the rollback \
                     webhook is called once per fail (state: {})",
                    self.state_path.display()
                );
                None
            }
        };
        let next = next_state(previous, report, now, &rule, outcome.as_ref());
        report.rollback = outcome;
        if dry_run {
            eprintln!("canary: dry run: the watchdog state {} is left as it was", self.state_path.display());
            self.exit_if_signalled();
            return Ok(());
        }
        state.canaries.insert(key, next);
        state.canaries.retain(|_, entry| {
            parse_timestamp(&entry.judged_at).map_or(true, |judged| now - judged < FORGET_AFTER_SECONDS)
        });
        if let Err(error) = write_atomically(&self.state_path, &state) {
            eprintln!(
                "canary: ERROR: cannot write the watchdog state {}: {error}; the next run may call the rollback \
                 webhook again",
                self.state_path.display()
            );
        }
        self.exit_if_signalled();
        Ok(())
    }

    /// Ends the run with 130/143 when SIGINT/SIGTERM came during the critical section (which the
    /// caller still holds, so the signal thread is waiting for it): the lock file is removed.
    fn exit_if_signalled(&self) {
        let code = self.signalled.load(Ordering::SeqCst);
        if code != 0 {
            eprintln!("canary: the delivery and the state write are done: stopping");
            self.lock.owned.remove();
            std::process::exit(i32::from(code));
        }
    }

    /// The state file, or an empty one when there is none yet. A file that is not a regular file
    /// stops the run (exit 4); one that cannot be parsed is moved aside and reported, and the run
    /// starts afresh: a missed rollback costs more than a repeated one.
    fn load(&self) -> Result<StateFile, CanaryError> {
        let empty =
            StateFile { version: STATE_VERSION, analysis: self.analysis.clone(), canaries: BTreeMap::default() };
        let Some(file) = open_regular(&self.state_path, "watchdog state file", false)? else { return Ok(empty) };
        let mut bytes = Vec::new();
        file.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| {
            CanaryError::Watchdog(format!("cannot read the watchdog state file {}: {e}", self.state_path.display()))
        })?;
        let problem = if bytes.len() as u64 > MAX_STATE_BYTES {
            format!("is larger than {} MiB", MAX_STATE_BYTES >> 20)
        } else {
            match serde_json::from_slice::<StateFile>(&bytes) {
                Ok(state) if state.version == STATE_VERSION => return Ok(state),
                Ok(state) => format!("has version {}, expected {STATE_VERSION}", state.version),
                Err(e) => format!("is not valid ({e})"),
            }
        };
        let aside = self.move_aside()?;
        eprintln!(
            "canary: warning: the watchdog state {} {problem}; moved it aside to {} for inspection and starting afresh",
            self.state_path.display(),
            aside.display()
        );
        *self.moved_aside.lock().unwrap_or_else(PoisonError::into_inner) = Some(aside);
        Ok(empty)
    }

    /// Renames the state file to `<name>.corrupt-<unix time>-<pid>` in the same directory.
    fn move_aside(&self) -> Result<PathBuf, CanaryError> {
        let name = self.state_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let aside = self.state_path.with_file_name(format!("{name}.corrupt-{}-{}", now(), std::process::id()));
        fs::rename(&self.state_path, &aside).map_err(|e| {
            CanaryError::Watchdog(format!(
                "the watchdog state file {} is corrupt and cannot be moved aside to {}: {e}",
                self.state_path.display(),
                aside.display()
            ))
        })?;
        Ok(aside)
    }
}

/// Creates the state directory (mode 0700) if needed, and refuses one that is not a directory or
/// that other users can write to.
fn prepare_dir(dir: &Path) -> Result<(), CanaryError> {
    let refuse = |why: String| CanaryError::Watchdog(format!("the state directory {} {why}", dir.display()));
    if fs::symlink_metadata(dir).is_err() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| refuse(format!("cannot be created: {e}")))?;
    }
    let metadata = fs::metadata(dir).map_err(|e| refuse(format!("cannot be used: {e}")))?;
    if !metadata.is_dir() {
        return Err(refuse("is not a directory".into()));
    }
    // Our effective user owns /proc/self; without procfs the owner cannot be checked.
    let me = fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).ok();
    let owner = std::os::unix::fs::MetadataExt::uid(&metadata);
    if let Some(me) = me
        && owner != me
        && owner != 0
    {
        return Err(refuse(format!(
            "belongs to another user (uid {owner}, this run is uid {me}): its owner could forge the state (and \
             suppress a rollback). Use a directory of your own"
        )));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(format!(
            "is writable by other users (mode {mode:o}): whoever can write there can forge the state (and suppress \
             a rollback) or replace the lock. Use a private directory (`chmod 700 {}`)",
            dir.display()
        )));
    }
    Ok(())
}

/// Opens `path` if it exists and is a regular file: never through a symbolic link, never blocking
/// on a FIFO, never a device. `Ok(None)` when there is no such file; exit 4 naming the path when
/// it is something else.
fn open_regular(path: &Path, what: &str, write: bool) -> Result<Option<File>, CanaryError> {
    let cannot = |e: io::Error| CanaryError::Watchdog(format!("cannot use the {what} {}: {e}", path.display()));
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
        Ok(metadata) => check_regular(path, what, &metadata)?,
    }
    let file =
        match OpenOptions::new().read(true).write(write).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(odd_file(path, what, "a symbolic link"));
            }
            Err(e) => return Err(cannot(e)),
        };
    check_regular(path, what, &file.metadata().map_err(cannot)?)?;
    Ok(Some(file))
}

fn check_regular(path: &Path, what: &str, metadata: &fs::Metadata) -> Result<(), CanaryError> {
    let kind = metadata.file_type();
    let odd = if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a directory"
    } else {
        return Ok(());
    };
    Err(odd_file(path, what, odd))
}

fn odd_file(path: &Path, what: &str, kind: &str) -> CanaryError {
    CanaryError::Watchdog(format!(
        "refusing the {what} {}: it is {kind}, not a regular file (canary only uses files it created there); remove \
         it if it is not yours",
        path.display()
    ))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.signals.close();
    }
}

/// A file name made of the analysis name: letters, digits, `.`, `_` and `-` only.
fn file_stem(analysis: &str) -> String {
    let stem: String = analysis
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    if stem.is_empty() || stem.starts_with('.') { format!("analysis{stem}") } else { stem }
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

/// What the lock file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    #[serde(default)]
    pub host: String,
    /// When the run started (RFC 3339).
    #[serde(default)]
    pub started: String,
}

/// The lock file this process created, identified by its inode so that only ours is removed.
#[derive(Debug)]
struct OwnedLock {
    path: PathBuf,
    identity: FileIdentity,
}

impl OwnedLock {
    /// Removes the lock file if it is still ours.
    fn remove(&self) {
        if FileIdentity::of_path(&self.path).is_some_and(|id| id == self.identity) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The lock file, held until dropped.
#[derive(Debug)]
struct Lock {
    owned: Arc<OwnedLock>,
    // Keeps the advisory lock; closing the file releases it.
    _file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.owned.remove();
    }
}

impl Lock {
    fn acquire(path: &Path) -> Result<Lock, CanaryError> {
        let cannot = |e: io::Error| CanaryError::Watchdog(format!("cannot use the lock file {}: {e}", path.display()));
        let info = LockInfo { pid: std::process::id(), host: hostname(), started: format_timestamp(now()) };
        // A few rounds: the file may come and go between our steps while another run ends.
        for _ in 0..5 {
            // Exclusive creation never follows a symbolic link; an existing path is opened only
            // when it is a regular file.
            let created = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path);
            let file = match created {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match open_regular(path, "lock file", true)? {
                    Some(file) => file,
                    None => continue,
                },
                Err(e) => return Err(cannot(e)),
            };
            let leftover = read_capped(&file).map_err(cannot)?;
            let holder: Option<LockInfo> = serde_json::from_str(&leftover).ok();
            let held = match file.try_lock() {
                Ok(()) => false,
                Err(fs::TryLockError::WouldBlock) => true,
                // No advisory locks on this file system: judge by the PID.
                Err(fs::TryLockError::Error(_)) => {
                    holder.as_ref().is_some_and(|holder| holder.pid != info.pid && process_alive(holder))
                }
            };
            if held {
                return Err(CanaryError::Watchdog(held_message(path, holder)));
            }
            // The path must still name the file we locked (the holder may have removed it).
            let identity = FileIdentity::of_file(&file).map_err(cannot)?;
            if FileIdentity::of_path(path) != Some(identity) {
                continue;
            }
            if !leftover.trim().is_empty() {
                eprintln!("canary: warning: {}", stale_message(path, holder));
            }
            let content = format!("{}\n", serde_json::to_string(&info).expect("plain data"));
            file.set_len(0)
                .and_then(|()| file.write_all_at(content.as_bytes(), 0))
                .and_then(|()| file.sync_all())
                .map_err(cannot)?;
            return Ok(Lock { owned: Arc::new(OwnedLock { path: path.to_path_buf(), identity }), _file: file });
        }
        Err(CanaryError::Watchdog(format!(
            "cannot take the lock file {}: other runs keep creating and removing it",
            path.display()
        )))
    }
}

/// The start of a lock file (its owner fits in far less than 4 KiB).
fn read_capped(file: &File) -> io::Result<String> {
    let mut bytes = Vec::new();
    file.take(4096).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn held_message(path: &Path, holder: Option<LockInfo>) -> String {
    let who = match holder {
        Some(h) => format!("PID {} on {}, started {}", h.pid, h.host, h.started),
        None => "a run that is just starting".into(),
    };
    format!(
        "another run of this analysis is in progress: the lock file {} is held ({who}); this run stops without \
         judging. If no such run exists, delete the file.",
        path.display()
    )
}

fn stale_message(path: &Path, holder: Option<LockInfo>) -> String {
    match holder {
        Some(h) => {
            let gone = if h.host == hostname() && !process_alive(&h) { ", which no longer exists" } else { "" };
            format!(
                "taking over the stale lock file {}: it was left by PID {} on {}{gone} (started {}), which ended \
                 without removing it",
                path.display(),
                h.pid,
                h.host,
                h.started
            )
        }
        None => format!("taking over the stale lock file {}: it holds no readable owner", path.display()),
    }
}

/// Whether the process that wrote a lock may still be running: on this host, `/proc/<pid>`
/// exists and is not this process; a lock from another host is assumed alive.
fn process_alive(holder: &LockInfo) -> bool {
    if holder.host != hostname() {
        return true;
    }
    if holder.pid == std::process::id() {
        return false;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true; // No procfs: cannot tell, so assume the worst.
    }
    proc.join(holder.pid.to_string()).exists()
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Device and inode of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity(u64, u64);

impl FileIdentity {
    fn of_file(file: &File) -> io::Result<FileIdentity> {
        file.metadata().map(|m| FileIdentity::of(&m))
    }

    fn of_path(path: &Path) -> Option<FileIdentity> {
        fs::symlink_metadata(path).ok().map(|m| FileIdentity::of(&m))
    }

    fn of(metadata: &fs::Metadata) -> FileIdentity {
        use std::os::unix::fs::MetadataExt;
        FileIdentity(metadata.dev(), metadata.ino())
    }
}

/// Starts the thread that ends the run on SIGINT or SIGTERM (see the module documentation).
fn watch_signals(
    lock: Arc<OnceLock<Arc<OwnedLock>>>,
    critical: Arc<Mutex<()>>,
    signalled: Arc<AtomicU8>,
) -> io::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    std::thread::Builder::new().name("canary-signals".into()).spawn(move || {
        let Some(signal) = signals.forever().next() else { return };
        let (name, code) =
            if signal == SIGINT { ("SIGINT", exit_code::INTERRUPTED) } else { ("SIGTERM", exit_code::TERMINATED) };
        signalled.store(code, Ordering::SeqCst);
        eprintln!("canary: {name} received: stopping");
        // Let a webhook delivery and its state write finish together, and keep the main thread
        // from starting one now.
        let _critical = loop {
            match critical.try_lock() {
                Ok(guard) => break Some(guard),
                Err(TryLockError::Poisoned(poisoned)) => break Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
            if signals.pending().next().is_some() {
                eprintln!("canary: second signal: stopping now; the watchdog state may miss this run's delivery");
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(lock) = lock.get() {
            lock.remove();
        }
        std::process::exit(i32::from(code));
    })?;
    Ok(handle)
}

/// The heartbeat: a GET of `url`; an error says why, without the URL (it often holds a token).
pub fn ping(url: &str) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Redirects within the heartbeat service's origin only, and no Referer: the ping URL's path
    // often is the check's secret.
    let same_origin = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(reqwest::Url::origin);
        if attempt.previous().len() > 5 || first != Some(attempt.url().origin()) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let client = reqwest::Client::builder()
        .timeout(PING_TIMEOUT)
        .redirect(same_origin)
        .referer(false)
        .user_agent(concat!("canary/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    runtime.block_on(async {
        match client.get(url).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("the heartbeat service answered HTTP {}", response.status().as_u16())),
            Err(e) if e.is_timeout() => Err(format!("timed out after {}s", PING_TIMEOUT.as_secs())),
            Err(e) if e.is_connect() => Err("connection failed".into()),
            Err(e) => Err(e.without_url().to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_info(path: &Path) -> Option<LockInfo> {
        serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
    }

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
    fn file_stems_are_safe() {
        assert_eq!(file_stem("checkout"), "checkout");
        assert_eq!(file_stem("../etc/passwd"), "analysis.._etc_passwd");
        assert_eq!(file_stem("shop api v2"), "shop_api_v2");
        assert_eq!(file_stem(""), "analysis");
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

    #[test]
    fn odd_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("checkout.lock");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let message = Lock::acquire(&fifo).unwrap_err().to_string();
        assert!(message.contains("is a FIFO") && message.contains(&fifo.display().to_string()), "{message}");
        let link = dir.path().join("link.lock");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let message = Lock::acquire(&link).unwrap_err().to_string();
        assert!(message.contains("is a symbolic link"), "{message}");
        assert!(open_regular(&dir.path().join("absent"), "state file", false).unwrap().is_none());
        let message = open_regular(Path::new("/dev/null"), "state file", false).unwrap_err().to_string();
        assert!(message.contains("is a device"), "{message}");
    }

    #[test]
    fn a_lock_is_exclusive_and_removed_when_dropped() {
        let dir = std::env::temp_dir().join(format!("canary-watchdog-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkout.lock");
        let lock = Lock::acquire(&path).unwrap();
        let info = read_info(&path).unwrap();
        assert_eq!(info.pid, std::process::id());
        let error = Lock::acquire(&path).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::COULD_NOT_JUDGE);
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&format!("PID {}", std::process::id())), "{message}");
        drop(lock);
        assert!(!path.exists());
        // A file left behind without its advisory lock is taken over.
        fs::write(&path, r#"{"pid": 4194303, "host": "elsewhere", "started": "2026-11-23T10:00:00Z"}"#).unwrap();
        let lock = Lock::acquire(&path).unwrap();
        assert_eq!(read_info(&path).unwrap().pid, std::process::id());
        drop(lock);
        fs::remove_dir_all(&dir).unwrap();
    }
}
