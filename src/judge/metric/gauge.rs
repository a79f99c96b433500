//! The gauge evaluation: the value series of both sides cleaned and thinned, summarised, and
//! judged by the thresholds, the sustained rules, the shift test (Mann-Whitney with a
//! Hodges-Lehmann interval) and the spread test.
use super::opening::{Opening, Settled, no_data, refuse_identical, series_of, sorted};
use super::rules::{sustained_tests, thresholds};
use crate::config::{Statistic, TestKind};
use crate::judge::quality::{NonFinite, clean, coverage_gap, late_traffic, non_finite, thin};
use crate::judge::report::{Classification, Finding, FindingKind, MetricResult, SideData, TestKindResult, TestResult};
use crate::model::{Direction, Margin, Point, QueryRole, Side};
use crate::stats::descriptive::{median_sorted, percentile_sorted};
use crate::stats::mann_whitney::Ranks;
use crate::stats::{Alternative, ExactNull, Method, Summary, hodges_lehmann, mann_whitney};
use std::collections::BTreeMap;

pub(super) fn evaluate_gauge(opening: &Opening<'_, '_>, result: &mut MetricResult) -> Result<(), Settled> {
    let (input, context, confidence) = (opening.input, opening.context, opening.confidence);
    let (config, thinning) = (input.config, &opening.thinning);
    let (step, factor) = (thinning.step, thinning.factor);
    let mut cleaned: BTreeMap<Side, Vec<Point>> = BTreeMap::new();
    let mut unusable: BTreeMap<Side, NonFinite> = BTreeMap::new();
    for side in Side::BOTH {
        let [one] = series_of(input, side, [QueryRole::Value], &mut result.findings)?;
        let points = one
            .map(|s| clean(&s.points, &context.window, context.point_time, side, &mut result.findings))
            .unwrap_or_default();
        cleaned.insert(side, points);
        let tally = one.map(|s| non_finite(&s.points, &context.window, context.point_time)).unwrap_or_default();
        unusable.insert(side, tally);
    }
    if let Some(breach) = infinite_breach(unusable[&Side::Canary], config.direction, &mut result.findings) {
        return Err(breach);
    }
    let first_point = |side: Side| cleaned[&side].first().map(|p| p.time);
    let late = late_traffic(first_point(Side::Baseline), first_point(Side::Canary), &context.window, "data");
    result.findings.extend(late);
    for side in Side::BOTH {
        if cleaned[&side].is_empty() {
            let message = format!("no {} data in the judged window", side.name());
            let settled = no_data(&mut result.findings, FindingKind::NoTraffic, Some(side), message);
            // The canary's absolute thresholds hold whatever the baseline does: a breach fails the
            // metric even when the baseline has no data to compare with (and `no_data: ignore`
            // would otherwise leave it out).
            if side == Side::Baseline
                && let Some(breach) = canary_breach(config, &cleaned[&Side::Canary], result)
            {
                return Err(breach);
            }
            return Err(settled);
        }
    }
    for side in Side::BOTH {
        let tally = unusable[&side];
        if tally.total() > 0 {
            let message = format!(
                "{} {} value(s) are NaN or infinite (+Inf: {}, -Inf: {}, NaN: {}): a gauge cannot pass on the values that remain",
                tally.total(),
                side.name(),
                tally.positive_infinite,
                tally.negative_infinite,
                tally.nan
            );
            return Err(no_data(&mut result.findings, FindingKind::NonFiniteValues, Some(side), message));
        }
    }
    let values = |side: Side| cleaned[&side].iter().map(|p| p.value).collect::<Vec<_>>();
    refuse_identical(input, &[QueryRole::Value], &values(Side::Baseline), &values(Side::Canary), &mut result.findings)?;
    thinning.note(&mut result.findings);
    let thinned: BTreeMap<Side, Vec<Point>> =
        Side::BOTH.into_iter().map(|side| (side, thin(&cleaned[&side], factor, step))).collect();
    let judged: BTreeMap<Side, Vec<f64>> =
        Side::BOTH.into_iter().map(|side| (side, sorted(thinned[&side].iter().map(|p| p.value).collect()))).collect();
    let all: BTreeMap<Side, Vec<f64>> =
        Side::BOTH.into_iter().map(|side| (side, sorted(cleaned[&side].iter().map(|p| p.value).collect()))).collect();
    for side in Side::BOTH {
        let summary = Some(Summary::of_sorted(&all[&side]));
        *result.side_mut(side) = SideData { samples: judged[&side].len(), summary, totals: None };
    }
    let threshold_tests =
        thresholds(&config.thresholds, |side, statistic| gauge_stat(result.side(side), &all[&side], statistic));
    result.tests.extend(threshold_tests);
    let per_point = |side: Side| cleaned[&side].iter().map(|p| (p.time, p.value)).collect::<Vec<_>>();
    let rules = sustained_tests(
        input,
        &per_point(Side::Canary),
        &per_point(Side::Baseline),
        &context.window,
        &mut result.findings,
    );
    result.tests.extend(rules);
    let minimum = config.min_samples();
    for side in Side::BOTH {
        let count = judged[&side].len();
        if count < minimum {
            let message = format!(
                "{count} {} point(s) to judge, fewer than the minimum {minimum}{}",
                side.name(),
                if factor > 1 { " after thinning overlapping windows" } else { "" }
            );
            return Err(no_data(&mut result.findings, FindingKind::TooFewSamples, Some(side), message));
        }
    }
    for side in Side::BOTH {
        let what = format!("{} series", side.name());
        if let Some(gap) = coverage_gap(&cleaned[&side], &context.window, context.point_time, side, &what) {
            return Err(no_data(&mut result.findings, gap.kind, gap.side, gap.message));
        }
    }
    let (baseline, canary) = (&judged[&Side::Baseline], &judged[&Side::Canary]);
    let margin = config.margin.unwrap_or_default();
    let inflation = thinning.serial_inflation(&thinned[&Side::Canary], &thinned[&Side::Baseline]);
    thinning.note_dependence(inflation, canary.len() + baseline.len(), &mut result.findings);
    for test in config.tests() {
        match test {
            TestKind::Shift => {
                let direction = config.direction;
                result.tests.push(shift_test(canary, baseline, direction, margin, confidence, inflation))
            }
            TestKind::Spread => result.tests.push(spread_test(canary, baseline, config.direction, margin)),
            TestKind::Rate => {}
        }
    }
    Ok(())
}

