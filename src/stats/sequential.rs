//! Repeated looks at accumulating data (`canary watch`): alpha spending, so that judging the same
//! canary again and again over its planned lifetime keeps the overall false-alarm level.
//!
//! The O'Brien-Fleming-type spending function of Lan and DeMets (1983), α(t) = 2 − 2Φ(z_{1−α/2}/√t)
//! for information time t ∈ (0, 1], is spent in increments: look k is tested at level
//! α(t_k) − α(t_{k−1}). By the union bound the chance that any look raises a false alarm is at
//! most Σ increments = α, whatever the dependence between looks and whatever the test
//! (`reference/algorithms.md` §6a, "conservative version"). Early looks get a tiny share and
//! catch only severe regressions; the last look gets most of it.

use super::normal;

/// α(t): the level spent by information time `t` (clamped to [0, 1]) for an overall level `alpha`.
pub fn obrien_fleming_spent(alpha: f64, t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    if t <= 0.0 {
        return 0.0;
    }
    if t >= 1.0 {
        return alpha;
    }
    let z = normal::upper_quantile(alpha / 2.0);
    (2.0 * normal::upper_tail(z / t.sqrt())).min(alpha)
}

/// The level of the look at information time `t`, after a previous look at `previous`.
pub fn look_level(alpha: f64, previous: f64, t: f64) -> f64 {
    (obrien_fleming_spent(alpha, t) - obrien_fleming_spent(alpha, previous)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_alpha_by_the_end_and_little_early() {
        let alpha = 0.01;
        assert!((obrien_fleming_spent(alpha, 1.0) - alpha).abs() < 1e-15);
        assert_eq!(obrien_fleming_spent(alpha, 0.0), 0.0);
        // 12 equal looks: the increments add up to alpha and grow.
        let levels: Vec<f64> = (1..=12).map(|k| look_level(alpha, (k - 1) as f64 / 12.0, k as f64 / 12.0)).collect();
        assert!((levels.iter().sum::<f64>() - alpha).abs() < 1e-12);
        assert!(levels.windows(2).all(|w| w[0] <= w[1]), "{levels:?}");
        assert!(levels[0] < 1e-12 && levels[11] > 0.002, "{levels:?}");
        // Half-way, O'Brien-Fleming has spent 2Φ̄(2.576·√2) ≈ 2.7e-4 of 0.01.
        assert!((obrien_fleming_spent(alpha, 0.5) - 2.7e-4).abs() < 0.2e-4, "{}", obrien_fleming_spent(alpha, 0.5));
    }
}
