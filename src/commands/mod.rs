//! One module per subcommand: orchestration only (read inputs, call the pure parts, render).

pub mod compare;
