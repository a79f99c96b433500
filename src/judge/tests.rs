//! Rules of the judge, one at a time, on small hand-made series.

use super::report::{Classification, FindingKind, TestKindResult, TestOutcome};
use super::*;
use crate::model::{Duration, Point, PointTime, QueryRole, Series, Side, Verdict, Window};
use std::collections::BTreeMap;
use std::path::Path;

const START: i64 = 1_700_000_000 - 1_700_000_000 % 60;

fn analysis(metrics: &str, extra: &str) -> Analysis {
    let text = format!("name: test\n{extra}metrics:\n{metrics}");
    Analysis::parse(&text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn window(minutes: i64) -> Window {
    Window::between(START, START + minutes * 60, Duration::from_secs(60), Duration::default()).unwrap()
}

fn series(values: &[f64]) -> Vec<Series> {
    vec![Series {
        labels: BTreeMap::new(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, &value)| Point { time: START + 60 * (i as i64 + 1), value })
            .collect(),
    }]
}

fn gauge<'a>(config: &'a crate::config::MetricConfig, baseline: &[f64], canary: &[f64]) -> MetricInput<'a> {
    MetricInput {
        baseline: [(QueryRole::Value, series(baseline))].into(),
        canary: [(QueryRole::Value, series(canary))].into(),
        ..MetricInput::new(config)
    }
}

fn count<'a>(
    config: &'a crate::config::MetricConfig,
    baseline: (&[f64], &[f64]),
    canary: (&[f64], &[f64]),
) -> MetricInput<'a> {
    MetricInput {
        baseline: [(QueryRole::Numerator, series(baseline.0)), (QueryRole::Denominator, series(baseline.1))].into(),
        canary: [(QueryRole::Numerator, series(canary.0)), (QueryRole::Denominator, series(canary.1))].into(),
        ..MetricInput::new(config)
    }
}

fn run(analysis: &Analysis, inputs: &[MetricInput<'_>], minutes: i64) -> JudgmentReport {
    let inputs = inputs.to_vec();
    let context =
        Context { window: window(minutes), point_time: PointTime::IntervalEnd, alpha: analysis.judgment.alpha };
    let sides = crate::config::template::resolve_sides(analysis, &BTreeMap::new()).unwrap();
    crate::kayenta::judge(
        analysis,
        inputs,
        &context,
        &sides,
        SourceDescription { kind: "synthetic".into(), url: None, replay: None },
    )
}

/// A deterministic wiggle in [-1, 1].
fn wiggle(i: usize) -> f64 {
    ((i as f64 * 2.399_963).sin() + (i as f64 * 0.7).cos()) / 2.0
}

const LATENCY: &str = "  - name: latency\n    query: q\n    direction: increase\n    margin: 5%\n";

#[test]
fn a_clear_latency_regression_fails_high_and_the_same_data_reversed_passes_as_an_improvement() {
    let a = analysis(LATENCY, "");
    let baseline: Vec<f64> = (0..30).map(|i| 100.0 + 5.0 * wiggle(i)).collect();
    let canary: Vec<f64> = (0..30).map(|i| 130.0 + 5.0 * wiggle(i + 7)).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::FailHigh, "{}", metric.reason);
    assert!(metric.reason.starts_with("shift +"), "{}", metric.reason);
    assert_eq!(report.verdict, Verdict::Fail);
    let shift = &metric.tests[0];
    assert_eq!(shift.test, TestKindResult::Shift);
    assert!(shift.ci_low.unwrap() > 20.0 && (shift.margin.unwrap() - 5.0).abs() < 0.1, "{shift:?}");

    let report = run(&a, &[gauge(&a.metrics[0], &canary, &baseline)], 30);
    assert_eq!(report.metrics[0].classification, Classification::Pass);
    assert_eq!(report.verdict, Verdict::Pass);
}

#[test]
fn a_shift_within_the_margin_passes() {
    let a = analysis(LATENCY, "");
    let baseline: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let canary: Vec<f64> = (0..30).map(|i| 103.0 + wiggle(i + 3)).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 30);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
}

#[test]
fn too_few_points_is_no_data_and_the_run_is_inconclusive() {
    let a = analysis(LATENCY, "");
    let report = run(&a, &[gauge(&a.metrics[0], &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0])], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData);
    assert_eq!(metric.findings[0].kind, FindingKind::TooFewSamples);
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.score, None);
}

#[test]
fn identical_series_are_an_error_never_a_pass() {
    let a = analysis(LATENCY, "");
    let values: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &values, &values)], 30);
    assert_eq!(report.metrics[0].classification, Classification::Error);
    assert!(report.metrics[0].findings.iter().any(|f| f.kind == FindingKind::IdenticalSeries));
    assert_eq!(report.verdict, Verdict::Inconclusive);
}

