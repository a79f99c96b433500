//! Count tests on error rates: traffic, missing series, alpha, evidence, bounds and malformed counts.

use super::*;

#[test]
fn an_error_rate_increase_fails_and_equal_rates_pass() {
    let a = analysis(ERRORS, "");
    let baseline = cycling(5.0, 3);
    let report = judge_errors(&a, &baseline, &cycling(15.0, 4));
    let metric = classified(&report, Classification::FailHigh);
    assert!(metric.reason.starts_with("rate ×"), "{}", metric.reason);
    let totals = metric.canary.totals.as_ref().unwrap();
    assert_eq!((totals.denominator, totals.rate.map(|r| (r * 1e4).round())), (30_000.0, Some(164.0)));

    let same: Vec<f64> = (0..30).map(|i| 5.0 + ((i + 1) % 3) as f64).collect();
    let report = judge_errors(&a, &baseline, &same);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
}

#[test]
fn no_canary_traffic_is_no_data_and_a_missing_error_series_is_zero_errors() {
    let a = analysis(ERRORS, "");
    let requests = vec![1000.0; 30];
    let zeros = vec![0.0; 30];
    let errors = vec![2.0; 30];
    let report = run(&a, &[count(&a.metrics[0], (&errors, &requests), (&zeros, &zeros))], 30);
    assert_eq!(report.metrics[0].classification, Classification::NoData);
    assert_eq!(report.metrics[0].findings[0].kind, FindingKind::NoTraffic);
    assert_eq!(report.metrics[0].label(), "no data", "no traffic is no data, not too little of it");
    assert_eq!(report.verdict, Verdict::Inconclusive);

    let mut input = count(&a.metrics[0], (&errors, &requests), (&errors, &requests));
    input.canary.remove(&QueryRole::Numerator);
    let report = run(&a, &[input], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.canary.totals.as_ref().unwrap().numerator, 0.0);
    assert_eq!(metric.classification, Classification::Pass, "{}", metric.reason);
}

#[test]
fn a_tiny_alpha_never_turns_an_untestable_metric_into_a_pass() {
    // With alpha 1e-20 the family's confidence rounds to 1: the rate test used to be skipped and
    // the metric passed with "no test ran".
    let a = analysis(ERRORS, "judgment:\n  alpha: 1.0e-20\n");
    let report = judge_errors(&a, &cycling(5.0, 3), &cycling(9.0, 4));
    let metric = &report.metrics[0];
    assert_ne!(metric.classification, Classification::Pass, "{}", metric.reason);
    assert_ne!(report.verdict, Verdict::Pass);
    assert!(!metric.reason.contains("no test ran"), "{}", metric.reason);
    let rate = &metric.tests[0];
    assert!(rate.p_value.is_some() && rate.outcome != TestOutcome::Skipped, "the rate test ran: {rate:?}");

    // The same for a gauge: the shift interval at that level is unbounded, so too little data.
    let a = analysis(LATENCY, "judgment:\n  alpha: 1.0e-20\n");
    let baseline = wiggled(30, 100.0, 5.0, 0);
    let canary = wiggled(30, 130.0, 5.0, 7);
    let report = judge_gauge(&a, &baseline, &canary, 30);
    assert_eq!(report.metrics[0].classification, Classification::NoData, "{}", report.metrics[0].reason);
}

#[test]
fn only_a_test_that_ran_is_evidence() {
    use super::report::TestResult;
    let ran = |kind: TestKindResult| TestResult {
        p_value: Some(0.4),
        adjusted_p_value: Some(0.8),
        ci_low: Some(-1.0),
        ci_high: Some(1.0),
        statistic: Some(1.0),
        threshold: Some(2.0),
        reason: "fine".into(),
        ..TestResult::new(kind)
    };
    assert!(metric::positive_evidence(&[ran(TestKindResult::Shift)]).is_ok());
    assert!(metric::positive_evidence(&[ran(TestKindResult::Threshold)]).is_ok());
    let (classification, reason) = metric::positive_evidence(&[]).err().unwrap();
    assert_eq!(classification, Classification::NoData);
    assert!(reason.starts_with("no test ran"), "{reason}");
    // A test never settled (a fresh TestResult says pass), skipped, or without p-value or interval.
    let unsettled = TestResult::new(TestKindResult::Rate);
    let skipped = TestResult { outcome: TestOutcome::Skipped, ..ran(TestKindResult::Rate) };
    let no_interval = TestResult { ci_high: None, ..ran(TestKindResult::Shift) };
    let nan_p = TestResult { adjusted_p_value: Some(f64::NAN), ..ran(TestKindResult::Spread) };
    let nan_bound = TestResult { threshold: Some(f64::NAN), ..ran(TestKindResult::Threshold) };
    let rule = TestResult { sustained: None, ..ran(TestKindResult::Sustained) };
    for bad in [unsettled, skipped, no_interval, nan_p, nan_bound, rule] {
        let kind = bad.test;
        let tests = [ran(TestKindResult::Threshold), bad];
        let (classification, reason) = metric::positive_evidence(&tests).err().expect("not evidence");
        assert_ne!(classification, Classification::Pass, "{kind:?}");
        assert!(reason.starts_with("cannot pass"), "{reason}");
    }
}

