//! Property: for any recording-shaped input the judge returns (no panic, bounded time) and a
//! metric is classified pass only when a test or threshold evaluated it on valid data.

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
        input
            .side(side)
            .values()
            .flatten()
            .flat_map(|s| &s.points)
            .any(|p| p.time >= window.judged_from() && p.time <= window.end && !(p.value.is_finite() && p.value >= 0.0))
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
            TestKindResult::Sustained => test
                .sustained
                .as_ref()
                .is_some_and(|s| s.compared > 0 && s.covered_seconds >= s.for_seconds.min(60 * judged_minutes as u64)),
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