#[test]
fn nan_values_are_dropped_and_reported() {
    let a = analysis(LATENCY, "");
    let mut canary: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i + 1)).collect();
    canary[4] = f64::NAN;
    canary[9] = f64::INFINITY;
    let baseline: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::Pass);
    assert_eq!(metric.canary.samples, 28);
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::NonFiniteValues && f.side == Some(Side::Canary)));
}

#[test]
fn overlapping_windows_are_thinned() {
    let a = analysis("  - name: latency\n    query: 'rate(x[2m])'\n    direction: increase\n", "");
    let values: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let other: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i + 11)).collect();
    let mut input = gauge(&a.metrics[0], &values, &other);
    input.queries = [(Side::Canary, [(QueryRole::Value, "rate(x[2m])".to_string())].into())].into();
    let report = run(&a, &[input], 30);
    let metric = &report.metrics[0];
    assert_eq!((metric.baseline.samples, metric.canary.samples), (15, 15));
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::OverlappingWindows));
}

const ERRORS: &str =
    "  - name: errors\n    numerator: e\n    denominator: r\n    direction: increase\n    margin: 20%\n";

#[test]
fn an_error_rate_increase_fails_and_equal_rates_pass() {
    let a = analysis(ERRORS, "");
    let requests = vec![1000.0; 30];
    let baseline: Vec<f64> = (0..30).map(|i| 5.0 + (i % 3) as f64).collect();
    let canary: Vec<f64> = (0..30).map(|i| 15.0 + (i % 4) as f64).collect();
    let report = run(&a, &[count(&a.metrics[0], (&baseline, &requests), (&canary, &requests))], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::FailHigh, "{}", metric.reason);
    assert!(metric.reason.starts_with("rate ×"), "{}", metric.reason);
    let totals = metric.canary.totals.as_ref().unwrap();
    assert_eq!((totals.denominator, totals.rate.map(|r| (r * 1e4).round())), (30_000.0, Some(164.0)));

    let same: Vec<f64> = (0..30).map(|i| 5.0 + ((i + 1) % 3) as f64).collect();
    let report = run(&a, &[count(&a.metrics[0], (&baseline, &requests), (&same, &requests))], 30);
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
    assert_eq!(report.verdict, Verdict::Inconclusive);

    let mut input = count(&a.metrics[0], (&errors, &requests), (&errors, &requests));
    input.canary.remove(&QueryRole::Numerator);
    let report = run(&a, &[input], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.canary.totals.as_ref().unwrap().numerator, 0.0);
    assert_eq!(metric.classification, Classification::Pass, "{}", metric.reason);
}

#[test]
fn a_critical_failure_fails_the_run_whatever_the_score() {
    let metrics = format!("{}    critical: true\n{LATENCY}", ERRORS);
    let a = analysis(&metrics, "judgment:\n  pass_score: 40\n  marginal_score: 10\n");
    let requests = vec![1000.0; 30];
    let baseline: Vec<f64> = vec![5.0; 30];
    let canary: Vec<f64> = vec![25.0; 30];
    let latency: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let latency2: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i + 5)).collect();
    let report = run(
        &a,
        &[
            count(&a.metrics[0], (&baseline, &requests), (&canary, &requests)),
            gauge(&a.metrics[1], &latency, &latency2),
        ],
        30,
    );
    assert_eq!(report.score, Some(50.0));
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(report.reason.starts_with("critical metric `errors` failed"), "{}", report.reason);
}

#[test]
fn thresholds_fail_on_their_own() {
    let metrics = "  - name: latency\n    query: q\n    direction: increase\n    tests: []\n    thresholds:\n      - statistic: p99\n        max: 120\n      - statistic: mean\n        max_ratio: 1.5\n";
    let a = analysis(metrics, "");
    let baseline: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let mut canary = baseline.clone();
    canary[3] = 150.0;
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::FailHigh);
    assert!(
        metric.reason.contains("canary p99") && metric.reason.contains("exceeds the maximum 120"),
        "{}",
        metric.reason
    );
    assert_eq!(metric.tests[1].outcome, TestOutcome::Pass);
}

