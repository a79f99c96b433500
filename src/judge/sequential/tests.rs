//! Unit tests of the sequential decision: the always-valid test's skips, the margins a promotion
//! needs, and what stops one.

use super::*;

fn rate_test(estimate: f64, margin: f64) -> TestResult {
    TestResult { estimate: Some(estimate), margin: Some(margin), ..TestResult::new(TestKindResult::Rate) }
}

/// A regression smaller than the "too little data" bar but beyond the margin is never
/// promoted on its estimate; a change within the margin, or an improvement, is.
#[test]
fn an_estimate_beyond_the_margin_is_no_evidence_of_health() {
    assert!(estimate_beyond_margin(&rate_test(1.5, 1.2), Direction::Increase).is_some());
    assert!(estimate_beyond_margin(&rate_test(1.1, 1.2), Direction::Increase).is_none());
    assert!(estimate_beyond_margin(&rate_test(0.5, 1.2), Direction::Increase).is_none());
    assert!(estimate_beyond_margin(&rate_test(0.85, 0.95), Direction::Decrease).is_some());
    assert!(estimate_beyond_margin(&rate_test(1.3, 0.95), Direction::Decrease).is_none());
    assert!(estimate_beyond_margin(&rate_test(0.7, 1.2), Direction::Either).is_some());
    let shift = TestResult { estimate: Some(-0.3), margin: Some(0.2), ..TestResult::new(TestKindResult::Shift) };
    assert!(estimate_beyond_margin(&shift, Direction::Either).is_some());
    assert!(estimate_beyond_margin(&shift, Direction::Increase).is_none());
}

/// A promotion needs the sequence's bad end on the healthy side of the margin (both margins
/// for `either`); a sequence reaching beyond it, or a missing one, never promotes.
#[test]
fn only_a_sequence_within_the_margin_rules_out_a_regression() {
    let sequence = |low: f64, high: f64, margin: f64, kind| TestResult {
        ci_low: Some(low),
        ci_high: Some(high),
        margin: Some(margin),
        ..TestResult::new(kind)
    };
    let rate = TestKindResult::Rate;
    assert!(rules_out_regression(&sequence(0.9, 1.15, 1.2, rate), Direction::Increase));
    // The first version's rule: a sequence within a doubling, estimate ×1, was promoted.
    assert!(!rules_out_regression(&sequence(0.504, 1.98, 1.2, rate), Direction::Increase));
    assert!(rules_out_regression(&sequence(0.96, 1.4, 0.95, rate), Direction::Decrease));
    assert!(!rules_out_regression(&sequence(0.6, 1.05, 0.95, rate), Direction::Decrease));
    assert!(rules_out_regression(&sequence(0.85, 1.1, 1.2, rate), Direction::Either));
    assert!(!rules_out_regression(&sequence(0.75, 1.1, 1.2, rate), Direction::Either));
    let shift = TestKindResult::Shift;
    assert!(rules_out_regression(&sequence(-0.1, 0.1, 0.2, shift), Direction::Either));
    assert!(!rules_out_regression(&sequence(-0.3, 0.1, 0.2, shift), Direction::Either));
    assert!(!rules_out_regression(&sequence(-0.1, 0.1, 0.0, shift), Direction::Increase));
    assert!(!rules_out_regression(&TestResult::new(rate), Direction::Increase));
}

#[test]
fn a_metric_without_a_sequence_is_never_promoted() {
    let sequence = |metric: &str, decision: &str| SequenceResult {
        metric: metric.into(),
        decision: decision.into(),
        ..SequenceResult::open("", TestKindResult::Rate)
    };
    let passing = [sequence("errors", "pass"), sequence("latency", "pass")];
    assert!(every_metric_ruled_out(["errors", "latency"].into_iter(), &passing));
    // A threshold-only metric has no sequence: nothing about it is ruled out.
    assert!(!every_metric_ruled_out(["errors", "latency", "cpu_max"].into_iter(), &passing));
    assert!(!every_metric_ruled_out(["cpu_max"].into_iter(), &[]));
    assert!(!every_metric_ruled_out(["errors"].into_iter(), &[sequence("errors", "open")]));
}

