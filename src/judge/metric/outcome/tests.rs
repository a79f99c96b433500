//! Unit tests of the outcome rules: the too-little-data bar, `inconclusive_beyond`, the drift
//! rule, `estimate_beyond_margin`, and what a pass rules out.

use super::*;

fn interval(test: TestKindResult, low: f64, high: f64, margin: f64) -> TestResult {
    TestResult {
        ci_low: Some(low),
        ci_high: Some(high),
        confidence: Some(0.99),
        margin: Some(margin),
        ..TestResult::new(test)
    }
}

const JUDGMENT_BAR: TooLittleDataBar =
    TooLittleDataBar { limit: BarLimit::Ratio(2.5), setting: "judgment.too_little_data_bar" };

#[test]
fn the_default_bar_decides_a_rate_interval_reaching_beyond_it() {
    let wide = interval(TestKindResult::Rate, 0.8, 2.7, 1.2);
    let found = imprecision(&wide, Direction::Increase, 0.0, None, JUDGMENT_BAR).unwrap();
    assert_eq!(
        found.inconclusive,
        Inconclusive {
            rule: InconclusiveRule::TooLittleDataBar,
            setting: Some("judgment.too_little_data_bar".into()),
            limit: Some(2.5),
            reached: Some(2.7),
        }
    );
    assert!(
        found
            .reason
            .contains("reaches ×2.7, beyond ×2.5 (the too-little-data bar, `judgment.too_little_data_bar: 2.5`)"),
        "{}",
        found.reason
    );
    // Within the bar: no longer too little data (it was under the old ×2 bar).
    assert!(
        imprecision(&interval(TestKindResult::Rate, 0.8, 2.2, 1.2), Direction::Increase, 0.0, None, JUDGMENT_BAR)
            .is_none()
    );
    // A decrease: the bad end is the low one, against 1/2.5.
    let low =
        imprecision(&interval(TestKindResult::Rate, 0.35, 1.3, 0.95), Direction::Decrease, 0.0, None, JUDGMENT_BAR);
    assert_eq!(low.unwrap().inconclusive.limit, Some(0.4));
    assert!(
        imprecision(&interval(TestKindResult::Rate, 0.45, 1.3, 0.95), Direction::Decrease, 0.0, None, JUDGMENT_BAR)
            .is_none()
    );
}

#[test]
fn a_metric_bar_replaces_the_default_and_is_named() {
    let own = TooLittleDataBar { limit: BarLimit::Ratio(2.0), setting: "too_little_data_bar" };
    let found = imprecision(&interval(TestKindResult::Rate, 0.8, 2.2, 1.2), Direction::Increase, 0.0, None, own);
    let found = found.unwrap();
    assert_eq!(found.inconclusive.setting.as_deref(), Some("too_little_data_bar"));
    assert!(found.reason.contains("`too_little_data_bar: 2`"), "{}", found.reason);
}

#[test]
fn a_gauge_bar_is_a_ratio_of_the_baseline_median_or_a_shift_in_units() {
    // Median 100, bar ×2.5: up to +150, down to -60.
    let up = interval(TestKindResult::Shift, -10.0, 160.0, 5.0);
    assert_eq!(
        imprecision(&up, Direction::Increase, 0.0, Some(100.0), JUDGMENT_BAR).unwrap().inconclusive.limit,
        Some(150.0)
    );
    assert!(
        imprecision(
            &interval(TestKindResult::Shift, -10.0, 140.0, 5.0),
            Direction::Increase,
            0.0,
            Some(100.0),
            JUDGMENT_BAR
        )
        .is_none()
    );
    let down = interval(TestKindResult::Shift, -61.0, 10.0, 5.0);
    assert_eq!(
        imprecision(&down, Direction::Decrease, 0.0, Some(100.0), JUDGMENT_BAR).unwrap().inconclusive.limit,
        Some(-60.0)
    );
    // A shift bar does not need the median, and works where the median is 0.
    let shift = TooLittleDataBar { limit: BarLimit::Shift(3.0), setting: "too_little_data_shift" };
    let near_zero = interval(TestKindResult::Shift, -1.0, 2.0, 0.0);
    assert!(imprecision(&near_zero, Direction::Increase, 0.0, Some(0.0), JUDGMENT_BAR).is_some());
    assert!(imprecision(&near_zero, Direction::Increase, 0.0, Some(0.0), shift).is_none());
    let beyond = imprecision(&interval(TestKindResult::Shift, -1.0, 4.0, 0.0), Direction::Either, 0.0, None, shift);
    assert_eq!(beyond.unwrap().inconclusive.reached, Some(4.0));
}

