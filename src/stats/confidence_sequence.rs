//! Anytime-valid tests for continuous monitoring (`canary watch`, the cron watchdog): mixture
//! sequential tests and the confidence sequences they give, for a rate ratio (counts) and for a
//! shift (gauges), valid however often one looks.
//!
//! Both tests sum a score over the intervals seen so far, S_t = Σ U_i, whose increments have mean
//! ≤ 0 under the null hypothesis, and estimate its variance V_t from the data. A one-sided normal
//! mixture (Robbins 1970; Howard, Ramdas, McAuliffe and Sekhon 2021) turns (S_t, V_t) into an
//! e-process
//!
//! ```text
//! M_t = ∫₀^∞ exp(λ·S_t − λ²·V_t/2) · 2·φ(λ/ρ)/ρ dλ
//!     = 2 / (ρ·√A) · exp(S_t² / (2A)) · Φ(S_t / √A),       A = V_t + 1/ρ²
//! ```
//!
//! and Ville's inequality bounds P(M_t ever ≥ 1/α) by α over unlimited looks: for Gaussian
//! increments exactly, and for sums of weakly dependent increments with a consistent running
//! variance in the sense of the time-uniform central limit theorem (Waudby-Smith, Arbour, Sinha,
//! Kennedy and Ramdas 2021, "asymptotic confidence sequences"). The anytime p-value is 1/M_t.
//!
//! Dependence: per-side drift with autocorrelation over many minutes makes consecutive
//! increments positively correlated, and an hour holds too few independent stretches to estimate
//! a long-run variance from the data alone. V_t therefore follows the judge's drift model: per
//! interval, independent noise plus an AR(1) drift with time constant [`DRIFT_TIME_SECONDS`]
//! (correlation φ = exp(−step/τ) between neighbours), whose size is estimated from the data
//! (moment estimate, corrected for the bias of a correlated sample, shrunk towards a prior worth
//! [`PRIOR_RATE_SECONDS`] or [`PRIOR_SHIFT_SECONDS`] of data). For counts the noise part is the binomial variance of the
//! conditional test and the drift is ±σ per side on the rates (prior σ: the analysis's
//! `judgment.drift`, [`PRIOR_RATE_DRIFT`] unless set); for gauges the share of the
//! variance that drifts starts at all of it (conservative) and is learned from the lag-1
//! correlation. This is how the tests stay valid under the judge's overdispersion model
//! (checked by simulation in `scripts/sequential_reference.py` and `bench/watch_quality.py`).
//!
//! - Counts ([`rate_ratio_evidence`]): conditioned on the events s_i of both sides in interval i,
//!   the canary's events are binomial with share π_i(r) = r·n1_i / (r·n1_i + n2_i) for Poisson
//!   counts (the exact conditional binomial test's model, per interval, so the traffic split may
//!   change between looks); the score is U_i(r) = x1_i − π_i(r)·s_i. Scaled so that λ is the log
//!   rate ratio beyond the null: the drift of S per unit of binomial variance is ln(r/r0).
//! - Gauges ([`shift_log_evidence`]): U_i(Δ) = d_i − Δ for the paired per-interval differences
//!   d_i = canary_i − baseline_i, standardised by their standard deviation, so λ is the
//!   shift in standard deviations of one interval.

use super::normal;

/// Time constant of the per-side drift the variance allows for (the judge's model: rates and
/// latencies of one deployment wander with about ten minutes of memory).
pub const DRIFT_TIME_SECONDS: f64 = 600.0;

/// Weight of the prior in the gauges' drift share, in seconds of data: early looks lean on it.
pub const PRIOR_SHIFT_SECONDS: f64 = 600.0;

/// Weight of the prior in the counts' drift estimate, in seconds of data: a persistent per-side
/// offset looks like calm data in the first minutes, so the prior holds for about half an hour.
pub const PRIOR_RATE_SECONDS: f64 = 1800.0;

/// A prior's weight in intervals, for intervals whose drift correlation is `phi`.
fn prior_intervals(seconds: f64, phi: f64) -> f64 {
    let step = -DRIFT_TIME_SECONDS * phi.ln();
    if step > 0.0 { seconds / step } else { 0.0 }
}

/// Prior drift of one side's rate (relative standard deviation) for counts: the judge's model
/// of ±15–20%.
pub const PRIOR_RATE_DRIFT: f64 = 0.15;

