//! What is decided once the Holm correction is done: a statistical test's outcome and reason,
//! an interval too wide to call the metric healthy, and the failure label of a failed test.
use crate::judge::Direction;
use crate::judge::report::{Classification, TestKindResult, TestOutcome, TestResult};
use crate::model::number::{plain, short, short_signed};

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

/// For a test that did not fail: why its interval is too wide to call the metric healthy, if it
/// is. Always: when the interval cannot rule out a doubling in the bad direction (rate ×2 or ×½;
/// a shift of the baseline median's size up, or half of it down), the data say nothing. With
/// `factor` > 0 also: when the interval's bad end lies beyond `factor` margins.
pub(crate) fn imprecision(
    test: &TestResult,
    direction: Direction,
    factor: f64,
    baseline_median: Option<f64>,
) -> Option<String> {
    let (low, high) = (test.ci_low?, test.ci_high?);
    let margin = test.margin.unwrap_or(0.0);
    let level = test.confidence.map(|c| format!("{}% ", plain(c * 100.0))).unwrap_or_default();
    // (highest tolerable upper end, lowest tolerable lower end, what those limits are)
    let (up, down, show): (f64, f64, fn(f64) -> String) = match test.test {
        TestKindResult::Shift => {
            let scale = baseline_median?.abs();
            let (mut up, mut down) = (scale, -scale / 2.0);
            if factor > 0.0 && margin > 0.0 {
                (up, down) = (up.min(factor * margin), down.max(-factor * margin));
            }
            (up, down, short_signed)
        }
        TestKindResult::Rate => {
            let (mut up, mut down): (f64, f64) = (2.0, 0.5);
            let delta = (margin - 1.0).abs();
            if factor > 0.0 && delta > 0.0 {
                (up, down) = (up.min(1.0 + factor * delta), down.max(1.0 - factor * delta));
            }
            (up, down, |v| format!("×{}", short(v)))
        }
        _ => return None,
    };
    let (too_wide, end, limit) = match direction {
        Direction::Increase => (high > up, high, up),
        Direction::Decrease => (low < down, low, down),
        Direction::Either if high > up => (true, high, up),
        Direction::Either => (low < down, low, down),
    };
    too_wide.then(|| {
        format!(
            "too little data to call it healthy: the {level}interval [{}, {}] reaches {}, beyond {}; a regression that large cannot be ruled out",
            show(low),
            show(high),
            show(end),
            show(limit)
        )
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
