//! Exact conditional comparison of two event rates judged on window totals (errors of requests,
//! checkouts of sessions): given s = x1 + x2 events, the canary's x1 is Binomial(s, π(r)) with
//! π(r) = r·n1 / (r·n1 + n2), free of the unknown common rate. p-values follow
//! `scipy.stats.binomtest(x1, s, π(r0))`; the rate-ratio interval maps Clopper-Pearson bounds of π.

use super::{Alternative, StatsError};
use serde::Serialize;
use statrs::distribution::{Binomial, Discrete, DiscreteCDF};
use statrs::function::beta::{beta_reg, inv_beta_reg, ln_beta};

/// Result of comparing the canary's event rate with the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateComparison {
    /// (x1 / n1) / (x2 / n2); infinite when the baseline had no events.
    pub rate_ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence: f64,
    /// The rate ratio under the null hypothesis (1 + margin for increase-is-bad metrics).
    pub null_ratio: f64,
    pub p_value: f64,
    pub alternative: Alternative,
}

/// Compares `canary_events` in `canary_exposure` with `baseline_events` in `baseline_exposure`
/// (exposures: requests, sessions or time; any positive scale).
pub fn compare_rates(
    canary_events: u64,
    canary_exposure: f64,
    baseline_events: u64,
    baseline_exposure: f64,
    alternative: Alternative,
    confidence: f64,
    null_ratio: f64,
) -> Result<RateComparison, StatsError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(StatsError::BadConfidence(confidence));
    }
    if !(canary_exposure > 0.0
        && baseline_exposure > 0.0
        && canary_exposure.is_finite()
        && baseline_exposure.is_finite())
    {
        return Err(StatsError::BadCounts(format!(
            "exposures must be positive and finite, got canary {canary_exposure} and baseline {baseline_exposure}"
        )));
    }
    if !(null_ratio > 0.0 && null_ratio.is_finite()) {
        return Err(StatsError::BadCounts(format!("the null rate ratio must be positive, got {null_ratio}")));
    }
    let total = canary_events + baseline_events;
    if total == 0 {
        return Err(StatsError::NoEvents);
    }
    let share = |r: f64| r * canary_exposure / (r * canary_exposure + baseline_exposure);
    let p_value = binomial_test(canary_events, total, share(null_ratio), alternative);
    let alpha = 1.0 - confidence;
    let (pi_low, pi_high) = clopper_pearson(canary_events, total, alpha, alternative);
    let to_ratio = |pi: f64| baseline_exposure / canary_exposure * pi / (1.0 - pi);
    Ok(RateComparison {
        rate_ratio: (canary_events as f64 / canary_exposure) / (baseline_events as f64 / baseline_exposure),
        ci_low: to_ratio(pi_low),
        ci_high: if pi_high >= 1.0 { f64::INFINITY } else { to_ratio(pi_high) },
        confidence,
        null_ratio,
        p_value,
        alternative,
    })
}

/// `scipy.stats.binomtest(k, n, p, alternative).pvalue`, including its two-sided rule (outcomes at
/// most as likely as the observed one, with a relative tolerance of 1e-7).
pub fn binomial_test(k: u64, n: u64, p: f64, alternative: Alternative) -> f64 {
    let law = Binomial::new(p, n).expect("0 ≤ p ≤ 1");
    let cdf = |x: u64| law.cdf(x);
    let sf = |x: u64| law.sf(x);
    let p_value = match alternative {
        Alternative::Less => cdf(k),
        Alternative::Greater => {
            if k == 0 {
                1.0
            } else {
                sf(k - 1)
            }
        }
        Alternative::TwoSided => {
            let d = law.pmf(k);
            let tolerance = 1.0 + 1e-7;
            let mean = p * n as f64;
            if k as f64 == mean {
                1.0
            } else if (k as f64) < mean {
                let ix = last_at_most(|x| -law.pmf(x), -d * tolerance, mean.ceil() as u64, n);
                let y = n - ix + u64::from(d * tolerance == law.pmf(ix));
                cdf(k) + if y == 0 { 0.0 } else { sf(n - y) }
            } else {
                let ix = last_at_most(|x| law.pmf(x), d * tolerance, 0, mean.floor() as u64);
                let y = ix.wrapping_add(1);
                let lower = if ix == u64::MAX { 0.0 } else { cdf(y - 1) };
                lower + sf(k - 1)
            }
        }
    };
    p_value.clamp(0.0, 1.0)
}

