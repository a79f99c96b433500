//! `canary record ANALYSIS --out FILE`: query every metric of the analysis for both sides and
//! write the recorded-data format, so that any live judgment can be replayed.

use super::judging::fetch_everything;
use crate::cli::RecordArgs;
use crate::error::CanaryError;
use crate::model::{Side, Verdict, clock::now, window::format_timestamp};
use crate::settings::analysis::ResolvedAnalysis;
use crate::settings::source::open_source;
use crate::settings::window::live_window;
use crate::source::recorded::{RecordedMetric, RecordedQuery, RecordedSeries, RecordedSide, Recording};
use std::io::Write;

pub fn run(args: &RecordArgs) -> Result<Verdict, CanaryError> {
    let ResolvedAnalysis { analysis, overrides, sides } =
        ResolvedAnalysis::load(&args.target.analysis, &args.target.vars, None)?;
    let source = open_source(&analysis, &args.source)?;
    let window = live_window(&analysis, &args.window, now())?;
    let fetched = fetch_everything(&analysis, source.as_ref(), window, &sides, &overrides)?;
    let mut recording =
        Recording::new(&analysis.name, source.description(), window.start, window.end, window.step_seconds);
    recording.recorded_at = Some(format_timestamp(now()));
    recording.point_time = source.point_time();
    let offset = analysis.baseline.offset.map(|o| o.as_secs());
    let offset_seconds = analysis.baseline.offset.map(|o| o.as_secs() as i64).unwrap_or(0);
    for answer in fetched {
        let name = analysis.metrics[answer.metric].name().to_string();
        let metric = recording
            .metrics
            .entry(name)
            .or_insert_with(|| RecordedMetric { baseline: RecordedSide::new(offset), canary: RecordedSide::new(None) });
        let side = match answer.side {
            Side::Baseline => &mut metric.baseline,
            Side::Canary => &mut metric.canary,
        };
        // Recordings keep each side's real timestamps; replay moves the baseline forward again.
        let shift = if answer.side == Side::Baseline { offset_seconds } else { 0 };
        let series = answer
            .series
            .iter()
            .map(|s| {
                let mut recorded = RecordedSeries::from_series(s);
                for point in &mut recorded.points {
                    point.time -= shift;
                }
                recorded
            })
            .collect();
        side.queries.insert(answer.role, RecordedQuery { query: answer.query, series });
    }
    let text = serde_json::to_string_pretty(&recording).expect("recordings serialise");
    std::fs::write(&args.out, format!("{text}\n"))
        .map_err(|source| CanaryError::Unwritable { path: args.out.clone(), source })?;
    let points: usize = recording
        .metrics
        .values()
        .flat_map(|m| [&m.baseline, &m.canary])
        .flat_map(|side| side.queries.values())
        .flat_map(|q| &q.series)
        .map(|s| s.points.len())
        .sum();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "canary: recorded {} metric(s), {points} point(s), {} to {} into {}",
        recording.metrics.len(),
        recording.window.start,
        recording.window.end,
        args.out.display()
    );
    Ok(Verdict::Pass)
}
