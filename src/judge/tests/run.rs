//! Run-level outcomes: critical metrics, thresholds, breakdowns, Kayenta's reported regressions,
//! series that stop early, guards and malformed windows.

use super::*;

#[test]
fn a_critical_failure_fails_the_run_whatever_the_score() {
    let metrics = format!("{}    critical: true\n{LATENCY}", ERRORS);
    let a = analysis(&metrics, "judgment:\n  pass_score: 40\n  marginal_score: 10\n");
    let requests = vec![1000.0; 30];
    let baseline: Vec<f64> = vec![5.0; 30];
    let canary: Vec<f64> = vec![25.0; 30];
    let report = run(
        &a,
        &[
            count(&a.metrics[0], (&baseline, &requests), (&canary, &requests)),
            gauge(&a.metrics[1], &wiggled(30, 100.0, 1.0, 0), &wiggled(30, 100.0, 1.0, 5)),
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
    let baseline = wiggled(30, 100.0, 1.0, 0);
    let mut canary = baseline.clone();
    canary[3] = 150.0;
    let report = judge_gauge(&a, &baseline, &canary, 30);
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
fn a_breakdown_judges_each_label_value_on_its_own() {
    let metric = "  - name: latency\n    query: q\n    direction: increase\n    margin: 5%\n    breakdown: [route]\n";
    let a = analysis(metric, "");
    let labelled = |route: &str, values: Vec<f64>| {
        let mut s = series(&values).remove(0);
        s.labels.insert("route".into(), route.into());
        s
    };
    let steady = wiggled(30, 100.0, 1.0, 0);
    let other = wiggled(30, 100.0, 1.0, 9);
    let slow = wiggled(30, 140.0, 1.0, 4);
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

/// The cases Kayenta's users reported as regressions it passed: each fails here.
#[test]
fn kayenta_user_reported_regressions_fail() {
    let fixtures: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/data/kayenta-judge-fixtures.json")).unwrap();
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

#[test]
fn a_side_whose_series_stop_inside_the_window_cannot_pass() {
    // A crash loop: the canary's series go stale after minute 18 of 30. The remaining intervals
    // look healthy, and used to pass without a finding.
    let a = analysis(&format!("{LATENCY}    min_samples: 5\n"), "");
    let canary = wiggled(18, 100.0, 1.0, 3);
    let report = judge_gauge(&a, &wiggled(30, 100.0, 1.0, 0), &canary, 30);
    let metric = classified(&report, Classification::NoData);
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::Gap && f.side == Some(Side::Canary)));
    assert!(metric.reason.contains("canary series stops at"), "{}", metric.reason);

    let a = analysis(&format!("{ERRORS}    min_samples: 5\n"), "");
    let requests = vec![1000.0; 30];
    let errors = cycling(5.0, 3);
    let report = run(&a, &[count(&a.metrics[0], (&errors, &requests), (&errors[1..19], &requests[..18]))], 30);
    let metric = classified(&report, Classification::NoData);
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
    let metric = classified(&report, Classification::Error);
    assert!(metric.reason.contains("same query"), "{}", metric.reason);
}

#[test]
fn under_the_kayenta_judge_a_metric_with_two_series_keeps_the_run_from_passing() {
    let metrics = format!("{LATENCY}{}", LATENCY.replace("name: latency", "name: errors"));
    let healthy = wiggled(30, 100.0, 1.0, 0);
    let regressed = wiggled(30, 300.0, 1.0, 2);
    let judged = |extra: &str| {
        let a = analysis(&metrics, &format!("judgment:\n  judge: kayenta\n{extra}"));
        let mut split = gauge(&a.metrics[1], &healthy, &regressed);
        // The regressed canary's query returns two series (two pods): Kayenta drops the metric.
        split.canary.get_mut(&QueryRole::Value).unwrap().push(series(&regressed).remove(0));
        let report = run(&a, &[gauge(&a.metrics[0], &healthy, &wiggled(30, 100.0, 1.0, 4)), split], 30);
        (report.verdict, report.reason, report.kayenta_verdict.unwrap().classification)
    };
    let (verdict, reason, kayenta) = judged("");
    assert_eq!(verdict, Verdict::Inconclusive, "{reason}");
    assert!(reason.contains("`errors` returned several series"), "{reason}");
    assert_eq!(kayenta, "Pass", "Kayenta's own classification is still reported");
    let (verdict, reason, _) = judged("  kayenta_multiple_series: ignore\n");
    assert_eq!(verdict, Verdict::Pass, "Kayenta's behaviour, when asked for: {reason}");
}

#[test]
fn a_window_with_an_absurd_step_or_warmup_is_an_error_not_a_panic() {
    let a = analysis(ERRORS, "");
    let requests = vec![1000.0; 30];
    let input = count(&a.metrics[0], (&cycling(5.0, 3), &requests), (&cycling(6.0, 2), &requests));
    let sides = crate::config::template::resolve_sides(&a, &BTreeMap::new()).unwrap();
    for (step, warmup) in [(u64::MAX, 0), (0, 0), (60, u64::MAX)] {
        let window = Window { start: START, end: START + 1800, step_seconds: step, warmup_seconds: warmup };
        let context = Context { window, point_time: PointTime::IntervalStart, alpha: 0.01, declared_drift: None };
        let source = SourceDescription { kind: "synthetic".into(), url: None, replay: None };
        let report = judge(Judgment { analysis: &a, inputs: vec![input.clone()], context, sides: &sides, source });
        assert_eq!(report.metrics[0].classification, Classification::Error, "{step} {warmup}");
        assert_ne!(report.verdict, Verdict::Pass);
    }
}
