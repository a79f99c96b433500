use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = canary::cli::Cli::parse();
    ExitCode::from(canary::exit_code(canary::run(cli)))
}
