//! The sequential decision of continuous monitoring (`canary watch`, the cron watchdog with
//! sequential state): per metric an anytime-valid test against its margin and direction
//! ([`crate::stats::confidence_sequence`]: the rate ratio for counts, the shift of paired
//! per-interval values for gauges), Bonferroni across the metrics, and the verdict rolled up as
//! `judge` does. Pure: it takes the look's judgment of the whole monitored time and its inputs.
//!
//! What changes against a single judgment: each metric's fixed-horizon statistical tests (shift,
//! spread, rate) are replaced by one always-valid test of the same kind, whose interval is the
//! confidence sequence at level α/M per end (M metrics with a statistical test) and whose
//! p-value is the anytime p-value 1/e. Thresholds, sustained rules and data quality stay as the
//! judge decided them. A metric fails when the sequence lies wholly beyond its margin in the bad
//! direction; it passes the look (positive evidence, through the judge's own rule) when the
//! sequence's bad end is within the "too little data" bar, but its decision is `pass` (what an
//! early promotion needs, [`promotable`]) only once the sequence rules out a regression beyond the
//! margin itself; otherwise it is not decided yet (`open`). The sequence's good end is the
//! promotion's own one-sided test at α/M, as its bad end is the fail test's: a metric regressed
//! beyond its margin is promoted, like a healthy one failed, with probability at most α/M. Fewer than
//! [`MIN_INTERVALS`] paired intervals leave the test skipped: such a metric cannot pass.

use super::metric::{MetricInput, failure_class, imprecision, positive_evidence};
use super::quality::{clean, join};
use super::report::{
    Classification, Finding, FindingKind, JudgmentReport, MetricResult, TestKindResult, TestOutcome, TestResult,
};
use crate::config::{Analysis, MetricKind, TestKind};
use crate::model::number::{p_value, plain, short, short_signed};
use crate::model::{Direction, Margin, PointTime, QueryRole, Series, Side, Window};
use crate::stats::confidence_sequence::{
    CountIncrement, PRIOR_RATE_DRIFT, drift_correlation, rate_drift_towards, rate_ratio_evidence,
    rate_ratio_log_evidence, rate_ratio_sequence, shift_log_evidence, shift_sequence, shift_summary,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Paired intervals a sequential test needs before its first decision.
pub const MIN_INTERVALS: usize = 5;

/// The data of one metric's sequential test, as paired intervals of both sides.
#[derive(Debug, Clone, PartialEq)]
pub enum Increments {
    Count(Vec<CountIncrement>),
    /// Paired differences canary − baseline, and the baseline's values (for a relative margin).
    Gauge {
        differences: Vec<f64>,
        baseline: Vec<f64>,
    },
}

/// One metric's always-valid result at a look, for the watch events and the watchdog's report.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SequenceResult {
    pub metric: String,
    /// `rate` (ratio canary/baseline) or `shift` (canary − baseline, metric units).
    pub test: TestKindResult,
    pub intervals: usize,
    pub estimate: Option<f64>,
    /// The confidence sequence: valid at every look at once.
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// The null value of the bad direction (ratio or shift).
    pub margin: Option<f64>,
    /// Anytime p-value against the margin, and times the number of metrics (Bonferroni).
    pub p_value: Option<f64>,
    pub adjusted_p_value: Option<f64>,
    /// Variance seen / variance without drift (1 = Poisson or independent intervals).
    pub variance_inflation: Option<f64>,
    /// `fail`, `pass` (regression beyond the margin ruled out), or `open`.
    pub decision: String,
    /// Counts: the per-side drift of the rates (a fraction) the sequence allows for until the
    /// data show their own (`judgment.drift`, 0.15 unless the analysis sets it).
    pub drift_allowance: Option<f64>,
}

