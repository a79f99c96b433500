//! The events `canary watch --format json` prints, one JSON object per line; `canary schema
//! watch` is generated from these types. Each event is written with its keys sorted.

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
        /// is incremental, the new points and the last 5 steps known again, for late samples).
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
        /// The look that promoted.
        look: usize,
        /// Its window's end (RFC 3339).
        at: String,
        reason: &'a str,
    },
    /// Printed last: the verdict and the report of the last look (`canary schema report`).
    Final { verdict: Verdict, report: &'a JudgmentReport },
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