#[test]
fn counts_beyond_the_bound_are_an_error_in_bounded_time() {
    // Counts near 5e18 and 1e302 spun forever inside the beta quantile.
    let a = analysis(ERRORS, "");
    for huge in [5.0e18, 1.0e302] {
        let requests = vec![huge * 10.0; 30];
        let errors = vec![huge; 30];
        let canary: Vec<f64> = (0..30).map(|i| huge * (1.0 + (i % 3) as f64 / 10.0)).collect();
        let report = run(&a, &[count(&a.metrics[0], (&errors, &requests), (&canary, &requests))], 30);
        let metric = &report.metrics[0];
        assert_eq!(metric.classification, Classification::Error, "{huge}: {}", metric.reason);
        assert!(metric.reason.contains("beyond the rate test's bound"), "{}", metric.reason);
    }
}

#[test]
fn negative_or_non_finite_counts_are_an_error_never_a_pass() {
    let a = analysis(ERRORS, "");
    let requests = vec![1000.0; 30];
    let baseline = cycling(5.0, 3);
    for bad in [-50.0, f64::NAN, f64::INFINITY] {
        let mut canary = baseline.clone();
        canary.rotate_left(1);
        canary[12] = bad;
        let report = judge_errors(&a, &baseline, &canary);
        let metric = &report.metrics[0];
        assert_eq!(metric.classification, Classification::Error, "{bad}: {}", metric.reason);
        assert!(
            metric.reason.contains("canary numerator") && metric.reason.contains("at least 0"),
            "{}",
            metric.reason
        );
        let mut negative_requests = requests.clone();
        negative_requests[3] = -bad.abs();
        let report = run(&a, &[count(&a.metrics[0], (&baseline, &negative_requests), (&baseline, &requests))], 30);
        assert_eq!(report.metrics[0].classification, Classification::Error, "{}", report.metrics[0].reason);
    }
}

#[test]
fn duplicated_or_unordered_timestamps_are_an_error_not_counted_twice() {
    let a = analysis(ERRORS, "");
    let healthy: Vec<(i64, f64, f64)> = (1..=30).map(|i| (60 * i, 5.0 + (i % 3) as f64, 1000.0)).collect();
    // Every canary interval twice: the totals used to double.
    let mut doubled: Vec<(i64, f64, f64)> = healthy.iter().flat_map(|&p| [p, p]).collect();
    let report = run(&a, &[count_at(&a.metrics[0], &healthy, &doubled)], 30);
    let metric = classified(&report, Classification::Error);
    assert!(metric.reason.contains("two points at"), "{}", metric.reason);
    doubled.dedup();
    doubled.swap(4, 5);
    let report = run(&a, &[count_at(&a.metrics[0], &healthy, &doubled)], 30);
    assert!(report.metrics[0].reason.contains("time order"), "{}", report.metrics[0].reason);
}

#[test]
fn no_events_on_either_side_pass_only_with_a_threshold() {
    let requests = vec![1000.0; 30];
    let other = cycling(1000.0, 5);
    let zeros = vec![0.0; 30];
    let a = analysis(ERRORS, "");
    let report = run(&a, &[count(&a.metrics[0], (&zeros, &requests), (&zeros, &other))], 30);
    let metric = classified(&report, Classification::NoData);
    assert!(metric.reason.contains("no events on either side"), "{}", metric.reason);
    let a = analysis(&format!("{ERRORS}    thresholds:\n      - statistic: rate\n        max: 0.001\n"), "");
    let report = run(&a, &[count(&a.metrics[0], (&zeros, &requests), (&zeros, &other))], 30);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
}
