//! The count evaluation: numerator and denominator joined per interval, totals and rates per
//! side, and the thresholds, the sustained rules and the rate test (a dispersed Poisson test on
//! intervals both sides have).
use super::opening::{Opening, Settled, no_data, refuse_identical, series_of, sorted};
use super::rules::{sustained_tests, thresholds};
use crate::config::{Statistic, TestKind};
use crate::judge::quality::{clean, coverage_gap, join, late_traffic, thin};
use crate::judge::report::{
    Classification, DriftEvidence, Finding, FindingKind, MetricResult, SideData, TestKindResult, TestOutcome,
    TestResult, Totals,
};
use crate::model::{Direction, Margin, Point, QueryRole, Side, number::short};
use crate::stats::{Alternative, IntervalCount, Summary, dispersed_rate_test};
use std::collections::BTreeMap;

pub(super) fn evaluate_count(opening: &Opening<'_, '_>, result: &mut MetricResult) -> Result<(), Settled> {
    let (input, context, confidence) = (opening.input, opening.context, opening.confidence);
    let (config, thinning) = (input.config, &opening.thinning);
    let (step, factor) = (thinning.step, thinning.factor);
    let mut intervals: BTreeMap<Side, Vec<(i64, f64, f64)>> = BTreeMap::new();
    // Per-interval rates at every step (not thinned), for sustained-breach rules.
    let mut rates_per_step: BTreeMap<Side, Vec<(i64, f64)>> = BTreeMap::new();
    let mut denominators: BTreeMap<Side, Vec<Point>> = BTreeMap::new();
    // Numerator points with events but no denominator point, per side: (points, events).
    let mut orphaned_events: BTreeMap<Side, (usize, f64)> = BTreeMap::new();
    for side in Side::BOTH {
        let roles = [QueryRole::Numerator, QueryRole::Denominator];
        let [numerator, denominator] = series_of(input, side, roles, &mut result.findings)?;
        let Some(denominator) = denominator else {
            let message = format!("the {} denominator query returned no series: no traffic", side.name());
            return Err(no_data(&mut result.findings, FindingKind::NoTraffic, Some(side), message));
        };
        let den = clean(&denominator.points, &context.window, context.point_time, side, &mut result.findings);
        let (num, unusable) = match numerator {
            Some(numerator) => {
                let unusable: Vec<i64> =
                    numerator.points.iter().filter(|p| !p.value.is_finite()).map(|p| p.time).collect();
                (clean(&numerator.points, &context.window, context.point_time, side, &mut result.findings), unusable)
            }
            None => (Vec::new(), Vec::new()),
        };
        // A count that is negative or infinite is no count: the sources validate, the judge does
        // not trust them (a negative error count would make any canary look healthy).
        for (role, points) in [(QueryRole::Numerator, &num), (QueryRole::Denominator, &den)] {
            if let Some(bad) = points.iter().find(|p| p.value < 0.0) {
                return Err(invalid_count(side, role, bad, &mut result.findings));
            }
        }
        for (role, series) in [(QueryRole::Numerator, numerator), (QueryRole::Denominator, Some(denominator))] {
            let judged = |p: &&Point| p.time >= context.window.judged_from() && p.time <= context.window.end;
            if let Some(bad) = series.into_iter().flat_map(|s| &s.points).filter(judged).find(|p| !p.value.is_finite())
            {
                return Err(invalid_count(side, role, bad, &mut result.findings));
            }
        }
        // A counter that never fired has no series at all: that is zero events, not missing data.
        let (joined, filled, orphaned) = join(&num, &den, &unusable);
        denominators.insert(side, den.clone());
        if numerator.is_some() && filled > 0 {
            result.findings.push(Finding {
                kind: FindingKind::UnexpectedSeries,
                side: Some(side),
                message: format!(
                    "{filled} interval(s) with traffic but no numerator point were counted as zero events"
                ),
            });
        }
        if orphaned.points > 0 {
            let (points, events) = (orphaned.points, orphaned.events);
            if events > 0.0 {
                orphaned_events.insert(side, (points, events));
            } else {
                result.findings.push(Finding {
                    kind: FindingKind::UnexpectedSeries,
                    side: Some(side),
                    message: format!("{points} numerator point(s) without a denominator point (0 events) were dropped"),
                });
            }
        }
        rates_per_step.insert(side, joined.iter().filter(|(_, _, d)| *d > 0.0).map(|&(t, n, d)| (t, n / d)).collect());
        let kept: Vec<i64> =
            thin(&joined.iter().map(|&(t, _, _)| Point { time: t, value: 0.0 }).collect::<Vec<_>>(), factor, step)
                .iter()
                .map(|p| p.time)
                .collect();
        intervals.insert(side, joined.into_iter().filter(|(t, _, _)| kept.binary_search(t).is_ok()).collect());
    }
    let first_traffic = |side: Side| denominators[&side].iter().find(|p| p.value > 0.0).map(|p| p.time);
    let late = late_traffic(first_traffic(Side::Baseline), first_traffic(Side::Canary), &context.window, "traffic");
    result.findings.extend(late);
    for side in Side::BOTH {
        let data = &intervals[&side];
        let (events, exposure) = data.iter().fold((0.0, 0.0), |(e, x), &(_, n, d)| (e + n, x + d));
        let rates = sorted(data.iter().filter(|(_, _, d)| *d > 0.0).map(|&(_, n, d)| n / d).collect());
        let side_data = SideData {
            samples: data.len(),
            summary: (!rates.is_empty()).then(|| Summary::of_sorted(&rates)),
            totals: Some(Totals {
                numerator: events,
                denominator: exposure,
                rate: (exposure > 0.0).then(|| events / exposure),
            }),
        };
        *result.side_mut(side) = side_data;
    }
    let count_stat = |data: &SideData, statistic: Statistic| {
        data.totals.as_ref().and_then(|t| match statistic {
            Statistic::Rate => t.rate,
            Statistic::Total => Some(t.numerator),
            _ => None,
        })
    };
    for side in Side::BOTH {
        let totals = result.side(side);
        if totals.totals.as_ref().is_none_or(|t| t.denominator <= 0.0) {
            let message = format!("no traffic on the {}: its denominator is 0 over the judged window", side.name());
            return Err(no_data(&mut result.findings, FindingKind::NoTraffic, Some(side), message));
        }
    }
    let counts = |side: Side| intervals[&side].iter().map(|&(_, n, d)| (n, d)).collect::<Vec<_>>();
    let roles = [QueryRole::Numerator, QueryRole::Denominator];
    refuse_identical(input, &roles, &counts(Side::Baseline), &counts(Side::Canary), &mut result.findings)?;
    thinning.note(&mut result.findings);
    let threshold_tests = thresholds(&config.thresholds, |side, statistic| count_stat(result.side(side), statistic));
    result.tests.extend(threshold_tests);
    let rules = sustained_tests(
        input,
        &rates_per_step[&Side::Canary],
        &rates_per_step[&Side::Baseline],
        &context.window,
        &mut result.findings,
    );
    result.tests.extend(rules);
    // The rate test compares the intervals both sides have.
    let baseline_by_time: BTreeMap<i64, (f64, f64)> =
        intervals[&Side::Baseline].iter().map(|&(t, n, d)| (t, (n, d))).collect();
    let (mut canary_counts, mut baseline_counts) = (Vec::new(), Vec::new());
    // Paired within half a step: a canary scraped a few seconds off the baseline's grid still pairs.
    let half = (step / 2) as i64;
    let mut used = std::collections::BTreeSet::new();
    for &(time, events, exposure) in &intervals[&Side::Canary] {
        let nearest = baseline_by_time
            .range(time.saturating_sub(half)..=time.saturating_add(half))
            .filter(|(t, _)| !used.contains(*t))
            .min_by_key(|(t, _)| (**t - time).unsigned_abs());
        if let Some((&b_time, &(b_events, b_exposure))) = nearest {
            used.insert(b_time);
            canary_counts.push(IntervalCount { events, exposure });
            baseline_counts.push(IntervalCount { events: b_events, exposure: b_exposure });
        }
    }
    let minimum = config.min_samples();
    if canary_counts.len() < minimum {
        let message =
            format!("{} interval(s) with data on both sides, fewer than the minimum {minimum}", canary_counts.len());
        return Err(no_data(&mut result.findings, FindingKind::TooFewSamples, None, message));
    }
    for side in Side::BOTH {
        let what = format!("{} denominator", side.name());
        if let Some(gap) = coverage_gap(&denominators[&side], &context.window, context.point_time, side, &what) {
            return Err(no_data(&mut result.findings, gap.kind, gap.side, gap.message));
        }
    }
    if config.tests().contains(&TestKind::Rate) {
        let spacing = step.saturating_mul(factor.max(1)) as f64;
        let mut test = rate_test(&canary_counts, &baseline_counts, config.direction, config.margin, confidence);
        // Only beside a test that ran: a skipped test's counts (beyond its bound) give no evidence.
        if test.0.p_value.is_some() {
            test.0.drift =
                drift_evidence(&canary_counts, &baseline_counts, confidence, spacing, context.declared_drift);
        }
        if let Some((dispersion, batches)) = test.1 {
            result.findings.push(Finding {
                kind: FindingKind::Overdispersion,
                side: None,
                message: format!(
                    "the canary/baseline split of events varies {}× more than Poisson noise between {batches} batches of the window (drift or uneven routing); the rate test allows for it",
                    short(dispersion)
                ),
            });
        }
        result.tests.push(test.0);
    }
    settle_orphaned_events(&orphaned_events, config.direction, result)
}