/// The correlation of the drift between neighbouring intervals `step_seconds` apart.
pub fn drift_correlation(step_seconds: f64) -> f64 {
    (-step_seconds.max(1.0) / DRIFT_TIME_SECONDS).exp()
}

/// Σ_i Σ_j h_i·h_j·φ^|i−j|: the variance of Σ h_i·a_i for a stationary AR(1) a with unit
/// variance and lag-one correlation φ. O(n).
pub fn ar_quadratic(weights: &[f64], phi: f64) -> f64 {
    let (mut total, mut carried) = (0.0, 0.0);
    let mut previous = 0.0;
    for &h in weights {
        carried = phi * (carried + previous);
        total += h * (h + 2.0 * carried);
        previous = h;
    }
    total
}

/// How much a sample variance around the sample mean underestimates the variance of an AR(1)
/// series of `n` points: the factor 1 − 1ᵀΦ1/n² (kept at least 0.2).
fn correlated_sample_factor(n: usize, phi: f64) -> f64 {
    let n_f = n as f64;
    (1.0 - ar_quadratic(&vec![1.0; n], phi) / (n_f * n_f)).max(0.2)
}

/// Scale of the half-normal mixture over the effect λ (log rate ratio for counts, standard
/// deviations of one interval for gauges): sized for the regressions a canary exists to catch
/// (×2 to ×5 error rates, +50% latency), still detecting −30% within the hour.
pub const MIXTURE_SCALE: f64 = 1.0;

/// The natural log of the one-sided normal-mixture e-value for a score sum `sum` with variance
/// `variance`, mixture scale `rho`. 0 at the start (no data), increasing in `sum`.
pub fn log_mixture_evidence(sum: f64, variance: f64, rho: f64) -> f64 {
    let variance = variance.max(0.0);
    let a = variance + 1.0 / (rho * rho);
    let z = sum / a.sqrt();
    // ln Φ(z), without underflow for very negative z (Mills ratio asymptote).
    let log_phi = if z > -30.0 {
        normal::lower_tail(z).ln()
    } else {
        -0.5 * z * z - (-z).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    };
    std::f64::consts::LN_2 - rho.ln() - 0.5 * a.ln() + sum * sum / (2.0 * a) + log_phi
}

/// One interval of a count metric on both sides: events and exposure (requests, sessions).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CountIncrement {
    pub canary_events: f64,
    pub canary_exposure: f64,
    pub baseline_events: f64,
    pub baseline_exposure: f64,
}

impl CountIncrement {
    /// Finite, at least 0, with exposure on both sides.
    pub fn is_valid(&self) -> bool {
        let fields = [self.canary_events, self.canary_exposure, self.baseline_events, self.baseline_exposure];
        fields.iter().all(|v| v.is_finite() && *v >= 0.0) && self.canary_exposure > 0.0 && self.baseline_exposure > 0.0
    }
}

/// A score sum and its variance, with the variance a model without drift would give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreSum {
    pub sum: f64,
    pub variance: f64,
    /// The binomial (counts) or independent-intervals (gauges) variance: `variance /
    /// model_variance` is the inflation the drift adds.
    pub model_variance: f64,
}

/// The per-side drift of the rates (relative standard deviation) the counts show: the residual
/// variance of the canary's share beyond the binomial one, at the fitted ratio, shrunk towards
/// [`PRIOR_RATE_DRIFT`].
pub fn rate_drift(increments: &[CountIncrement], phi: f64) -> f64 {
    rate_drift_towards(increments, phi, PRIOR_RATE_DRIFT)
}