impl SequenceResult {
    /// A metric's sequence before any data decides it: nothing computed, decision `open`.
    fn open(metric: &str, test: TestKindResult) -> SequenceResult {
        SequenceResult {
            metric: metric.to_string(),
            test,
            intervals: 0,
            estimate: None,
            low: None,
            high: None,
            margin: None,
            p_value: None,
            adjusted_p_value: None,
            variance_inflation: None,
            decision: "open".into(),
            drift_allowance: None,
        }
    }
}

/// Collects one metric's paired intervals from its fetched series over `window`. `Err` says why
/// the sequential test cannot run (several series, negative counts).
pub fn increments(input: &MetricInput<'_>, window: &Window, point_time: PointTime) -> Result<Increments, String> {
    let mut scratch = Vec::new();
    let one = |side: Side, role: QueryRole| -> Result<Option<&Series>, String> {
        match input.side(side).get(&role).map(Vec::as_slice).unwrap_or_default() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => Err(format!("the {} {} query returned {} series", side.name(), role.name(), many.len())),
        }
    };
    match input.config.kind() {
        MetricKind::Count => {
            let mut sides: BTreeMap<Side, BTreeMap<i64, (f64, f64)>> = BTreeMap::new();
            for side in Side::BOTH {
                let numerator = one(side, QueryRole::Numerator)?;
                let Some(denominator) = one(side, QueryRole::Denominator)? else {
                    sides.insert(side, BTreeMap::new());
                    continue;
                };
                let den = clean(&denominator.points, window, point_time, side, &mut scratch);
                let unusable: Vec<i64> = numerator
                    .map(|n| n.points.iter().filter(|p| !p.value.is_finite()).map(|p| p.time).collect())
                    .unwrap_or_default();
                let num =
                    numerator.map(|n| clean(&n.points, window, point_time, side, &mut scratch)).unwrap_or_default();
                let (joined, _, _) = join(&num, &den, &unusable);
                if let Some(&(time, n, d)) = joined.iter().find(|(_, n, d)| *n < 0.0 || *d < 0.0) {
                    return Err(format!(
                        "the {} counts at {} are negative ({n} of {d})",
                        side.name(),
                        crate::model::window::format_timestamp(time)
                    ));
                }
                sides.insert(side, joined.into_iter().map(|(t, n, d)| (t, (n, d))).collect());
            }
            let pairs = sides[&Side::Canary]
                .iter()
                .filter_map(|(t, &(x1, n1))| {
                    sides[&Side::Baseline].get(t).map(|&(x2, n2)| CountIncrement {
                        canary_events: x1,
                        canary_exposure: n1,
                        baseline_events: x2,
                        baseline_exposure: n2,
                    })
                })
                .filter(CountIncrement::is_valid)
                .collect();
            Ok(Increments::Count(pairs))
        }
        MetricKind::Gauge => {
            let values = |side: Side| -> Result<BTreeMap<i64, f64>, String> {
                Ok(one(side, QueryRole::Value)?
                    .map(|s| clean(&s.points, window, point_time, side, &mut Vec::new()))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p.time, p.value))
                    .collect())
            };
            let (canary, baseline) = (values(Side::Canary)?, values(Side::Baseline)?);
            let (mut differences, mut base) = (Vec::new(), Vec::new());
            for (t, c) in &canary {
                if let Some(b) = baseline.get(t) {
                    differences.push(c - b);
                    base.push(*b);
                }
            }
            Ok(Increments::Gauge { differences, baseline: base })
        }
    }
}

/// Null ratios for a relative margin: (1 + δ) above, (1 − δ) below (an absolute margin on a
/// count is no margin on its ratio).
fn null_ratios(margin: Option<Margin>) -> (f64, f64) {
    let delta = match margin {
        Some(Margin::Percent(p)) => p / 100.0,
        _ => 0.0,
    };
    (1.0 + delta, (1.0 - delta).max(f64::MIN_POSITIVE))
}

