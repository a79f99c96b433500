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
use crate::report::watch::{PlannedLook, WatchEvent, WatchSummary, look_metrics};
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
    /// Several analyses: the width of the service's name that starts each table row.
    names: Option<usize>,
}

/// The longest service name a table row shows whole.
const MAX_NAME_COLUMN: usize = 30;

impl Events {
    /// `names`: the services' names when several analyses are watched (`None`: one analysis, whose
    /// output names no service).
    pub(super) fn new(format: WatchFormat, names: Option<&[&str]>) -> Events {
        let names = names.map(|names| {
            names.iter().map(|n| n.chars().count()).max().unwrap_or(0).clamp("service".len(), MAX_NAME_COLUMN)
        });
        Events { format, out: std::io::stdout(), width: settings::output::get().width, names }
    }

    /// Another writer of the same output, for a thread of its own (the end of a round that passed
    /// its deadline, `super::several::when_a_round_times_out`).
    pub(super) fn again(&self) -> Events {
        Events { format: self.format, out: std::io::stdout(), width: self.width, names: self.names }
    }

    /// What starts a table row of `service`: its name in the service column (several analyses).
    fn column(&self, service: Option<&str>) -> String {
        match (self.names, service) {
            (Some(width), Some(name)) => {
                let name: String = crate::input::terminal_safe(name).chars().take(MAX_NAME_COLUMN).collect();
                format!("{name:<width$}  ")
            }
            _ => String::new(),
        }
    }

    /// What starts a line about `service` outside the rows (several analyses): `name: `.
    fn named(service: Option<&str>) -> String {
        service.map_or_else(String::new, |name| format!("{}: ", crate::input::terminal_safe(name)))
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
        service: Option<&str>,
    ) -> Result<(), CanaryError> {
        let (mode_name, how) = match mode {
            WatchLooks::Sequential => ("sequential", "always-valid at every look"),
            WatchLooks::Fixed => ("fixed", "spent O'Brien-Fleming style"),
        };
        match self.format {
            WatchFormat::Json => {
                let event = WatchEvent::Start {
                    service,
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
                    "{}watching `{}` from {} for {} looks (alpha {} {how})",
                    Events::named(service),
                    analysis.name,
                    format_timestamp(start),
                    looks.len(),
                    plain(analysis.judgment.alpha)
                );
                self.emit_wrapped("", "  ", &watching)?;
                if self.names.is_some() { Ok(()) } else { self.header() }
            }
        }
    }

    /// The table's header, after the start (several analyses: after every service's start).
    pub(super) fn header(&mut self) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => Ok(()),
            WatchFormat::Table => {
                self.emit("")?;
                // The failing metrics follow a row when they fit, else go on the lines below it.
                let header = format!(
                    "{}{:>5}  {:<20}  {:<9}  {:>8}  {:<12}  {:>5}",
                    self.column(Some("service")),
                    "look",
                    "window end",
                    "judged",
                    "alpha",
                    "verdict",
                    "score"
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
        (number, total): (usize, usize),
        look: &Look,
        report: &JudgmentReport,
        fetched: usize,
        sequences: Option<&[SequenceResult]>,
        service: Option<&str>,
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
                    service,
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
                let column = self.column(service);
                let indent = " ".repeat(column.chars().count() + 7);
                let row = format!(
                    "{column}{:>5}  {:<20}  {:<9}  {:>8}  {:<12}  {:>5}",
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
                    self.emit_wrapped(&indent, &indent, &failing)?;
                }
                for sequence in sequences.unwrap_or_default() {
                    let (label, text) = sequence_line(sequence);
                    let label = format!("{}{label}", " ".repeat(indent.len() - 7));
                    self.emit_wrapped(&label, &" ".repeat(label.chars().count() + 2), &text)?;
                }
                Ok(())
            }
        }
    }

    /// The early promotion: every metric's sequence rules out a regression beyond its margin.
    pub(super) fn promote(
        &mut self,
        number: usize,
        look: &Look,
        report: &JudgmentReport,
        service: Option<&str>,
    ) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => {
                let at = format_timestamp(look.window.end);
                let event = WatchEvent::Promote { service, look: number, at, reason: &report.reason };
                self.emit(&event.line())
            }
            WatchFormat::Table => self.emit(&format!(
                "\n{}promoted early at {} (look {number}): every metric's confidence sequence rules out a regression beyond its margin",
                Events::named(service),
                format_timestamp(look.window.end)
            )),
        }
    }

    pub(super) fn finish(&mut self, report: &JudgmentReport, service: Option<&str>) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => self.emit(&WatchEvent::Final { service, verdict: report.verdict, report }.line()),
            WatchFormat::Table => {
                let named = Events::named(service);
                if let Some(line) = crate::report::table::rollback_text(report) {
                    self.emit("")?;
                    self.emit_wrapped(&named, "  ", &line)?;
                }
                let verdict = serde_json::to_value(report.verdict).unwrap_or_default();
                let verdict = verdict.as_str().unwrap_or("").to_uppercase();
                self.emit("")?;
                self.emit_wrapped(&format!("{named}final verdict: "), "  ", &format!("{verdict}: {}", report.reason))
            }
        }
    }

    /// Several analyses: a service's look could not be judged; its watch ends there.
    pub(super) fn error(&mut self, service: &str, look: usize, error: &CanaryError) -> Result<(), CanaryError> {
        let (exit_code, text) = (error.exit_code(), error.to_string());
        match self.format {
            WatchFormat::Json => self.emit(&WatchEvent::Error { service, look, exit_code, error: &text }.line()),
            WatchFormat::Table => {
                self.emit("")?;
                let what = crate::report::fleet::outcome_word(exit_code).replace('_', " ");
                let first = format!("{}{what} at look {look}: ", Events::named(Some(service)));
                self.emit_wrapped(&first, "  ", &crate::input::terminal_safe(&text))
            }
        }
    }

    /// Several analyses: the run's summary, when every service's watch has ended.
    pub(super) fn summary(&mut self, summary: &WatchSummary) -> Result<(), CanaryError> {
        match self.format {
            WatchFormat::Json => self.emit(&WatchEvent::Summary(summary).line()),
            WatchFormat::Table => {
                let page = settings::output::get().page();
                let mut out = self.out.lock();
                let written = crate::report::watch::write_summary(summary, &mut out, page);
                CanaryError::stdout(written.and_then(|()| out.flush()))
            }
        }
    }
}
