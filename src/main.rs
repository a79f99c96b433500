//! The `canary` binary: parse the command line, run it, exit with its code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = canary::parse_command_line();
    ExitCode::from(canary::exit_code(canary::run(cli)))
}
