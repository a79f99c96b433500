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
pub(crate) use outcome::{
    Imprecision, dispersed_estimate_beyond_margin, drift_unconfirmed, estimate_beyond_margin, failure_class,
    imprecision, rules_out, settle_test,
};

use opening::{Opening, Thinning};

use crate::config::{MetricConfig, MetricKind};
use crate::judge::report::{Classification, Finding, FindingKind, MetricResult, TestOutcome};
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
    /// The series are grouped once by their combination ([`group_by_breakdown`]), so the cost grows
    /// with the number of series, not with series × combinations; each part keeps every role of
    /// each side (empty where it has no series) and only its own carried breach stretches.
    pub fn split(self) -> Vec<MetricInput<'a>> {
        let labels = &self.config.breakdown;
        if labels.is_empty() {
            return vec![self];
        }
        let MetricInput { config, queries, baseline, canary, carries, .. } = self;
        group_by_breakdown(labels, baseline, canary)
            .into_iter()
            .map(|(wanted, (baseline, canary))| {
                let mut part = MetricInput {
                    config,
                    queries: queries.clone(),
                    baseline,
                    canary,
                    part: Some(wanted),
                    carries: BTreeMap::new(),
                };
                part.carries = carries_of(&carries, &part.name());
                part
            })
            .collect()
    }
}

/// The series of one side, by role.
pub(crate) type SideSeries = BTreeMap<QueryRole, Vec<Series>>;

/// Groups both sides' series by their values of `labels` (a missing label is the empty value),
/// in one pass over the series: for each combination seen on either side, the series of each side
/// that carry it, by role, with every role of that side present (empty where none match). The
/// combinations are in their sorted order, the series of each in their order of arrival.
pub(crate) fn group_by_breakdown(
    labels: &[String],
    baseline: SideSeries,
    canary: SideSeries,
) -> BTreeMap<BTreeMap<String, String>, (SideSeries, SideSeries)> {
    let empty = |side: &SideSeries| -> SideSeries { side.keys().map(|role| (*role, Vec::new())).collect() };
    let (empty_baseline, empty_canary) = (empty(&baseline), empty(&canary));
    let mut parts: BTreeMap<BTreeMap<String, String>, (SideSeries, SideSeries)> = BTreeMap::new();
    for (side, series_by_role) in [(Side::Baseline, baseline), (Side::Canary, canary)] {
        for (role, series) in series_by_role {
            for one in series {
                let key = labels.iter().map(|l| (l.clone(), one.labels.get(l).cloned().unwrap_or_default())).collect();
                let (baseline, canary) =
                    parts.entry(key).or_insert_with(|| (empty_baseline.clone(), empty_canary.clone()));
                let side = if side == Side::Baseline { baseline } else { canary };
                side.entry(role).or_default().push(one);
            }
        }
    }
    parts
}

/// The carried breach stretches of the metric reported as `name`: those keyed
/// [`carry_key`]`(name, rule)`, found by a range lookup rather than a scan of every metric's.
fn carries_of(
    carries: &BTreeMap<String, super::sustained::Carry>,
    name: &str,
) -> BTreeMap<String, super::sustained::Carry> {
    let prefix = format!("{name}#");
    carries
        .range(prefix.clone()..)
        .take_while(|(key, _)| key.starts_with(&prefix))
        .filter(|(key, _)| key[prefix.len()..].parse::<usize>().is_ok())
        .map(|(key, carry)| (key.clone(), carry.clone()))
        .collect()
}

/// What every metric's judgment shares.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub window: Window,
    pub point_time: PointTime,
    pub alpha: f64,
    /// The per-side count drift a one-look judgment allows for (`judgment.drift`, a fraction):
    /// a failed rate test is re-checked under it. `None` when undeclared, and for sequential
    /// looks, whose sequences carry the allowance themselves.
    pub declared_drift: Option<f64>,
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
        critical: config.critical,
        // `no_data`, never a pass until [`Evidence`] says so: see `super::judge`.
        queries: input.queries.clone(),
        ..MetricResult::unjudged(input.name(), config.group().to_string(), config.kind(), config.direction)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Point;
    use proptest::prelude::*;

    /// The split as it was before grouping: every combination matched against every series.
    fn split_by_matching(
        labels: &[String],
        baseline: &SideSeries,
        canary: &SideSeries,
    ) -> Vec<(BTreeMap<String, String>, SideSeries, SideSeries)> {
        let key = |series: &Series| -> BTreeMap<String, String> {
            labels.iter().map(|l| (l.clone(), series.labels.get(l).cloned().unwrap_or_default())).collect()
        };
        let mut keys: Vec<BTreeMap<String, String>> =
            baseline.values().chain(canary.values()).flatten().map(&key).collect();
        keys.sort();
        keys.dedup();
        let select = |side: &SideSeries, wanted: &BTreeMap<String, String>| -> SideSeries {
            side.iter()
                .map(|(role, series)| (*role, series.iter().filter(|s| key(s) == *wanted).cloned().collect()))
                .collect()
        };
        keys.into_iter().map(|wanted| (wanted.clone(), select(baseline, &wanted), select(canary, &wanted))).collect()
    }

    fn side() -> impl Strategy<Value = SideSeries> {
        let series = (
            prop::collection::btree_map(
                prop::sample::select(vec!["route", "pod", "zone"]),
                prop::sample::select(vec!["a", "b", "c", ""]),
                0..3,
            ),
            0..100i64,
        )
            .prop_map(|(labels, time)| Series {
                labels: labels.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                points: vec![Point { time, value: time as f64 }],
            });
        prop::collection::btree_map(
            prop::sample::select(vec![QueryRole::Value, QueryRole::Numerator, QueryRole::Denominator]),
            prop::collection::vec(series, 0..12),
            0..3,
        )
    }

    proptest! {
        #[test]
        fn grouping_once_splits_exactly_as_matching_every_combination(
            labels in prop::collection::vec(prop::sample::select(vec!["route", "pod", "zone", "absent"]), 1..3),
            baseline in side(),
            canary in side(),
        ) {
            let labels: Vec<String> = labels.into_iter().map(String::from).collect();
            let old = split_by_matching(&labels, &baseline, &canary);
            let new: Vec<_> = group_by_breakdown(&labels, baseline, canary)
                .into_iter()
                .map(|(key, (baseline, canary))| (key, baseline, canary))
                .collect();
            prop_assert_eq!(new, old);
        }
    }

    #[test]
    fn a_part_keeps_only_its_own_carried_stretches() {
        let carry = crate::judge::sustained::Carry { start: 0, end: 0, duration_seconds: 60, points: Vec::new() };
        let carries: BTreeMap<String, _> = ["m{r=\"a\"}#0", "m{r=\"a\"}#1", "m{r=\"a\"}#x", "m{r=\"ab\"}#0", "n#0"]
            .into_iter()
            .map(|k| (k.to_string(), carry.clone()))
            .collect();
        let kept: Vec<String> = carries_of(&carries, "m{r=\"a\"}").into_keys().collect();
        assert_eq!(kept, vec!["m{r=\"a\"}#0", "m{r=\"a\"}#1"]);
    }
}