#[test]
fn holm_keeps_two_borderline_metrics_from_failing_together() {
    // Each metric alone would be significant at 0.01; adjusted over two tests neither is.
    let metric = "  - name: latency\n    query: q\n    direction: increase\n";
    let a = analysis(&format!("{metric}{}", metric.replace("latency", "latency2")), "judgment:\n  alpha: 0.01\n");
    let baseline: Vec<f64> = (0..12).map(|i| 100.0 + i as f64).collect();
    let canary: Vec<f64> = (0..12).map(|i| 104.25 + i as f64).collect();
    let single = analysis(metric, "judgment:\n  alpha: 0.01\n");
    let alone = run(&single, &[gauge(&single.metrics[0], &baseline, &canary)], 12);
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
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert!(metric.reason.contains("beyond ×2"), "{}", metric.reason);
}

#[test]
fn an_interval_too_wide_to_rule_out_three_margins_is_not_a_pass_when_asked() {
    let a = analysis(&format!("{LATENCY}    inconclusive_beyond: 3\n"), "");
    // Very noisy, no real change: the interval spans far more than ±3 × 5%.
    let baseline: Vec<f64> = (0..12).map(|i| 100.0 + 60.0 * wiggle(i)).collect();
    let canary: Vec<f64> = (0..12).map(|i| 100.0 + 60.0 * wiggle(i + 5)).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 12);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert!(metric.reason.starts_with("too little data to call it healthy"), "{}", metric.reason);
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::Imprecise));
    assert_eq!(report.verdict, Verdict::Inconclusive);
    // By default only an interval that cannot rule out a doubling is too little data.
    let lenient = analysis(LATENCY, "");
    let report = run(&lenient, &[gauge(&lenient.metrics[0], &baseline, &canary)], 12);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
}

#[test]
fn a_breakdown_judges_each_label_value_on_its_own() {
    let metric = "  - name: latency\n    query: q\n    direction: increase\n    margin: 5%\n    breakdown: [route]\n";
    let a = analysis(metric, "");
    let labelled = |route: &str, values: Vec<f64>| {
        let mut s = series(&values).remove(0);
        s.labels.insert("route".into(), route.into());
        s
    };
    let steady: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let other: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i + 9)).collect();
    let slow: Vec<f64> = (0..30).map(|i| 140.0 + wiggle(i + 4)).collect();
    let input = MetricInput {
        baseline: [(QueryRole::Value, vec![labelled("/cart", steady.clone()), labelled("/search", steady.clone())])]
            .into(),
        canary: [(QueryRole::Value, vec![labelled("/cart", other), labelled("/search", slow)])].into(),
        ..MetricInput::new(&a.metrics[0])
    };
    let report = run(&a, &[input], 30);
    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["latency{route=\"/cart\"}", "latency{route=\"/search\"}"]);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
    assert_eq!(report.metrics[1].classification, Classification::FailHigh);
    // Both parts are in the Holm family.
    assert!(report.metrics.iter().all(|m| m.tests[0].adjusted_p_value.is_some()));

    // Without a breakdown, several series are an error that names their labels.
    let plain = analysis(LATENCY, "");
    let input = MetricInput {
        baseline: [(QueryRole::Value, vec![labelled("/cart", steady.clone()), labelled("/search", steady)])].into(),
        canary: [(QueryRole::Value, series(&other_values()))].into(),
        ..MetricInput::new(&plain.metrics[0])
    };
    let report = run(&plain, &[input], 30);
    assert_eq!(report.metrics[0].classification, Classification::Error);
    assert!(report.metrics[0].reason.contains("/search") && report.metrics[0].reason.contains("breakdown"));
}

fn other_values() -> Vec<f64> {
    (0..30).map(|i| 100.0 + wiggle(i + 2)).collect()
}

/// The cases Kayenta's users reported as regressions it passed: each fails here.
#[test]
fn kayenta_user_reported_regressions_fail() {
    let fixtures: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/data/kayenta-judge-fixtures.json")).unwrap();
    for case in fixtures["user_reported_cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let values =
            |key: &str| -> Vec<f64> { case[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
        let (canary, baseline) = (values("experiment"), values("control"));
        // As the reporters configure them: a latency-like gauge (increase is bad) judged as one
        // metric at a 5% false-alarm level; the variance case with the spread test, either way.
        let metric = if name.contains("variance") {
            "  - name: m\n    query: q\n    direction: either\n    tests: [shift, spread]\n    min_samples: 5\n"
        } else {
            "  - name: m\n    query: q\n    direction: increase\n    min_samples: 5\n"
        };
        let a = analysis(metric, "judgment:\n  alpha: 0.05\n");
        let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], canary.len() as i64);
        assert!(report.metrics[0].classification.is_fail(), "{name}: {}", report.metrics[0].reason);
        assert_eq!(report.verdict, Verdict::Fail, "{name}");
    }
}