/// The anytime test of one metric at its Bonferroni share of alpha, as a gating test result of
/// the metric's kind, and its summary.
struct SequentialTest<'t> {
    name: &'t str,
    data: &'t Result<Increments, String>,
    direction: Direction,
    margin: Option<Margin>,
    /// Metrics sharing alpha (Bonferroni).
    family: usize,
    alpha: f64,
    step_seconds: u64,
    /// The counts' prior per-side drift (a fraction).
    count_drift: f64,
}

fn sequential_test(spec: &SequentialTest<'_>) -> (TestResult, SequenceResult) {
    let SequentialTest { name, data, direction, margin, family, alpha, step_seconds, count_drift } = *spec;
    let alpha_metric = alpha / family as f64;
    let phi = drift_correlation(step_seconds as f64);
    // Two one-sided tests for `either`, each at half the metric's share.
    let per_end = if direction == Direction::Either { alpha_metric / 2.0 } else { alpha_metric };
    let kind = match data {
        Ok(Increments::Gauge { .. }) => TestKindResult::Shift,
        _ => TestKindResult::Rate,
    };
    let mut test = TestResult { confidence: Some(1.0 - 2.0 * per_end), ..TestResult::new(kind) };
    let mut summary = SequenceResult::open(name, kind);
    let skip = |test: &mut TestResult, why: String| {
        test.outcome = TestOutcome::Skipped;
        test.reason = why;
    };
    // (anytime p of "not beyond the margin in the bad direction", estimate, sequence, margin)
    let computed = match data {
        Err(why) => {
            skip(&mut test, format!("the always-valid test cannot run: {why}"));
            None
        }
        Ok(Increments::Count(pairs)) => {
            summary.intervals = pairs.len();
            summary.drift_allowance = Some(count_drift);
            let (above, below) = null_ratios(margin);
            let events: f64 = pairs.iter().map(|c| c.canary_events + c.baseline_events).sum();
            test.statistic = Some(pairs.iter().map(|c| c.canary_events).sum());
            if pairs.len() < MIN_INTERVALS {
                skip(&mut test, too_few(pairs.len()));
                None
            } else if events <= 0.0 {
                test.gating = false;
                test.reason = "no events on either side: the rates cannot be compared".into();
                None
            } else {
                let total = |f: fn(&CountIncrement) -> f64| pairs.iter().map(f).sum::<f64>();
                let ratio = (total(|c| c.canary_events) / total(|c| c.canary_exposure))
                    / (total(|c| c.baseline_events) / total(|c| c.baseline_exposure));
                let drift = rate_drift_towards(pairs, phi, count_drift);
                let score = rate_ratio_evidence(pairs, ratio.clamp(1e-6, 1e6), drift, phi);
                summary.variance_inflation =
                    (score.model_variance > 0.0).then(|| score.variance / score.model_variance);
                let p = |r: f64, upper: bool| (-rate_ratio_log_evidence(pairs, r, upper, drift, phi)).exp().min(1.0);
                let (p_bad, null) = match direction {
                    Direction::Increase => (p(above, true), above),
                    Direction::Decrease => (p(below, false), below),
                    Direction::Either => ((2.0 * p(above, true).min(p(below, false))).min(1.0), above),
                };
                let sequence = rate_ratio_sequence(pairs, per_end, drift, phi);
                Some((p_bad, ratio, sequence, null))
            }
        }
        Ok(Increments::Gauge { differences, baseline }) => {
            summary.intervals = differences.len();
            let mut sorted = baseline.clone();
            sorted.sort_by(f64::total_cmp);
            let median = (!sorted.is_empty()).then(|| crate::stats::descriptive::median_sorted(&sorted));
            let amount = margin.map_or(0.0, |m| m.amount(median.unwrap_or(0.0)));
            match shift_summary(differences, phi) {
                Some(stats) if differences.len() >= MIN_INTERVALS => {
                    test.statistic = Some(stats.mean);
                    let p = |shift: f64, upper: bool| (-shift_log_evidence(&stats, shift, upper)).exp().min(1.0);
                    let (p_bad, null) = match direction {
                        Direction::Increase => (p(amount, true), amount),
                        Direction::Decrease => (p(-amount, false), -amount),
                        Direction::Either => ((2.0 * p(amount, true).min(p(-amount, false))).min(1.0), amount),
                    };
                    let sequence = Some(shift_sequence(&stats, per_end));
                    summary.variance_inflation = Some(stats.sum_variance / stats.intervals as f64);
                    Some((p_bad, stats.mean, sequence, null))
                }
                _ => {
                    skip(&mut test, too_few(differences.len()));
                    None
                }
            }
        }
    };
    if let Some((p_bad, estimate, sequence, null)) = computed {
        let adjusted = (p_bad * family as f64).min(1.0);
        test.p_value = Some(p_bad);
        test.adjusted_p_value = Some(adjusted);
        test.estimate = Some(estimate);
        test.ci_low = sequence.map(|s| s.0);
        test.ci_high = sequence.map(|s| s.1);
        test.margin = Some(null);
        let failed = adjusted <= alpha;
        test.outcome = if failed { TestOutcome::Fail } else { TestOutcome::Pass };
        test.reason = reason(&test, failed, family, alpha);
        if matches!(data, Ok(Increments::Count(_))) && count_drift != PRIOR_RATE_DRIFT {
            test.reason
                .push_str(&format!("; allowing for {}% drift a side (judgment.drift)", short(count_drift * 100.0)));
        }
        summary.estimate = test.estimate;
        summary.low = test.ci_low;
        summary.high = test.ci_high;
        summary.margin = test.margin;
        summary.p_value = test.p_value;
        summary.adjusted_p_value = test.adjusted_p_value;
    }
    (test, summary)
}

