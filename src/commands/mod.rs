//! One module per subcommand: orchestration only (read inputs, call the pure parts, render).

pub mod compare;
pub mod judge;
pub mod schema;
pub mod validate;