/// [`rate_drift`] shrunk towards `prior_drift` instead (an analysis's own drift allowance,
/// `judgment.drift`): the drift assumed until [`PRIOR_RATE_SECONDS`] of data show
/// another.
pub fn rate_drift_towards(increments: &[CountIncrement], phi: f64, prior_drift: f64) -> f64 {
    let valid: Vec<&CountIncrement> =
        increments.iter().filter(|c| c.is_valid() && c.canary_events + c.baseline_events > 0.0).collect();
    let total = |f: fn(&CountIncrement) -> f64| valid.iter().map(|c| f(c)).sum::<f64>();
    let fitted = ((total(|c| c.canary_events) + 0.5) / total(|c| c.canary_exposure))
        / ((total(|c| c.baseline_events) + 0.5) / total(|c| c.baseline_exposure));
    let (mut excess, mut scale) = (0.0, 0.0);
    for c in &valid {
        let events = c.canary_events + c.baseline_events;
        let share = fitted * c.canary_exposure / (fitted * c.canary_exposure + c.baseline_exposure);
        let h = share * (1.0 - share) * events;
        excess += (c.canary_events - share * events).powi(2) - h;
        scale += 2.0 * h * h;
    }
    let n = valid.len();
    if n == 0 || !fitted.is_finite() {
        return prior_drift;
    }
    let estimate = (excess / correlated_sample_factor(n, phi)).max(0.0);
    let mean_scale = scale / n as f64;
    let prior = prior_intervals(PRIOR_RATE_SECONDS, phi) * mean_scale;
    ((estimate + prior * prior_drift.powi(2)) / (scale + prior)).sqrt()
}

/// The score sum of the canary's share of events against the rate ratio `ratio` (canary rate /
/// baseline rate), positive when the canary has more events than `ratio` predicts, with its
/// variance: binomial plus a per-side drift `drift` of correlation `phi` between intervals.
/// Intervals without events on either side carry no information and are skipped.
pub fn rate_ratio_evidence(increments: &[CountIncrement], ratio: f64, drift: f64, phi: f64) -> ScoreSum {
    let mut sum = 0.0;
    let mut binomial = 0.0;
    let mut weights = Vec::with_capacity(increments.len());
    for c in increments.iter().filter(|c| c.is_valid()) {
        let events = c.canary_events + c.baseline_events;
        if events <= 0.0 {
            continue;
        }
        let share = ratio * c.canary_exposure / (ratio * c.canary_exposure + c.baseline_exposure);
        sum += c.canary_events - share * events;
        let h = share * (1.0 - share) * events;
        binomial += h;
        weights.push(h);
    }
    let variance = binomial + 2.0 * drift * drift * ar_quadratic(&weights, phi);
    ScoreSum { sum, variance, model_variance: binomial }
}

/// The log e-value against "the canary's rate is at most `ratio` × the baseline's" (`upper`), or
/// "at least" (`!upper`).
pub fn rate_ratio_log_evidence(increments: &[CountIncrement], ratio: f64, upper: bool, drift: f64, phi: f64) -> f64 {
    let score = rate_ratio_evidence(increments, ratio, drift, phi);
    let sign = if upper { 1.0 } else { -1.0 };
    log_mixture_evidence(sign * score.sum, score.variance, MIXTURE_SCALE)
}

/// The confidence sequence for the rate ratio at level `alpha` per end: the ratios that neither
/// one-sided test rejects. `None` without any event.
pub fn rate_ratio_sequence(increments: &[CountIncrement], alpha: f64, drift: f64, phi: f64) -> Option<(f64, f64)> {
    let events: f64 = increments.iter().filter(|c| c.is_valid()).map(|c| c.canary_events + c.baseline_events).sum();
    if events <= 0.0 || !(alpha > 0.0 && alpha < 1.0) {
        return None;
    }
    let threshold = (1.0 / alpha).ln();
    // The lower end: the largest ratio the "at most r" test still rejects (rejection recedes as r grows).
    let low = bisect_log(|r| rate_ratio_log_evidence(increments, r, true, drift, phi) >= threshold);
    let high = bisect_log(|r| rate_ratio_log_evidence(increments, r, false, drift, phi) < threshold);
    Some((low, high))
}

/// Bisection on ln r over [1e-6, 1e6] for the boundary of a predicate that holds below it and
/// fails above it; the ends stand for "0" and "∞".
pub fn bisect_log(holds_below: impl Fn(f64) -> bool) -> f64 {
    let (mut lo, mut hi) = ((1e-6f64).ln(), (1e6f64).ln());
    if !holds_below(lo.exp()) {
        return 0.0;
    }
    if holds_below(hi.exp()) {
        return f64::INFINITY;
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if holds_below(mid.exp()) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).exp()
}

/// A shift's sequential statistics: the mean paired difference, the standard deviation of one
/// interval's difference, the number of intervals, and the variance of their sum in units of one
/// interval's variance (n for independent intervals, more under drift).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftSummary {
    pub mean: f64,
    pub sd: f64,
    pub intervals: usize,
    pub sum_variance: f64,
}

