//! Exact conditional comparison of two event rates judged on window totals (errors of requests,
//! checkouts of sessions): given s = x1 + x2 events, the canary's x1 is Binomial(s, π(r)) with
//! π(r) = r·n1 / (r·n1 + n2), free of the unknown common rate. p-values follow
//! `scipy.stats.binomtest(x1, s, π(r0))`; the rate-ratio interval maps Clopper-Pearson bounds of π.

use super::{Alternative, StatsError};
use serde::Serialize;
use statrs::distribution::{Binomial, Discrete, DiscreteCDF};
use statrs::function::beta::{checked_beta_reg, ln_beta};

/// The largest number of events (both sides together) the rate test accepts: a million events a
/// second for 11 days. Up to it the incomplete beta function (statrs's continued fraction below
/// [`NORMAL_BETA_ABOVE`], the normal approximation above) is accurate to about 1e-4 of a p-value;
/// beyond it the continued fraction no longer converges within its fixed iteration budget, so
/// such input is refused with an error instead of giving a number of no meaning.
pub const MAX_EVENTS: f64 = 1.0e12;

/// Bisection steps over the IEEE bit patterns of [0, 1]: enough to reach a single ulp.
const QUANTILE_STEPS: usize = 64;

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
    let Some(total) = canary_events.checked_add(baseline_events).filter(|&t| t as f64 <= MAX_EVENTS) else {
        return Err(StatsError::BadCounts(format!(
            "{canary_events} + {baseline_events} events is beyond the rate test's bound of {MAX_EVENTS:e}"
        )));
    };
    if total == 0 {
        return Err(StatsError::NoEvents);
    }
    let share = |r: f64| r * canary_exposure / (r * canary_exposure + baseline_exposure);
    let null_share = share(null_ratio);
    if !(null_share > 0.0 && null_share < 1.0) {
        return Err(StatsError::BadCounts(format!(
            "the canary's expected share of events under the null ratio {null_ratio} is {null_share}: the exposures {canary_exposure} and {baseline_exposure} are too far apart to compare"
        )));
    }
    let p_value = binomial_test(canary_events, total, null_share, alternative);
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

/// Events and exposure of one interval (one step of the window).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalCount {
    pub events: f64,
    pub exposure: f64,
}

/// The rate comparison widened for overdispersion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DispersedRateTest {
    /// (Σ canary events / Σ canary exposure) / (Σ baseline events / Σ baseline exposure).
    pub rate_ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence: f64,
    /// Estimated long-run variance inflation of the canary/baseline split of events (1 = binomial).
    pub dispersion: f64,
    /// Batches of consecutive intervals the dispersion was estimated from.
    pub blocks: usize,
    /// Degrees of freedom of the Student-t law the dispersed test is read against; `None` when the
    /// data show no dispersion and the exact binomial test and Clopper-Pearson interval apply.
    pub degrees_of_freedom: Option<f64>,
    /// Events of both sides divided by the dispersion used.
    pub effective_events: f64,
    pub p_value: f64,
}

