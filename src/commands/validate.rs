//! `canary validate ANALYSIS`: parse strictly, resolve both sides' variables and render every
//! query, then print what would be queried.

use crate::cli::ValidateArgs;
use crate::config::template::{Side, render_metric, resolve_sides};
use crate::config::{Analysis, MetricKind};
use crate::error::{CanaryError, Verdict};
use std::collections::BTreeMap;
use std::io::Write;

pub fn run(args: &ValidateArgs) -> Result<Verdict, CanaryError> {
    let analysis = Analysis::load(&args.analysis)?;
    let overrides: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    let sides = resolve_sides(&analysis, &overrides)?;
    let mut text = String::new();
    let counts = analysis.metrics.iter().filter(|m| m.kind() == MetricKind::Count).count();
    text.push_str(&format!(
        "{}: valid analysis `{}`: {} metric(s) ({} count, {} gauge), window last {} at step {}, warm-up {}\n",
        args.analysis.display(),
        analysis.name,
        analysis.metrics.len(),
        counts,
        analysis.metrics.len() - counts,
        analysis.window.last,
        analysis.window.step,
        analysis.window.warmup
    ));
    if let Some(offset) = analysis.baseline.offset {
        text.push_str(&format!("baseline: the canary's own series {offset} earlier\n"));
    }
    for metric in &analysis.metrics {
        text.push_str(&format!("\n{} ({}, group {}):\n", metric.name(), kind_name(metric.kind()), metric.group()));
        for side in Side::BOTH {
            for (role, query) in render_metric(&analysis, metric, side, &sides, &overrides, analysis.window.step)? {
                let role = serde_json::to_value(role).unwrap_or_default();
                text.push_str(&format!("  {:<8} {:<11} {query}\n", side.name(), role.as_str().unwrap_or("")));
            }
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(CanaryError::Output)?;
    Ok(Verdict::Pass)
}

fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Gauge => "gauge",
        MetricKind::Count => "count",
    }
}
