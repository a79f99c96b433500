//! The Hodges-Lehmann shift (median of all m·n differences canary − baseline) and its
//! distribution-free confidence interval [D(k), D(mn+1−k)], without materialising the differences.
//!
//! The three order statistics (the median, or the two middle ones, and both interval ends) are
//! selected together by `difference_selection`, which shares its passes over the data between
//! them. Memory stays O(m + n); the result is always one of the computed differences
//! (`reference/algorithms.md` §3a explains why the count is exact).

use super::difference_selection::order_statistics;
use super::mann_whitney::ExactNull;
use super::{StatsError, normal};
use serde::Serialize;

/// The shift estimate and its interval.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ShiftEstimate {
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// The requested two-sided confidence.
    pub confidence: f64,
    /// The coverage the chosen order statistics actually give (≥ the requested one when exact).
    pub achieved_confidence: f64,
    /// Whether the requested confidence can be reached at all with these sample sizes; when it
    /// cannot, the interval spans every difference.
    pub reachable: bool,
    /// How k was chosen: from the exact null law or its normal approximation.
    pub interval_method: super::MethodUsed,
}

/// Computes the shift and its two-sided interval at `confidence` for ascending, finite, non-empty
/// samples. `exact` (the law of U for these sizes) gives the exact order statistic k; without it
/// the normal approximation of k is used. A `confidence` of exactly 1 (a level too close to 1 to
/// be represented below it) gives the widest interval, every difference (`reachable` false).
pub fn hodges_lehmann(
    canary: &[f64],
    baseline: &[f64],
    confidence: f64,
    exact: Option<&ExactNull>,
) -> Result<ShiftEstimate, StatsError> {
    if !(confidence > 0.0 && confidence <= 1.0) {
        return Err(StatsError::BadConfidence(confidence));
    }
    if canary.is_empty() {
        return Err(StatsError::EmptySample("canary"));
    }
    if baseline.is_empty() {
        return Err(StatsError::EmptySample("baseline"));
    }
    let pairs = canary.len() as u64 * baseline.len() as u64;
    let half_alpha = (1.0 - confidence) / 2.0;
    let (k, achieved, interval_method) = match exact {
        Some(law) => {
            let k = law.lower_quantile(half_alpha);
            let achieved = if k == 0 { 0.0 } else { 1.0 - 2.0 * law.cdf(k - 1) };
            (k, achieved, super::MethodUsed::Exact)
        }
        None => {
            let (m, n) = (canary.len() as f64, baseline.len() as f64);
            let sd = (m * n * (m + n + 1.0) / 12.0).sqrt();
            let z = normal::upper_quantile(half_alpha);
            let k = (m * n / 2.0 + 0.5 - z * sd).floor().max(0.0) as u64;
            let achieved =
                if k == 0 { 0.0 } else { 1.0 - 2.0 * normal::lower_tail((k as f64 - 0.5 - m * n / 2.0) / sd) };
            (k, achieved, super::MethodUsed::Asymptotic)
        }
    };
    let reachable = k >= 1;
    let k = k.max(1);
    // The three order statistics share their passes over the data (`difference_selection`).
    let middle = pairs.div_ceil(2);
    let ranks = [k, middle, if pairs.is_multiple_of(2) { middle + 1 } else { middle }, pairs + 1 - k];
    let [ci_low, lower_mid, upper_mid, ci_high] = order_statistics(canary, baseline, &ranks)[..] else {
        unreachable!("one value per rank")
    };
    let estimate = if pairs.is_multiple_of(2) { lower_mid.midpoint(upper_mid) } else { lower_mid };
    Ok(ShiftEstimate {
        estimate: estimate + 0.0,
        ci_low,
        ci_high,
        confidence,
        achieved_confidence: if reachable { achieved } else { 1.0 },
        reachable,
        interval_method,
    })
}

