//! Clean ends on SIGINT and SIGTERM: a small thread (signal-hook's iterator) that waits for the
//! critical section (the webhook delivery and the state write) to finish, removes the lock file
//! and exits with 130 or 143, and the main thread's own check at the end of that section. See
//! the parent module's "Signals".

use super::lock::OwnedLock;
use crate::error::exit_code;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::time::Duration;

/// Starts the thread that ends the run on SIGINT or SIGTERM (see the module documentation).
pub(crate) fn watch_signals(
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

/// Ends the run with 130/143 when SIGINT/SIGTERM came during the critical section (which the
/// caller still holds, so the signal thread is waiting for it): the lock file is removed.
pub(crate) fn exit_if_signalled(signalled: &AtomicU8, lock: &OwnedLock) {
    let code = signalled.load(Ordering::SeqCst);
    if code != 0 {
        eprintln!("canary: the delivery and the state write are done: stopping");
        lock.remove();
        std::process::exit(i32::from(code));
    }
}
