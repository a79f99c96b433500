//! What `canary watch` prints as it goes: a row per look (with each metric's confidence sequence
//! under it in sequential mode) or one JSON event per line ([`crate::report::watch::WatchEvent`]),
//! the early promotion and the final verdict.

use super::Look;
use crate::cli::{WatchFormat, WatchLooks};
use crate::config::Analysis;
use crate::error::CanaryError;
use crate::judge::report::{Classification, JudgmentReport};
use crate::judge::sequential::SequenceResult;
use crate::model::number::{p_value, plain};
use crate::model::window::format_timestamp;
use crate::report::layout::write_wrapped;
use crate::report::watch::{PlannedLook, WatchEvent, look_metrics};
use crate::settings;
use std::io::Write;

/// One metric's confidence sequence under its look's row, as (the row's label, its text): the
/// caller wraps it to the page.
fn sequence_line(sequence: &SequenceResult) -> (String, String) {
    let show = |v: Option<f64>| match (sequence.test, v) {
        (_, None) => "?".to_string(),
        (crate::judge::report::TestKindResult::Shift, Some(v)) => crate::model::number::short_signed(v),
        (_, Some(v)) => format!("×{}", crate::model::number::short(v)),
    };
    let what = if sequence.test == crate::judge::report::TestKindResult::Shift { "shift" } else { "rate" };
    let body = match sequence.estimate {
        Some(_) => format!(
            "{what} {} [{}, {}], margin {}, always-valid p {}",
            show(sequence.estimate),
            show(sequence.low),
            show(sequence.high),
            show(sequence.margin),
            sequence.adjusted_p_value.map_or("-".into(), p_value)
        ),
        None => format!("{what}: not tested yet ({} intervals)", sequence.intervals),
    };
    (format!("{:>7}{:<20}  ", "", sequence.metric), format!("{body}  {}", sequence.decision))
}

/// Progress output: a row per look, or one JSON event per line.
pub(super) struct Events {
    format: WatchFormat,
    out: std::io::Stdout,
    /// The columns table rows fit (`settings::output`).
    width: usize,
}

impl Events {
    pub(super) fn new(format: WatchFormat) -> Events {
        Events { format, out: std::io::stdout(), width: settings::output::get().width }
    }

    pub(super) fn emit(&mut self, line: &str) -> Result<(), CanaryError> {
        let mut out = self.out.lock();
        CanaryError::stdout(writeln!(out, "{line}").and_then(|()| out.flush()))
    }

    /// Writes `text` word-wrapped to the width, continuing after `continuation`.
    pub(super) fn emit_wrapped(&mut self, first: &str, continuation: &str, text: &str) -> Result<(), CanaryError> {
        let mut out = self.out.lock();
        let written = write_wrapped(&mut out, first, continuation, text, self.width);
        CanaryError::stdout(written.and_then(|()| out.flush()))
    }

    pub(super) fn start(
        &mut self,
        analysis: &Analysis,
        start: i64,
        looks: &[Look],
        mode: WatchLooks,
    ) -> Result<(), CanaryError> {
        let (mode_name, how) = match mode {
            WatchLooks::Sequential => ("sequential", "always-valid at every look"),
            WatchLooks::Fixed => ("fixed", "spent O'Brien-Fleming style"),
        };
        match self.format {
            WatchFormat::Json => {
                let event = WatchEvent::Start {
                    analysis: &analysis.name,
                    start: format_timestamp(start),
                    mode: mode_name,
                    looks: looks.iter().map(|l| PlannedLook { at: format_timestamp(l.at), alpha: l.alpha }).collect(),
                    alpha: analysis.judgment.alpha,
                };
                self.emit(&event.line())
            }
            WatchFormat::Table => {
                let watching = format!(
                    "watching `{}` from {} for {} looks (alpha {} {how})",
                    analysis.name,
                    format_timestamp(start),
                    looks.len(),
                    plain(analysis.judgment.alpha)
                );
                self.emit_wrapped("", "  ", &watching)?;
                self.emit("")?;
                // The failing metrics follow a row when they fit, else go on the lines below it.
                let header = format!(
                    "{:>5}  {:<20}  {:<9}  {:>8}  {:<12}  {:>5}",
                    "look", "window end", "judged", "alpha", "verdict", "score"
                );
                let last = "  failing / unjudged";
                if header.chars().count() + last.len() <= self.width {
                    self.emit(&format!("{header}{last}"))
                } else {
                    self.emit(&header)
                }
            }
        }
    }

