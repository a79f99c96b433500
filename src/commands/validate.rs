//! `canary validate ANALYSIS`: parse strictly, resolve both sides' variables and render every
//! query, then print what would be queried.

use super::judging::{fetch_everything, short_range_notes};
use crate::cli::ValidateArgs;
use crate::config::MetricKind;
use crate::config::template::render_metric;
use crate::error::CanaryError;
use crate::model::{Duration, QueryRole, Series, Side, Verdict, clock, number::plain, window::format_timestamp};
use crate::settings::analysis::ResolvedAnalysis;
use crate::settings::{source::open_source, window::live_window};
use std::io::Write;

pub fn run(args: &ValidateArgs) -> Result<Verdict, CanaryError> {
    let ResolvedAnalysis { analysis, overrides, sides } =
        ResolvedAnalysis::load(&args.target.analysis, &args.target.vars, None)?;
    let width = crate::settings::output::get().width;
    let mut text = String::new();
    let counts = analysis.metrics.iter().filter(|m| m.kind() == MetricKind::Count).count();
    let mut header = Vec::new();
    let written = crate::report::layout::write_wrapped(
        &mut header,
        "",
        "  ",
        &format!(
            "{}: valid analysis `{}`: {} metric(s) ({} count, {} gauge), window last {} at step {}, warm-up {}",
            args.target.analysis.display(),
            analysis.name,
            analysis.metrics.len(),
            counts,
            analysis.metrics.len() - counts,
            analysis.window.last,
            analysis.window.step,
            analysis.window.warmup
        ),
        width,
    );
    CanaryError::stdout(written)?;
    text.push_str(&String::from_utf8_lossy(&header));
    if let Some(offset) = analysis.baseline.offset {
        text.push_str(&format!("baseline: the canary's own series {offset} earlier\n"));
    }
    for metric in &analysis.metrics {
        text.push_str(&format!("\n{} ({}, group {}):\n", metric.name(), kind_name(metric.kind()), metric.group()));
        let mut queries = Vec::new();
        for side in Side::BOTH {
            for (role, query) in render_metric(&analysis, metric, side, &sides, &overrides, analysis.window.step)? {
                queries.push((format!("  {:<8} {:<11}", side.name(), role.name()), query));
            }
        }
        // A query is never wrapped (a space may be inside a label value): when one of a metric's
        // queries does not fit after its label, each of them goes on the line below its label.
        let inline = queries.iter().all(|(label, query)| label.chars().count() + 1 + query.chars().count() <= width);
        for (label, query) in queries {
            if inline {
                text.push_str(&format!("{label} {query}\n"));
            } else {
                text.push_str(&format!("{}\n    {query}\n", label.trim_end()));
            }
        }
    }
    let mut verdict = Verdict::Pass;
    if args.live {
        let source = open_source(&analysis, &args.source)?;
        let window = live_window(&analysis, &args.window, clock::now())?;
        let fetched = fetch_everything(&analysis, source.as_ref(), window, &sides, &overrides)?;
        text.push_str(&format!(
            "\nlive preview from {} over {} to {} (step {}):\n",
            source.description().url.unwrap_or_default(),
            format_timestamp(window.start),
            format_timestamp(window.end),
            Duration::from_secs(window.step_seconds)
        ));
        for answer in &fetched {
            let line = preview(&answer.series);
            let empty = answer.series.is_empty();
            // A counter that never fired has no series; an empty value or denominator is a wrong selector.
            if empty && answer.role != QueryRole::Numerator {
                verdict = Verdict::Inconclusive;
            }
            text.push_str(&format!(
                "  {:<20} {:<8} {:<11} {}{line}\n",
                analysis.metrics[answer.metric].name(),
                answer.side.name(),
                answer.role.name(),
                if empty && answer.role != QueryRole::Numerator { "EMPTY: " } else { "" }
            ));
        }
        let mut explained: Vec<String> = Vec::new();
        for (_, finding) in short_range_notes(source.as_ref(), &fetched) {
            if !explained.contains(&finding.message) {
                text.push_str(&format!("  {}\n", finding.message));
                explained.push(finding.message);
            }
        }
        if verdict == Verdict::Inconclusive {
            text.push_str("\nsome queries returned no series: check their selectors before relying on this analysis\n");
        }
    }
    let mut out = std::io::stdout().lock();
    CanaryError::stdout(out.write_all(text.as_bytes()).and_then(|()| out.flush()))?;
    Ok(verdict)
}

/// "matrix, 1 series, 31 points, values 0.12 to 0.56, 2 NaN".
fn preview(series: &[Series]) -> String {
    if series.is_empty() {
        return "matrix, 0 series".into();
    }
    let points: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.value)).collect();
    let finite: Vec<f64> = points.iter().copied().filter(|v| v.is_finite()).collect();
    let non_finite = points.len() - finite.len();
    let range = match (finite.iter().copied().reduce(f64::min), finite.iter().copied().reduce(f64::max)) {
        (Some(low), Some(high)) => format!(", values {} to {}", plain(low), plain(high)),
        _ => String::new(),
    };
    let per_series: Vec<String> = series.iter().take(3).map(|s| s.points.len().to_string()).collect();
    let labels = if series.len() > 1 {
        let shown: Vec<String> = series.iter().take(3).map(|s| format!("{:?}", s.labels)).collect();
        format!(" (labels {}{})", shown.join(", "), if series.len() > 3 { ", …" } else { "" })
    } else {
        String::new()
    };
    format!(
        "matrix, {} series{labels}, points {}{}{range}{}",
        series.len(),
        per_series.join("/"),
        if series.len() > 3 { "/…" } else { "" },
        if non_finite > 0 { format!(", {non_finite} NaN/Inf") } else { String::new() }
    )
}

fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Gauge => "gauge",
        MetricKind::Count => "count",
    }
}
