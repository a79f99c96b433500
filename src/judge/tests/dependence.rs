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

const CONVERSION: &str =
    "  - name: conversion\n    numerator: c\n    denominator: s\n    direction: decrease\n    margin: 5%\n";

/// Conversions of a canary at `ratio` × the baseline's, wandering slowly around it: a sinusoid of
/// relative size `wander` and a 40-minute period over the 30-minute window (one side held off for
/// long stretches), with a small alternation on top.
fn wandering(ratio: f64, wander: f64) -> Vec<f64> {
    (0..30)
        .map(|i| (120.0 * ratio * (1.0 + wander * (std::f64::consts::TAU * i as f64 / 40.0).sin())).round())
        .enumerate()
        .map(|(i, v)| v + if i % 2 == 0 { 4.0 } else { -4.0 })
        .collect()
}

fn judge_conversion(canary: &[f64]) -> JudgmentReport {
    let a = analysis(CONVERSION, "");
    let sessions = vec![1500.0; 30];
    let baseline: Vec<f64> = (0..30).map(|i| 120.0 + 5.0 * ((i % 3) as f64 - 1.0)).collect();
    run(&a, &[count(&a.metrics[0], (&baseline, &sessions), (canary, &sessions))], 30)
}

/// A canary 20% below the baseline whose conversion wanders ±15% over the window: the batch-means
/// test fails it, but allowing for per-side drift of the size the batches show, the interval
/// reaches past the margin: the data cannot separate a regression from drift (rule `drift`).
/// The same wander around a 22% drop lies beyond the drift allowance and still fails.
#[test]
fn a_fail_within_the_drift_the_data_show_is_inconclusive_drift() {
    let report = judge_conversion(&wandering(0.8, 0.15));
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    assert_eq!(report.verdict, Verdict::Inconclusive);
    let inconclusive = metric.inconclusive.as_ref().expect("a rule");
    assert_eq!(inconclusive.rule, report::InconclusiveRule::Drift);
    assert_eq!(inconclusive.limit, Some(0.95));
    let rate = &metric.tests[0];
    assert_eq!(rate.outcome, TestOutcome::Fail, "the batch-means test alone fails it: {rate:?}");
    let drift = rate.drift.expect("the drift interval");
    assert!(drift.ci_high > 0.95 && drift.ci_low < rate.ci_low.unwrap(), "{drift:?} vs {rate:?}");
    assert!(
        drift.drift >= crate::stats::dependence::DRIFT_FLOOR && drift.drift <= crate::stats::dependence::DRIFT_CEILING
    );
    assert!(
        metric.reason.starts_with("rate ×0.827 of the baseline's is within what drift of the observed size produces"),
        "{}",
        metric.reason
    );
    assert!(metric.findings.iter().any(|f| f.kind == FindingKind::Imprecise && f.message == metric.reason));
    // Read as what it is (a failed test left open by drift), not as "too little data".
    assert_eq!(metric.label(), "inconclusive: drift");

    let report = judge_conversion(&wandering(0.78, 0.15));
    let metric = classified(&report, Classification::FailLow);
    let drift = metric.tests[0].drift.expect("the drift interval");
    assert!(drift.ci_high < 0.95, "beyond the drift allowance: {drift:?}");
}

/// Counts with binomial-sized scatter and no wander show no dispersion: no drift interval, and a
/// real 15% drop fails on the exact test as before.
#[test]
fn a_binomial_series_never_triggers_the_drift_rule() {
    let scatter = |ratio: f64, seed: usize| -> Vec<f64> {
        (0..30).map(|i| (120.0 * ratio + 1.7 * (120.0 * ratio).sqrt() * wiggle(i * 3 + seed)).round()).collect()
    };
    let report = judge_conversion(&scatter(0.85, 1));
    let metric = classified(&report, Classification::FailLow);
    assert_eq!(metric.tests[0].drift, None, "{:?}", metric.tests[0]);
    assert_eq!(metric.inconclusive, None);
    let report = judge_conversion(&scatter(1.0, 2));
    assert_eq!(classified(&report, Classification::Pass).tests[0].drift, None);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// The drift rule never turns a fail into a pass: whenever the rate test fails, the metric
    /// fails or is inconclusive by the drift rule, whatever the counts and their wander.
    #[test]
    fn the_drift_rule_never_turns_a_fail_into_a_pass(
        baseline in proptest::collection::vec(20.0f64..200.0, 30),
        ratio in 0.3f64..1.2,
        wander in 0.0f64..0.5,
        period in 4.0f64..60.0,
        noise in proptest::collection::vec(-1.0f64..1.0, 30),
    ) {
        let a = analysis(CONVERSION, "");
        let sessions = vec![1500.0; 30];
        let canary: Vec<f64> = (0..30)
            .map(|i| {
                let level = baseline[i] * ratio * (1.0 + wander * (std::f64::consts::TAU * i as f64 / period).sin());
                (level + noise[i] * level.sqrt()).max(0.0).round()
            })
            .collect();
        let report = run(&a, &[count(&a.metrics[0], (&baseline, &sessions), (&canary, &sessions))], 30);
        let metric = &report.metrics[0];
        if metric.tests.iter().any(|t| t.outcome == TestOutcome::Fail) {
            proptest::prop_assert!(
                metric.classification.is_fail() || (metric.classification == Classification::NoData && by_drift_rule(metric)),
                "{:?}: {}", metric.classification, metric.reason
            );
            proptest::prop_assert_ne!(report.verdict, Verdict::Pass);
        }
        if by_drift_rule(metric) {
            proptest::prop_assert!(metric.tests[0].outcome == TestOutcome::Fail, "only a fail is re-checked");
        }
    }
}