/// The one-sided (per direction) Mann-Whitney p-value of "canary − baseline ≤ margin"; `None`
/// when it cannot be computed (values moved by the margin overflow): never a default of 1. Each
/// one-sided p-value is read on the normal scale with the variance of U multiplied by
/// `inflation` (serially dependent points: fewer independent values than points).
fn shifted_p_value(canary: &[f64], baseline: &[f64], direction: Direction, margin: f64, inflation: f64) -> Option<f64> {
    let one_sided = |shift: f64, alternative: Alternative| {
        let moved: Vec<f64> = canary.iter().map(|c| c + shift).collect();
        if moved.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let ranks = Ranks::of_sorted(&moved, baseline);
        mann_whitney(&ranks, alternative, Method::Auto, None)
            .ok()
            .map(|t| inflated_p_value(t.p_value, inflation))
            .filter(|p| !p.is_nan())
    };
    match direction {
        Direction::Increase => one_sided(-margin, Alternative::Greater),
        Direction::Decrease => one_sided(margin, Alternative::Less),
        Direction::Either => {
            let (up, down) = (one_sided(-margin, Alternative::Greater)?, one_sided(margin, Alternative::Less)?);
            Some((2.0 * up.min(down)).min(1.0))
        }
    }
}

/// A one-sided p-value whose z-score is divided by √inflation (the variance of the statistic
/// `inflation` times its value for independent points); unchanged for an inflation of 1.
fn inflated_p_value(p: f64, inflation: f64) -> f64 {
    if inflation <= 1.0 || !(p > 0.0 && p < 1.0) {
        return p;
    }
    crate::stats::normal::upper_tail(crate::stats::normal::upper_quantile(p) / inflation.sqrt())
}

