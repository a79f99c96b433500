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
//! - Each canary's entry also carries what the next run continues from ([`sequence`]): the points
//!   its queries fetched, so that the next run fetches only newer ones, and with `--looks
//!   sequential` the always-valid sequence (its start, the last interval consumed, the step and a
//!   fingerprint of the analysis). That part is validated on every read; an entry that fails is
//!   not continued (a new sequence, said on stderr and in the report), and the rest of the state
//!   (the verdict, the delivery) is kept.
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
//!
//! # Layout
//!
//! [`state`] holds the state model, the transition rule and the state file; [`lock`] the lock
//! file and the safe opening of files in the state directory; [`signals`] the signal thread;
//! [`heartbeat`] the ping; [`sequence`] what a canary's entry carries to the next run. The
//! [`Watchdog`] here ties them together for one run.

mod heartbeat;
mod lock;
pub(crate) mod sequence;
mod signals;
mod state;

pub use heartbeat::ping;
pub use state::{RecordedVerdict, Rollback, StateFile, calls_webhook, next_state, rollback_rule, write_atomically};

use super::webhook;
use crate::error::CanaryError;
use crate::judge::report::{JudgmentReport, WebhookOutcome};
use crate::model::window::parse_timestamp;
use lock::{Lock, open_regular, prepare_dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// What the last run of a canary left for this one.
#[derive(Debug, Default)]
pub struct LastRun {
    /// The sustained-breach stretches it left running.
    pub trailing: BTreeMap<String, crate::judge::sustained::Stretch>,
    /// The points (and sequence) it carried ([`sequence`]); `Err` says why they cannot be used.
    pub carried: Option<Result<sequence::Carried, String>>,
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
    /// What this run leaves for the next one ([`sequence`]), recorded with the verdict.
    kept: Mutex<Option<serde_json::Value>>,
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
        let signals = signals::watch_signals(taken.clone(), critical.clone(), signalled.clone())
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
            kept: Mutex::new(None),
            signals,
            lock,
        })
    }

    /// What the last run of this canary left (nothing when there is no state), its carried part
    /// validated against `now`.
    pub fn carried(&self, canary: &BTreeMap<String, String>, now: i64) -> Result<LastRun, CanaryError> {
        let key = webhook::canary_key_of(&self.analysis, canary);
        let Some(entry) = self.load()?.canaries.remove(&key) else { return Ok(LastRun::default()) };
        Ok(LastRun {
            trailing: entry.trailing,
            carried: entry.carried.as_ref().map(|value| sequence::parse(value, now)),
        })
    }

    /// Keeps `value` (from [`sequence::to_value`]) for the next run; recorded by [`Watchdog::act`].
    pub fn keep(&self, value: Option<serde_json::Value>) {
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }

    /// Applies the transition rule to a finished judgment: calls `deliver` (which returns `None`
    /// when no webhook is configured) when the rule says so, puts its outcome in the report, and
    /// records the verdict. A signal waits until this is done. With `dry_run` the state is read
    /// but not written.
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
        let mut next = next_state(previous, report, now, &rule, outcome.as_ref());
        next.carried = self.kept.lock().unwrap_or_else(PoisonError::into_inner).take();
        report.rollback = outcome;
        if dry_run {
            eprintln!("canary: dry run: the watchdog state {} is left as it was", self.state_path.display());
            self.exit_if_signalled();
            return Ok(());
        }
        state.canaries.insert(key, next);
        state.canaries.retain(|_, entry| {
            parse_timestamp(&entry.judged_at).map_or(true, |judged| now - judged < state::FORGET_AFTER_SECONDS)
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

    /// Ends the run with 130/143 when SIGINT/SIGTERM came during the critical section.
    fn exit_if_signalled(&self) {
        signals::exit_if_signalled(&self.signalled, &self.lock.owned);
    }

    /// The state file (see [`state::load`]); remembers where a corrupt one was moved aside.
    fn load(&self) -> Result<StateFile, CanaryError> {
        let (state, aside) = state::load(&self.state_path, &self.analysis)?;
        if let Some(aside) = aside {
            *self.moved_aside.lock().unwrap_or_else(PoisonError::into_inner) = Some(aside);
        }
        Ok(state)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("checkout"), "checkout");
        assert_eq!(file_stem("../etc/passwd"), "analysis.._etc_passwd");
        assert_eq!(file_stem("shop api v2"), "shop_api_v2");
        assert_eq!(file_stem(""), "analysis");
    }
}
