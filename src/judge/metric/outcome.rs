//! What is decided once the Holm correction is done: a statistical test's outcome and reason,
//! an interval too wide to call the metric healthy (and the bar that decided), what a metric's
//! interval rules out, and the failure label of a failed test.
use crate::config::{BarLimit, TooLittleDataBar};
use crate::judge::report::{
    Classification, EffectKind, Inconclusive, InconclusiveRule, RulesOut, TestKindResult, TestOutcome, TestResult,
};
use crate::model::{
    Direction,
    number::{plain, short, short_signed},
};

/// Decides the outcome and reason of a statistical test from its Holm-adjusted p-value.
pub(crate) fn settle_test(test: &mut TestResult, adjusted: f64, alpha: f64, direction: Direction) {
    test.adjusted_p_value = Some(adjusted);
    let failed = adjusted <= alpha;
    test.outcome = if failed { TestOutcome::Fail } else { TestOutcome::Pass };
    let evidence = format!(
        "p = {}, Holm-adjusted {} {} {}",
        crate::model::number::p_value(test.p_value.unwrap_or(1.0)),
        crate::model::number::p_value(adjusted),
        if failed { "≤" } else { ">" },
        plain(alpha)
    );
    let interval = |format_value: &dyn Fn(f64) -> String| match (test.ci_low, test.ci_high) {
        (Some(low), Some(high)) => format!(" [{}, {}]", format_value(low), format_value(high)),
        _ => String::new(),
    };
    let margin = test.margin.unwrap_or(0.0);
    let (signed, plain) = (short_signed, short);
    test.reason = match test.test {
        TestKindResult::Shift => {
            let estimate = test.estimate.map(signed).unwrap_or_else(|| "?".into());
            let margin_text = if margin == 0.0 { "0".into() } else { format!("±{}", plain(margin)) };
            let improved = match direction {
                Direction::Increase => test.ci_high.is_some_and(|h| h < 0.0),
                Direction::Decrease => test.ci_low.is_some_and(|l| l > 0.0),
                Direction::Either => false,
            };
            if failed {
                format!("shift {estimate}{} beyond the margin {margin_text} ({evidence})", interval(&signed))
            } else if improved {
                format!("shift {estimate}{}: an improvement ({evidence})", interval(&signed))
            } else {
                format!(
                    "shift {estimate}{}, no significant change beyond the margin {margin_text} ({evidence})",
                    interval(&signed)
                )
            }
        }
        TestKindResult::Spread => {
            let estimate = test.estimate.map(|e| format!("×{}", plain(e))).unwrap_or_else(|| "?".into());
            let side = match direction {
                Direction::Increase => "wider",
                Direction::Decrease => "narrower",
                Direction::Either => "different",
            };
            if failed {
                format!(
                    "spread {estimate} of the baseline's: significantly {side} beyond ×{} ({evidence})",
                    plain(margin)
                )
            } else {
                format!("spread {estimate} of the baseline's, not significantly {side} ({evidence})")
            }
        }
        TestKindResult::Rate => {
            let ratio = |v: f64| format!("×{}", plain(v));
            let estimate = test.estimate.map(ratio).unwrap_or_else(|| "?".into());
            let improved = match direction {
                Direction::Increase => test.ci_high.is_some_and(|h| h < 1.0),
                Direction::Decrease => test.ci_low.is_some_and(|l| l > 1.0),
                Direction::Either => false,
            };
            if failed {
                format!(
                    "rate {estimate}{} of the baseline's, beyond the margin ×{} ({evidence})",
                    interval(&ratio),
                    plain(margin)
                )
            } else if improved {
                format!("rate {estimate}{} of the baseline's: an improvement ({evidence})", interval(&ratio))
            } else {
                format!(
                    "rate {estimate}{} of the baseline's, no significant change beyond ×{} ({evidence})",
                    interval(&ratio),
                    plain(margin)
                )
            }
        }
        TestKindResult::Threshold | TestKindResult::Sustained => test.reason.clone(),
    };
}

/// Why a test that did not fail leaves its metric inconclusive: the reason line and which bar
/// decided.
pub(crate) struct Imprecision {
    pub reason: String,
    pub inconclusive: Inconclusive,
}