/// Numerator events without a denominator point stop a pass. A gating test that failed stands
/// only where the dropped events cannot have caused it: they are all the canary's and the metric
/// fails on an increase (counting them could only make the canary look worse).
fn settle_orphaned_events(
    orphaned: &BTreeMap<Side, (usize, f64)>,
    direction: Direction,
    result: &mut MetricResult,
) -> Result<(), Settled> {
    let Some(settled) = events_without_exposure(orphaned, direction, &mut result.findings) else { return Ok(()) };
    let only_canary = !orphaned.contains_key(&Side::Baseline);
    // The rate test's outcome is decided later (Holm), but an interval at the family's
    // simultaneous level that lies wholly above its margin always fails.
    let fails = |t: &TestResult| {
        t.outcome == TestOutcome::Fail
            || (t.test == TestKindResult::Rate && t.ci_low.zip(t.margin).is_some_and(|(low, margin)| low > margin))
    };
    let failed = result.tests.iter().any(|t| t.gating && fails(t));
    if direction == Direction::Increase && only_canary && failed { Ok(()) } else { Err(settled) }
}

/// Numerator events with no denominator point (errors counted at the ingress while the app stopped
/// reporting requests: a crash-looping canary) cannot be judged and must not be dropped: the
/// metric is inconclusive, with a finding per side naming the events (the canary's first).
fn events_without_exposure(
    orphaned: &BTreeMap<Side, (usize, f64)>,
    direction: Direction,
    findings: &mut Vec<Finding>,
) -> Option<Settled> {
    let mut settled = None;
    for side in [Side::Canary, Side::Baseline] {
        let Some(&(points, events)) = orphaned.get(&side) else { continue };
        let hint = if side == Side::Canary && direction != Direction::Decrease {
            " (a strong sign of a regression: a crash-looping canary stops reporting requests while errors are still counted)"
        } else {
            ""
        };
        let message = format!(
            "{} numerator event(s) in {points} point(s) on the {} have no denominator point{hint}: events without traffic cannot be judged, so the metric cannot pass",
            short(events),
            side.name()
        );
        let this = no_data(findings, FindingKind::UnexpectedSeries, Some(side), message);
        settled.get_or_insert(this);
    }
    settled
}