/// Compares the canary's event rate with the baseline's over aligned intervals (both slices hold
/// the same intervals in time order), testing H0: ratio = `null_ratio` against `alternative`.
///
/// Conditioning on the total s = x1 + x2 makes the canary's share binomial with
/// π(r) = r·n1 / (r·n1 + n2) for Poisson counts; real deployments are noisier (a pod on a slow host,
/// uneven routing, each side's rates drifting on their own for minutes at a time), so the split is
/// overdispersed and its errors autocorrelated. The long-run dispersion φ is estimated by batch
/// means over `blocks` long batches of consecutive intervals
/// ([`super::dependence::batch_dispersion`]; drift shared by both sides cancels in the split). The
/// exact test is applied to the effective counts x1/φ and s/φ (φ ≥ 1) through the regularised
/// incomplete beta function, and its p-value read against Student's t with the estimate's
/// Welch-Satterthwaite degrees of freedom (few batches: heavy tails). The interval inverts the
/// same test (the tails mapped back to the normal scale), so that it excludes exactly the ratios
/// the test rejects. With no dispersion (φ = 1) this is the exact binomial test and the
/// Clopper-Pearson interval.
pub fn dispersed_rate_test(
    canary: &[IntervalCount],
    baseline: &[IntervalCount],
    null_ratio: f64,
    alternative: Alternative,
    confidence: f64,
    blocks: usize,
) -> Result<DispersedRateTest, StatsError> {
    if canary.len() != baseline.len() {
        return Err(StatsError::BadCounts(format!(
            "the intervals are not aligned: {} canary against {} baseline",
            canary.len(),
            baseline.len()
        )));
    }
    // A confidence of exactly 1 (a family level too small to be represented below 1) gives the
    // widest interval, [0, ∞]; the p-value is exact for any level.
    if !(confidence > 0.0 && confidence <= 1.0) {
        return Err(StatsError::BadConfidence(confidence));
    }
    for (side, intervals) in [("canary", canary), ("baseline", baseline)] {
        if let Some((index, bad)) = intervals
            .iter()
            .enumerate()
            .find(|(_, c)| !(c.events.is_finite() && c.events >= 0.0 && c.exposure.is_finite() && c.exposure >= 0.0))
        {
            return Err(StatsError::BadCounts(format!(
                "{side} interval {} has {} events in an exposure of {}: counts must be finite and at least 0",
                index + 1,
                bad.events,
                bad.exposure
            )));
        }
    }
    let total = |side: &[IntervalCount]| {
        side.iter().fold((0.0, 0.0), |(events, exposure), c| (events + c.events, exposure + c.exposure))
    };
    let (x1, n1) = total(canary);
    let (x2, n2) = total(baseline);
    if !(n1 > 0.0 && n2 > 0.0 && n1.is_finite() && n2.is_finite()) {
        return Err(StatsError::BadCounts(format!(
            "the exposures must be positive and finite, got canary {n1} and baseline {n2}"
        )));
    }
    if x1 + x2 <= 0.0 {
        return Err(StatsError::NoEvents);
    }
    if x1 + x2 > MAX_EVENTS {
        return Err(StatsError::BadCounts(format!(
            "{} events in all is beyond the rate test's bound of {MAX_EVENTS:e}",
            x1 + x2
        )));
    }
    // The fitted ratio, kept away from 0 and ∞ so that every block's expected share is inside (0, 1).
    let fitted = ((x1 + 0.5) / n1) / ((x2 + 0.5) / n2);
    let long_run = super::dependence::batch_dispersion(canary, baseline, fitted, blocks);
    let (dispersion, degrees_of_freedom) = (long_run.dispersion, long_run.degrees_of_freedom);
    let (x1_eff, s_eff) = (x1 / dispersion, (x1 + x2) / dispersion);
    let share0 = null_ratio * n1 / (null_ratio * n1 + n2);
    if !(share0 > 0.0 && share0 < 1.0) {
        return Err(StatsError::BadCounts(format!(
            "the canary's expected share of events under the null ratio {null_ratio} is {share0}: the exposures {n1} and {n2} are too far apart to compare"
        )));
    }
    let calibrated = |p: f64| super::dependence::t_calibrated(p, degrees_of_freedom);
    let upper_tail = || calibrated(if x1_eff <= 0.0 { 1.0 } else { beta_reg(x1_eff, s_eff - x1_eff + 1.0, share0) });
    let lower_tail =
        || calibrated(if x1_eff >= s_eff { 1.0 } else { beta_reg(s_eff - x1_eff, x1_eff + 1.0, 1.0 - share0) });
    let p_value = match alternative {
        Alternative::Greater => upper_tail(),
        Alternative::Less => lower_tail(),
        Alternative::TwoSided => (2.0 * upper_tail().min(lower_tail())).min(1.0),
    }
    .clamp(0.0, 1.0);
    if p_value.is_nan() {
        return Err(StatsError::BadCounts(format!(
            "the p-value could not be computed for {x1} canary and {x2} baseline events"
        )));
    }
    let tail = super::dependence::normal_tail_for((1.0 - confidence) / 2.0, degrees_of_freedom);
    let pi_low = if x1_eff <= 0.0 { 0.0 } else { beta_quantile(x1_eff, s_eff - x1_eff + 1.0, tail) };
    let pi_high = if x1_eff >= s_eff { 1.0 } else { beta_quantile(x1_eff + 1.0, s_eff - x1_eff, 1.0 - tail) };
    if pi_low.is_nan() || pi_high.is_nan() {
        return Err(StatsError::BadCounts(format!(
            "the rate ratio's interval could not be computed for {x1} canary and {x2} baseline events"
        )));
    }
    let to_ratio = |pi: f64| if pi >= 1.0 { f64::INFINITY } else { n2 / n1 * pi / (1.0 - pi) };
    Ok(DispersedRateTest {
        rate_ratio: (x1 / n1) / (x2 / n2),
        ci_low: to_ratio(pi_low),
        ci_high: to_ratio(pi_high),
        confidence,
        dispersion,
        blocks: long_run.batches,
        degrees_of_freedom,
        effective_events: s_eff,
        p_value,
    })
}

