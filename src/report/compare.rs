//! Renders a [`ComparisonReport`]: a side-by-side table for people, or the JSON document.

use super::Page;
use super::layout::{fit, fitted_table, write_wrapped};
use crate::comparison::ComparisonReport;
use crate::model::{
    Verdict,
    number::{p_value, plain, signed},
};
use crate::stats::{MethodUsed, Summary};
use comfy_table::{Cell, CellAlignment};
use std::io::{self, Write};

/// Writes the JSON document (one line, then a newline).
pub fn write_json(report: &ComparisonReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// Writes the table fitted to `page`: box-drawing borders when styled (for terminals), plain
/// ASCII otherwise.
pub fn write_table(report: &ComparisonReport, out: &mut impl Write, page: Page) -> io::Result<()> {
    let mut table = fitted_table(page);
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
    // Its longest words are a few numbers: it fits any page canary lays out (40 columns or more).
    fit(&mut table, page.width);
    writeln!(out, "{table}")?;
    let hl = &report.hodges_lehmann;
    let mw = &report.mann_whitney;
    let method = match mw.method {
        MethodUsed::Exact => "exact",
        MethodUsed::Asymptotic => "asymptotic",
    };
    let alternative = mw.alternative.name();
    writeln!(out)?;
    let lines = [
        format!(
            "shift (canary - baseline, Hodges-Lehmann): {}  {}% CI [{}, {}]",
            signed(hl.estimate),
            plain(hl.confidence * 100.0),
            signed(hl.ci_low),
            signed(hl.ci_high)
        ),
        format!("Mann-Whitney U = {}  p = {} ({method}, {alternative})", mw.u, p_value(mw.p_value)),
        format!(
            "P(canary > baseline) = {}  (direction: {} is bad, margin {})",
            plain(report.effect_sizes.common_language),
            report.margin.direction.name(),
            report.margin.requested
        ),
    ];
    for line in lines {
        write_wrapped(out, "", "  ", &line, page.width)?;
    }
    let verdict = match report.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::FeatureOff => "FEATURE OFF",
    };
    write_wrapped(out, "verdict: ", "  ", &format!("{verdict}: {}", report.reason), page.width)
}

fn relative_change(baseline: f64, canary: f64) -> String {
    if baseline == 0.0 {
        return signed(canary - baseline);
    }
    format!("{:+.2}%", (canary - baseline) / baseline.abs() * 100.0)
}
