//! The rule for a location shift with a confidence interval: fail when the whole interval lies
//! beyond the practical margin in the bad direction, inconclusive when the sample sizes cannot
//! reach the requested confidence, pass otherwise. An improvement never fails.

use crate::model::{
    Direction, Verdict,
    number::{plain, signed},
};
use crate::stats::ShiftEstimate;
use serde::Serialize;

/// The decision on a shift, with the reason a person reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShiftDecision {
    pub verdict: Verdict,
    pub reason: String,
}

/// Applies the rule to `shift` (canary − baseline) with the margin already in the metric's units.
pub fn judge_shift(shift: &ShiftEstimate, direction: Direction, margin: f64) -> ShiftDecision {
    let level = percent(shift.confidence);
    let interval = format!("[{}, {}]", signed(shift.ci_low), signed(shift.ci_high));
    if !shift.reachable {
        return ShiftDecision {
            verdict: Verdict::Inconclusive,
            reason: format!(
                "too few values to reach {level} confidence: the interval spans every difference {interval}"
            ),
        };
    }
    // A pass needs an interval and a margin that are numbers (an overflowing median or difference
    // gives NaN, which no comparison below would catch).
    if shift.ci_low.is_nan() || shift.ci_high.is_nan() || margin.is_nan() {
        return ShiftDecision {
            verdict: Verdict::Inconclusive,
            reason: format!("the interval of the shift {interval} or the margin {margin} could not be computed"),
        };
    }
    let above = shift.ci_low > margin;
    let below = shift.ci_high < -margin;
    let bad = match direction {
        Direction::Increase => above,
        Direction::Decrease => below,
        Direction::Either => above || below,
    };
    let margin_text = if margin == 0.0 { "0".to_string() } else { format!("±{}", plain(margin)) };
    if bad {
        let side = if above { "above" } else { "below" };
        return ShiftDecision {
            verdict: Verdict::Fail,
            reason: format!("the whole {level} interval of the shift {interval} lies {side} the margin {margin_text}"),
        };
    }
    let improved = match direction {
        Direction::Increase => below,
        Direction::Decrease => above,
        Direction::Either => false,
    };
    let reason = if improved {
        format!(
            "the canary improved: the {level} interval of the shift {interval} lies beyond the margin {margin_text} in the good direction"
        )
    } else {
        format!("no regression beyond the margin {margin_text}: the {level} interval of the shift is {interval}")
    };
    ShiftDecision { verdict: Verdict::Pass, reason }
}

fn percent(confidence: f64) -> String {
    format!("{}%", plain(confidence * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Margin;
    use crate::stats::MethodUsed;

    fn shift(low: f64, high: f64) -> ShiftEstimate {
        ShiftEstimate {
            estimate: (low + high) / 2.0,
            ci_low: low,
            ci_high: high,
            confidence: 0.95,
            achieved_confidence: 0.95,
            reachable: true,
            interval_method: MethodUsed::Asymptotic,
        }
    }

    #[test]
    fn fails_only_when_the_whole_interval_is_beyond_the_margin_in_the_bad_direction() {
        assert_eq!(judge_shift(&shift(3.0, 9.0), Direction::Increase, 2.0).verdict, Verdict::Fail);
        assert_eq!(judge_shift(&shift(1.0, 9.0), Direction::Increase, 2.0).verdict, Verdict::Pass);
        assert_eq!(judge_shift(&shift(2.0, 9.0), Direction::Increase, 2.0).verdict, Verdict::Pass);
        assert_eq!(judge_shift(&shift(-9.0, -3.0), Direction::Decrease, 2.0).verdict, Verdict::Fail);
        assert_eq!(judge_shift(&shift(-9.0, -3.0), Direction::Either, 2.0).verdict, Verdict::Fail);
        assert_eq!(judge_shift(&shift(3.0, 9.0), Direction::Either, 2.0).verdict, Verdict::Fail);
    }

    #[test]
    fn an_improvement_never_fails() {
        let d = judge_shift(&shift(-9.0, -3.0), Direction::Increase, 0.0);
        assert_eq!(d.verdict, Verdict::Pass);
        assert!(d.reason.starts_with("the canary improved"), "{}", d.reason);
        assert_eq!(judge_shift(&shift(3.0, 9.0), Direction::Decrease, 0.0).verdict, Verdict::Pass);
    }

    #[test]
    fn unreachable_confidence_is_inconclusive() {
        let mut s = shift(-5.0, 5.0);
        s.reachable = false;
        assert_eq!(judge_shift(&s, Direction::Increase, 0.0).verdict, Verdict::Inconclusive);
    }

    #[test]
    fn an_interval_or_margin_that_is_not_a_number_is_inconclusive() {
        for (low, high, margin) in [(f64::NAN, 1.0, 0.0), (-1.0, f64::NAN, 0.0), (-1.0, 1.0, f64::NAN)] {
            let d = judge_shift(&shift(low, high), Direction::Increase, margin);
            assert_eq!(d.verdict, Verdict::Inconclusive, "{}", d.reason);
        }
    }

    #[test]
    fn margins_parse_and_scale() {
        assert_eq!("20".parse::<Margin>(), Ok(Margin::Absolute(20.0)));
        assert_eq!(" 5% ".parse::<Margin>(), Ok(Margin::Percent(5.0)));
        assert_eq!(Margin::Percent(5.0).amount(-200.0), 10.0);
        assert!("-1".parse::<Margin>().is_err());
        assert!("abc%".parse::<Margin>().unwrap_err().contains("`abc%`"));
    }
}
