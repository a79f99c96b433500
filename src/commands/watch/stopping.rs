//! Clean ends of a watch on SIGINT and SIGTERM: a small thread (signal-hook's iterator) waits
//! for the round being concluded (its webhook deliveries) to finish, prints what the run decided
//! so far (several analyses: an `error` event for each service still watched and the summary,
//! prepared by the main thread after every round) and exits 130 (SIGINT) or 143 (SIGTERM), as
//! the watchdog does. A round past its deadline and a signal exclude each other: only one of them
//! ends the run and prints. A second signal during that wait ends the run at once, printing nothing
//! more (the same exit code as its signal's).

use super::events::Events;
use crate::error::exit_code;
use crate::report::watch::WatchSummary;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What a stop prints: the services still watched (name, the look they were due for) and the
/// summary with them "could not judge".
pub(super) struct Snapshot {
    pub(super) running: Vec<(String, usize)>,
    pub(super) summary: WatchSummary,
    pub(super) out: Events,
}

/// Why the services still watched were not judged, in a stop's summary.
pub(super) const INTERRUPTED: &str = "interrupted (SIGINT or SIGTERM) before this look was judged";

impl Snapshot {
    /// Prints the error events and the summary; returns the summary's exit code.
    pub(super) fn print(mut self, error: &crate::error::CanaryError) -> u8 {
        for (name, look) in &self.running {
            // Output that cannot be written any more cannot change the exit code either.
            let _ = self.out.error(name, *look, error);
        }
        let _ = self.out.summary(&self.summary);
        self.summary.exit_code
    }
}

/// The run's stop: what it prints, behind the lock the main thread holds while it concludes a round.
#[derive(Clone, Default)]
pub(super) struct Stopping {
    snapshot: Arc<Mutex<Option<Snapshot>>>,
}

impl Stopping {
    /// Starts the thread that ends the run on SIGINT or SIGTERM. Without it (signals that cannot
    /// be watched), the run goes on and a signal ends it as the system does.
    pub(super) fn watch_signals() -> Stopping {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stopping = Stopping::default();
        // A second signal ends the run at once (a stop stuck in a webhook delivery never holds the
        // watch): the first arms the shutdown, which is registered before it, so checked first.
        let stopped = Arc::new(AtomicBool::new(false));
        for (signal, code) in [(SIGINT, exit_code::INTERRUPTED), (SIGTERM, exit_code::TERMINATED)] {
            let _ = signal_hook::flag::register_conditional_shutdown(signal, i32::from(code), Arc::clone(&stopped));
            let _ = signal_hook::flag::register(signal, Arc::clone(&stopped));
        }
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else { return stopping };
        let snapshot = stopping.clone();
        let _ = std::thread::Builder::new().name("canary-signals".into()).spawn(move || {
            let Some(signal) = signals.forever().next() else { return };
            let (name, code) =
                if signal == SIGINT { ("SIGINT", exit_code::INTERRUPTED) } else { ("SIGTERM", exit_code::TERMINATED) };
            eprintln!("canary: {name} received: stopping");
            // Waits for the round being concluded (its webhooks); held until the process ends.
            let mut current = snapshot.lock();
            if let Some(snapshot) = current.take() {
                let error =
                    crate::error::CanaryError::Source(crate::source::SourceError::Unavailable(INTERRUPTED.into()));
                snapshot.print(&error);
            }
            std::process::exit(i32::from(code));
        });
        stopping
    }

    /// The lock on what a stop prints: held while a round is concluded, and by whatever ends the run.
    pub(super) fn lock(&self) -> MutexGuard<'_, Option<Snapshot>> {
        self.snapshot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
