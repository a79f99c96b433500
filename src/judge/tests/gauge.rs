//! Shift tests on gauges: regressions and improvements, margins, too little data, NaNs, thinning,
//! Holm and the interval checks.

use super::*;

#[test]
fn a_clear_latency_regression_fails_high_and_the_same_data_reversed_passes_as_an_improvement() {
    let a = analysis(LATENCY, "");
    let baseline = wiggled(30, 100.0, 5.0, 0);
    let canary = wiggled(30, 130.0, 5.0, 7);
    let report = judge_gauge(&a, &baseline, &canary, 30);
    let metric = classified(&report, Classification::FailHigh);
    assert!(metric.reason.starts_with("shift +"), "{}", metric.reason);
    assert_eq!(report.verdict, Verdict::Fail);
    let shift = &metric.tests[0];
    assert_eq!(shift.test, TestKindResult::Shift);
    assert!(shift.ci_low.unwrap() > 20.0 && (shift.margin.unwrap() - 5.0).abs() < 0.1, "{shift:?}");

    let report = judge_gauge(&a, &canary, &baseline, 30);
    assert_eq!(report.metrics[0].classification, Classification::Pass);
    assert_eq!(report.verdict, Verdict::Pass);
}

#[test]
fn a_shift_within_the_margin_passes() {
    let a = analysis(LATENCY, "");
    let report = judge_gauge(&a, &wiggled(30, 100.0, 1.0, 0), &wiggled(30, 103.0, 1.0, 3), 30);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
}

#[test]
fn too_few_points_is_no_data_and_the_run_is_inconclusive() {
    let a = analysis(LATENCY, "");
    let report = judge_gauge(&a, &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData);
    assert_eq!(metric.findings[0].kind, FindingKind::TooFewSamples);
    assert_eq!(metric.label(), "too little data", "three points a side are data, too little of it");
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.score, None);
}

#[test]
fn identical_series_are_an_error_never_a_pass() {
    let a = analysis(LATENCY, "");
    let values = wiggled(30, 100.0, 1.0, 0);
    let report = judge_gauge(&a, &values, &values, 30);
    assert_eq!(report.metrics[0].classification, Classification::Error);
    assert!(report.metrics[0].findings.iter().any(|f| f.kind == FindingKind::IdenticalSeries));
    assert_eq!(report.verdict, Verdict::Inconclusive);
}

/// The finite values that remain are no evidence of a healthy canary: a NaN makes the metric
/// inconclusive, a +Inf (`histogram_quantile` above the top bucket) fails an `increase` metric.
#[test]
fn nan_values_stop_a_pass_and_infinite_ones_on_the_bad_side_fail_it() {
    let a = analysis(LATENCY, "");
    let mut canary = wiggled(30, 100.0, 1.0, 1);
    canary[4] = f64::NAN;
    let report = judge_gauge(&a, &wiggled(30, 100.0, 1.0, 0), &canary, 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::NonFiniteValues && f.side == Some(Side::Canary)));
    canary[9] = f64::INFINITY;
    let report = judge_gauge(&a, &wiggled(30, 100.0, 1.0, 0), &canary, 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::FailHigh, "{}", metric.reason);
    assert_eq!(metric.reason, "1 canary value(s) are +Inf: above every bucket / beyond any threshold");
}

proptest::proptest! {
    /// Whatever the data and wherever a NaN or infinity falls in the judged window, an `increase`
    /// gauge never passes: +Inf on the canary fails it, anything else non-finite leaves it
    /// inconclusive (or failed on the remaining evidence).
    #[test]
    fn a_gauge_with_a_non_finite_value_never_passes(
        phase in 0usize..50,
        shift in -5.0f64..5.0,
        index in 0usize..30,
        kind in 0usize..3,
        on_canary in proptest::bool::ANY,
    ) {
        let a = analysis(LATENCY, "");
        let (mut baseline, mut canary) = (wiggled(30, 100.0, 1.0, 0), wiggled(30, 100.0 + shift, 1.0, phase));
        let bad = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][kind];
        if on_canary { canary[index] = bad } else { baseline[index] = bad }
        let metric = &judge_gauge(&a, &baseline, &canary, 30).metrics[0];
        proptest::prop_assert_ne!(metric.classification, Classification::Pass, "{}", metric.reason);
        if on_canary && bad == f64::INFINITY {
            proptest::prop_assert_eq!(metric.classification, Classification::FailHigh, "{}", metric.reason);
        }
    }
}