/// A count that is negative or not finite: an error naming the side, the query and the point.
fn invalid_count(side: Side, role: QueryRole, bad: &Point, findings: &mut Vec<Finding>) -> Settled {
    let message = format!(
        "the {} {} is {} at {}: counts must be finite and at least 0",
        side.name(),
        role.name(),
        bad.value,
        crate::model::window::format_timestamp(bad.time)
    );
    findings.push(Finding { kind: FindingKind::InvalidCounts, side: Some(side), message: message.clone() });
    (Classification::Error, message)
}

/// The rate ratio's interval allowing for per-side drift: of the size the analysis declares
/// (`judgment.drift`, whatever the batches show), or else of the size the data show, for data
/// whose intervals `spacing` seconds apart show dispersion (`None` otherwise: the exact test
/// stands alone).
fn drift_evidence(
    canary: &[IntervalCount],
    baseline: &[IntervalCount],
    confidence: f64,
    spacing: f64,
    declared: Option<f64>,
) -> Option<DriftEvidence> {
    use crate::stats::dependence::{DriftSize, LONG_RUN_BATCHES, drift_rate_interval};
    let phi = crate::stats::confidence_sequence::drift_correlation(spacing);
    let size = declared.map_or(DriftSize::FromBatches, DriftSize::Declared);
    let interval = drift_rate_interval(canary, baseline, confidence, LONG_RUN_BATCHES, phi, size)?;
    Some(DriftEvidence {
        drift: interval.drift,
        ci_low: interval.ci_low,
        ci_high: interval.ci_high,
        declared: declared.is_some(),
    })
}

