//! Serially dependent and drifting data (issue 12): the count test's long-run dispersion, the
//! gauge's effective sample size, boundary-sharing windows, and the rule that an improvement never
//! fails on the improved metric.

use super::*;

/// A healthy canary whose conversion share wanders for ten minutes at a time: the window's ratio
/// is 0.91, but whole stretches of the window move together, so the rate test must allow for the
/// drift (a long-run dispersion from few batches, Student-t tails) instead of failing.
#[test]
fn a_slow_drift_of_one_side_widens_the_rate_test_instead_of_failing_it() {
    let a = analysis(
        "  - name: conversion\n    numerator: c\n    denominator: s\n    direction: decrease\n    margin: 5%\n",
        "",
    );
    let sessions = vec![1500.0; 30];
    let baseline: Vec<f64> = (0..30).map(|i| 120.0 + 5.0 * ((i % 3) as f64 - 1.0)).collect();
    // Minutes 0–9 at 125, 10–19 at 90, 20–29 at 115: a drift of ±15% in long stretches.
    let canary: Vec<f64> =
        (0..30).map(|i| [125.0, 90.0, 115.0][i / 10] + if i % 2 == 0 { 5.0 } else { -5.0 }).collect();
    let report = run(&a, &[count(&a.metrics[0], (&baseline, &sessions), (&canary, &sessions))], 30);
    let metric = &report.metrics[0];
    assert!(!metric.classification.is_fail(), "{:?}: {}", metric.classification, metric.reason);
    let rate = &metric.tests[0];
    assert!(rate.effective_samples.is_some_and(|e| e < 3000.0), "{rate:?}");
    let finding = metric.findings.iter().find(|f| f.kind == FindingKind::Overdispersion).expect("a drift finding");
    assert!(finding.message.contains("batches of the window (drift"), "{}", finding.message);
}

/// Steady counts show no dispersion: the exact binomial test and its Clopper-Pearson interval,
/// exactly as before (no power lost on clean data), and no effective sample size reported.
#[test]
fn steady_counts_keep_the_exact_binomial_test() {
    let a = analysis(ERRORS, "");
    let report = judge_errors(&a, &cycling(5.0, 3), &cycling(5.0, 3).iter().rev().copied().collect::<Vec<_>>());
    let rate = &classified(&report, Classification::Pass).tests[0];
    assert_eq!(rate.effective_samples, None);
    let exact =
        crate::stats::compare_rates(180, 30_000.0, 180, 30_000.0, crate::stats::Alternative::Greater, 0.99, 1.2)
            .unwrap();
    assert!((rate.p_value.unwrap() - exact.p_value).abs() < 1e-9, "{rate:?} vs {exact:?}");
}

/// p99 points whose windows share a boundary scrape (`[1m]` at a 1m step) and drift together for
/// minutes are fewer independent values than points: the shift test reports its effective sample
/// size and widens its interval.
#[test]
fn boundary_sharing_dependent_points_count_as_fewer() {
    let metric = "  - name: latency\n    query: 'max_over_time(x[1m])'\n    direction: increase\n    margin: 5%\n";
    let a = analysis(metric, "");
    // The canary's values wander in long, smooth swings around the baseline's level.
    let canary: Vec<f64> = (0..30).map(|i| 100.0 + 6.0 * (i as f64 / 5.0).sin() + 0.3 * wiggle(i)).collect();
    let baseline = wiggled(30, 100.0, 1.0, 3);
    let mut input = gauge(&a.metrics[0], &baseline, &canary);
    input.queries = Side::BOTH
        .into_iter()
        .map(|side| (side, [(QueryRole::Value, "max_over_time(x[1m])".to_string())].into()))
        .collect();
    let report = run(&a, &[input], 30);
    let metric = &report.metrics[0];
    let shift = &metric.tests[0];
    let effective = shift.effective_samples.expect("an effective sample size");
    assert!(effective < 40.0, "{effective}");
    let finding = metric
        .findings
        .iter()
        .find(|f| f.message.contains("serially dependent"))
        .unwrap_or_else(|| panic!("{:?}", metric.findings));
    assert!(finding.message.contains("share their boundary scrapes"), "{}", finding.message);

    // The same values in a scrambled order (the same ranks, no serial dependence) give a narrower
    // interval and more effective samples.
    let scrambled: Vec<f64> = (0..30).map(|i| canary[(i * 7) % 30]).collect();
    let independent = judge_gauge(&a, &baseline, &scrambled, 30);
    let plain = &independent.metrics[0].tests[0];
    assert!(plain.effective_samples.is_none_or(|e| e > effective), "{plain:?}");
    let width = |t: &report::TestResult| t.ci_high.unwrap() - t.ci_low.unwrap();
    assert!(width(shift) > width(plain), "{shift:?} vs {plain:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// An improvement never fails on the improved metric: fewer errors than the baseline in every
    /// interval, however they drift, and latencies below the baseline's by any amount, however
    /// dependent.
    #[test]
    fn an_improvement_never_fails_on_the_improved_metric(
        baseline in proptest::collection::vec(0.0f64..400.0, 30),
        cut in proptest::collection::vec(0.0f64..1.0, 30),
        latencies in proptest::collection::vec(50.0f64..500.0, 30),
        better in 0.0f64..100.0,
    ) {
        let a = analysis(ERRORS, "");
        let canary: Vec<f64> = baseline.iter().zip(&cut).map(|(b, c)| (b * c).floor()).collect();
        let report = judge_errors(&a, &baseline, &canary);
        proptest::prop_assert!(!report.metrics[0].classification.is_fail(), "{}", report.metrics[0].reason);

        let a = analysis(LATENCY, "");
        let smoothed: Vec<f64> = latencies.windows(3).map(|w| w.iter().sum::<f64>() / 3.0).collect();
        let faster: Vec<f64> = smoothed.iter().map(|v| v - better).collect();
        let report = judge_gauge(&a, &smoothed, &faster, 28);
        proptest::prop_assert!(!report.metrics[0].classification.is_fail(), "{}", report.metrics[0].reason);
    }
}
