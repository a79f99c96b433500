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

/// The `drift` rule for a failed rate test on data that show dispersion, or under a declared
/// `judgment.drift`: when its interval under that per-side drift
/// ([`crate::judge::report::DriftEvidence`]) does not lie wholly
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
    let (size, setting) = if drift.declared {
        ("the declared drift (judgment.drift) could produce", Some("judgment.drift".to_string()))
    } else {
        ("drift of the observed size produces", None)
    };
    Some(Imprecision {
        reason: format!(
            "rate {} of the baseline's is within what {size}: allowing each side's rate to wander by ±{}% (ten-minute memory), the {}interval [{}, {}] reaches {}, not beyond the margin {}; the data cannot separate a regression from drift",
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
            setting,
            limit: Some(limit),
            reached: Some(reached),
        },
    })
}

/// A shift or rate test's estimate beyond its margin in the bad direction: the estimate and the
/// margin it crossed (for `either`, the mirrored margin 2·neutral − margin when below).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MarginCrossed {
    pub estimate: f64,
    pub margin: f64,
}

/// Whether the test's point estimate lies beyond its margin in the bad direction (shift and rate
/// tests; for `either`, beyond the margin or its mirror image).
pub(crate) fn estimate_beyond_margin(test: &TestResult, direction: Direction) -> Option<MarginCrossed> {
    if !matches!(test.test, TestKindResult::Shift | TestKindResult::Rate) {
        return None;
    }
    let (estimate, margin) = (test.estimate?, test.margin?);
    let neutral = if test.test == TestKindResult::Rate { 1.0 } else { 0.0 };
    let mirrored = 2.0 * neutral - margin;
    let (low_margin, high_margin) = (margin.min(mirrored), margin.max(mirrored));
    let crossed = match direction {
        Direction::Increase => (estimate > margin).then_some(margin),
        Direction::Decrease => (estimate < margin).then_some(margin),
        Direction::Either if estimate > high_margin => Some(high_margin),
        Direction::Either => (estimate < low_margin).then_some(low_margin),
    };
    crossed.map(|margin| MarginCrossed { estimate, margin })
}

/// The `estimate_beyond_margin` rule of the fixed-horizon judge: a gating rate test that did not
/// fail only because the data's dispersion widened its interval (the batch-means path:
/// `effective_samples` is set exactly when the dispersion exceeds 1), while its own point
/// estimate lies beyond the margin in the bad direction and the exact binomial 80% interval
/// (`unwidened`) lies wholly beyond it, is no evidence of health. The exact binomial path (no
/// dispersion) keeps its pass; a failed test is never touched.
pub(crate) fn dispersed_estimate_beyond_margin(test: &TestResult, direction: Direction) -> Option<Imprecision> {
    if test.test != TestKindResult::Rate || test.outcome != TestOutcome::Pass || test.effective_samples.is_none() {
        return None;
    }
    let crossed = estimate_beyond_margin(test, direction)?;
    let (exact_low, exact_high) = test.unwidened?;
    let wholly_beyond =
        if crossed.estimate > crossed.margin { exact_low > crossed.margin } else { exact_high < crossed.margin };
    if !wholly_beyond {
        return None;
    }
    let ratio = |v: f64| format!("×{}", short(v));
    let interval = match (test.ci_low, test.ci_high) {
        (Some(low), Some(high)) => {
            format!(" (the {}interval [{}, {}])", confidence_text(test), ratio(low), ratio(high))
        }
        _ => String::new(),
    };
    Some(Imprecision {
        reason: format!(
            "not shown healthy: the rate {} of the baseline's lies beyond the margin {}, and so does the exact binomial 80% interval [{}, {}]; the test did not fail only because the dispersion of the data widened its interval{interval}",
            ratio(crossed.estimate),
            ratio(crossed.margin),
            ratio(exact_low),
            ratio(exact_high)
        ),
        inconclusive: Inconclusive {
            rule: InconclusiveRule::EstimateBeyondMargin,
            setting: None,
            limit: Some(crossed.margin),
            reached: Some(crossed.estimate),
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
mod tests;

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

        /// The `estimate_beyond_margin` rule never makes a pass out of anything: it fires only on
        /// a rate test that passed, widened by dispersion, with its estimate beyond the margin in
        /// the bad direction, and what it gives is an inconclusive rule (never a fail undone).
        #[test]
        fn the_estimate_rule_only_holds_back_a_widened_pass(
            estimate in 0.0f64..5.0,
            margin in 0.5f64..2.0,
            outcome in prop::sample::select(vec![TestOutcome::Pass, TestOutcome::Fail, TestOutcome::Skipped]),
            widened in any::<bool>(),
            direction in prop::sample::select(vec![Direction::Increase, Direction::Decrease, Direction::Either]),
            exact_low in 0.5f64..1.0,
            exact_high in 1.0f64..2.0,
        ) {
            let test = TestResult {
                outcome,
                estimate: Some(estimate),
                effective_samples: widened.then_some(100.0),
                unwidened: Some((estimate * exact_low, estimate * exact_high)),
                ci_low: Some(estimate * 0.5),
                ci_high: Some(estimate * 2.0),
                margin: Some(margin),
                ..TestResult::new(TestKindResult::Rate)
            };
            let beyond = match direction {
                Direction::Increase => estimate > margin,
                Direction::Decrease => estimate < margin,
                Direction::Either => estimate > margin.max(2.0 - margin) || estimate < margin.min(2.0 - margin),
            };
            let (low, high) = (estimate * exact_low, estimate * exact_high);
            let upper = match direction {
                Direction::Increase => true,
                Direction::Decrease => false,
                Direction::Either => estimate > 1.0,
            };
            let limit = match direction {
                Direction::Either if upper => margin.max(2.0 - margin),
                Direction::Either => margin.min(2.0 - margin),
                _ => margin,
            };
            let exact_beyond = if upper { low > limit } else { high < limit };
            let found = dispersed_estimate_beyond_margin(&test, direction);
            prop_assert_eq!(found.is_some(), outcome == TestOutcome::Pass && widened && beyond && exact_beyond);
            if let Some(found) = found {
                prop_assert_eq!(found.inconclusive.rule, InconclusiveRule::EstimateBeyondMargin);
                prop_assert_eq!(found.inconclusive.reached, Some(estimate));
            }
        }
    }
}