/// Counts at arbitrary timestamps: (time offset from START, numerator, denominator).
fn count_at<'a>(
    config: &'a crate::config::MetricConfig,
    baseline: &[(i64, f64, f64)],
    canary: &[(i64, f64, f64)],
) -> MetricInput<'a> {
    let side = |data: &[(i64, f64, f64)]| -> BTreeMap<QueryRole, Vec<Series>> {
        let of = |pick: fn(&(i64, f64, f64)) -> f64| {
            let points = data.iter().map(|p| Point { time: START + p.0, value: pick(p) }).collect();
            vec![Series { labels: BTreeMap::new(), points }]
        };
        [(QueryRole::Numerator, of(|p| p.1)), (QueryRole::Denominator, of(|p| p.2))].into()
    };
    MetricInput { baseline: side(baseline), canary: side(canary), ..MetricInput::new(config) }
}

#[test]
fn a_tiny_alpha_never_turns_an_untestable_metric_into_a_pass() {
    // With alpha 1e-20 the family's confidence rounds to 1: the rate test used to be skipped and
    // the metric passed with "no test ran".
    let a = analysis(ERRORS, "judgment:\n  alpha: 1.0e-20\n");
    let requests = vec![1000.0; 30];
    let baseline: Vec<f64> = (0..30).map(|i| 5.0 + (i % 3) as f64).collect();
    let canary: Vec<f64> = (0..30).map(|i| 9.0 + (i % 4) as f64).collect();
    let report = run(&a, &[count(&a.metrics[0], (&baseline, &requests), (&canary, &requests))], 30);
    let metric = &report.metrics[0];
    assert_ne!(metric.classification, Classification::Pass, "{}", metric.reason);
    assert_ne!(report.verdict, Verdict::Pass);
    assert!(!metric.reason.contains("no test ran"), "{}", metric.reason);
    let rate = &metric.tests[0];
    assert!(rate.p_value.is_some() && rate.outcome != TestOutcome::Skipped, "the rate test ran: {rate:?}");

    // The same for a gauge: the shift interval at that level is unbounded, so too little data.
    let a = analysis(LATENCY, "judgment:\n  alpha: 1.0e-20\n");
    let baseline: Vec<f64> = (0..30).map(|i| 100.0 + 5.0 * wiggle(i)).collect();
    let canary: Vec<f64> = (0..30).map(|i| 130.0 + 5.0 * wiggle(i + 7)).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 30);
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
    let baseline: Vec<f64> = (0..30).map(|i| 5.0 + (i % 3) as f64).collect();
    for bad in [-50.0, f64::NAN, f64::INFINITY] {
        let mut canary = baseline.clone();
        canary.rotate_left(1);
        canary[12] = bad;
        let report = run(&a, &[count(&a.metrics[0], (&baseline, &requests), (&canary, &requests))], 30);
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
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::Error, "{}", metric.reason);
    assert!(metric.reason.contains("two points at"), "{}", metric.reason);
    doubled.dedup();
    doubled.swap(4, 5);
    let report = run(&a, &[count_at(&a.metrics[0], &healthy, &doubled)], 30);
    assert!(report.metrics[0].reason.contains("time order"), "{}", report.metrics[0].reason);
}

const RULE: &str = "  - name: errors\n    numerator: e\n    denominator: r\n    direction: increase\n    margin: 50%\n    sustained:\n      - max_ratio: 3\n        for: 5m\n";

/// Baseline 1% errors every 60 s; the canary's points every `spacing` seconds from `offset`, with
/// a burst of 50% errors over minutes 10 to 16.
fn burst(spacing: i64, offset: i64) -> (Vec<quality::Interval>, Vec<quality::Interval>) {
    let baseline = (1..=30).map(|i| (60 * i, 10.0 + (i % 3) as f64, 1000.0)).collect();
    let canary = (1..=(1800 / spacing))
        .map(|i| {
            let t = spacing * i + offset;
            let errors = if (600..960).contains(&t) { 500.0 } else { 10.0 + (i % 4) as f64 };
            (t, errors, 1000.0)
        })
        .collect();
    (baseline, canary)
}