fn too_few(intervals: usize) -> String {
    format!("{intervals} paired interval(s), fewer than the {MIN_INTERVALS} the always-valid test needs")
}

fn reason(test: &TestResult, failed: bool, family: usize, alpha: f64) -> String {
    let show: fn(f64) -> String = match test.test {
        TestKindResult::Shift => short_signed,
        _ => |v| format!("×{}", short(v)),
    };
    let what = if test.test == TestKindResult::Shift { "shift" } else { "rate" };
    let sequence = match (test.ci_low, test.ci_high) {
        (Some(low), Some(high)) => format!(" [{}, {}]", show(low), show(high)),
        _ => String::new(),
    };
    let evidence = format!(
        "always-valid p = {}, ×{family} metrics = {} {} {}",
        p_value(test.p_value.unwrap_or(1.0)),
        p_value(test.adjusted_p_value.unwrap_or(1.0)),
        if failed { "≤" } else { ">" },
        plain(alpha)
    );
    let estimate = test.estimate.map(show).unwrap_or_else(|| "?".into());
    let margin = test.margin.map(show).unwrap_or_else(|| "?".into());
    if failed {
        format!("{what} {estimate}{sequence}: the confidence sequence lies beyond the margin {margin} ({evidence})")
    } else {
        format!("{what} {estimate}{sequence}: no regression beyond the margin {margin} shown yet ({evidence})")
    }
}

/// Whether the judge settled a metric on data quality before its tests (every test skipped).
fn settled(result: &MetricResult) -> bool {
    matches!(result.classification, Classification::NoData | Classification::Error)
        && result.tests.iter().all(|t| t.outcome == TestOutcome::Skipped)
}