proptest::proptest! {
    /// The metrics of a passing look whose every sequence rules out a regression allow a
    /// promotion exactly when no sustained rule is breached at the look's last point (a breach
    /// that ended earlier does not stop it).
    #[test]
    fn no_promotion_while_a_sustained_breach_runs(breaches in proptest::collection::vec(0u8..3, 4)) {
        let mut metrics: Vec<MetricResult> = ["errors", "latency", "queue", "conversion"]
            .iter()
            .map(|name| {
                MetricResult::unjudged(name.to_string(), "default".into(), MetricKind::Count, Direction::Increase)
            })
            .collect();
        let stretch = crate::judge::sustained::Stretch { start: 0, end: 60, duration_seconds: 120, points: Vec::new() };
        for (metric, breach) in metrics.iter_mut().zip(&breaches) {
            let evidence = crate::judge::report::SustainedEvidence {
                rule: "max 0.01 for 5m".into(),
                bound: crate::model::Bound::Max(0.01),
                for_seconds: 300,
                fired: false,
                stretch: (*breach > 0).then(|| stretch.clone()),
                trailing: (*breach == 2).then(|| stretch.clone()),
                compared: 10,
                covered_seconds: 600,
                spacing_seconds: 60,
            };
            metric.tests.push(TestResult { sustained: Some(evidence), ..TestResult::new(TestKindResult::Sustained) });
        }
        let sequences: Vec<SequenceResult> = metrics
            .iter()
            .map(|m| SequenceResult {
                metric: m.name.clone(),
                decision: "pass".into(),
                ..SequenceResult::open("", TestKindResult::Rate)
            })
            .collect();
        proptest::prop_assert_eq!(metrics_promotable(&metrics, &sequences), !breaches.contains(&2));
    }
}

/// Too few intervals: the test is skipped (a metric that cannot pass), never a pass or fail.
#[test]
fn too_few_intervals_skip_the_test() {
    let pairs = vec![
        CountIncrement {
            canary_events: 50.0,
            canary_exposure: 100.0,
            baseline_events: 1.0,
            baseline_exposure: 100.0
        };
        MIN_INTERVALS - 1
    ];
    let spec = SequentialTest {
        name: "m",
        data: &Ok(Increments::Count(pairs)),
        direction: Direction::Increase,
        margin: None,
        family: 1,
        alpha: 0.01,
        step_seconds: 60,
        count_drift: PRIOR_RATE_DRIFT,
    };
    let (test, summary) = sequential_test(&spec);
    assert_eq!(test.outcome, TestOutcome::Skipped);
    assert_eq!(summary.decision, "open");
    assert!(test.reason.contains("fewer than"), "{}", test.reason);
}

/// The analysis's drift allowance reaches the count test: its sequence is narrower at 3% than
/// at the default 15%, the summary carries the allowance in force, and the reason names the
/// setting only when it is not the default. Gauges carry none.
#[test]
fn the_drift_allowance_reaches_the_count_test() {
    let pairs: Vec<CountIncrement> = (0..20)
        .map(|k| CountIncrement {
            canary_events: (5 + k % 3) as f64,
            canary_exposure: 1000.0,
            baseline_events: (4 + k % 2) as f64,
            baseline_exposure: 1000.0,
        })
        .collect();
    let data = Ok(Increments::Count(pairs));
    let spec = |count_drift: f64| SequentialTest {
        name: "errors",
        data: &data,
        direction: Direction::Increase,
        margin: Some(Margin::Percent(20.0)),
        family: 1,
        alpha: 0.01,
        step_seconds: 60,
        count_drift,
    };
    let (default_test, default_summary) = sequential_test(&spec(PRIOR_RATE_DRIFT));
    let (calm_test, calm_summary) = sequential_test(&spec(0.03));
    assert_eq!((default_summary.drift_allowance, calm_summary.drift_allowance), (Some(0.15), Some(0.03)));
    let width = |s: &SequenceResult| s.high.unwrap() / s.low.unwrap();
    assert!(width(&calm_summary) < width(&default_summary), "{calm_summary:?} {default_summary:?}");
    assert!(calm_test.reason.contains("allowing for 3% drift a side (judgment.drift)"), "{}", calm_test.reason);
    assert!(!default_test.reason.contains("judgment.drift"), "{}", default_test.reason);
    let gauge = Ok(Increments::Gauge { differences: vec![0.1, -0.2, 0.05, 0.0, 0.15, -0.1], baseline: vec![1.0; 6] });
    let (_, summary) = sequential_test(&SequentialTest { data: &gauge, ..spec(0.03) });
    assert_eq!(summary.drift_allowance, None);
}
