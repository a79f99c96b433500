//! One module per subcommand: orchestration only (read inputs, call the pure parts, render).

pub mod compare;
pub mod import;
pub mod judge;
pub mod judging;
pub mod record;
pub mod schema;
pub mod validate;
pub mod watch;