#[test]
fn inconclusive_beyond_is_named_when_only_the_margins_are_exceeded() {
    // Margin ×1.2, three margins: ×1.6; the interval reaches ×1.8, within the ×2.5 bar.
    let found =
        imprecision(&interval(TestKindResult::Rate, 0.8, 1.8, 1.2), Direction::Increase, 3.0, None, JUDGMENT_BAR);
    let found = found.unwrap();
    assert_eq!(found.inconclusive.rule, InconclusiveRule::MarginMultiple);
    assert_eq!(found.inconclusive.setting.as_deref(), Some("inconclusive_beyond"));
    assert!((found.inconclusive.limit.unwrap() - 1.6).abs() < 1e-12);
    // Beyond both: the too-little-data bar is named (it alone suffices).
    let both =
        imprecision(&interval(TestKindResult::Rate, 0.8, 2.6, 1.2), Direction::Increase, 3.0, None, JUDGMENT_BAR);
    assert_eq!(both.unwrap().inconclusive.rule, InconclusiveRule::TooLittleDataBar);
}

fn failed_with_drift(estimate: f64, margin: f64, drift: (f64, f64)) -> TestResult {
    TestResult {
        outcome: TestOutcome::Fail,
        estimate: Some(estimate),
        drift: Some(crate::judge::report::DriftEvidence {
            drift: 0.08,
            ci_low: drift.0,
            ci_high: drift.1,
            declared: false,
        }),
        ..interval(TestKindResult::Rate, estimate * 0.9, estimate * 1.1, margin)
    }
}

#[test]
fn a_fail_stands_only_where_the_drift_interval_confirms_it() {
    // Beyond the drift allowance: the fail stands.
    assert!(drift_unconfirmed(&failed_with_drift(2.0, 1.2, (1.5, 2.7)), Direction::Increase).is_none());
    // Within it: inconclusive by the drift rule, naming the margin and the end that reached it.
    let found = drift_unconfirmed(&failed_with_drift(1.6, 1.2, (1.1, 2.4)), Direction::Increase).unwrap();
    assert_eq!(
        found.inconclusive,
        Inconclusive { rule: InconclusiveRule::Drift, setting: None, limit: Some(1.2), reached: Some(1.1) }
    );
    assert!(
        found.reason.contains(
            "±8% (ten-minute memory), the 99% interval [×1.1, ×2.4] reaches ×1.1, not beyond the margin ×1.2"
        ),
        "{}",
        found.reason
    );
    // A decrease and `either` below: the upper end against 1 − δ.
    assert!(drift_unconfirmed(&failed_with_drift(0.8, 0.95, (0.7, 0.93)), Direction::Decrease).is_none());
    assert!(drift_unconfirmed(&failed_with_drift(0.8, 0.95, (0.7, 0.97)), Direction::Decrease).is_some());
    let below = drift_unconfirmed(&failed_with_drift(0.8, 1.05, (0.7, 0.97)), Direction::Either).unwrap();
    assert!((below.inconclusive.limit.unwrap() - 0.95).abs() < 1e-12);
    // A drift interval no wider than the test's own on that side adds nothing: the fail stands.
    let narrower = TestResult { ci_low: Some(1.0), ..failed_with_drift(1.6, 1.2, (1.1, 2.4)) };
    assert!(drift_unconfirmed(&narrower, Direction::Increase).is_none());
    // No drift interval (no dispersion), a test that did not fail, or not a rate test: no rule.
    let plain = TestResult { drift: None, ..failed_with_drift(1.6, 1.2, (1.1, 2.4)) };
    assert!(drift_unconfirmed(&plain, Direction::Increase).is_none());
    let passed = TestResult { outcome: TestOutcome::Pass, ..failed_with_drift(1.6, 1.2, (1.1, 2.4)) };
    assert!(drift_unconfirmed(&passed, Direction::Increase).is_none());
    let shift = TestResult { test: TestKindResult::Shift, ..failed_with_drift(1.6, 1.2, (1.1, 2.4)) };
    assert!(drift_unconfirmed(&shift, Direction::Increase).is_none());
}

/// A rate test that passed with an interval widened by dispersion (`effective_samples` set).
fn widened_pass(estimate: f64, margin: f64) -> TestResult {
    TestResult {
        outcome: TestOutcome::Pass,
        estimate: Some(estimate),
        effective_samples: Some(800.0),
        unwidened: Some((estimate * 0.95, estimate * 1.05)),
        ..interval(TestKindResult::Rate, estimate * 0.7, estimate * 1.4, margin)
    }
}

