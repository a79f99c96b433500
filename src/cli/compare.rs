//! `canary compare`: two samples of numbers from files, and how to test them.

use super::values::{AlternativeArg, DirectionArg, FormatArg, MethodArg, choice};
use crate::input::Selector;
use crate::model::{Direction, Margin};
use crate::report::Format;
use crate::stats::{Alternative, Method};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// File of baseline numbers (whitespace or newline separated, `#` comments, `-` for stdin), a
    /// CSV file with --column, or a hyperfine --export-json file (a name ending in .json, or
    /// --command).
    pub baseline: PathBuf,
    /// File of canary numbers, in the same format (it may be the same CSV or JSON file, with
    /// --canary-column or --canary-command).
    pub canary: PathBuf,
    /// Read the files as CSV and take this column: its header name, or its position from 1 (a
    /// first row that is not a number there is a header).
    #[arg(long, value_name = "NAME|POSITION", conflicts_with_all = ["command", "canary_command"])]
    pub column: Option<Selector>,
    /// The canary file's column, when it differs from --column.
    #[arg(long, value_name = "NAME|POSITION", requires = "column")]
    pub canary_column: Option<Selector>,
    /// Read the files as hyperfine --export-json results and take this command's `times`: its
    /// name, or its position from 1 (needed when a file holds several commands).
    #[arg(long, value_name = "NAME|POSITION")]
    pub command: Option<Selector>,
    /// The canary file's command, when it differs from --command.
    #[arg(long, value_name = "NAME|POSITION")]
    pub canary_command: Option<Selector>,
    /// Alternative hypothesis of the Mann-Whitney test (`greater`: the canary tends to be larger).
    #[arg(long, default_value = "two-sided", value_parser = choice::<AlternativeArg, Alternative>())]
    pub alternative: Alternative,
    /// Two-sided confidence of the interval of the shift, strictly between 0 and 1.
    #[arg(long, default_value_t = 0.95, value_parser = parse_confidence)]
    pub confidence: f64,
    /// How the p-value is computed: exact null distribution (no ties), normal approximation, or
    /// exact when there are no ties and the smaller sample² × larger ≤ 1.6e7.
    #[arg(long, default_value = "auto", value_parser = choice::<MethodArg, Method>())]
    pub method: Method,
    /// Which change is bad.
    #[arg(long, default_value = "increase", value_parser = choice::<DirectionArg, Direction>())]
    pub direction: Direction,
    /// Practical margin a change must exceed to fail: absolute (`20`, in the samples' units) or
    /// relative to the baseline median (`5%`).
    #[arg(long, default_value = "0")]
    pub margin: Margin,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = choice::<FormatArg, Format>())]
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

    #[test]
    fn confidence_must_be_a_probability() {
        assert!(parse_confidence("0.99").is_ok());
        assert!(parse_confidence("1").is_err());
        assert!(parse_confidence("95").unwrap_err().contains("`95`"));
    }
}
