//! `canary compare BASELINE CANARY`: read two samples (files of numbers, a CSV column, hyperfine
//! exports), compare, print, give the verdict. Both files are read, parsed and sorted in parallel.

use crate::cli::CompareArgs;
use crate::comparison::{CompareSettings, ComparisonError, SortedSample, compare_sorted};
use crate::error::CanaryError;
use crate::input::{SampleFormat, read_sample};
use crate::model::Verdict;
use crate::report::{Format, compare as render};
use crate::settings;
use std::io::Write;
use std::path::Path;

pub fn run(args: &CompareArgs) -> Result<Verdict, CanaryError> {
    if args.baseline.as_os_str() == "-" && args.canary.as_os_str() == "-" {
        return Err(CanaryError::Usage("only one of BASELINE and CANARY can be `-` (standard input)".into()));
    }
    let (baseline_format, canary_format) = (sample_format(args, false), sample_format(args, true));
    // Each side is read, parsed and sorted on its own thread; the comparison starts once both are.
    let read_and_sort = |path: &Path, format: &SampleFormat, side| {
        read_sample(path, format).map(|values| SortedSample::new(values, side))
    };
    let (baseline, canary) = std::thread::scope(|scope| {
        let canary = scope.spawn(|| read_and_sort(&args.canary, &canary_format, "canary"));
        (read_and_sort(&args.baseline, &baseline_format, "baseline"), canary.join().expect("reading thread panicked"))
    });
    let (baseline, canary) = (baseline?, canary?);
    let settings = CompareSettings {
        alternative: args.alternative,
        method: args.method,
        confidence: args.confidence,
        direction: args.direction,
        margin: args.margin,
    };
    let empty_side = |error| match error {
        ComparisonError::EmptySample { side } => {
            let file = if side == "baseline" { &args.baseline } else { &args.canary };
            CanaryError::NotEnoughData(format!("{}: {error}", file.display()))
        }
        other => CanaryError::from(other),
    };
    let (baseline, canary) = (baseline.map_err(empty_side)?, canary.map_err(empty_side)?);
    let report = compare_sorted(&baseline, &canary, &settings).map_err(empty_side)?;
    let page = settings::output::get().page();
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => render::write_json(&report, &mut out),
        Format::Table => render::write_table(&report, &mut out, page),
    };
    CanaryError::stdout(written.and_then(|()| out.flush()))?;
    Ok(report.verdict)
}

/// How one side's file is read: a CSV column with `--column`, hyperfine's export with `--command`
/// or a file name ending in `.json`, numbers otherwise.
fn sample_format(args: &CompareArgs, canary: bool) -> SampleFormat {
    let (path, column, command) = if canary {
        (
            &args.canary,
            args.canary_column.as_ref().or(args.column.as_ref()),
            args.canary_command.as_ref().or(args.command.as_ref()),
        )
    } else {
        (&args.baseline, args.column.as_ref(), args.command.as_ref())
    };
    let json = path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
    match (column, command) {
        (Some(column), _) => SampleFormat::CsvColumn(column.clone()),
        (None, Some(command)) => SampleFormat::Hyperfine(Some(command.clone())),
        (None, None) if json => SampleFormat::Hyperfine(None),
        (None, None) => SampleFormat::Numbers,
    }
}
