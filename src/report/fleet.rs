//! The report of a many-analysis run (`canary judge a.yaml b.yaml`, `--fleet`): one report per
//! service in the chosen format, then a summary (service, outcome, failing metrics). In JSON, one
//! document ([`FleetReport`], `canary schema fleet`) holding the summary and every service's report.
//!
//! The run's outcome is the worst of its services' in this order: fail (1), could not judge (4),
//! usage error (2), inconclusive (3), feature off (5), pass (0). A fail comes first so that a
//! regression found in one service is never hidden by another that could not be judged; a pass
//! needs every service to pass.

use super::{Page, markdown, table};
use crate::judge::report::JudgmentReport;
use comfy_table::{Table, presets};
use serde::Serialize;
use std::io::{self, Write};

/// The JSON document of a many-analysis run.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FleetReport {
    pub schema_version: u32,
    /// The worst outcome of the services (see `outcome` of each), which decides the exit code.
    pub outcome: String,
    pub exit_code: u8,
    /// Queries sent to the metrics backend for the whole run (identical queries once, grouped
    /// queries once per shape).
    pub backend_queries: usize,
    pub services: Vec<ServiceOutcome>,
}

/// One service's outcome.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ServiceOutcome {
    pub name: String,
    pub analysis_file: String,
    /// `pass`, `fail`, `inconclusive`, `feature_off`, `could_not_judge` or `usage_error`.
    pub outcome: String,
    pub exit_code: u8,
    /// The metrics classified as failing.
    pub failing_metrics: Vec<String>,
    /// Why the service could not be judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The service's judgment report, as `canary judge --format json` writes it alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<JudgmentReport>,
}

/// How bad an exit code is, for the run's worst outcome: higher is worse.
pub(crate) fn severity(exit_code: u8) -> u8 {
    match exit_code {
        1 => 6,
        4 => 5,
        2 => 4,
        3 => 3,
        5 => 2,
        0 => 1,
        _ => 7,
    }
}

/// The word for an exit code's outcome.
pub(crate) fn outcome_word(exit_code: u8) -> &'static str {
    match exit_code {
        0 => "pass",
        1 => "fail",
        2 => "usage_error",
        3 => "inconclusive",
        4 => "could_not_judge",
        5 => "feature_off",
        _ => "interrupted",
    }
}

fn failing_text(service: &ServiceOutcome) -> String {
    match &service.error {
        Some(error) => crate::input::excerpt_of(error, 100),
        None if service.failing_metrics.is_empty() => "-".into(),
        None => service.failing_metrics.join(", "),
    }
}

fn summary_table(report: &FleetReport, page: Page) -> Table {
    let styled = page.styled;
    let mut summary = Table::new();
    summary
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(page.width.try_into().unwrap_or(u16::MAX));
    summary.load_style(if styled { presets::UTF8_FULL_CONDENSED } else { presets::ASCII_MARKDOWN });
    summary.set_header(["service", "analysis", "outcome", "failing metrics / error"]);
    // Plain tables are Markdown: a `|` in a cell would end it.
    let cell = |text: &str| {
        let safe = crate::input::terminal_safe(text);
        if styled { safe } else { safe.replace('|', "\\|") }
    };
    for service in &report.services {
        summary.add_row([
            cell(&service.name),
            cell(&service.analysis_file),
            service.outcome.clone(),
            cell(&failing_text(service)),
        ]);
    }
    summary
}

fn tally(report: &FleetReport) -> String {
    tally_words(report.services.iter().map(|s| s.outcome.as_str()))
}

/// How many services had each outcome, in order of first appearance: `1 pass, 2 fail`.
pub(crate) fn tally_words<'a>(outcomes: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for outcome in outcomes {
        match counts.iter_mut().find(|(word, _)| *word == outcome) {
            Some((_, count)) => *count += 1,
            None => counts.push((outcome, 1)),
        }
    }
    counts.iter().map(|(word, count)| format!("{count} {word}")).collect::<Vec<_>>().join(", ")
}

/// Writes every service's table, then the summary.
pub fn write_table(report: &FleetReport, out: &mut impl Write, page: Page) -> io::Result<()> {
    for service in &report.services {
        writeln!(out, "=== service {} ({})\n", safe(&service.name), safe(&service.analysis_file))?;
        write_service(service, out, |judgment, out| table::write_table(judgment, out, page), "")?;
    }
    writeln!(out, "=== summary: {} services, {} backend queries\n", report.services.len(), report.backend_queries)?;
    writeln!(out, "{}", summary_table(report, page).trim_fmt())?;
    writeln!(out, "\nverdict: {} (worst of {}: {})", report.outcome, report.services.len(), tally(report))
}

/// Writes every service's Markdown report, then the summary.
pub fn write_markdown(report: &FleetReport, out: &mut impl Write) -> io::Result<()> {
    for service in &report.services {
        writeln!(out, "## Service `{}`\n", safe(&service.name))?;
        write_service(service, out, |judgment, out| markdown::write_markdown(judgment, out), "**")?;
    }
    writeln!(out, "## Summary: {} services, {} backend queries\n", report.services.len(), report.backend_queries)?;
    writeln!(out, "{}", summary_table(report, Page::plain(usize::MAX)).trim_fmt())?;
    writeln!(out, "\n**Verdict: {}** (worst of {}: {})", report.outcome, report.services.len(), tally(report))
}

fn safe(text: &str) -> String {
    crate::input::terminal_safe(text)
}

/// One service's report with `write`, or why it could not be judged (its outcome in `strong`).
fn write_service<W: Write>(
    service: &ServiceOutcome,
    out: &mut W,
    write: impl FnOnce(&JudgmentReport, &mut W) -> io::Result<()>,
    strong: &str,
) -> io::Result<()> {
    match &service.report {
        Some(judgment) => write(judgment, out)?,
        None => writeln!(
            out,
            "{strong}{}{strong}: {}",
            service.outcome,
            safe(service.error.as_deref().unwrap_or("not judged"))
        )?,
    }
    writeln!(out)
}

/// Writes the JSON document.
pub fn write_json(report: &FleetReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fail_outranks_everything_and_a_pass_needs_all() {
        let order = [1u8, 4, 2, 3, 5, 0];
        for pair in order.windows(2) {
            assert!(severity(pair[0]) > severity(pair[1]), "{pair:?}");
        }
        assert_eq!([0u8, 0, 3].into_iter().max_by_key(|c| severity(*c)), Some(3));
    }
}