/// The interval level whose normal-scale tail is the nominal one's widened by √inflation, so that
/// the Hodges-Lehmann interval excludes the shifts the inflated test rejects.
fn inflated_confidence(confidence: f64, inflation: f64) -> f64 {
    if inflation <= 1.0 || !(confidence > 0.0 && confidence < 1.0) {
        return confidence;
    }
    let tail = (1.0 - confidence) / 2.0;
    let widened = crate::stats::normal::upper_tail(crate::stats::normal::upper_quantile(tail) * inflation.sqrt());
    1.0 - 2.0 * widened
}

fn shift_test(
    canary: &[f64],
    baseline: &[f64],
    direction: Direction,
    margin: Margin,
    confidence: f64,
    inflation: f64,
) -> TestResult {
    let amount = margin.amount(median_sorted(baseline));
    let p_value = shifted_p_value(canary, baseline, direction, amount, inflation);
    let ranks = Ranks::of_sorted(canary, baseline);
    let law = ExactNull::affordable(canary.len(), baseline.len())
        .then(|| ExactNull::new(canary.len(), baseline.len()).ok())
        .flatten();
    // When the requested level cannot be reached with these sample sizes (or rounds to 1), the
    // interval at that level is unbounded, not the span of the differences.
    let level = inflated_confidence(confidence, inflation);
    let shift = hodges_lehmann(canary, baseline, level, law.as_ref()).ok().map(|mut s| {
        if !s.reachable {
            (s.ci_low, s.ci_high) = (f64::NEG_INFINITY, f64::INFINITY);
        }
        s.confidence = confidence;
        s
    });
    TestResult {
        statistic: Some(ranks.u()),
        p_value,
        estimate: shift.as_ref().map(|s| s.estimate),
        ci_low: shift.as_ref().map(|s| s.ci_low),
        ci_high: shift.as_ref().map(|s| s.ci_high),
        confidence: shift.as_ref().map(|s| s.confidence),
        margin: Some(amount),
        effective_samples: (inflation > 1.0).then(|| (canary.len() + baseline.len()) as f64 / inflation),
        ..TestResult::new(TestKindResult::Shift)
    }
}

fn spread_test(canary: &[f64], baseline: &[f64], direction: Direction, margin: Margin) -> TestResult {
    let deviations = |values: &[f64]| {
        let center = median_sorted(values);
        sorted(values.iter().map(|v| (v - center).abs()).collect())
    };
    let (canary_dev, baseline_dev) = (deviations(canary), deviations(baseline));
    let factor = match margin {
        Margin::Percent(p) => 1.0 + p / 100.0,
        Margin::Absolute(_) => 1.0,
    };
    // `None` when it cannot be computed (deviations that overflow): never a default of 1.
    let test = |scale: f64, alternative: Alternative| {
        let moved: Vec<f64> = canary_dev.iter().map(|d| d * scale).collect();
        if moved.iter().chain(&baseline_dev).any(|v| !v.is_finite()) {
            return None;
        }
        mann_whitney(&Ranks::of_sorted(&moved, &baseline_dev), alternative, Method::Auto, None)
            .ok()
            .map(|t| t.p_value)
            .filter(|p| !p.is_nan())
    };
    let p_value = match direction {
        Direction::Increase => test(1.0 / factor, Alternative::Greater),
        Direction::Decrease => test(factor, Alternative::Less),
        Direction::Either => test(1.0 / factor, Alternative::Greater)
            .zip(test(factor, Alternative::Less))
            .map(|(up, down)| (2.0 * up.min(down)).min(1.0)),
    };
    let (canary_mad, baseline_mad) = (median_sorted(&canary_dev), median_sorted(&baseline_dev));
    TestResult {
        statistic: Some(Ranks::of_sorted(&canary_dev, &baseline_dev).u()),
        p_value,
        estimate: (baseline_mad > 0.0).then(|| canary_mad / baseline_mad),
        margin: Some(factor),
        ..TestResult::new(TestKindResult::Spread)
    }
}

/// A gauge statistic of one side's values (`sorted`: the values its summary was made of,
/// ascending); percentiles beyond the summary's by R-7 interpolation.
fn gauge_stat(data: &SideData, sorted: &[f64], statistic: Statistic) -> Option<f64> {
    data.summary.as_ref().and_then(|s| match statistic {
        Statistic::Mean => Some(s.mean),
        Statistic::Min => Some(s.min),
        Statistic::P50 => Some(s.p50),
        Statistic::P90 => Some(s.p90),
        Statistic::P99 => Some(s.p99),
        Statistic::Max => Some(s.max),
        Statistic::Percentile(_) => {
            statistic.quantile().filter(|_| !sorted.is_empty()).map(|q| percentile_sorted(sorted, q))
        }
        Statistic::Rate | Statistic::Total => None,
    })
}