fn by_drift_rule(metric: &report::MetricResult) -> bool {
    metric.inconclusive.as_ref().is_some_and(|i| i.rule == report::InconclusiveRule::Drift)
}

/// A rate test that could not be computed (counts beyond its bound) carries no drift interval:
/// the JSON's `drift` object is the evidence of a test that ran, never of one that was skipped.
#[test]
fn a_skipped_rate_test_reports_no_drift_interval() {
    let huge = |v: &[f64]| v.iter().map(|x| x * 1e9).collect::<Vec<f64>>();
    let a = analysis(CONVERSION, "");
    let sessions = huge(&[1500.0; 30]);
    let baseline: Vec<f64> = huge(&(0..30).map(|i| 120.0 + 5.0 * ((i % 3) as f64 - 1.0)).collect::<Vec<_>>());
    let canary = huge(&wandering(0.8, 0.15));
    let report = run(&a, &[count(&a.metrics[0], (&baseline, &sessions), (&canary, &sessions))], 30);
    let rate = &report.metrics[0].tests[0];
    assert_eq!(rate.outcome, TestOutcome::Skipped, "{rate:?}");
    assert_eq!(rate.drift, None, "{rate:?}");
    assert!(!report.metrics[0].classification.is_fail() && report.verdict != Verdict::Pass);
}

/// A metric inconclusive by the drift rule had a rate test that failed: `no_data: ignore` (which
/// leaves out metrics without data) must not leave it out, or the failed metric would let the
/// canary pass with "every metric passed".
#[test]
fn no_data_ignore_never_ignores_a_fail_the_drift_rule_left_open() {
    let metrics = format!("{CONVERSION}    no_data: ignore\n{LATENCY}");
    let a = analysis(&metrics, "");
    let sessions = vec![1500.0; 30];
    let baseline: Vec<f64> = (0..30).map(|i| 120.0 + 5.0 * ((i % 3) as f64 - 1.0)).collect();
    let latency = wiggled(30, 100.0, 1.0, 3);
    let inputs = [
        count(&a.metrics[0], (&baseline, &sessions), (&wandering(0.8, 0.15), &sessions)),
        gauge(&a.metrics[1], &latency, &wiggled(30, 100.0, 1.0, 7)),
    ];
    let report = run(&a, &inputs, 30);
    let conversion = &report.metrics[0];
    assert!(by_drift_rule(conversion), "{:?}: {}", conversion.classification, conversion.reason);
    assert_eq!(report.metrics[1].classification, Classification::Pass, "{}", report.metrics[1].reason);
    assert_eq!(report.verdict, Verdict::Inconclusive, "{}", report.reason);
    assert!(report.reason.contains("conversion"), "{}", report.reason);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// A declared `judgment.drift` only ever re-checks a fail: a fail stays a fail or becomes
    /// inconclusive (`drift`, naming the setting), never a pass; any other outcome is untouched.
    #[test]
    fn a_declared_drift_never_turns_a_fail_into_a_pass_and_never_touches_a_pass(
        ratio in 0.6f64..1.15,
        wander in 0.0f64..0.25,
        noise in proptest::collection::vec(-12.0f64..12.0, 30),
        percent in 1u32..=50,
    ) {
        let canary: Vec<f64> =
            wandering(ratio, wander).iter().zip(&noise).map(|(c, n)| (c + n).round().max(0.0)).collect();
        let undeclared = &judge_conversion(&canary).metrics[0];
        let a = analysis(CONVERSION, &format!("judgment:\n  drift: {percent}%\n"));
        let sessions = vec![1500.0; 30];
        let baseline: Vec<f64> = (0..30).map(|i| 120.0 + 5.0 * ((i % 3) as f64 - 1.0)).collect();
        let report = run(&a, &[count(&a.metrics[0], (&baseline, &sessions), (&canary, &sessions))], 30);
        let declared = &report.metrics[0];
        if undeclared.classification.is_fail() {
            let rechecked = declared.inconclusive.as_ref().is_some_and(|i| {
                i.rule == report::InconclusiveRule::Drift && i.setting.as_deref() == Some("judgment.drift")
            });
            proptest::prop_assert!(
                declared.classification == undeclared.classification || rechecked,
                "{:?} -> {:?}: {}", undeclared.classification, declared.classification, declared.reason
            );
            if rechecked {
                proptest::prop_assert!(declared.reason.contains("the declared drift (judgment.drift) could produce"));
                proptest::prop_assert_eq!(declared.classification, Classification::NoData);
            }
        } else if !by_drift_rule(undeclared) {
            // Untouched, unless the batches' own drift made it inconclusive: the declaration replaces that.
            proptest::prop_assert_eq!(declared.classification, undeclared.classification);
            proptest::prop_assert_eq!(&declared.reason, &undeclared.reason);
        }
        proptest::prop_assert!(
            declared.classification != Classification::Pass || undeclared.classification == Classification::Pass
        );
    }
}