impl ShiftSummary {
    /// Intervals worth of independent information: n² / the sum's variance.
    pub fn effective_intervals(&self) -> f64 {
        let n = self.intervals as f64;
        n * n / self.sum_variance.max(n)
    }
}

/// Summarises the paired differences canary − baseline (finite values only) taken `phi` apart
/// in drift correlation. The share of their variance that drifts is estimated from the lag-one
/// correlation and shrunk towards 1 (all of it: the conservative start). Points of overlapping
/// range windows are all kept: the overlap's neighbour correlation is read as drift, which is
/// conservative (thinning them to windows that share nothing was measured and dropped, see
/// BENCHMARKS.md, "Repeated looks").
pub fn shift_summary(differences: &[f64], phi: f64) -> Option<ShiftSummary> {
    let values: Vec<f64> = differences.iter().copied().filter(|d| d.is_finite()).collect();
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let dev: Vec<f64> = values.iter().map(|v| v - mean).collect();
    let gamma0 = dev.iter().map(|d| d * d).sum::<f64>() / n as f64;
    let gamma1 = dev.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / n as f64;
    let observed_share = if gamma0 > 0.0 { (gamma1 / gamma0 / phi).clamp(0.0, 1.0) } else { 1.0 };
    let prior = prior_intervals(PRIOR_SHIFT_SECONDS, phi);
    let share = (n as f64 * observed_share + prior) / (n as f64 + prior);
    let variance = gamma0 / correlated_sample_factor(n, phi);
    let unit = (1.0 - share) * n as f64 + share * ar_quadratic(&vec![1.0; n], phi);
    Some(ShiftSummary { mean, sd: variance.sqrt(), intervals: n, sum_variance: unit })
}

/// The log e-value against "the shift is at most `shift`" (`upper`) or "at least" (`!upper`).
/// A constant difference (sd 0) is evidence only when it lies strictly beyond `shift`.
pub fn shift_log_evidence(summary: &ShiftSummary, shift: f64, upper: bool) -> f64 {
    let sign = if upper { 1.0 } else { -1.0 };
    let n = summary.intervals as f64;
    let excess = sign * (summary.mean - shift) * n;
    if summary.sd <= 0.0 {
        return if excess > 0.0 { f64::INFINITY } else { 0.0 };
    }
    log_mixture_evidence(excess / summary.sd, summary.sum_variance, MIXTURE_SCALE)
}