/// SciPy's `_binary_search_for_binom_tst`: for `a` increasing on [lo, hi], the largest x with
/// a(x) ≤ d (or lo − 1, wrapping, when there is none).
fn last_at_most(a: impl Fn(u64) -> f64, d: f64, mut lo: u64, mut hi: u64) -> u64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let value = a(mid);
        if value < d {
            lo = mid + 1;
        } else if value > d {
            if mid == 0 {
                return u64::MAX;
            }
            hi = mid - 1;
        } else {
            return mid;
        }
    }
    if a(lo) <= d { lo } else { lo.wrapping_sub(1) }
}

/// Clopper-Pearson interval for a binomial proportion; one-sided alternatives give one-sided
/// bounds, as `binomtest(...).proportion_ci(method="exact")` does.
pub fn clopper_pearson(k: u64, n: u64, alpha: f64, alternative: Alternative) -> (f64, f64) {
    let (k, n_f) = (k as f64, n as f64);
    let lower = |tail: f64| if k == 0.0 { 0.0 } else { beta_quantile(k, n_f - k + 1.0, tail) };
    let upper = |tail: f64| if k == n_f { 1.0 } else { beta_quantile(k + 1.0, n_f - k, 1.0 - tail) };
    match alternative {
        Alternative::TwoSided => (lower(alpha / 2.0), upper(alpha / 2.0)),
        Alternative::Greater => (lower(alpha), 1.0),
        Alternative::Less => (0.0, upper(alpha)),
    }
}

/// The x with I_x(a, b) = p: statrs's AS 64 start (good to about 1e-9) polished by Newton steps
/// on the regularised incomplete beta, which brings it to the accuracy of `beta_reg` itself.
fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    let mut x = inv_beta_reg(a, b, p);
    let log_norm = ln_beta(a, b);
    for _ in 0..4 {
        if !(x > 0.0 && x < 1.0) {
            break;
        }
        let density = ((a - 1.0) * x.ln() + (b - 1.0) * (-x).ln_1p() - log_norm).exp();
        if !(density > 0.0 && density.is_finite()) {
            break;
        }
        let next = x - (beta_reg(a, b, x) - p) / density;
        if !(next > 0.0 && next < 1.0) || next == x {
            break;
        }
        x = next;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_binomtest_examples() {
        // binomtest(3, 15, 0.1, 'greater').pvalue = 0.18406106910639114
        assert!((binomial_test(3, 15, 0.1, Alternative::Greater) - 0.184_061_069_106_391_14).abs() < 1e-12);
        // binomtest(7, 20, 0.5).pvalue = 0.26317596435546875
        assert!((binomial_test(7, 20, 0.5, Alternative::TwoSided) - 0.263_175_964_355_468_75).abs() < 1e-12);
        assert_eq!(binomial_test(10, 20, 0.5, Alternative::TwoSided), 1.0);
    }

    #[test]
    fn equal_rates_give_a_ratio_near_one() {
        let r = compare_rates(50, 10_000.0, 50, 10_000.0, Alternative::TwoSided, 0.95, 1.0).unwrap();
        assert_eq!(r.rate_ratio, 1.0);
        assert!(r.ci_low < 1.0 && r.ci_high > 1.0);
        assert!(r.p_value > 0.9);
    }

    #[test]
    fn no_events_cannot_be_compared_and_all_canary_events_are_unbounded() {
        assert_eq!(compare_rates(0, 1.0, 0, 1.0, Alternative::Greater, 0.95, 1.0).unwrap_err(), StatsError::NoEvents);
        let r = compare_rates(5, 100.0, 0, 100.0, Alternative::TwoSided, 0.95, 1.0).unwrap();
        assert_eq!((r.rate_ratio, r.ci_high), (f64::INFINITY, f64::INFINITY));
    }
}
