use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = canary::Cli::parse();
    ExitCode::from(canary::exit_code(canary::run(cli)))
}