/// For a test that did not fail: why its interval is too wide to call the metric healthy, if it
/// is. Always: when the interval's bad end reaches beyond the metric's "too little data" `bar` (a
/// ratio: rate ×bar or ×1/bar, a gauge's shift of (bar − 1) baseline medians up or (1 − 1/bar)
/// down; or a gauge's shift in its units). With `factor` > 0 also: when the bad end lies beyond
/// `factor` margins.
pub(crate) fn imprecision(
    test: &TestResult,
    direction: Direction,
    factor: f64,
    baseline_median: Option<f64>,
    bar: TooLittleDataBar,
) -> Option<Imprecision> {
    let (low, high) = (test.ci_low?, test.ci_high?);
    let margin = test.margin.unwrap_or(0.0);
    let level = confidence_text(test);
    // (highest tolerable upper end, lowest tolerable lower end) of the bar and of `factor` margins
    type Limits = (f64, f64);
    let ((up, down), margins, show): (Limits, Option<Limits>, fn(f64) -> String) = match test.test {
        TestKindResult::Shift => {
            let limits = match bar.limit {
                BarLimit::Ratio(ratio) => {
                    let scale = baseline_median?.abs();
                    ((ratio - 1.0) * scale, -(1.0 - 1.0 / ratio) * scale)
                }
                BarLimit::Shift(shift) => (shift, -shift),
            };
            let margins = (factor > 0.0 && margin > 0.0).then_some((factor * margin, -factor * margin));
            (limits, margins, short_signed)
        }
        TestKindResult::Rate => {
            // Validation gives count metrics only ratio bars; a shift is read as 1 + shift.
            let ratio = match bar.limit {
                BarLimit::Ratio(ratio) => ratio,
                BarLimit::Shift(shift) => 1.0 + shift,
            };
            let delta = (margin - 1.0).abs();
            let margins = (factor > 0.0 && delta > 0.0).then_some((1.0 + factor * delta, 1.0 - factor * delta));
            ((ratio, 1.0 / ratio), margins, |v| format!("×{}", short(v)))
        }
        _ => return None,
    };
    // The bad end, and whether it lies beyond an upper limit (else a lower one).
    let (end, upper) = match direction {
        Direction::Increase => (high, true),
        Direction::Decrease => (low, false),
        Direction::Either if high > up.min(margins.map_or(up, |m| m.0)) => (high, true),
        Direction::Either => (low, false),
    };
    let beyond = |(up, down): (f64, f64)| if upper { end > up } else { end < down };
    let pick = |(up, down): (f64, f64)| if upper { up } else { down };
    let (rule, setting, limit) = if beyond((up, down)) {
        (InconclusiveRule::TooLittleDataBar, bar.setting, pick((up, down)))
    } else if let Some(margins) = margins.filter(|m| beyond(*m)) {
        (InconclusiveRule::MarginMultiple, "inconclusive_beyond", pick(margins))
    } else {
        return None;
    };
    let which = match rule {
        InconclusiveRule::MarginMultiple => {
            format!("{} margins, `inconclusive_beyond: {}`", plain(factor), plain(factor))
        }
        _ => match bar.limit {
            BarLimit::Ratio(ratio) => format!("the too-little-data bar, `{setting}: {}`", plain(ratio)),
            BarLimit::Shift(shift) => format!("the too-little-data bar, `{setting}: {}`", plain(shift)),
        },
    };
    Some(Imprecision {
        reason: format!(
            "too little data to call it healthy: the {level}interval [{}, {}] reaches {}, beyond {} ({which}); a regression that large cannot be ruled out",
            show(low),
            show(high),
            show(end),
            show(limit)
        ),
        inconclusive: Inconclusive { rule, setting: Some(setting.to_string()), limit: Some(limit), reached: Some(end) },
    })
}

/// The `drift` rule for a failed rate test on data that show dispersion: when its interval under
/// the per-side drift the data show ([`crate::judge::report::DriftEvidence`]) does not lie wholly
/// beyond the margin in the failing direction, the data cannot separate a regression from drift
/// and the metric is inconclusive. A fail the drift interval confirms stands; never a pass.
pub(crate) fn drift_unconfirmed(test: &TestResult, direction: Direction) -> Option<Imprecision> {
    if test.test != TestKindResult::Rate || test.outcome != TestOutcome::Fail {
        return None;
    }
    let (drift, margin) = (test.drift?, test.margin?);
    let up = match direction {
        Direction::Increase => true,
        Direction::Decrease => false,
        Direction::Either => test.estimate.is_some_and(|e| e > 1.0),
    };
    // For `either`, the margin held is the upper null ratio 1 + δ; the lower one is 1 − δ.
    let limit = if direction == Direction::Either && !up { (2.0 - margin).max(f64::MIN_POSITIVE) } else { margin };
    let (confirmed, reached) =
        if up { (drift.ci_low > limit, drift.ci_low) } else { (drift.ci_high < limit, drift.ci_high) };
    // Only drift that widens the test's own interval on that side can undo its fail (a fail that
    // Holm decided with an interval already reaching the margin stands on its own evidence).
    let own = if up { test.ci_low } else { test.ci_high };
    let widened = own.is_none_or(|own| if up { reached < own } else { reached > own });
    if confirmed || !widened {
        return None;
    }
    let ratio = |v: f64| format!("×{}", short(v));
    Some(Imprecision {
        reason: format!(
            "rate {} of the baseline's is within what drift of the observed size produces: allowing each side's rate to wander by ±{}% (ten-minute memory), the {}interval [{}, {}] reaches {}, not beyond the margin {}; the data cannot separate a regression from drift",
            test.estimate.map(ratio).unwrap_or_else(|| "?".into()),
            short(drift.drift * 100.0),
            confidence_text(test),
            ratio(drift.ci_low),
            ratio(drift.ci_high),
            ratio(reached),
            ratio(limit)
        ),
        inconclusive: Inconclusive {
            rule: InconclusiveRule::Drift,
            setting: None,
            limit: Some(limit),
            reached: Some(reached),
        },
    })
}

