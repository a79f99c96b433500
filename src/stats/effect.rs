//! Effect sizes of canary against baseline: ratio of means, ratio of medians and the
//! common-language effect size (the probability that a canary value exceeds a baseline value).

use super::Summary;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct EffectSizes {
    /// canary mean / baseline mean; `None` when the baseline mean is 0.
    pub mean_ratio: Option<f64>,
    /// canary median / baseline median; `None` when the baseline median is 0.
    pub median_ratio: Option<f64>,
    /// P(canary > baseline) + ½ P(canary = baseline), which is U / (m·n).
    pub common_language: f64,
}

impl EffectSizes {
    pub fn new(baseline: &Summary, canary: &Summary, canary_u: f64) -> EffectSizes {
        let ratio = |c: f64, b: f64| (b != 0.0).then(|| c / b);
        EffectSizes {
            mean_ratio: ratio(canary.mean, baseline.mean),
            median_ratio: ratio(canary.p50, baseline.p50),
            common_language: canary_u / (canary.count as f64 * baseline.count as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_probability_of_superiority() {
        let b = Summary::of_sorted(&[1.0, 2.0, 3.0]);
        let c = Summary::of_sorted(&[2.0, 4.0, 6.0]);
        let e = EffectSizes::new(&b, &c, 7.5);
        assert_eq!(e.mean_ratio, Some(2.0));
        assert_eq!(e.median_ratio, Some(2.0));
        assert!((e.common_language - 7.5 / 9.0).abs() < 1e-15);
        let zero = Summary::of_sorted(&[0.0, 0.0]);
        assert_eq!(EffectSizes::new(&zero, &c, 6.0).mean_ratio, None);
    }
}
