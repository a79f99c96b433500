//! Renders a [`ComparisonReport`]: a side-by-side table for people, or the JSON document.

use crate::comparison::ComparisonReport;
use crate::model::{
    Verdict,
    number::{p_value, plain, signed},
};
use crate::stats::{MethodUsed, Summary};
use comfy_table::{Cell, CellAlignment, Table, presets};
use std::io::{self, Write};

/// Writes the JSON document (one line, then a newline).
pub fn write_json(report: &ComparisonReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// Writes the table; `styled` selects box-drawing borders (for terminals) over plain ASCII.
pub fn write_table(report: &ComparisonReport, out: &mut impl Write, styled: bool) -> io::Result<()> {
    let mut table = Table::new();
    table.load_style(if styled { presets::UTF8_FULL_CONDENSED } else { presets::ASCII_MARKDOWN });
    table.set_header(["", "baseline", "canary", "change"]);
    type Statistic = fn(&Summary) -> Option<f64>;
    let rows: [(&str, Statistic); 8] = [
        ("count", |s| Some(s.count as f64)),
        ("mean", |s| Some(s.mean)),
        ("std", |s| s.std),
        ("min", |s| Some(s.min)),
        ("p50", |s| Some(s.p50)),
        ("p90", |s| Some(s.p90)),
        ("p99", |s| Some(s.p99)),
        ("max", |s| Some(s.max)),
    ];
    for (name, pick) in rows {
        let (b, c) = (pick(&report.baseline), pick(&report.canary));
        let change = match (b, c) {
            (Some(b), Some(c)) if name != "count" && name != "std" => relative_change(b, c),
            _ => String::new(),
        };
        table.add_row([
            Cell::new(name),
            Cell::new(b.map_or("-".into(), plain)).set_alignment(CellAlignment::Right),
            Cell::new(c.map_or("-".into(), plain)).set_alignment(CellAlignment::Right),
            Cell::new(change).set_alignment(CellAlignment::Right),
        ]);
    }
    writeln!(out, "{table}")?;
    let hl = &report.hodges_lehmann;
    let mw = &report.mann_whitney;
    let method = match mw.method {
        MethodUsed::Exact => "exact",
        MethodUsed::Asymptotic => "asymptotic",
    };
    let alternative = mw.alternative.name();
    writeln!(out)?;
    writeln!(
        out,
        "shift (canary - baseline, Hodges-Lehmann): {}  {}% CI [{}, {}]",
        signed(hl.estimate),
        plain(hl.confidence * 100.0),
        signed(hl.ci_low),
        signed(hl.ci_high)
    )?;
    writeln!(out, "Mann-Whitney U = {}  p = {} ({method}, {alternative})", mw.u, p_value(mw.p_value))?;
    writeln!(
        out,
        "P(canary > baseline) = {}  (direction: {} is bad, margin {})",
        plain(report.effect_sizes.common_language),
        report.margin.direction.name(),
        report.margin.requested
    )?;
    let verdict = match report.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::FeatureOff => "FEATURE OFF",
    };
    writeln!(out, "verdict: {verdict}: {}", report.reason)
}

fn relative_change(baseline: f64, canary: f64) -> String {
    if baseline == 0.0 {
        return signed(canary - baseline);
    }
    format!("{:+.2}%", (canary - baseline) / baseline.abs() * 100.0)
}