#[test]
fn a_sustained_burst_fires_when_canary_points_are_off_the_baseline_grid_or_step() {
    let a = analysis(RULE, "");
    // 7 s off the baseline's timestamps (a real canary is scraped at another offset), points
    // every 30 s at a 60 s step, and points every 60 s under a 120 s step: all used to end in
    // "no point breached" and a pass.
    for (spacing, offset, step) in [(60, 7, 60), (30, 0, 60), (60, 0, 120)] {
        let (baseline, canary) = burst(spacing, offset);
        let window = Window::between(START, START + 1800, Duration::from_secs(step), Duration::default()).unwrap();
        let context = Context { window, point_time: PointTime::IntervalEnd, alpha: 0.01 };
        let sides = crate::config::template::resolve_sides(&a, &BTreeMap::new()).unwrap();
        let source = SourceDescription { kind: "synthetic".into(), url: None, replay: None };
        let report = judge(&a, vec![count_at(&a.metrics[0], &baseline, &canary)], &context, &sides, source);
        let metric = &report.metrics[0];
        let rule = metric.tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
        assert!(rule.sustained.as_ref().unwrap().fired, "{spacing}s/{offset}s/{step}s: {}", rule.reason);
        assert!(metric.classification.is_fail(), "{}", metric.reason);
    }
}

#[test]
fn a_sustained_rule_without_a_long_enough_run_of_comparable_points_is_not_a_pass() {
    let a = analysis(RULE, "");
    // Every third baseline interval missing: no run of comparable points lasts the rule's 5m, so
    // the rule could never have fired (a burst there used to pass as "no point breached").
    let (baseline, canary) = burst(60, 0);
    let sparse: Vec<(i64, f64, f64)> = baseline.iter().copied().filter(|p| p.0 % 180 != 0).collect();
    let healthy: Vec<(i64, f64, f64)> = canary.iter().map(|&(t, _, d)| (t, 10.0 + (t % 7) as f64, d)).collect();
    let report = run(&a, &[count_at(&a.metrics[0], &sparse, &healthy)], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert!(metric.reason.contains("sustained rule `max_ratio 3 for 5m`"), "{}", metric.reason);
    let rule = metric.tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
    assert_eq!(rule.outcome, TestOutcome::Skipped, "{}", rule.reason);
    assert!(rule.sustained.as_ref().unwrap().covered_seconds < 300);
    assert_ne!(report.verdict, Verdict::Pass);
}

#[test]
fn a_side_whose_series_stop_inside_the_window_cannot_pass() {
    // A crash loop: the canary's series go stale after minute 18 of 30. The remaining intervals
    // look healthy, and used to pass without a finding.
    let a = analysis(&format!("{LATENCY}    min_samples: 5\n"), "");
    let baseline: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let canary: Vec<f64> = (0..18).map(|i| 100.0 + wiggle(i + 3)).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::Gap && f.side == Some(Side::Canary)));
    assert!(metric.reason.contains("canary series stops at"), "{}", metric.reason);

    let a = analysis(&format!("{ERRORS}    min_samples: 5\n"), "");
    let requests = vec![1000.0; 30];
    let errors: Vec<f64> = (0..30).map(|i| 5.0 + (i % 3) as f64).collect();
    let report = run(&a, &[count(&a.metrics[0], (&errors, &requests), (&errors[1..19], &requests[..18]))], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert!(metric.reason.contains("canary denominator stops at"), "{}", metric.reason);
}

#[test]
fn a_constant_guard_passes_but_the_same_query_twice_is_a_misconfiguration() {
    // `up` is 1 on both sides: a guard, judged by its threshold, not "identical series".
    let metrics = "  - name: up\n    query: 'min(up{ {{ selector }} })'\n    direction: decrease\n    thresholds:\n      - statistic: min\n        min: 1\n";
    let a = analysis(metrics, "");
    let ones = vec![1.0; 30];
    let with_queries = |baseline_query: &str, canary: &[f64]| {
        let mut input = gauge(&a.metrics[0], &ones, canary);
        input.queries = [
            (Side::Baseline, [(QueryRole::Value, baseline_query.to_string())].into()),
            (Side::Canary, [(QueryRole::Value, "min(up{ deployment=\"c\" })".to_string())].into()),
        ]
        .into();
        input
    };
    let report = run(&a, &[with_queries("min(up{ deployment=\"b\" })", &ones)], 30);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
    assert_eq!(report.verdict, Verdict::Pass);
    // A canary pod down for a minute breaches the guard.
    let mut down = ones.clone();
    down[12] = 0.0;
    let report = run(&a, &[with_queries("min(up{ deployment=\"b\" })", &down)], 30);
    assert_eq!(report.metrics[0].classification, Classification::FailLow, "{}", report.metrics[0].reason);
    // The same rendered query on both sides: the selectors match the same instances.
    let report = run(&a, &[with_queries("min(up{ deployment=\"c\" })", &ones)], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::Error, "{}", metric.reason);
    assert!(metric.reason.contains("same query"), "{}", metric.reason);
}