/// The confidence sequence for the shift at level `alpha` per end.
pub fn shift_sequence(summary: &ShiftSummary, alpha: f64) -> (f64, f64) {
    let n = summary.intervals as f64;
    let v = summary.sum_variance;
    let threshold = (1.0 / alpha).ln();
    // The smallest standardised excess b with evidence ≥ threshold (monotone in b).
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while log_mixture_evidence(hi, v, MIXTURE_SCALE) < threshold && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if log_mixture_evidence(mid, v, MIXTURE_SCALE) >= threshold {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let half_width = hi * summary.sd / n;
    (summary.mean - half_width, summary.mean + half_width)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closed form equals the mixture integral computed numerically.
    #[test]
    fn the_mixture_matches_numerical_integration() {
        for &(s, v, rho) in
            &[(0.0f64, 0.0f64, 1.0f64), (3.0, 4.0, 1.0), (-2.0, 9.0, 0.5), (10.0, 20.0, 2.0), (1.0, 0.5, 1.0)]
        {
            let steps = 200_000;
            let top = 40.0 / rho.min(1.0);
            let h = top / steps as f64;
            let integral: f64 = (0..steps)
                .map(|i| {
                    let l = (i as f64 + 0.5) * h;
                    let prior = 2.0 * (-(l / rho).powi(2) / 2.0).exp() / (rho * (2.0 * std::f64::consts::PI).sqrt());
                    (l * s - l * l * v / 2.0).exp() * prior * h
                })
                .sum();
            let closed = log_mixture_evidence(s, v, rho).exp();
            assert!((closed - integral).abs() < 1e-6 * integral.max(1.0), "{s} {v} {rho}: {closed} vs {integral}");
        }
        assert!(log_mixture_evidence(0.0, 0.0, 1.0).abs() < 1e-12);
        assert!(log_mixture_evidence(-1e6, 1.0, 1.0).is_finite());
    }

    /// The values `scripts/sequential_reference.py` prints for its fixed example.
    #[test]
    fn matches_the_python_reference() {
        let phi = drift_correlation(60.0);
        let counts: Vec<CountIncrement> = (0..20)
            .map(|k| CountIncrement {
                canary_events: (3 + k % 4) as f64,
                canary_exposure: (500 + 10 * k) as f64,
                baseline_events: (2 + k % 3) as f64,
                baseline_exposure: (520 - 5 * k) as f64,
            })
            .collect();
        let drift = rate_drift(&counts, phi);
        assert!((drift - 0.116189500386).abs() < 1e-10, "{drift}");
        let log_e = rate_ratio_log_evidence(&counts, 1.2, true, drift, phi);
        assert!((log_e - -1.97568346186).abs() < 1e-9, "{log_e}");
        let differences: Vec<f64> = (0..20).map(|k| (k as f64).sin() + 0.3).collect();
        let shift = shift_summary(&differences, phi).unwrap();
        assert!((shift.sd - 1.04760479828).abs() < 1e-9, "{shift:?}");
        assert!((shift.sum_variance - 170.703442318).abs() < 1e-7, "{shift:?}");
        let log_e = shift_log_evidence(&shift, 0.0, true);
        assert!((log_e - -2.18013412936).abs() < 1e-9, "{log_e}");
    }

    #[test]
    fn the_ar_quadratic_form_equals_the_double_sum() {
        let h = [1.0, 2.0, 0.5, 3.0, 0.0, 1.5];
        let phi = 0.8f64;
        let brute: f64 = (0..h.len())
            .flat_map(|i| (0..h.len()).map(move |j| (i, j)))
            .map(|(i, j)| h[i] * h[j] * phi.powi((i as i32 - j as i32).abs()))
            .sum();
        assert!((ar_quadratic(&h, phi) - brute).abs() < 1e-12);
        assert_eq!(ar_quadratic(&[1.0; 4], 0.0), 4.0);
    }

    /// Poisson canary at 5× the baseline's rate: the "at most ×1.2" test rejects and the sequence
    /// excludes 1.2; at equal rates it covers 1.
    #[test]
    fn the_rate_ratio_sequence_covers_and_separates() {
        let five = vec![
            CountIncrement {
                canary_events: 10.0,
                canary_exposure: 500.0,
                baseline_events: 2.0,
                baseline_exposure: 500.0
            };
            10
        ];
        let phi = drift_correlation(60.0);
        let drift = rate_drift(&five, phi);
        assert!(rate_ratio_log_evidence(&five, 1.2, true, drift, phi) > (100f64).ln());
        let (low, high) = rate_ratio_sequence(&five, 0.01, drift, phi).unwrap();
        assert!(low > 1.2 && high > 5.0 && low < 5.0, "{low} {high}");
        let same = vec![
            CountIncrement {
                canary_events: 4.0,
                canary_exposure: 500.0,
                baseline_events: 4.0,
                baseline_exposure: 500.0
            };
            30
        ];
        let (low, high) = rate_ratio_sequence(&same, 0.01, rate_drift(&same, phi), phi).unwrap();
        assert!(low < 1.0 && high > 1.0 && low > 0.3 && high < 3.0, "{low} {high}");
        assert!(rate_ratio_sequence(&[], 0.01, 0.1, phi).is_none());
    }

    /// A smaller drift allowance narrows the sequence of calm counts (the prior dominates the
    /// first half hour), the default allowance is `rate_drift`'s, and with no data the drift is the
    /// allowance itself.
    #[test]
    fn the_drift_allowance_sets_the_prior_of_the_count_drift() {
        let phi = drift_correlation(60.0);
        let calm: Vec<CountIncrement> = (0..20)
            .map(|k| CountIncrement {
                canary_events: (4 + k % 3) as f64,
                canary_exposure: 1000.0,
                baseline_events: (5 - k % 2) as f64,
                baseline_exposure: 1000.0,
            })
            .collect();
        assert_eq!(rate_drift(&calm, phi), rate_drift_towards(&calm, phi, PRIOR_RATE_DRIFT));
        let (wide, narrow) = (rate_drift_towards(&calm, phi, 0.15), rate_drift_towards(&calm, phi, 0.03));
        assert!(narrow < wide && narrow < 0.06 && wide > 0.1, "{narrow} {wide}");
        let (wide_low, wide_high) = rate_ratio_sequence(&calm, 0.01, wide, phi).unwrap();
        let (low, high) = rate_ratio_sequence(&calm, 0.01, narrow, phi).unwrap();
        assert!(low > wide_low && high < wide_high && low < 1.0 && high > 1.0, "{low} {high} {wide_low} {wide_high}");
        assert_eq!(rate_drift_towards(&[], phi, 0.03), 0.03);
    }

    #[test]
    fn the_shift_sequence_narrows_with_data() {
        let wobble = |n: usize, shift: f64| -> Vec<f64> {
            (0..n).map(|i| shift + if i % 2 == 0 { 1.0 } else { -1.0 }).collect()
        };
        let phi = drift_correlation(60.0);
        let few = shift_summary(&wobble(10, 3.0), phi).unwrap();
        let many = shift_summary(&wobble(100, 3.0), phi).unwrap();
        let (a, b) = shift_sequence(&few, 0.01);
        let (c, d) = shift_sequence(&many, 0.01);
        assert!(a < 3.0 && b > 3.0 && c < 3.0 && d > 3.0);
        assert!(d - c < b - a);
        assert!(shift_log_evidence(&many, 0.0, true) > (100f64).ln());
        assert!(shift_log_evidence(&many, 5.0, true) < 0.0);
    }

    /// Count increments from (canary events, canary exposure, baseline events, baseline exposure).
    fn increments(intervals: &[(u32, u32, u32, u32)]) -> Vec<CountIncrement> {
        intervals
            .iter()
            .map(|&(x1, n1, x2, n2)| CountIncrement {
                canary_events: x1 as f64,
                canary_exposure: n1 as f64,
                baseline_events: x2 as f64,
                baseline_exposure: n2 as f64,
            })
            .collect()
    }

    proptest::proptest! {
        /// A larger drift allowance never assumes less drift, and never narrows the confidence
        /// sequence: an analysis that allows for more drift can only be slower to fail.
        #[test]
        fn a_larger_drift_allowance_never_narrows_the_sequence(
            intervals in proptest::collection::vec((0u32..50, 1u32..2000, 0u32..50, 1u32..2000), 1..60),
            smaller in 0.01f64..0.5,
            extra in 0.0f64..0.49,
        ) {
            let larger = (smaller + extra).min(0.5);
            let phi = drift_correlation(60.0);
            let counts = increments(&intervals);
            let (low_drift, high_drift) = (rate_drift_towards(&counts, phi, smaller), rate_drift_towards(&counts, phi, larger));
            proptest::prop_assert!(low_drift.is_finite() && low_drift >= 0.0 && low_drift <= high_drift * (1.0 + 1e-12));
            let Some((a, b)) = rate_ratio_sequence(&counts, 0.01, low_drift, phi) else { return Ok(()) };
            let (c, d) = rate_ratio_sequence(&counts, 0.01, high_drift, phi).unwrap();
            // Within the bisection's tolerance.
            proptest::prop_assert!(c <= a * (1.0 + 1e-9) && d >= b * (1.0 - 1e-9), "[{a}, {b}] vs [{c}, {d}]");
        }

        /// The decision and the reported sequence agree: the "at most r0" test rejects exactly
        /// when the sequence's lower end lies above r0, and the lower end never exceeds the upper.
        #[test]
        fn the_test_and_the_sequence_agree(
            intervals in proptest::collection::vec((0u32..50, 1u32..2000, 0u32..50, 1u32..2000), 1..60),
            r0 in 0.2f64..5.0,
        ) {
            let phi = drift_correlation(60.0);
            let counts = increments(&intervals);
            let drift = rate_drift(&counts, phi);
            proptest::prop_assert!(drift.is_finite() && drift >= 0.0);
            let Some((low, high)) = rate_ratio_sequence(&counts, 0.01, drift, phi) else { return Ok(()) };
            proptest::prop_assert!(low <= high, "{low} {high}");
            let rejects = rate_ratio_log_evidence(&counts, r0, true, drift, phi) >= (100f64).ln();
            // Away from the boundary (bisection tolerance), the two agree.
            if (low / r0).ln().abs() > 1e-6 {
                proptest::prop_assert_eq!(rejects, low > r0, "low {} r0 {}", low, r0);
            }
        }
    }
}