/// Replaces the fixed-horizon statistical tests of `report` (the judgment of the monitored time
/// so far) by always-valid ones on `inputs`' intervals, reclassifies the metrics and rolls the
/// verdict up again. Returns each tested metric's sequence.
pub fn apply(
    analysis: &Analysis,
    report: &mut JudgmentReport,
    inputs: Vec<MetricInput<'_>>,
    point_time: PointTime,
) -> Vec<SequenceResult> {
    let alpha = report.alpha;
    let window = report.window;
    let inputs: Vec<MetricInput<'_>> = inputs.into_iter().flat_map(MetricInput::split).collect();
    let statistical =
        |input: &MetricInput<'_>| input.config.tests().iter().any(|t| matches!(t, TestKind::Shift | TestKind::Rate));
    let family = inputs.iter().filter(|i| statistical(i)).count().max(1);
    let count_drift = analysis.judgment.drift_fraction().unwrap_or(PRIOR_RATE_DRIFT);
    let mut sequences = Vec::new();
    for input in inputs.iter().filter(|i| statistical(i)) {
        let name = input.name();
        let Some(result) = report.metrics.iter_mut().find(|m| m.name == name) else { continue };
        let data = increments(input, &window, point_time);
        let config = input.config;
        let (test, sequence) = sequential_test(&SequentialTest {
            name: &name,
            data: &data,
            direction: config.direction,
            margin: config.margin,
            family,
            alpha,
            step_seconds: window.step_seconds,
            count_drift,
        });
        let was_settled = settled(result);
        result
            .tests
            .retain(|t| !matches!(t.test, TestKindResult::Shift | TestKindResult::Spread | TestKindResult::Rate));
        let sequential_fail = test.outcome == TestOutcome::Fail;
        result.tests.push(test);
        let mut sequence = sequence;
        if was_settled {
            // Data quality kept the metric from its tests: it never passes, but a sequence that
            // already lies beyond the margin fails it (a no-data metric only, never an error).
            if sequential_fail && result.classification == Classification::NoData {
                fail(result);
                sequence.decision = "fail".into();
            }
            sequences.push(sequence);
            continue;
        }
        if result.tests.iter().any(|t| t.gating && t.outcome == TestOutcome::Fail) {
            fail(result);
            sequence.decision = if sequential_fail { "fail" } else { "open" }.into();
        } else {
            match positive_evidence(&result.tests) {
                Err((classification, why)) => {
                    result.classification = classification;
                    result.reason = why.clone();
                    result.findings.push(Finding { kind: FindingKind::NoEvidence, side: None, message: why });
                }
                Ok(evidence) => {
                    let median = result.baseline.summary.as_ref().map(|s| s.p50);
                    let bar = config.too_little_data(analysis.judgment.too_little_data_bar);
                    let imprecise = result
                        .tests
                        .iter()
                        .filter(|t| t.gating)
                        .find_map(|t| imprecision(t, result.direction, config.inconclusive_beyond(), median, bar))
                        .map(|found| (found.reason, Some(found.inconclusive)));
                    let imprecise = imprecise.or_else(|| {
                        result
                            .tests
                            .iter()
                            .filter(|t| t.gating)
                            .find_map(|t| estimate_beyond_margin(t, result.direction))
                            .map(|why| (why, None))
                    });
                    match imprecise {
                        Some((why, inconclusive)) => {
                            result.classification = Classification::NoData;
                            result.reason = why;
                            result.inconclusive = inconclusive;
                        }
                        None => {
                            evidence.classify(result);
                            // The metric passes this look; it may promote the canary only once
                            // its sequence rules out a regression beyond the margin itself.
                            // The always-valid test itself must rule it out: one that could not
                            // gate (no events on either side) rules out nothing, even when a
                            // threshold passed the look.
                            let shown = result
                                .tests
                                .iter()
                                .find(|t| matches!(t.test, TestKindResult::Shift | TestKindResult::Rate))
                                .is_some_and(|t| t.gating && rules_out_regression(t, result.direction));
                            sequence.decision = if shown { "pass" } else { "open" }.into();
                        }
                    }
                }
            }
        }
        sequences.push(sequence);
    }
    let (roll_up, features) = if super::features::has_features(analysis) {
        super::features::roll_up(analysis, &report.metrics)
    } else {
        (super::score::roll_up(analysis, &report.metrics), Vec::new())
    };
    report.verdict = roll_up.verdict;
    report.reason = roll_up.reason;
    report.score = roll_up.score;
    report.groups = roll_up.groups;
    report.features = features;
    sequences
}

