//! The one clock of the crate: the current time in Unix seconds, read by the settings (live
//! windows, action timestamps) and by the watchdog (lock and state files).

/// The current time in Unix seconds.
pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