#[test]
fn under_the_kayenta_judge_a_metric_with_two_series_keeps_the_run_from_passing() {
    let metrics = format!("{LATENCY}{}", LATENCY.replace("name: latency", "name: errors"));
    let healthy: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i)).collect();
    let other: Vec<f64> = (0..30).map(|i| 100.0 + wiggle(i + 4)).collect();
    let regressed: Vec<f64> = (0..30).map(|i| 300.0 + wiggle(i + 2)).collect();
    let judged = |extra: &str| {
        let a = analysis(&metrics, &format!("judgment:\n  judge: kayenta\n{extra}"));
        let mut split = gauge(&a.metrics[1], &healthy, &regressed);
        // The regressed canary's query returns two series (two pods): Kayenta drops the metric.
        split.canary.get_mut(&QueryRole::Value).unwrap().push(series(&regressed).remove(0));
        let report = run(&a, &[gauge(&a.metrics[0], &healthy, &other), split], 30);
        (report.verdict, report.reason, report.kayenta_verdict.unwrap().classification)
    };
    let (verdict, reason, kayenta) = judged("");
    assert_eq!(verdict, Verdict::Inconclusive, "{reason}");
    assert!(reason.contains("`errors` returned several series"), "{reason}");
    assert_eq!(kayenta, "Pass", "Kayenta's own classification is still reported");
    let (verdict, reason, _) = judged("  kayenta_multiple_series: ignore\n");
    assert_eq!(verdict, Verdict::Pass, "Kayenta's behaviour, when asked for: {reason}");
}

/// Property: for any recording-shaped input the judge returns (no panic, bounded time) and a
/// metric is classified pass only when a test or threshold evaluated it on valid data.
mod never_passes_without_evidence {
    use super::*;
    use crate::judge::report::{MetricResult, TestResult};
    use proptest::prelude::*;

