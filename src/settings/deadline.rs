//! The run's deadline (`--timeout`), which covers the whole run, fetching and judging.

use crate::cli::SourceArgs;
use crate::error::{CanaryError, report_and_exit_code};
use crate::model::Duration;
use crate::source::SourceError;

/// The overall deadline of a run: `--timeout`, at least a second.
pub(crate) fn run_deadline(flags: &SourceArgs) -> std::time::Duration {
    std::time::Duration::from_secs(flags.timeout.as_secs().max(1))
}

/// Runs `work` (fetching and judging) on a worker thread and waits for it at most `deadline`
/// (`--timeout`), so that the deadline covers the whole run, judgment included: past it, the run
/// ends "could not judge" (exit 4) and the worker is abandoned (the process exits without
/// waiting for it). For `judge` and `watch` (one call per look) alike.
pub(crate) fn within_deadline<T: Send + 'static>(
    deadline: std::time::Duration,
    work: impl FnOnce() -> Result<T, CanaryError> + Send + 'static,
) -> Result<T, CanaryError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("canary-judgment".into())
        .spawn(move || {
            let _ = sender.send(work());
        })
        .map_err(|e| CanaryError::Source(SourceError::Unavailable(format!("cannot start the judgment: {e}"))))?;
    match receiver.recv_timeout(deadline) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(CanaryError::Source(SourceError::Unavailable(format!(
            "timed out: the run did not finish within the overall timeout of {} (--timeout); nothing was judged",
            Duration::from_secs(deadline.as_secs())
        )))),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(CanaryError::Source(SourceError::Unavailable(
            "the judgment stopped without a result (an internal error); nothing was judged".into(),
        ))),
    }
}

/// The error of work that did not finish within its `--timeout`: `what` names the work,
/// `consequence` what its end leaves undecided.
pub(crate) fn timed_out(what: &str, deadline: std::time::Duration, consequence: &str) -> CanaryError {
    CanaryError::Source(SourceError::Unavailable(format!(
        "timed out: {what} did not finish within the timeout of {} (--timeout); {consequence}",
        Duration::from_secs(deadline.as_secs())
    )))
}

/// Ends the process if the guard it returns is still alive after `deadline`, with the exit code
/// `on_timeout` returns after saying what the timeout leaves (for one look: the timeout's error,
/// exit 4; for a round of several services: their summary, exit code the worst outcome). For
/// work that cannot move to another thread (a `watch` look, whose incremental source is borrowed
/// across looks). Dropping the guard cancels it; the guard's drop and `on_timeout` exclude each
/// other, so work that finishes just in time is never reported as timed out, nor the other way.
pub(crate) fn exit_unless_done_within(
    deadline: std::time::Duration,
    on_timeout: impl FnOnce() -> u8 + Send + 'static,
) -> DeadlineGuard {
    let finished = std::sync::Arc::new(std::sync::Mutex::new(false));
    let (cancel, cancelled) = std::sync::mpsc::channel::<()>();
    let timer_finished = std::sync::Arc::clone(&finished);
    let spawned = std::thread::Builder::new().name("canary-deadline".into()).spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(deadline) {
            let finished = timer_finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !*finished {
                // The lock is held until the process ends: the work cannot print past this point.
                std::process::exit(i32::from(on_timeout()));
            }
        }
    });
    // Without the timer thread the look still runs, bounded by the per-request timeouts.
    DeadlineGuard { finished, _cancel: spawned.is_ok().then_some(cancel) }
}

/// Ends the process "could not judge" (exit 4) with `error` on stderr: what
/// [`exit_unless_done_within`] does for a look of one analysis.
pub(crate) fn report_timeout(error: CanaryError) -> u8 {
    report_and_exit_code(Err(error), super::output::get().stderr_styled)
}

/// Cancels [`exit_unless_done_within`] when dropped.
pub(crate) struct DeadlineGuard {
    finished: std::sync::Arc<std::sync::Mutex<bool>>,
    _cancel: Option<std::sync::mpsc::Sender<()>>,
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        // Waits for a timer already reporting the timeout (which then ends the process).
        *self.finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_covers_work_that_never_ends() {
        let error = within_deadline(std::time::Duration::from_millis(200), || -> Result<(), CanaryError> {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
        .unwrap_err();
        assert_eq!(error.exit_code(), crate::error::exit_code::COULD_NOT_JUDGE);
        assert!(error.to_string().starts_with("timed out"), "{error}");
        assert_eq!(within_deadline(std::time::Duration::from_secs(60), || Ok(7)).unwrap(), 7);
        let usage = within_deadline(std::time::Duration::from_secs(60), || -> Result<(), CanaryError> {
            Err(CanaryError::Usage("bad".into()))
        });
        assert_eq!(usage.unwrap_err().exit_code(), crate::error::exit_code::USAGE);
    }

    /// A guard dropped before its deadline never reports a timeout (which would end this test's
    /// process), and its drop returns at once.
    #[test]
    fn a_guard_dropped_in_time_never_times_out() {
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&fired);
        let guard = exit_unless_done_within(std::time::Duration::from_millis(100), move || {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            99
        });
        drop(guard);
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!fired.load(std::sync::atomic::Ordering::SeqCst));
    }
}