/// The k-th smallest difference canary[i] − baseline[j] (1-based).
pub fn kth_difference(canary: &[f64], baseline: &[f64], k: u64) -> f64 {
    order_statistics(canary, baseline, &[k])[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The estimate of differences beyond half of `f64::MAX` is their finite midpoint, not an
    /// overflow to infinity (which the JSON report would write as `null`).
    #[test]
    fn the_estimate_of_huge_differences_does_not_overflow() {
        let baseline = sorted(&[1e308, 1.7e308, 1.79e308, -1.79e308, -1e308]);
        let canary = sorted(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let hl = hodges_lehmann(&canary, &baseline, 0.95, None).unwrap();
        let d = all_differences(&canary, &baseline);
        assert_eq!(hl.estimate, -1e308, "{:?}", &d[14..16]);
    }

    fn all_differences(c: &[f64], b: &[f64]) -> Vec<f64> {
        let mut d: Vec<f64> = c.iter().flat_map(|&x| b.iter().map(move |&y| x - y)).collect();
        d.sort_by(|a, b| a.partial_cmp(b).unwrap());
        d
    }

    /// A small deterministic generator for test data (SplitMix64).
    struct Mix(u64);
    impl Mix {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn sample(rng: &mut Mix, len: usize, kind: u32) -> Vec<f64> {
        (0..len)
            .map(|_| match kind {
                0 => rng.next() * 10.0 - 5.0,
                1 => (rng.next() * 6.0).floor(),
                2 => 1e6 + rng.next() * 1e-3,
                3 => {
                    if rng.next() < 0.5 {
                        -0.0
                    } else {
                        -1e-300 * rng.next()
                    }
                }
                _ => (rng.next() * 40.0 - 20.0).exp() * if rng.next() < 0.5 { -1.0 } else { 1.0 },
            })
            .collect()
    }

    #[test]
    fn selection_equals_sorting_all_differences() {
        let mut rng = Mix(7);
        for case in 0..300 {
            let kind = case % 5;
            let m = 1 + (rng.next() * 40.0) as usize;
            let n = 1 + (rng.next() * 40.0) as usize;
            let c = sorted(&sample(&mut rng, m, kind));
            let b = sorted(&sample(&mut rng, n, kind));
            let d = all_differences(&c, &b);
            for k in [1, d.len() as u64, d.len().div_ceil(2) as u64, 1 + (rng.next() * d.len() as f64) as u64] {
                let k = k.min(d.len() as u64);
                let got = kth_difference(&c, &b, k);
                assert_eq!(got, d[k as usize - 1] + 0.0, "case {case} kind {kind} k {k}");
            }
        }
    }

    #[test]
    fn selection_on_large_samples_matches_brute_force() {
        // Large enough that the bracket is narrowed before collecting (m·n ≫ 65 536).
        let mut rng = Mix(11);
        for kind in 0..5 {
            let c = sorted(&sample(&mut rng, 700, kind));
            let b = sorted(&sample(&mut rng, 500, kind));
            let d = all_differences(&c, &b);
            for k in [1u64, 17, 8_750, 175_000, 175_001, 349_999, 350_000] {
                assert_eq!(kth_difference(&c, &b, k), d[k as usize - 1] + 0.0, "kind {kind} k {k}");
            }
            let hl = hodges_lehmann(&c, &b, 0.95, None).unwrap();
            assert_eq!(hl.estimate, (d[174_999] + d[175_000]) / 2.0 + 0.0, "kind {kind}");
        }
    }

    #[test]
    fn permeability_interval_matches_exact_order_statistics() {
        let x = sorted(&[0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]);
        let y = sorted(&[1.15, 0.88, 0.90, 0.74, 1.21]);
        let law = ExactNull::new(10, 5).unwrap();
        let hl = hodges_lehmann(&x, &y, 0.95, Some(&law)).unwrap();
        assert!((hl.estimate - 0.305).abs() < 1e-12);
        assert!((hl.ci_low - -0.15).abs() < 1e-12 && (hl.ci_high - 0.76).abs() < 1e-12, "{hl:?}");
        assert!((hl.achieved_confidence - 0.960).abs() < 5e-4);
    }

    #[test]
    fn unreachable_confidence_is_reported() {
        let law = ExactNull::new(3, 3).unwrap();
        let hl = hodges_lehmann(&[1.0, 2.0, 3.0], &[1.5, 2.5, 3.5], 0.95, Some(&law)).unwrap();
        assert!(!hl.reachable);
        assert_eq!((hl.ci_low, hl.ci_high), (-2.5, 1.5));
    }

    #[test]
    fn interval_covers_a_known_shift_at_about_the_nominal_rate() {
        let mut rng = Mix(3);
        let normal = |rng: &mut Mix| {
            // Box-Muller
            let (u1, u2) = (rng.next().max(1e-300), rng.next());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        for (m, n, exact) in [(12usize, 9usize, true), (60, 80, false)] {
            let law = exact.then(|| ExactNull::new(m, n).unwrap());
            let (mut covered, runs) = (0, 2000);
            for _ in 0..runs {
                let c = sorted(&(0..m).map(|_| normal(&mut rng) + 1.5).collect::<Vec<_>>());
                let b = sorted(&(0..n).map(|_| normal(&mut rng)).collect::<Vec<_>>());
                let hl = hodges_lehmann(&c, &b, 0.95, law.as_ref()).unwrap();
                covered += usize::from(hl.ci_low <= 1.5 && 1.5 <= hl.ci_high);
            }
            let rate = covered as f64 / runs as f64;
            // Binomial sd at 2000 runs is 0.005; the achieved level is at least 0.95.
            assert!((0.935..=0.975).contains(&rate), "{m}x{n}: coverage {rate}");
        }
    }

    #[test]
    fn a_confidence_of_one_spans_every_difference() {
        let (c, b) = ([1.0, 2.0, 3.0, 4.0], [0.5, 1.5, 2.5]);
        let law = ExactNull::new(4, 3).unwrap();
        for exact in [Some(&law), None] {
            let hl = hodges_lehmann(&c, &b, 1.0, exact).unwrap();
            assert_eq!((hl.ci_low, hl.ci_high, hl.reachable), (-1.5, 3.5, false));
        }
    }
}