    const METRICS: &str = "  - name: latency\n    query: q\n    direction: increase\n    margin: 10%\n    min_samples: 3\n    thresholds:\n      - statistic: p99\n        max: 500\n    sustained:\n      - max_ratio: 2\n        for: 3m\n  - name: errors\n    numerator: e\n    denominator: r\n    direction: increase\n    margin: 20%\n    min_samples: 3\n    sustained:\n      - max: 0.5\n        for: 2m\n  - name: guard\n    query: u\n    direction: decrease\n    tests: []\n    min_samples: 3\n    thresholds:\n      - statistic: min\n        min: 1\n";

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => 0.0..1000.0f64,
            1 => Just(0.0),
            1 => Just(1.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => -1000.0..0.0f64,
            1 => 1.0e12..1.0e308f64,
            1 => Just(f64::MAX),
            1 => Just(f64::MIN_POSITIVE),
        ]
    }

    /// One point's timestamp relative to its slot on the 60 s grid: on it, a few seconds off, a
    /// duplicate of the previous one, or missing.
    #[derive(Debug, Clone, Copy)]
    enum Slot {
        OnGrid,
        Off(i64),
        Duplicate,
        Missing,
    }

    fn slot() -> impl Strategy<Value = Slot> {
        prop_oneof![
            10 => Just(Slot::OnGrid),
            1 => (-29i64..30).prop_map(Slot::Off),
            1 => Just(Slot::Duplicate),
            2 => Just(Slot::Missing),
        ]
    }

    fn points() -> impl Strategy<Value = Vec<Point>> {
        (0usize..40, any::<bool>()).prop_flat_map(|(length, uniform)| {
            (prop::collection::vec((slot(), value()), length), if uniform { 1..2usize } else { 0..1usize }).prop_map(
                |(slots, constant)| {
                    let mut out: Vec<Point> = Vec::new();
                    for (i, (slot, value)) in slots.into_iter().enumerate() {
                        let value = if constant == 1 { 1.0 } else { value };
                        let time = START + 60 * (i as i64 + 1);
                        match slot {
                            Slot::OnGrid => out.push(Point { time, value }),
                            Slot::Off(by) => out.push(Point { time: time + by, value }),
                            Slot::Duplicate => {
                                if let Some(last) = out.last().copied() {
                                    out.push(Point { time: last.time, value });
                                }
                            }
                            Slot::Missing => {}
                        }
                    }
                    out.sort_by_key(|p| p.time);
                    out
                },
            )
        })
    }

    /// A well-behaved series: every step of the window, finite values in `range`, with at most a
    /// couple of hostile points.
    fn clean_points(range: std::ops::Range<f64>) -> impl Strategy<Value = Vec<Point>> {
        (prop::collection::vec(range, 40), prop::collection::vec((0usize..40, value()), 0..3)).prop_map(
            |(values, spoiled)| {
                let mut out: Vec<Point> = values
                    .into_iter()
                    .enumerate()
                    .map(|(i, value)| Point { time: START + 60 * (i as i64 + 1), value })
                    .collect();
                for (index, value) in spoiled {
                    out[index].value = value;
                }
                out
            },
        )
    }

    /// No series, one (well-behaved or hostile), or (rarely) two.
    fn side_series(range: std::ops::Range<f64>) -> impl Strategy<Value = Vec<Series>> {
        let one = |points: Vec<Point>| vec![Series { labels: BTreeMap::new(), points }];
        prop_oneof![
            1 => Just(Vec::new()),
            12 => clean_points(range).prop_map(one),
            6 => points().prop_map(one),
            1 => (points(), points()).prop_map(|(a, b)| vec![
                Series { labels: BTreeMap::new(), points: a },
                Series { labels: [("pod".to_string(), "b".to_string())].into(), points: b },
            ]),
        ]
    }

    fn invalid_counts(input: &MetricInput<'_>, window: &Window) -> bool {
        Side::BOTH.into_iter().any(|side| {
            input.side(side).values().flatten().flat_map(|s| &s.points).any(|p| {
                p.time >= window.judged_from() && p.time <= window.end && !(p.value.is_finite() && p.value >= 0.0)
            })
        })
    }

    /// Checked independently of the judge's own rule: what a pass must show.
    fn evidence_problem(metric: &MetricResult, judged_minutes: i64) -> Option<String> {
        let gating: Vec<&TestResult> = metric.tests.iter().filter(|t| t.gating).collect();
        if !gating.iter().any(|t| t.outcome == TestOutcome::Pass) {
            return Some("no gating test passed".into());
        }
        for test in gating {
            let ok = match test.test {
                TestKindResult::Shift | TestKindResult::Spread | TestKindResult::Rate => {
                    test.adjusted_p_value.is_some_and(|p| (0.0..=1.0).contains(&p))
                        && (test.test == TestKindResult::Spread || (test.ci_low.is_some() && test.ci_high.is_some()))
                }
                TestKindResult::Threshold => {
                    test.statistic.is_some_and(f64::is_finite) && test.threshold.is_some_and(f64::is_finite)
                }
                TestKindResult::Sustained => test.sustained.as_ref().is_some_and(|s| {
                    s.compared > 0 && s.covered_seconds >= s.for_seconds.min(60 * judged_minutes as u64)
                }),
            };
            if test.outcome != TestOutcome::Pass || !ok {
                return Some(format!("{:?} gave no evidence: {test:?}", test.test));
            }
        }
        None
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_input_is_judged_and_never_passes_without_evidence(
            latency in (side_series(90.0..110.0), side_series(90.0..110.0)),
            errors in (side_series(0.0..20.0), side_series(900.0..1000.0), side_series(0.0..20.0), side_series(900.0..1000.0)),
            guard in (side_series(1.0..1.0001), side_series(1.0..1.0001)),
            alpha in prop_oneof![Just(0.01), Just(1.0e-20), Just(0.3)],
            minutes in 5i64..40,
            judge_choice in prop_oneof![3 => Just("default"), 1 => Just("both"), 1 => Just("kayenta")],
        ) {
            let a = analysis(METRICS, &format!("judgment:\n  alpha: {alpha:e}\n  judge: {judge_choice}\n"));
            let inputs = vec![
                MetricInput {
                    baseline: [(QueryRole::Value, latency.0)].into(),
                    canary: [(QueryRole::Value, latency.1)].into(),
                    ..MetricInput::new(&a.metrics[0])
                },
                MetricInput {
                    baseline: [(QueryRole::Numerator, errors.0), (QueryRole::Denominator, errors.1)].into(),
                    canary: [(QueryRole::Numerator, errors.2), (QueryRole::Denominator, errors.3)].into(),
                    ..MetricInput::new(&a.metrics[1])
                },
                MetricInput {
                    baseline: [(QueryRole::Value, guard.0)].into(),
                    canary: [(QueryRole::Value, guard.1)].into(),
                    queries: [
                        (Side::Baseline, [(QueryRole::Value, "u{b}".to_string())].into()),
                        (Side::Canary, [(QueryRole::Value, "u{c}".to_string())].into()),
                    ]
                    .into(),
                    ..MetricInput::new(&a.metrics[2])
                },
            ];
            let counts_invalid = invalid_counts(&inputs[1], &window(minutes));
            let report = run(&a, &inputs, minutes);
            prop_assert_eq!(report.metrics.len(), 3);
            if judge_choice == "kayenta" {
                // Kayenta's classifications, exactly as Kayenta makes them: only that it returns.
                return Ok(());
            }
            for metric in &report.metrics {
                if metric.classification == Classification::Pass {
                    prop_assert!(evidence_problem(metric, minutes).is_none(), "{}: {:?}", metric.name, evidence_problem(metric, minutes));
                    prop_assert!(!metric.reason.is_empty());
                }
            }
            if counts_invalid {
                prop_assert_ne!(report.metrics[1].classification, Classification::Pass, "{}", report.metrics[1].reason);
            }
            if report.verdict == Verdict::Pass {
                prop_assert!(report.metrics.iter().all(|m| m.classification == Classification::Pass));
            }
        }
    }
}

