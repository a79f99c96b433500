//! The command-line surface (clap derive). Parsing only: commands turn these into settings.

use crate::judge::{Direction, Margin};
use crate::report::Format;
use crate::stats::{Alternative, Method};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  pass
  1  fail: a regression was found
  2  usage or configuration error (bad flag, unreadable or malformed input)
  3  inconclusive: not enough data to decide
  4  could not judge (backend unreachable, query error, could not write the result)";

/// Judge a canary against its baseline with rank tests, count tests and thresholds.
#[derive(Debug, Parser)]
#[command(name = "canary", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare two samples of numbers (latency samples, benchmark runs), like ministat.
    #[command(after_help = EXIT_CODES)]
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// File of baseline numbers (whitespace or newline separated, `#` comments, `-` for stdin).
    pub baseline: PathBuf,
    /// File of canary numbers, in the same format.
    pub canary: PathBuf,
    /// Alternative hypothesis of the Mann-Whitney test (`greater`: the canary tends to be larger).
    #[arg(long, value_enum, default_value_t = Alternative::TwoSided)]
    pub alternative: Alternative,
    /// Two-sided confidence of the interval of the shift, strictly between 0 and 1.
    #[arg(long, default_value_t = 0.95, value_parser = parse_confidence)]
    pub confidence: f64,
    /// How the p-value is computed: exact null distribution (no ties), normal approximation, or
    /// exact when there are no ties and the smaller sample² × larger ≤ 1.6e7.
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    pub method: Method,
    /// Which change is bad.
    #[arg(long, value_enum, default_value_t = Direction::Increase)]
    pub direction: Direction,
    /// Practical margin a change must exceed to fail: absolute (`20`, in the samples' units) or
    /// relative to the baseline median (`5%`).
    #[arg(long, default_value = "0")]
    pub margin: Margin,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn parse_confidence(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(c) if c > 0.0 && c < 1.0 => Ok(c),
        _ => Err(format!(
            "`{text}` is not a confidence level (expected a number strictly between 0 and 1, such as 0.95)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn confidence_must_be_a_probability() {
        assert!(parse_confidence("0.99").is_ok());
        assert!(parse_confidence("1").is_err());
        assert!(parse_confidence("95").unwrap_err().contains("`95`"));
    }
}
