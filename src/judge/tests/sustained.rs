//! Sustained rules: bursts off the baseline grid, runs too short to judge, rules longer than the
//! window.

use super::*;

#[test]
fn a_sustained_burst_fires_when_canary_points_are_off_the_baseline_grid_or_step() {
    let a = analysis(RULE, "");
    // 7 s off the baseline's timestamps (a real canary is scraped at another offset), points
    // every 30 s at a 60 s step, and points every 60 s under a 120 s step: all used to end in
    // "no point breached" and a pass.
    for (spacing, offset, step) in [(60, 7, 60), (30, 0, 60), (60, 0, 120)] {
        let (baseline, canary) = burst(spacing, offset);
        let window = Window::between(START, START + 1800, Duration::from_secs(step), Duration::default()).unwrap();
        let context = Context { window, point_time: PointTime::IntervalEnd, alpha: 0.01, declared_drift: None };
        let sides = crate::config::template::resolve_sides(&a, &BTreeMap::new()).unwrap();
        let source = SourceDescription { kind: "synthetic".into(), url: None, replay: None };
        let inputs = vec![count_at(&a.metrics[0], &baseline, &canary)];
        let report = judge(Judgment { analysis: &a, inputs, context, sides: &sides, source });
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
    let metric = classified(&report, Classification::NoData);
    assert!(metric.reason.contains("sustained rule `max_ratio 3 for 5m`"), "{}", metric.reason);
    let rule = metric.tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
    assert_eq!(rule.outcome, TestOutcome::Skipped, "{}", rule.reason);
    assert!(rule.sustained.as_ref().unwrap().covered_seconds < 300);
    assert_ne!(report.verdict, Verdict::Pass);
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