/// The first absolute threshold the canary breaches on its own (the baseline has no data), as the
/// metric's failure, with the canary's figures and the breached threshold in the report.
fn canary_breach(
    config: &crate::config::MetricConfig,
    canary: &[Point],
    result: &mut MetricResult,
) -> Option<(crate::judge::report::Classification, String)> {
    if canary.is_empty() {
        return None;
    }
    let all = sorted(canary.iter().map(|p| p.value).collect());
    let data = SideData { samples: all.len(), summary: Some(Summary::of_sorted(&all)), totals: None };
    let canary_only = |side: Side, statistic| match side {
        Side::Canary => gauge_stat(&data, &all, statistic),
        Side::Baseline => None,
    };
    let breached: Vec<TestResult> = thresholds(&config.thresholds, canary_only)
        .into_iter()
        .filter(|test| test.outcome == crate::judge::report::TestOutcome::Fail)
        .collect();
    let first = breached.first()?;
    let settled = (super::outcome::failure_class(first, config.direction), first.reason.clone());
    result.canary = data;
    result.tests.extend(breached);
    Some(settled)
}

/// Infinite canary values on the metric's bad side (+Inf for `increase`: `histogram_quantile`'s
/// answer when the quantile lies above the top bucket; -Inf for `decrease`; either for `either`)
/// are evidence of a breach beyond any bucket and any threshold: the metric fails.
fn infinite_breach(canary: NonFinite, direction: Direction, findings: &mut Vec<Finding>) -> Option<Settled> {
    let high = if direction == Direction::Decrease { 0 } else { canary.positive_infinite };
    let low = if direction == Direction::Increase { 0 } else { canary.negative_infinite };
    let (count, sign, class, beyond) = if high >= low && high > 0 {
        (high, "+Inf", Classification::FailHigh, "above every bucket")
    } else if low > 0 {
        (low, "-Inf", Classification::FailLow, "below every bucket")
    } else {
        return None;
    };
    let message = format!("{count} canary value(s) are {sign}: {beyond} / beyond any threshold");
    findings.push(Finding { kind: FindingKind::NonFiniteValues, side: Some(Side::Canary), message: message.clone() });
    Some((class, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(positive_infinite: usize, negative_infinite: usize, nan: usize) -> NonFinite {
        NonFinite { positive_infinite, negative_infinite, nan }
    }

    #[test]
    fn an_infinity_on_the_bad_side_fails_the_metric_and_others_do_not() {
        let mut findings = Vec::new();
        let (class, reason) = infinite_breach(tally(13, 0, 2), Direction::Increase, &mut findings).unwrap();
        assert_eq!(class, Classification::FailHigh);
        assert_eq!(reason, "13 canary value(s) are +Inf: above every bucket / beyond any threshold");
        assert_eq!(findings[0].kind, FindingKind::NonFiniteValues);
        let (class, _) = infinite_breach(tally(0, 3, 0), Direction::Decrease, &mut findings).unwrap();
        assert_eq!(class, Classification::FailLow);
        assert_eq!(
            infinite_breach(tally(0, 1, 0), Direction::Either, &mut findings).unwrap().0,
            Classification::FailLow
        );
        assert_eq!(
            infinite_breach(tally(2, 1, 0), Direction::Either, &mut findings).unwrap().0,
            Classification::FailHigh
        );
        // The good side's infinities and NaN are no evidence of a breach (the caller makes them
        // inconclusive).
        let before = findings.len();
        assert_eq!(infinite_breach(tally(0, 5, 5), Direction::Increase, &mut findings), None);
        assert_eq!(infinite_breach(tally(5, 0, 5), Direction::Decrease, &mut findings), None);
        assert_eq!(infinite_breach(tally(0, 0, 0), Direction::Either, &mut findings), None);
        assert_eq!(findings.len(), before);
    }
}
