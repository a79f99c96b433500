//! What a verdict sets off: the rollback webhook, and the cron watchdog's lock, state and
//! heartbeat. (Network and file I/O of actions lives here, apart from the metric sources.)

pub mod features;
pub mod watchdog;
pub mod webhook;