#[test]
fn a_shift_test_whose_p_value_overflows_is_an_error_not_a_pass() {
    // Values near f64::MAX: the canary moved by the margin overflows, and the p-value used to
    // default to 1 (a pass).
    let a = analysis(&LATENCY.replace("increase", "decrease"), "");
    let baseline: Vec<f64> = (0..30).map(|i| f64::MAX * (0.99 + 0.001 * wiggle(i))).collect();
    let canary: Vec<f64> = (0..30).map(|i| f64::MAX * (0.99 + 0.001 * wiggle(i + 3))).collect();
    let report = run(&a, &[gauge(&a.metrics[0], &baseline, &canary)], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::Error, "{}", metric.reason);
    assert!(metric.reason.contains("p-value could not be computed"), "{}", metric.reason);
}

#[test]
fn a_rule_longer_than_a_short_window_is_judged_over_the_whole_window() {
    // The watchdog's `--last 5m` runs with `for: 10m`: no run alone can fire the rule (carried
    // stretches do that across runs), so a rule that saw the whole window is evidence.
    let a =
        analysis(&RULE.replace("for: 5m", "for: 10m").replace("margin: 50%", "margin: 50%\n    min_samples: 3"), "");
    let baseline: Vec<(i64, f64, f64)> = (1..=5).map(|i| (60 * i, 10.0 + (i % 3) as f64, 1000.0)).collect();
    let canary: Vec<(i64, f64, f64)> = (1..=5).map(|i| (60 * i, 10.0 + (i % 2) as f64, 1000.0)).collect();
    let report = run(&a, &[count_at(&a.metrics[0], &baseline, &canary)], 5);
    let rule = report.metrics[0].tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
    assert_eq!(rule.outcome, TestOutcome::Pass, "{}", rule.reason);
}

#[test]
fn no_events_on_either_side_pass_only_with_a_threshold() {
    let requests = vec![1000.0; 30];
    let other: Vec<f64> = (0..30).map(|i| 1000.0 + (i % 5) as f64).collect();
    let zeros = vec![0.0; 30];
    let a = analysis(ERRORS, "");
    let report = run(&a, &[count(&a.metrics[0], (&zeros, &requests), (&zeros, &other))], 30);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert!(metric.reason.contains("no events on either side"), "{}", metric.reason);
    let a = analysis(&format!("{ERRORS}    thresholds:\n      - statistic: rate\n        max: 0.001\n"), "");
    let report = run(&a, &[count(&a.metrics[0], (&zeros, &requests), (&zeros, &other))], 30);
    assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
}

#[test]
fn a_window_with_an_absurd_step_or_warmup_is_an_error_not_a_panic() {
    let a = analysis(ERRORS, "");
    let requests = vec![1000.0; 30];
    let errors: Vec<f64> = (0..30).map(|i| 5.0 + (i % 3) as f64).collect();
    let other: Vec<f64> = (0..30).map(|i| 6.0 + (i % 2) as f64).collect();
    let input = count(&a.metrics[0], (&errors, &requests), (&other, &requests));
    let sides = crate::config::template::resolve_sides(&a, &BTreeMap::new()).unwrap();
    for (step, warmup) in [(u64::MAX, 0), (0, 0), (60, u64::MAX)] {
        let window = Window { start: START, end: START + 1800, step_seconds: step, warmup_seconds: warmup };
        let context = Context { window, point_time: PointTime::IntervalStart, alpha: 0.01 };
        let source = SourceDescription { kind: "synthetic".into(), url: None, replay: None };
        let report = judge(&a, vec![input.clone()], &context, &sides, source);
        assert_eq!(report.metrics[0].classification, Classification::Error, "{step} {warmup}");
        assert_ne!(report.verdict, Verdict::Pass);
    }
}
