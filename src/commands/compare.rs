//! `canary compare BASELINE CANARY`: read two files of numbers, compare, print, give the verdict.

use crate::cli::CompareArgs;
use crate::comparison::{CompareSettings, ComparisonError, compare};
use crate::error::CanaryError;
use crate::input::read_numbers;
use crate::model::Verdict;
use crate::report::{Format, compare as render};
use crate::settings;
use std::io::Write;

pub fn run(args: &CompareArgs) -> Result<Verdict, CanaryError> {
    if args.baseline.as_os_str() == "-" && args.canary.as_os_str() == "-" {
        return Err(CanaryError::Usage("only one of BASELINE and CANARY can be `-` (standard input)".into()));
    }
    let (baseline, canary) = std::thread::scope(|scope| {
        let canary = scope.spawn(|| read_numbers(&args.canary));
        (read_numbers(&args.baseline), canary.join().expect("reading thread panicked"))
    });
    let (baseline, canary) = (baseline?, canary?);
    let settings = CompareSettings {
        alternative: args.alternative,
        method: args.method,
        confidence: args.confidence,
        direction: args.direction,
        margin: args.margin,
    };
    let report = compare(baseline, canary, &settings).map_err(|error| match error {
        ComparisonError::EmptySample { side } => {
            let file = if side == "baseline" { &args.baseline } else { &args.canary };
            CanaryError::NotEnoughData(format!("{}: {error}", file.display()))
        }
        other => CanaryError::from(other),
    })?;
    let page = settings::output::get().page();
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => render::write_json(&report, &mut out),
        Format::Table => render::write_table(&report, &mut out, page),
    };
    CanaryError::stdout(written.and_then(|()| out.flush()))?;
    Ok(report.verdict)
}