/// "99.33% " for a test with a confidence, else nothing.
fn confidence_text(test: &TestResult) -> String {
    test.confidence.map(|c| format!("{}% ", plain(c * 100.0))).unwrap_or_default()
}

/// What a metric's data rule out: the bad end(s) of the first gating shift or rate test with an
/// interval (see [`RulesOut`]).
pub(crate) fn rules_out(tests: &[TestResult], direction: Direction, baseline_median: Option<f64>) -> Option<RulesOut> {
    let test = tests
        .iter()
        .find(|t| t.gating && matches!(t.test, TestKindResult::Shift | TestKindResult::Rate) && t.ci_low.is_some())?;
    let (low, high, confidence) = (test.ci_low?, test.ci_high?, test.confidence?);
    let (above, below) = match direction {
        Direction::Increase => (Some(high), None),
        Direction::Decrease => (None, Some(low)),
        Direction::Either => (Some(high), Some(low)),
    };
    let kind = if test.test == TestKindResult::Rate { EffectKind::Ratio } else { EffectKind::Shift };
    let relative = |end: Option<f64>| {
        let median = baseline_median.filter(|m| *m != 0.0 && m.is_finite())?;
        end.filter(|_| kind == EffectKind::Shift).map(|end| end / median.abs())
    };
    Some(RulesOut {
        test: test.test,
        kind,
        above,
        below,
        above_relative: relative(above),
        below_relative: relative(below),
        level: (1.0 + confidence) / 2.0,
    })
}

/// The failure label of a failed test.
pub(crate) fn failure_class(test: &TestResult, direction: Direction) -> Classification {
    let high = match test.test {
        TestKindResult::Threshold => test.statistic.zip(test.threshold).is_some_and(|(v, bound)| v > bound),
        TestKindResult::Sustained => test.sustained.as_ref().is_some_and(|s| s.bound.is_upper()),
        _ => match direction {
            Direction::Increase => true,
            Direction::Decrease => false,
            Direction::Either => test.estimate.is_some_and(|e| match test.test {
                TestKindResult::Shift => e > 0.0,
                _ => e > 1.0,
            }),
        },
    };
    if high { Classification::FailHigh } else { Classification::FailLow }
}

#[cfg(test)]
mod tests {
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
            drift: Some(crate::judge::report::DriftEvidence { drift: 0.08, ci_low: drift.0, ci_high: drift.1 }),
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
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A rate interval passes the bar exactly when its bad end lies within it, a larger bar
        /// never turns a pass into too little data, and what a pass rules out is that bad end.
        #[test]
        fn the_bar_is_the_interval_end_and_monotonic(
            low in 0.01f64..1.5,
            width in 0.0f64..5.0,
            bar in 1.01f64..10.0,
            more in 0.0f64..10.0,
            decrease in any::<bool>(),
        ) {
            let high = low + width;
            let test = TestResult {
                ci_low: Some(low),
                ci_high: Some(high),
                confidence: Some(0.99),
                margin: Some(1.1),
                ..TestResult::new(TestKindResult::Rate)
            };
            let direction = if decrease { Direction::Decrease } else { Direction::Increase };
            let at = |ratio: f64| {
                let bar = TooLittleDataBar { limit: BarLimit::Ratio(ratio), setting: "too_little_data_bar" };
                imprecision(&test, direction, 0.0, None, bar)
            };
            let within = if decrease { low >= 1.0 / bar } else { high <= bar };
            prop_assert_eq!(at(bar).is_none(), within);
            if at(bar).is_none() {
                prop_assert!(at(bar + more).is_none());
            }
            let found = rules_out(std::slice::from_ref(&test), direction, None).unwrap();
            prop_assert_eq!(if decrease { found.below } else { found.above }, Some(if decrease { low } else { high }));
        }
    }
}
