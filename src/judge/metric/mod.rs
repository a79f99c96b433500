//! One metric, from its series to its tests: data quality first (see [`super::quality`]), then the
//! statistical tests (shift and spread for gauges, the rate test for counts) and thresholds. The
//! statistical tests' p-values are only provisional here: [`super::judge`] adjusts them across the
//! whole analysis (Holm) before outcomes are decided.
//!
//! Split by role: [`opening`] holds what both kinds do first (one series per query, time order,
//! no data, identical sides, overlapping range windows); [`gauge`] the gauge evaluation with its
//! shift and spread tests; [`count`] the count evaluation with its rate test; [`rules`] the
//! threshold checks and sustained-breach rules both kinds share; [`evidence`] the positive
//! evidence a pass needs; [`outcome`] what is decided after the Holm correction (outcome and
//! reason of a statistical test, imprecision, the failure label).

mod count;
mod evidence;
mod gauge;
mod opening;
mod outcome;
mod rules;

pub(crate) use evidence::positive_evidence;
pub(crate) use outcome::{failure_class, imprecision, rules_out, settle_test};

use opening::{Opening, Thinning};

use crate::config::{MetricConfig, MetricKind};
use crate::judge::report::{Classification, Finding, FindingKind, MetricResult, SideData, TestOutcome};
use crate::model::{Direction, PointTime, QueryRole, Series, Side, window::Window};
use std::collections::BTreeMap;

/// A metric's configuration, rendered queries and fetched series.
#[derive(Debug, Clone)]
pub struct MetricInput<'a> {
    pub config: &'a MetricConfig,
    pub queries: BTreeMap<Side, BTreeMap<QueryRole, String>>,
    pub baseline: BTreeMap<QueryRole, Vec<Series>>,
    pub canary: BTreeMap<QueryRole, Vec<Series>>,
    /// For a metric with a `breakdown`: the label values of this part.
    pub part: Option<BTreeMap<String, String>>,
    /// Breach stretches still running at the end of an earlier judgment (the watchdog's previous
    /// run), by [`carry_key`]: sustained rules continue them.
    pub carries: BTreeMap<String, super::sustained::Carry>,
}

/// Whether `reported` is a name [`MetricInput::name`] reports `config`'s results under: its name,
/// or (for a metric with a `breakdown`) its name followed by a part's labels in braces.
pub(crate) fn reported_under(config: &MetricConfig, reported: &str) -> bool {
    reported == config.name()
        || (!config.breakdown.is_empty()
            && reported
                .strip_prefix(config.name())
                .is_some_and(|labels| labels.starts_with('{') && labels.ends_with('}')))
}

/// The key of a sustained rule's carried stretch: the reported metric name and the rule's index.
pub fn carry_key(metric: &str, rule: usize) -> String {
    format!("{metric}#{rule}")
}

impl<'a> MetricInput<'a> {
    /// An input with no series yet.
    pub fn new(config: &'a MetricConfig) -> MetricInput<'a> {
        MetricInput {
            config,
            queries: BTreeMap::new(),
            baseline: BTreeMap::new(),
            canary: BTreeMap::new(),
            part: None,
            carries: BTreeMap::new(),
        }
    }

    /// The fetched series of one side.
    pub fn side(&self, side: Side) -> &BTreeMap<QueryRole, Vec<Series>> {
        match side {
            Side::Baseline => &self.baseline,
            Side::Canary => &self.canary,
        }
    }

    /// The name it is reported under: `p99_latency`, or `p99_latency{route="/cart"}` for a part.
    pub fn name(&self) -> String {
        match &self.part {
            None => self.config.name().to_string(),
            Some(labels) => {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                format!("{}{{{}}}", self.config.name(), pairs.join(","))
            }
        }
    }

    /// Splits a metric with a `breakdown` into one input per combination of its labels' values,
    /// matching baseline and canary series by those values. Other metrics are returned as they are.
    pub fn split(self) -> Vec<MetricInput<'a>> {
        let labels = &self.config.breakdown;
        if labels.is_empty() {
            return vec![self];
        }
        let key = |series: &Series| -> BTreeMap<String, String> {
            labels.iter().map(|l| (l.clone(), series.labels.get(l).cloned().unwrap_or_default())).collect()
        };
        let mut keys: Vec<BTreeMap<String, String>> =
            self.baseline.values().chain(self.canary.values()).flatten().map(&key).collect();
        keys.sort();
        keys.dedup();
        let select = |side: &BTreeMap<QueryRole, Vec<Series>>, wanted: &BTreeMap<String, String>| {
            side.iter()
                .map(|(role, series)| (*role, series.iter().filter(|s| key(s) == *wanted).cloned().collect::<Vec<_>>()))
                .collect::<BTreeMap<_, _>>()
        };
        keys.into_iter()
            .map(|wanted| MetricInput {
                config: self.config,
                queries: self.queries.clone(),
                baseline: select(&self.baseline, &wanted),
                canary: select(&self.canary, &wanted),
                part: Some(wanted),
                carries: self.carries.clone(),
            })
            .collect()
    }
}

