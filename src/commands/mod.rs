//! One module per subcommand: orchestration only (take the resolved settings from
//! `settings`, call the pure parts, render); [`judging`] holds what `judge` and `watch`
//! share (judging one window, calling the rollback webhook).

pub mod compare;
pub mod fleet;
pub(crate) mod fleet_plan;
pub mod import;
pub mod judge;
pub mod judging;
pub mod record;
pub mod schema;
pub mod serve;
pub mod shell;
pub mod validate;
pub mod watch;
pub mod watchdog;