#[test]
fn overlapping_windows_are_thinned() {
    let a = analysis("  - name: latency\n    query: 'rate(x[2m])'\n    direction: increase\n", "");
    let mut input = gauge(&a.metrics[0], &wiggled(30, 100.0, 1.0, 0), &wiggled(30, 100.0, 1.0, 11));
    input.queries = [(Side::Canary, [(QueryRole::Value, "rate(x[2m])".to_string())].into())].into();
    let report = run(&a, &[input], 30);
    let metric = &report.metrics[0];
    assert_eq!((metric.baseline.samples, metric.canary.samples), (15, 15));
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::OverlappingWindows));
}

#[test]
fn holm_keeps_two_borderline_metrics_from_failing_together() {
    // Each metric alone would be significant at 0.01; adjusted over two tests neither is.
    let metric = "  - name: latency\n    query: q\n    direction: increase\n";
    let a = analysis(&format!("{metric}{}", metric.replace("latency", "latency2")), "judgment:\n  alpha: 0.01\n");
    let baseline: Vec<f64> = (0..12).map(|i| 100.0 + i as f64).collect();
    let canary: Vec<f64> = (0..12).map(|i| 104.25 + i as f64).collect();
    let single = analysis(metric, "judgment:\n  alpha: 0.01\n");
    let alone = judge_gauge(&single, &baseline, &canary, 12);
    let p = alone.metrics[0].tests[0].p_value.unwrap();
    assert!(p < 0.01 && p > 0.005, "p = {p}");
    let both = run(&a, &[gauge(&a.metrics[0], &baseline, &canary), gauge(&a.metrics[1], &baseline, &canary)], 12);
    for metric in &both.metrics {
        assert_eq!(metric.tests[0].adjusted_p_value, Some(2.0 * p));
        assert_eq!(metric.classification, Classification::Pass);
    }
}

#[test]
fn an_interval_that_cannot_rule_out_a_doubling_is_too_little_data() {
    let a = analysis(ERRORS, "");
    // Three errors against two: the rate could as well have tripled.
    let requests = vec![100.0; 12];
    let mut baseline = vec![0.0; 12];
    let mut canary = vec![0.0; 12];
    baseline[2] = 1.0;
    baseline[7] = 1.0;
    canary[1] = 1.0;
    canary[5] = 1.0;
    canary[9] = 1.0;
    let report = run(&a, &[count(&a.metrics[0], (&baseline, &requests), (&canary, &requests))], 12);
    let metric = classified(&report, Classification::NoData);
    assert!(metric.reason.contains("beyond ×2"), "{}", metric.reason);
}

#[test]
fn an_interval_too_wide_to_rule_out_three_margins_is_not_a_pass_when_asked() {
    let a = analysis(&format!("{LATENCY}    inconclusive_beyond: 3\n"), "");
    // Very noisy, no real change: the interval spans far more than ±3 × 5%.
    let baseline = wiggled(12, 100.0, 60.0, 0);
    let canary = wiggled(12, 100.0, 60.0, 5);
    let report = judge_gauge(&a, &baseline, &canary, 12);
    let metric = classified(&report, Classification::NoData);
    assert!(metric.reason.starts_with("too little data to call it healthy"), "{}", metric.reason);
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::Imprecise));
    assert_eq!(report.verdict, Verdict::Inconclusive);
    // By default only an interval that cannot rule out a doubling is too little data.
    let lenient = analysis(LATENCY, "");
    let report = judge_gauge(&lenient, &baseline, &canary, 12);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
}

#[test]
fn a_shift_test_whose_p_value_overflows_is_an_error_not_a_pass() {
    // Values near f64::MAX: the canary moved by the margin overflows, and the p-value used to
    // default to 1 (a pass).
    let a = analysis(&LATENCY.replace("increase", "decrease"), "");
    let baseline: Vec<f64> = (0..30).map(|i| f64::MAX * (0.99 + 0.001 * wiggle(i))).collect();
    let canary: Vec<f64> = (0..30).map(|i| f64::MAX * (0.99 + 0.001 * wiggle(i + 3))).collect();
    let report = judge_gauge(&a, &baseline, &canary, 30);
    let metric = classified(&report, Classification::Error);
    assert!(metric.reason.contains("p-value could not be computed"), "{}", metric.reason);
}