/// Null rate ratios for a relative margin: (1 + δ) above, (1 − δ) below.
fn null_ratios(margin: Option<Margin>) -> (f64, f64) {
    let delta = match margin {
        Some(Margin::Percent(p)) => p / 100.0,
        _ => 0.0,
    };
    (1.0 + delta, (1.0 - delta).max(f64::MIN_POSITIVE))
}

/// Confidence of the exact binomial interval kept for a rate test widened by dispersion (one-sided
/// 90% at each end): where it lies wholly beyond the margin along with the estimate, the
/// `estimate_beyond_margin` rule holds the test's pass back. Measured in BENCHMARKS.md ("A pass
/// widened by dispersion"): at the test's own level it caught too few of the reviewer's drops.
const UNWIDENED_CONFIDENCE: f64 = 0.8;

/// The rate test, and the dispersion (with the batches it was estimated from) when it exceeded
/// Poisson noise noticeably.
fn rate_test(
    canary: &[IntervalCount],
    baseline: &[IntervalCount],
    direction: Direction,
    margin: Option<Margin>,
    confidence: f64,
) -> (TestResult, Option<(f64, usize)>) {
    let (above, below) = null_ratios(margin);
    let blocks = crate::stats::dependence::LONG_RUN_BATCHES;
    let run = |ratio: f64, alternative: Alternative| {
        dispersed_rate_test(canary, baseline, ratio, alternative, confidence, blocks)
    };
    // One batch estimates no dispersion: the exact binomial interval (it does not depend on the
    // null ratio or the alternative), at the level of the `estimate_beyond_margin` rule.
    let exact = || dispersed_rate_test(canary, baseline, above, Alternative::Greater, UNWIDENED_CONFIDENCE, 1);
    let events: f64 = canary.iter().chain(baseline).map(|c| c.events).sum();
    let mut test = TestResult {
        statistic: Some(canary.iter().map(|c| c.events).sum()),
        confidence: Some(confidence),
        margin: Some(match direction {
            Direction::Decrease => below,
            _ => above,
        }),
        ..TestResult::new(TestKindResult::Rate)
    };
    if events <= 0.0 {
        test.gating = false;
        test.reason =
            "no events on either side: the rates cannot be compared (a `rate` threshold can judge such windows)".into();
        return (test, None);
    }
    let outcome = match direction {
        Direction::Increase => run(above, Alternative::Greater),
        Direction::Decrease => run(below, Alternative::Less),
        Direction::Either => run(above, Alternative::Greater).and_then(|up| {
            let down = run(below, Alternative::Less)?;
            Ok(crate::stats::DispersedRateTest { p_value: (2.0 * up.p_value.min(down.p_value)).min(1.0), ..up })
        }),
    };
    match outcome {
        Ok(result) => {
            test.p_value = Some(result.p_value);
            test.estimate = Some(result.rate_ratio);
            test.ci_low = Some(result.ci_low);
            test.ci_high = Some(result.ci_high);
            if result.degrees_of_freedom.is_some() {
                test.effective_samples = Some(result.effective_events);
                test.unwidened = exact().ok().map(|exact| (exact.ci_low, exact.ci_high));
            }
            let noted = (result.dispersion > 1.5).then_some((result.dispersion, result.blocks));
            (test, noted)
        }
        Err(error) => {
            // Still gating: a rate test that could not be computed leaves the metric unproven.
            test.outcome = TestOutcome::Skipped;
            test.reason = format!("the rate test could not be computed: {error}");
            (test, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerator_events_without_a_denominator_make_the_metric_inconclusive() {
        let mut findings = Vec::new();
        let orphaned = BTreeMap::from([(Side::Canary, (8, 4000.0)), (Side::Baseline, (1, 2.0))]);
        let (class, reason) = events_without_exposure(&orphaned, Direction::Increase, &mut findings).unwrap();
        assert_eq!(class, Classification::NoData);
        assert!(reason.starts_with("4000 numerator event(s) in 8 point(s) on the canary"), "{reason}");
        assert!(reason.contains("a strong sign of a regression"), "{reason}");
        assert_eq!(findings.len(), 2, "one finding per side");
        assert!(findings[1].message.starts_with("2 numerator event(s) in 1 point(s) on the baseline have"));
        assert!(!findings[1].message.contains("regression"));
        let mut findings = Vec::new();
        assert_eq!(events_without_exposure(&BTreeMap::new(), Direction::Increase, &mut findings), None);
        assert!(findings.is_empty());
    }
}