/// Whether the canary may be promoted early at this look: the look passes, every metric with an
/// always-valid test has decided `pass` (its confidence sequence ruling out a regression beyond
/// its margin), and no sustained rule is breached at the look's last point.
pub(crate) fn promotable(report: &JudgmentReport, sequences: &[SequenceResult]) -> bool {
    report.verdict == crate::model::Verdict::Pass && metrics_promotable(&report.metrics, sequences)
}

/// What [`promotable`] asks of the metrics of a passing look.
fn metrics_promotable(metrics: &[MetricResult], sequences: &[SequenceResult]) -> bool {
    every_metric_ruled_out(metrics.iter().map(|m| m.name.as_str()), sequences) && !metrics.iter().any(breach_running)
}

/// Whether a sustained rule of the metric is breached at the look's last point: the rest of the
/// lifetime, which an early promotion skips, could make it fire.
fn breach_running(metric: &MetricResult) -> bool {
    metric.tests.iter().any(|t| t.sustained.as_ref().is_some_and(|rule| rule.trailing.is_some()))
}

/// Every sequence rules out a regression beyond its margin, and every metric has one: a metric
/// judged only by thresholds or rules (or none at all) has no sequence, so nothing about its
/// future is ruled out and it cannot be promoted early.
fn every_metric_ruled_out<'a>(mut metrics: impl Iterator<Item = &'a str>, sequences: &[SequenceResult]) -> bool {
    sequences.iter().all(|s| s.decision == "pass") && metrics.all(|name| sequences.iter().any(|s| s.metric == name))
}

/// Whether a sequential test's confidence sequence lies wholly on the healthy side of its margin
/// in the bad direction (both margins for `either`): a regression beyond the margin is ruled out
/// at the sequence's level. This, and not the judge's "too little data" bar (a doubling, or
/// `inconclusive_beyond` margins), is what an early promotion needs: with the bar a canary whose
/// sequence still held a regression two, three times the margin could be promoted on a lucky
/// estimate. The bad end of the sequence is one one-sided test at the level the fail test uses
/// on the other end, so a metric regressed beyond its margin is promoted with probability at
/// most α/M however often one looks, as a healthy one is failed with at most α/M.
fn rules_out_regression(test: &TestResult, direction: Direction) -> bool {
    let (Some(low), Some(high), Some(margin)) = (test.ci_low, test.ci_high, test.margin) else {
        return false;
    };
    let neutral = if test.test == TestKindResult::Rate { 1.0 } else { 0.0 };
    let mirrored = 2.0 * neutral - margin;
    let (low_margin, high_margin) = (margin.min(mirrored), margin.max(mirrored));
    match direction {
        Direction::Increase => high < margin,
        Direction::Decrease => low > margin,
        Direction::Either => low > low_margin && high < high_margin,
    }
}

/// A sequential test whose estimate lies beyond the margin in the bad direction is no evidence of
/// health, even when its sequence still reaches back within the "too little data" bar: a
/// regression smaller than the bar would otherwise be promoted before the sequence could show it.
fn estimate_beyond_margin(test: &TestResult, direction: Direction) -> Option<String> {
    let crossed = crate::judge::metric::estimate_beyond_margin(test, direction)?;
    let show = |v: f64| match test.test {
        TestKindResult::Rate => format!("×{}", short(v)),
        _ => short_signed(v),
    };
    Some(format!(
        "not shown healthy yet: the estimate {} lies beyond the margin {} although the confidence sequence does not yet rule out the margin",
        show(crossed.estimate),
        show(crossed.margin)
    ))
}

fn fail(result: &mut MetricResult) {
    if let Some(test) = result.tests.iter().find(|t| t.gating && t.outcome == TestOutcome::Fail) {
        result.classification = failure_class(test, result.direction);
        result.reason = test.reason.clone();
    }
}

#[cfg(test)]
mod tests;