#[test]
fn a_widened_increase_beyond_its_margin_is_no_evidence_of_health() {
    let found = dispersed_estimate_beyond_margin(&widened_pass(1.4, 1.2), Direction::Increase).unwrap();
    assert_eq!(
        found.inconclusive,
        Inconclusive {
            rule: InconclusiveRule::EstimateBeyondMargin,
            setting: None,
            limit: Some(1.2),
            reached: Some(1.4)
        }
    );
    assert!(
        found.reason.starts_with(
            "not shown healthy: the rate ×1.4 of the baseline's lies beyond the margin ×1.2, and so does the exact binomial 80% interval [×1.33, ×1.47];"
        ),
        "{}",
        found.reason
    );
    assert!(found.reason.contains("the 99% interval [×0.98, ×1.96]"), "{}", found.reason);
    // Within the margin, or an improvement: no rule.
    assert!(dispersed_estimate_beyond_margin(&widened_pass(1.1, 1.2), Direction::Increase).is_none());
    assert!(dispersed_estimate_beyond_margin(&widened_pass(0.6, 1.2), Direction::Increase).is_none());
}

#[test]
fn a_widened_decrease_beyond_its_margin_is_no_evidence_of_health() {
    let found = dispersed_estimate_beyond_margin(&widened_pass(0.8, 0.9), Direction::Decrease).unwrap();
    assert_eq!((found.inconclusive.limit, found.inconclusive.reached), (Some(0.9), Some(0.8)));
    assert!(dispersed_estimate_beyond_margin(&widened_pass(0.95, 0.9), Direction::Decrease).is_none());
    assert!(dispersed_estimate_beyond_margin(&widened_pass(1.5, 0.9), Direction::Decrease).is_none());
}

#[test]
fn a_widened_change_either_way_beyond_its_margins_is_no_evidence_of_health() {
    // `either` holds the upper margin 1 + δ; below, the mirrored 1 − δ is the one crossed.
    let up = dispersed_estimate_beyond_margin(&widened_pass(1.3, 1.2), Direction::Either).unwrap();
    assert_eq!(up.inconclusive.limit, Some(1.2));
    let down = dispersed_estimate_beyond_margin(&widened_pass(0.7, 1.2), Direction::Either).unwrap();
    assert!((down.inconclusive.limit.unwrap() - 0.8).abs() < 1e-12);
    assert!(dispersed_estimate_beyond_margin(&widened_pass(0.85, 1.2), Direction::Either).is_none());
    assert!(dispersed_estimate_beyond_margin(&widened_pass(1.15, 1.2), Direction::Either).is_none());
}

#[test]
fn only_a_passed_rate_test_widened_by_dispersion_is_held_to_its_estimate() {
    let beyond = widened_pass(1.4, 1.2);
    // The exact binomial path (no dispersion): its pass stands.
    let exact = TestResult { effective_samples: None, ..beyond.clone() };
    assert!(dispersed_estimate_beyond_margin(&exact, Direction::Increase).is_none());
    // Beyond the margin, but the exact binomial interval reaches it: noise, not evidence.
    let noisy = TestResult { unwidened: Some((1.1, 1.7)), ..beyond.clone() };
    assert!(dispersed_estimate_beyond_margin(&noisy, Direction::Increase).is_none());
    let noisy_low = TestResult { unwidened: Some((0.6, 0.92)), ..widened_pass(0.8, 0.9) };
    assert!(dispersed_estimate_beyond_margin(&noisy_low, Direction::Decrease).is_none());
    // A fail is never touched; a skipped test is already no evidence.
    for outcome in [TestOutcome::Fail, TestOutcome::Skipped] {
        let other = TestResult { outcome, ..beyond.clone() };
        assert!(dispersed_estimate_beyond_margin(&other, Direction::Increase).is_none());
    }
    // A gauge's shift test is not this rule's (see docs/analysis.md).
    let shift = TestResult { test: TestKindResult::Shift, ..beyond };
    assert!(dispersed_estimate_beyond_margin(&shift, Direction::Increase).is_none());
}

#[test]
fn rules_out_is_the_bad_end_at_the_one_sided_level() {
    let rate = interval(TestKindResult::Rate, 0.8, 1.22, 1.2);
    let found = rules_out(std::slice::from_ref(&rate), Direction::Increase, Some(0.01)).unwrap();
    assert_eq!(
        (found.kind, found.above, found.below, found.above_relative),
        (EffectKind::Ratio, Some(1.22), None, None)
    );
    assert!((found.level - 0.995).abs() < 1e-12);
    let decrease = rules_out(std::slice::from_ref(&rate), Direction::Decrease, None).unwrap();
    assert_eq!((decrease.above, decrease.below), (None, Some(0.8)));
    let shift = interval(TestKindResult::Shift, -12.0, 23.0, 5.0);
    let either = rules_out(&[shift], Direction::Either, Some(-500.0)).unwrap();
    assert_eq!((either.above, either.below), (Some(23.0), Some(-12.0)));
    assert_eq!((either.above_relative, either.below_relative), (Some(0.046), Some(-0.024)));
    // No interval (a threshold, a spread test): nothing to state.
    let spread = interval(TestKindResult::Spread, 0.9, 1.3, 1.2);
    assert!(rules_out(&[spread], Direction::Increase, None).is_none());
}