/// `scipy.stats.binomtest(k, n, p, alternative).pvalue`, including its two-sided rule (outcomes at
/// most as likely as the observed one, with a relative tolerance of 1e-7).
/// NaN (never a panic) when `p` is not a probability or `k` exceeds `n`.
pub fn binomial_test(k: u64, n: u64, p: f64, alternative: Alternative) -> f64 {
    let Ok(law) = Binomial::new(p, n) else { return f64::NAN };
    if k > n {
        return f64::NAN;
    }
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

/// Above this, both beta parameters being at least it, statrs's continued fraction (140 steps)
/// no longer converges and the normal approximation of the beta law is used instead (its
/// skewness is below 2/√a: about 0.002 here).
const NORMAL_BETA_ABOVE: f64 = 1.0e6;

/// The regularised incomplete beta I_x(a, b), NaN for parameters outside its domain (never a
/// panic; statrs's own iteration is bounded). For very large a and b, the normal approximation.
pub(super) fn beta_reg(a: f64, b: f64, x: f64) -> f64 {
    if a.min(b) > NORMAL_BETA_ABOVE && a.is_finite() && b.is_finite() && (0.0..=1.0).contains(&x) {
        let (mean, sd) = beta_moments(a, b);
        return super::normal::lower_tail((x - mean) / sd);
    }
    checked_beta_reg(a, b, x).unwrap_or(f64::NAN)
}

/// Mean and standard deviation of the Beta(a, b) law.
fn beta_moments(a: f64, b: f64) -> (f64, f64) {
    let total = a + b;
    (a / total, (a / total * (b / total) / (total + 1.0)).sqrt())
}

/// The x with I_x(a, b) = p, in bounded time for any input: bisection over the IEEE bit patterns
/// of [0, 1] (at most [`QUANTILE_STEPS`] evaluations, each one bounded) to the ulp where I_x
/// crosses p, then at most 4 Newton steps on the regularised incomplete beta. (statrs's
/// `inv_beta_reg` loops forever on large parameters.) NaN when the parameters are not valid.
pub(super) fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) || p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    if a.min(b) > NORMAL_BETA_ABOVE {
        let (mean, sd) = beta_moments(a, b);
        return (mean - sd * super::normal::upper_quantile(p)).clamp(0.0, 1.0);
    }
    // Non-negative doubles order like their bit patterns.
    let (mut low, mut high) = (0.0f64.to_bits(), 1.0f64.to_bits());
    for _ in 0..QUANTILE_STEPS {
        if high - low <= 1 {
            break;
        }
        let middle = low + (high - low) / 2;
        let value = beta_reg(a, b, f64::from_bits(middle));
        if value.is_nan() {
            return f64::NAN;
        }
        if value < p {
            low = middle;
        } else {
            high = middle;
        }
    }
    let mut x = f64::from_bits(high);
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

    fn intervals(pairs: &[(f64, f64)]) -> Vec<IntervalCount> {
        pairs.iter().map(|&(events, exposure)| IntervalCount { events, exposure }).collect()
    }

    #[test]
    fn without_overdispersion_the_dispersed_test_is_the_exact_binomial_test() {
        // Identical splits in every block: dispersion is clipped to 1.
        let canary = intervals(&[(3.0, 1000.0); 6]);
        let baseline = intervals(&[(1.0, 1000.0); 6]);
        let test = dispersed_rate_test(&canary, &baseline, 1.0, Alternative::Greater, 0.95, 6).unwrap();
        assert_eq!(test.dispersion, 1.0);
        let exact = binomial_test(18, 24, 0.5, Alternative::Greater);
        assert!((test.p_value - exact).abs() < 1e-12 * exact, "{} vs {exact}", test.p_value);
        assert_eq!(test.rate_ratio, 3.0);
        let classic = compare_rates(18, 6000.0, 6, 6000.0, Alternative::TwoSided, 0.95, 1.0).unwrap();
        assert!((test.ci_low - classic.ci_low).abs() < 1e-9 && (test.ci_high - classic.ci_high).abs() < 1e-9);
    }

    #[test]
    fn an_uneven_split_between_blocks_widens_the_test() {
        // The same totals (60 vs 40 events), but the split swings between blocks.
        let canary = intervals(&[(20.0, 1000.0), (2.0, 1000.0), (18.0, 1000.0), (1.0, 1000.0), (19.0, 1000.0)]);
        let baseline = intervals(&[(2.0, 1000.0), (15.0, 1000.0), (3.0, 1000.0), (18.0, 1000.0), (2.0, 1000.0)]);
        let test = dispersed_rate_test(&canary, &baseline, 1.0, Alternative::Greater, 0.95, 5).unwrap();
        assert!(test.dispersion > 5.0, "{}", test.dispersion);
        let binomial = binomial_test(60, 100, 0.5, Alternative::Greater);
        assert!(test.p_value > 0.2 && binomial < 0.05, "{} vs {binomial}", test.p_value);
        assert!(test.effective_events < 20.0);
    }

    #[test]
    fn no_events_cannot_be_compared_and_all_canary_events_are_unbounded() {
        assert_eq!(compare_rates(0, 1.0, 0, 1.0, Alternative::Greater, 0.95, 1.0).unwrap_err(), StatsError::NoEvents);
        let r = compare_rates(5, 100.0, 0, 100.0, Alternative::TwoSided, 0.95, 1.0).unwrap();
        assert_eq!((r.rate_ratio, r.ci_high), (f64::INFINITY, f64::INFINITY));
    }

    #[test]
    fn huge_counts_are_refused_or_judged_in_bounded_time() {
        // Counts near 5e18 and 1e302 spun forever inside statrs's inverse incomplete beta.
        for events in [5.0e18, 1.0e302, f64::MAX] {
            let canary = intervals(&[(events, 1.0e303); 3]);
            let baseline = intervals(&[(events / 2.0, 1.0e303); 3]);
            let error = dispersed_rate_test(&canary, &baseline, 1.2, Alternative::Greater, 0.99, 3).unwrap_err();
            assert!(error.to_string().contains("beyond the rate test's bound"), "{error}");
        }
        // Just under the bound, the test runs and gives numbers.
        let canary = intervals(&[(1.0e11, 1.0e16); 3]);
        let baseline = intervals(&[(1.0e11, 1.0e16); 3]);
        let test = dispersed_rate_test(&canary, &baseline, 1.2, Alternative::Greater, 0.99, 3).unwrap();
        assert!(test.p_value.is_finite() && test.ci_low.is_finite() && test.ci_high.is_finite());
        assert!(compare_rates(u64::MAX, 1.0, 1, 1.0, Alternative::Greater, 0.95, 1.0).is_err());
        assert!(compare_rates(5, 1.0e308, 5, 1.0, Alternative::Greater, 0.95, 2.0).is_err(), "no panic on NaN");
    }

    #[test]
    fn negative_and_non_finite_counts_are_errors() {
        for bad in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let good = intervals(&[(5.0, 100.0); 3]);
            let canary = intervals(&[(5.0, 100.0), (bad, 100.0), (5.0, 100.0)]);
            let error = dispersed_rate_test(&canary, &good, 1.0, Alternative::Greater, 0.95, 3).unwrap_err();
            assert!(error.to_string().contains("canary interval 2"), "{error}");
            let baseline = intervals(&[(5.0, bad), (5.0, 100.0), (5.0, 100.0)]);
            let error = dispersed_rate_test(&good, &baseline, 1.0, Alternative::Greater, 0.95, 3).unwrap_err();
            assert!(error.to_string().contains("baseline interval 1"), "{error}");
        }
    }

    #[test]
    fn a_confidence_of_one_gives_the_widest_interval_and_an_exact_p_value() {
        let canary = intervals(&[(30.0, 1000.0); 6]);
        let baseline = intervals(&[(10.0, 1000.0); 6]);
        let test = dispersed_rate_test(&canary, &baseline, 1.0, Alternative::Greater, 1.0, 6).unwrap();
        assert_eq!((test.ci_low, test.ci_high), (0.0, f64::INFINITY));
        assert!(test.p_value > 0.0 && test.p_value < 1e-9, "{}", test.p_value);
    }

    #[test]
    fn the_beta_quantile_inverts_the_incomplete_beta() {
        for (a, b, p) in
            [(3.0, 5.0, 0.025), (0.5, 0.5, 0.5), (1.0e6, 2.0e6, 1e-12), (4.0e11, 6.0e11, 0.975), (3.0, 1.0e11, 0.995)]
        {
            let x = beta_quantile(a, b, p);
            assert!(x > 0.0 && x < 1.0, "{a} {b} {p}: {x}");
            let back = beta_reg(a, b, x);
            assert!((back - p).abs() <= 1e-6 * p.max(1e-3), "{a} {b} {p}: I = {back}");
        }
        assert!(beta_quantile(-1.0, 1.0, 0.5).is_nan());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The interval and the test agree on drifting data too: a null just below the interval's
        /// lower bound is rejected at the interval's tail, one just above it is not.
        #[test]
        fn the_interval_excludes_exactly_the_ratios_the_test_rejects(
            canary in proptest::collection::vec(0.0f64..300.0, 10..40),
            drift in proptest::collection::vec(0.5f64..1.5, 10..40),
        ) {
            let n = canary.len().min(drift.len());
            let canary_counts: Vec<IntervalCount> =
                (0..n).map(|i| IntervalCount { events: (canary[i] * drift[i]).round(), exposure: 1000.0 }).collect();
            let baseline_counts: Vec<IntervalCount> =
                (0..n).map(|i| IntervalCount { events: canary[(i + 3) % n].round(), exposure: 1000.0 }).collect();
            let confidence = 0.98;
            let Ok(test) = dispersed_rate_test(&canary_counts, &baseline_counts, 1.0, Alternative::Greater, confidence, 5)
            else { return Ok(()) };
            proptest::prop_assume!(test.ci_low > 1e-6 && test.ci_low.is_finite());
            let tail = (1.0 - confidence) / 2.0;
            let p_at = |ratio: f64| {
                dispersed_rate_test(&canary_counts, &baseline_counts, ratio, Alternative::Greater, confidence, 5)
                    .unwrap()
                    .p_value
            };
            proptest::prop_assert!(p_at(test.ci_low * 0.999) <= tail * 1.001, "below {}: {}", test.ci_low, p_at(test.ci_low * 0.999));
            proptest::prop_assert!(p_at(test.ci_low * 1.001) >= tail * 0.999, "above {}: {}", test.ci_low, p_at(test.ci_low * 1.001));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// For any finite counts the rate test returns (bounded loops everywhere) and its numbers
        /// are either meaningful or an error: never a NaN p-value or interval.
        #[test]
        fn any_finite_counts_give_a_result_or_an_error(
            pairs in proptest::collection::vec(
                (proptest::prelude::prop_oneof![0.0..1e3, 0.0..1e18, -1e3..0.0, proptest::num::f64::NORMAL],
                 proptest::prelude::prop_oneof![1e-3..1e6, proptest::num::f64::NORMAL, proptest::prelude::Just(0.0)]),
                2..12),
            ratio in 0.5f64..2.0,
            confidence in proptest::prelude::prop_oneof![0.5f64..0.999_999, proptest::prelude::Just(1.0)],
        ) {
            let half = pairs.len() / 2;
            let canary = intervals(&pairs[..half]);
            let baseline = intervals(&pairs[half..2 * half]);
            for alternative in [Alternative::Greater, Alternative::Less, Alternative::TwoSided] {
                if let Ok(test) = dispersed_rate_test(&canary, &baseline, ratio, alternative, confidence, 10) {
                    proptest::prop_assert!((0.0..=1.0).contains(&test.p_value));
                    proptest::prop_assert!(!test.ci_low.is_nan() && !test.ci_high.is_nan());
                    proptest::prop_assert!(canary.iter().chain(&baseline).all(|c| c.events >= 0.0 && c.exposure >= 0.0));
                }
            }
        }
    }
}