    pub(super) fn look(
        &mut self,
        number: usize,
        total: usize,
        look: &Look,
        report: &JudgmentReport,
        fetched: usize,
        sequences: Option<&[SequenceResult]>,
    ) -> Result<(), CanaryError> {
        let failing: Vec<String> = report
            .metrics
            .iter()
            .filter(|m| m.classification != Classification::Pass)
            .map(|m| format!("{} ({})", m.name, m.label()))
            .collect();
        match self.format {
            WatchFormat::Json => {
                let event = WatchEvent::Look {
                    look: number,
                    looks: total,
                    window: report.window,
                    alpha: look.alpha,
                    verdict: report.verdict,
                    score: report.score,
                    reason: &report.reason,
                    points_fetched: fetched,
                    metrics: look_metrics(report),
                    decided_at: sequences.map(|_| format_timestamp(look.window.end)),
                    sequences,
                };
                self.emit(&event.line())
            }
            WatchFormat::Table => {
                let judged = crate::model::Duration::from_secs((look.window.end - look.window.start) as u64);
                let verdict = serde_json::to_value(report.verdict).unwrap_or_default();
                let row = format!(
                    "{:>5}  {:<20}  {:<9}  {:>8}  {:<12}  {:>5}",
                    format!("{number}/{total}"),
                    format_timestamp(look.window.end),
                    judged.to_string(),
                    p_value(look.alpha),
                    verdict.as_str().unwrap_or(""),
                    report.score.map_or("-".into(), plain),
                );
                let failing = failing.join(", ");
                if row.chars().count() + 2 + failing.chars().count() <= self.width {
                    self.emit(&format!("{row}  {failing}"))?;
                } else {
                    self.emit(&row)?;
                    self.emit_wrapped("       ", "       ", &failing)?;
                }
                for sequence in sequences.unwrap_or_default() {
                    let (label, text) = sequence_line(sequence);
                    self.emit_wrapped(&label, &" ".repeat(label.chars().count() + 2), &text)?;
                }
                Ok(())
            }
        }
    }

    /// The early promotion: every metric's sequence rules out a regression beyond its margin.
    pub(super) fn promote(&mut self, number: usize, look: &Look, report: &JudgmentReport) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => {
                let event =
                    WatchEvent::Promote { look: number, at: format_timestamp(look.window.end), reason: &report.reason };
                self.emit(&event.line())
            }
            WatchFormat::Table => self.emit(&format!(
                "\npromoted early at {} (look {number}): every metric's confidence sequence rules out a regression beyond its margin",
                format_timestamp(look.window.end)
            )),
        }
    }

    pub(super) fn finish(&mut self, report: &JudgmentReport) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => self.emit(&WatchEvent::Final { verdict: report.verdict, report }.line()),
            WatchFormat::Table => {
                if let Some(line) = crate::report::table::rollback_text(report) {
                    self.emit("")?;
                    self.emit_wrapped("", "  ", &line)?;
                }
                let verdict = serde_json::to_value(report.verdict).unwrap_or_default();
                let verdict = verdict.as_str().unwrap_or("").to_uppercase();
                self.emit("")?;
                self.emit_wrapped("final verdict: ", "  ", &format!("{verdict}: {}", report.reason))
            }
        }
    }
}