/// What every metric's judgment shares.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub window: Window,
    pub point_time: PointTime,
    pub alpha: f64,
}

/// A metric evaluated up to the multiplicity correction.
pub(super) struct Evaluated {
    pub result: MetricResult,
    /// Set when data quality already decided the classification (no data, error).
    pub settled: bool,
}

/// Evaluates one metric; intervals are computed at `confidence` (two-sided).
pub(super) fn evaluate(input: &MetricInput<'_>, context: &Context, confidence: f64) -> Evaluated {
    let config = input.config;
    let mut result = MetricResult {
        name: input.name(),
        group: config.group().to_string(),
        kind: config.kind(),
        direction: config.direction,
        critical: config.critical,
        // Never a pass until [`Evidence`] says so: see `super::judge`.
        classification: Classification::NoData,
        reason: String::new(),
        queries: input.queries.clone(),
        baseline: SideData::default(),
        canary: SideData::default(),
        tests: Vec::new(),
        findings: Vec::new(),
        kayenta: None,
        rules_out: None,
        inconclusive: None,
    };
    if let Some(problem) = window_problem(&context.window) {
        result.findings.push(Finding { kind: FindingKind::StepMismatch, side: None, message: problem.clone() });
        result.classification = Classification::Error;
        result.reason = problem;
        return Evaluated { result, settled: true };
    }
    // A two-sided test spends α on both sides: its interval must be correspondingly wider.
    let confidence = if config.direction == Direction::Either { 1.0 - (1.0 - confidence) / 2.0 } else { confidence };
    let opening = Opening { input, context, confidence, thinning: Thinning::of(input, &context.window) };
    let outcome = match config.kind() {
        MetricKind::Gauge => gauge::evaluate_gauge(&opening, &mut result),
        MetricKind::Count => count::evaluate_count(&opening, &mut result),
    };
    match outcome {
        Ok(()) => Evaluated { result, settled: false },
        Err((classification, reason)) => {
            result.classification = classification;
            result.reason = reason;
            for test in &mut result.tests {
                test.outcome = TestOutcome::Skipped;
            }
            Evaluated { result, settled: true }
        }
    }
}

/// The longest step the judge accepts: a year. Longer steps (a recording's `step_seconds` of
/// u64::MAX) would overflow the arithmetic on timestamps.
pub const MAX_STEP_SECONDS: u64 = 366 * 86_400;

/// Why the window cannot be judged: a step outside 1 s to [`MAX_STEP_SECONDS`], or a warm-up
/// that does not end before the window does. The configuration and the recording reader check
/// these too; the judge does not trust them.
fn window_problem(window: &Window) -> Option<String> {
    if !(1..=MAX_STEP_SECONDS).contains(&window.step_seconds) {
        return Some(format!(
            "the window's step of {} s is outside the judge's range of 1 s to {} s",
            window.step_seconds, MAX_STEP_SECONDS
        ));
    }
    let length = window.end.checked_sub(window.start).filter(|l| *l > 0);
    if length.is_none_or(|length| window.warmup_seconds >= length as u64) {
        return Some(format!(
            "the window from {} to {} with a warm-up of {} s leaves nothing to judge",
            crate::model::window::format_timestamp(window.start),
            crate::model::window::format_timestamp(window.end),
            window.warmup_seconds
        ));
    }
    None
}
