//! The events `canary watch --format json` prints, one JSON object per line; `canary schema
//! watch` is generated from these types. Each event is written with its keys sorted. A watch of
//! several analyses (`canary watch a.yaml b.yaml`, `--fleet`) names the service on each event and
//! ends with a [`WatchEvent::Summary`]; its table ends with [`write_summary`].

use crate::judge::report::{Classification, JudgmentReport};
use crate::judge::sequential::SequenceResult;
use crate::model::{Verdict, window::Window};
use schemars::JsonSchema;
use serde::Serialize;

/// One line of `canary watch --format json`; `event` tells which.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent<'a> {
    /// Printed first: the plan of looks.
    Start {
        /// The service (several analyses watched in one run only).
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'a str>,
        /// The analysis's name.
        analysis: &'a str,
        /// The canary's start (RFC 3339).
        start: String,
        /// How the looks are tested: `sequential` (always-valid tests at the full alpha at every
        /// look) or `fixed` (O'Brien-Fleming alpha spending over the planned looks).
        mode: &'static str,
        /// Every planned look, in order.
        looks: Vec<PlannedLook>,
        /// The whole alpha, spent over the looks.
        alpha: f64,
    },
    /// One judgment, after each look.
    Look {
        /// The service (several analyses watched in one run only).
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'a str>,
        /// The look's number, from 1.
        look: usize,
        /// How many looks are planned.
        looks: usize,
        /// The judged window.
        window: Window,
        /// The alpha this look spends.
        alpha: f64,
        verdict: Verdict,
        /// The score, 0 to 100, when one was computed.
        score: Option<f64>,
        reason: &'a str,
        /// Points fetched from the source so far (growing by fewer after the first look: the fetch
        /// is incremental, the new points and the last 5 steps known again, for late samples). With
        /// several analyses, the run's: every service's together.
        points_fetched: usize,
        metrics: Vec<LookMetric<'a>>,
        /// Sequential looks: when this look decided (its window's end, RFC 3339).
        #[serde(skip_serializing_if = "Option::is_none")]
        decided_at: Option<String>,
        /// Sequential looks: each metric's always-valid confidence sequence at this look.
        #[serde(skip_serializing_if = "Option::is_none")]
        sequences: Option<&'a [SequenceResult]>,
    },
    /// `--promote-early`: every metric's sequence rules out a regression beyond its margin; the
    /// watch stops with pass.
    Promote {
        /// The service (several analyses watched in one run only).
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'a str>,
        /// The look that promoted.
        look: usize,
        /// Its window's end (RFC 3339).
        at: String,
        reason: &'a str,
    },
    /// Printed last (with several analyses, when the service's watch ends): the verdict and the
    /// report of the last look (`canary schema report`).
    Final {
        /// The service (several analyses watched in one run only).
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'a str>,
        verdict: Verdict,
        report: &'a JudgmentReport,
    },
    /// Several analyses: a service whose look could not be judged (its data could not be fetched
    /// or checked); its watch ends there with this exit code, the others go on.
    Error {
        service: &'a str,
        /// The look that could not be judged.
        look: usize,
        exit_code: u8,
        error: &'a str,
    },
    /// Several analyses: printed last, when every service's watch has ended.
    Summary(&'a WatchSummary),
}

/// The end of a watch of several analyses: each service's outcome, the run's worst, and the
/// backend queries of each round of looks (the looks due at one time, fetched together).
#[derive(Debug, Serialize, JsonSchema)]
pub struct WatchSummary {
    /// The worst outcome of the services (`report::fleet`'s order), which decides the exit code.
    pub outcome: &'static str,
    pub exit_code: u8,
    /// Queries sent to the metrics backend over the whole run.
    pub backend_queries: usize,
    pub rounds: Vec<WatchRound>,
    pub services: Vec<WatchedService>,
}

/// One round of looks: every service with a look at that time, fetched together.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WatchRound {
    /// When the looks are judged (RFC 3339).
    pub at: String,
    /// How many services looked.
    pub services: usize,
    /// Queries sent to the metrics backend for them.
    pub backend_queries: usize,
}

/// How one service's watch ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WatchedService {
    pub name: String,
    pub analysis_file: String,
    /// `pass`, `fail`, `inconclusive`, `feature_off`, `could_not_judge` or `usage_error`.
    pub outcome: &'static str,
    pub exit_code: u8,
    /// The look that decided (its last), from 1, and how many were planned.
    pub look: usize,
    pub looks: usize,
    /// That look's window end (RFC 3339) and the minutes since the canary's start.
    pub decided_at: String,
    pub minute: i64,
    /// The metrics classified as failing at that look.
    pub failing_metrics: Vec<String>,
    /// Why the service could not be judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The summary table of a watch of several analyses.
pub fn write_summary(summary: &WatchSummary, out: &mut impl std::io::Write, page: super::Page) -> std::io::Result<()> {
    use comfy_table::{ContentArrangement, Table, presets};
    let per_round: Vec<String> = summary.rounds.iter().map(|r| r.backend_queries.to_string()).collect();
    writeln!(
        out,
        "\n=== summary: {} services, {} backend queries (per round of looks: {})\n",
        summary.services.len(),
        summary.backend_queries,
        per_round.join(", ")
    )?;
    let mut table = Table::new();
    table.set_content_arrangement(ContentArrangement::Dynamic).set_width(page.width.try_into().unwrap_or(u16::MAX));
    table.load_style(if page.styled { presets::UTF8_FULL_CONDENSED } else { presets::ASCII_MARKDOWN });
    table.set_header(["service", "analysis", "outcome", "decided", "failing metrics / error"]);
    let cell = |text: &str| {
        let safe = crate::input::terminal_safe(text);
        if page.styled { safe } else { safe.replace('|', "\\|") }
    };
    for service in &summary.services {
        let failing = match &service.error {
            Some(error) => crate::input::excerpt_of(error, 100),
            None if service.failing_metrics.is_empty() => "-".into(),
            None => service.failing_metrics.join(", "),
        };
        table.add_row([
            cell(&service.name),
            cell(&service.analysis_file),
            service.outcome.to_string(),
            format!("look {}/{}, minute {}", service.look, service.looks, service.minute),
            cell(&failing),
        ]);
    }
    writeln!(out, "{}", table.trim_fmt())?;
    let words = summary.services.iter().map(|s| s.outcome);
    writeln!(
        out,
        "\nverdict: {} (worst of {}: {})",
        summary.outcome,
        summary.services.len(),
        super::fleet::tally_words(words)
    )
}

/// A planned look: when it runs and the alpha it spends.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlannedLook {
    /// When the look runs (RFC 3339).
    pub at: String,
    pub alpha: f64,
}

/// A metric's outcome at one look.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LookMetric<'a> {
    pub name: &'a str,
    pub classification: Classification,
    pub reason: &'a str,
}

impl WatchEvent<'_> {
    /// The event as one line of JSON (no newline), keys sorted.
    pub fn line(&self) -> String {
        serde_json::to_value(self).map_or_else(|error| format!("{{\"error\":\"{error}\"}}"), |value| value.to_string())
    }
}

/// The metrics of a look's report as its event lists them.
pub fn look_metrics(report: &JudgmentReport) -> Vec<LookMetric<'_>> {
    report
        .metrics
        .iter()
        .map(|metric| LookMetric { name: &metric.name, classification: metric.classification, reason: &metric.reason })
        .collect()
}