/// A conversion 12% below the baseline's on steady data fails; declaring 8% drift a side, a gap
/// that size is within what drift produces (inconclusive, naming the setting), while a 40% drop
/// still fails.
#[test]
fn a_declared_drift_rechecks_a_fail_and_keeps_a_clear_regression() {
    let declared = analysis(CONVERSION, "judgment:\n  drift: 8%\n");
    let sessions = vec![1500.0; 30];
    let baseline: Vec<f64> = (0..30).map(|i| 120.0 + 5.0 * ((i % 3) as f64 - 1.0)).collect();
    let judge_declared = |canary: &[f64]| {
        run(&declared, &[count(&declared.metrics[0], (&baseline, &sessions), (canary, &sessions))], 30)
    };
    let modest = wandering(0.88, 0.0);
    assert!(judge_conversion(&modest).metrics[0].classification.is_fail());
    let report = judge_declared(&modest);
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, Classification::NoData, "{}", metric.reason);
    let inconclusive = metric.inconclusive.as_ref().expect("inconclusive");
    assert_eq!(
        (inconclusive.rule, inconclusive.setting.as_deref()),
        (report::InconclusiveRule::Drift, Some("judgment.drift"))
    );
    assert!(metric.reason.contains("the declared drift (judgment.drift) could produce"), "{}", metric.reason);
    assert!(metric.reason.contains("±8%"), "{}", metric.reason);
    assert_eq!(metric.tests[0].drift.map(|d| d.drift), Some(0.08));
    assert!(judge_declared(&wandering(0.6, 0.0)).metrics[0].classification.is_fail());
}

/// A feature group's conversion 12% low fails the feature (`feature_off`); declaring 8% drift a
/// side leaves that metric inconclusive (`drift`), which must not turn the run into a pass: the
/// feature's data point to a regression the judge could not confirm, so the run is inconclusive.
#[test]
fn a_declared_drift_never_turns_a_failed_feature_into_a_pass() {
    let metric = format!("{CONVERSION}    group: search\n");
    let groups = "groups:\n  - name: search\n    feature: search\n    action:\n      url: 'http://127.0.0.1:9/off'\n";
    let sessions = vec![1500.0; 30];
    let baseline: Vec<f64> = (0..30).map(|i| 120.0 + 5.0 * ((i % 3) as f64 - 1.0)).collect();
    let modest = wandering(0.88, 0.0);
    let judged = |extra: &str| {
        let a = analysis(&metric, &format!("{groups}{extra}"));
        run(&a, &[count(&a.metrics[0], (&baseline, &sessions), (&modest, &sessions))], 30)
    };
    assert_eq!(judged("").verdict, Verdict::FeatureOff);
    let report = judged("judgment:\n  drift: 8%\n");
    assert_eq!(report.metrics[0].inconclusive.as_ref().map(|i| i.rule), Some(report::InconclusiveRule::Drift));
    assert_eq!(report.verdict, Verdict::Inconclusive, "{}", report.reason);
    assert!(report.reason.contains("conversion"), "{}", report.reason);
}
