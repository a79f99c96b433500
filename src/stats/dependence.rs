//! Statistics for serially dependent data: the long-run (batch means) dispersion of the
//! canary/baseline split of events, its degrees of freedom, the Student-t calibration of a
//! normal-scale p-value or tail, and the variance inflation (effective sample size) of an
//! autocorrelated series. Pure functions of numbers; checked against SciPy by
//! `scripts/dependence_reference.py` (values in `tests/data/dependence_reference.json`).

use super::counts::{IntervalCount, beta_quantile, beta_reg};
use super::normal;

/// Batches the long-run dispersion of a count test is estimated from: few long batches, so that
/// drift correlated over a good part of the window shows between batches instead of hiding inside
/// them, with Student-t critical values on their few degrees of freedom.
pub const LONG_RUN_BATCHES: usize = 5;

/// Degrees of freedom beyond which the Student-t law is the normal one (to 1e-7 of a p-value).
const NORMAL_BEYOND_DF: f64 = 1.0e7;

/// The long-run variance of the canary's share of events, relative to binomial noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongRunDispersion {
    /// Variance of the canary's events given the total, over its binomial variance (at least 1).
    pub dispersion: f64,
    /// Batches with events on both sides' exposure that the estimate used.
    pub batches: usize,
    /// Degrees of freedom of the dispersed test (Welch-Satterthwaite: the binomial part is known,
    /// the excess is estimated from `batches − 1` df); `None` when the data show no dispersion
    /// (the exact binomial law holds).
    pub degrees_of_freedom: Option<f64>,
}

/// Batch means estimate of the long-run dispersion of the canary's share of events: the aligned
/// intervals are cut into `batches` contiguous batches of (nearly) equal length, and the Pearson
/// statistic of the per-batch canary events around their expected share under `fitted_ratio`
/// (the ratio of the window's rates), divided by its `batches − 1` degrees of freedom, estimates
/// how much more than binomial noise the split varies: drift that moves one side's rate for
/// minutes at a time (autocorrelated) moves whole batches. Only the excess beyond one standard
/// error of that estimate under binomial noise (√(2/df)) counts, so that clean data keep the
/// exact binomial test (no power lost to the estimate's own noise); floored at 1. With fewer than
/// 3 informative batches nothing can be estimated and the binomial law is kept.
pub fn batch_dispersion(
    canary: &[IntervalCount],
    baseline: &[IntervalCount],
    fitted_ratio: f64,
    batches: usize,
) -> LongRunDispersion {
    let split = batch_split(canary, baseline, fitted_ratio, batches);
    let informative = split.batches.len();
    let dispersion = if informative >= 3 {
        let df = (informative - 1) as f64;
        (split.pearson / df - (2.0 / df).sqrt()).max(1.0)
    } else {
        1.0
    };
    let dispersion = if dispersion.is_finite() { dispersion } else { f64::MAX };
    LongRunDispersion {
        dispersion,
        batches: informative,
        degrees_of_freedom: satterthwaite_df(dispersion, informative.saturating_sub(1)),
    }
}

/// The batches of the canary/baseline split: the Pearson statistic of the batches' canary events
/// around their expected share under the fitted ratio, and the intervals and binomial variance
/// (events · share · (1 − share)) of each batch that has events and exposure on both sides.
struct BatchSplit {
    pearson: f64,
    batches: Vec<(std::ops::Range<usize>, f64)>,
}

fn batch_split(canary: &[IntervalCount], baseline: &[IntervalCount], fitted_ratio: f64, batches: usize) -> BatchSplit {
    let length = canary.len().min(baseline.len());
    let batches = batches.clamp(1, length.max(1));
    let total = |side: &[IntervalCount]| side.iter().fold((0.0, 0.0), |(e, x), c| (e + c.events, x + c.exposure));
    let mut split = BatchSplit { pearson: 0.0, batches: Vec::with_capacity(batches) };
    for b in 0..batches {
        let range = (b * length / batches)..((b + 1) * length / batches);
        let ((x1, n1), (x2, n2)) = (total(&canary[range.clone()]), total(&baseline[range.clone()]));
        let events = x1 + x2;
        if !(events > 0.0 && n1 > 0.0 && n2 > 0.0) {
            continue;
        }
        let share = fitted_ratio * n1 / (fitted_ratio * n1 + n2);
        if !(share > 0.0 && share < 1.0) {
            continue;
        }
        let binomial = events * share * (1.0 - share);
        split.pearson += (x1 - events * share).powi(2) / binomial;
        split.batches.push((range, binomial));
    }
    split
}

/// Lowest per-side drift (relative standard deviation of one side's rate) the drift check allows
/// for once the batches show drift: the per-instance wobble of a deployment (±3%).
pub const DRIFT_FLOOR: f64 = 0.03;

/// Highest per-side drift the drift check credits from a window's batches: a relative standard
/// deviation of 10% (about ±20–30% of each side's rate at its widest over a window, beyond the
/// ±15–20% issue 12 measured on real deployments). A few batches of few events make the estimate
/// noisy; larger apparent drift is left to the batch-means test, whose interval already widens
/// for it, rather than dismissing a regression of a rare event as drift.
pub const DRIFT_CEILING: f64 = 0.10;

/// The per-side drift σ (relative standard deviation of each side's rate, the two sides drifting
/// independently, with lag-one correlation `phi` between intervals: the judge's AR(1) drift
/// model of [`super::confidence_sequence`]) that explains the batches' excess Pearson statistic:
/// under that model a batch's canary events deviate from their share by
/// Σ h_i (a_i − ā) (h_i = events · share · (1 − share) of interval i, a the difference of the two
/// sides' log drift, variance 2σ², ā its window average removed by the fitted ratio), so
/// E[Pearson] = (B − 1) + 2σ² Σ_b v_bᵀ Φ v_b / H_b. Solved for σ² with only the Pearson excess
/// beyond two standard errors of its binomial noise (2√(2(B − 1))), floored at [`DRIFT_FLOOR`] and
/// capped at [`DRIFT_CEILING`]: drift is credited only where the batches clearly show it, as 4
/// degrees of freedom read chance as drift easily (from one standard error, the 25% conversion
/// drop of `fixtures/conversion-drop.json`, built with ±3% per-side drift, read ±6.6% and could
/// not fail). `None` without that excess (the exact or batch-means test decides alone) or with
/// fewer than 3 informative batches.
pub fn batch_drift(
    canary: &[IntervalCount],
    baseline: &[IntervalCount],
    fitted_ratio: f64,
    batches: usize,
    phi: f64,
) -> Option<f64> {
    let split = batch_split(canary, baseline, fitted_ratio, batches);
    let df = split.batches.len().checked_sub(1).filter(|d| *d >= 2)? as f64;
    // The excess beyond two standard errors of Pearson under binomial noise (√(2·df) each).
    let excess = split.pearson - df - 2.0 * (2.0 * df).sqrt();
    if excess.is_nan() || excess <= 0.0 {
        return None;
    }
    let mut weights = vec![0.0; canary.len().min(baseline.len())];
    for (range, _) in &split.batches {
        for i in range.clone() {
            let (c, b) = (canary[i], baseline[i]);
            let events = c.events + b.events;
            let share = fitted_ratio * c.exposure / (fitted_ratio * c.exposure + b.exposure);
            if events > 0.0 && share > 0.0 && share < 1.0 {
                weights[i] = events * share * (1.0 - share);
            }
        }
    }
    let all: f64 = weights.iter().sum();
    let mut expected = 0.0;
    for (range, binomial) in &split.batches {
        let inside: f64 = weights[range.clone()].iter().sum();
        let deviation: Vec<f64> = weights
            .iter()
            .enumerate()
            .map(|(i, &h)| (if range.contains(&i) { h } else { 0.0 }) - inside / all * h)
            .collect();
        expected += super::confidence_sequence::ar_quadratic(&deviation, phi) / binomial;
    }
    let variance = excess / (2.0 * expected);
    (variance.is_finite() && expected > 0.0).then(|| variance.max(0.0).sqrt().clamp(DRIFT_FLOOR, DRIFT_CEILING))
}

/// Where the per-side drift σ of [`drift_rate_interval`] comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DriftSize {
    /// Read from the window's batches ([`batch_drift`]): only where they clearly show drift.
    FromBatches,
    /// Declared by the analysis (a relative standard deviation, e.g. 0.08): taken as given.
    Declared(f64),
}

/// The rate ratio's interval under the judge's per-side drift model, for data that show dispersion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftInterval {
    pub ci_low: f64,
    pub ci_high: f64,
    /// The per-side drift σ allowed for ([`batch_drift`], or the declared one).
    pub drift: f64,
    /// Variance of the canary's events under the drift model over their binomial variance, at the
    /// window's ratio.
    pub inflation: f64,
}

/// The fixed-horizon interval of the canary/baseline rate ratio (two-sided, at `confidence`) that
/// allows for per-side drift of the size the batches show ([`batch_drift`]) with the judge's
/// ten-minute memory (lag-one correlation `phi` between intervals): the ratios r whose score
/// Σ (x1 − π_i(r) s_i), over the standard deviation of binomial noise plus drift
/// (`confidence_sequence::rate_ratio_evidence`), lies within the normal critical value. Unlike the
/// batch-means test, it counts the correlation of drift between batches, which few long batches
/// cannot see. The critical value is the normal one, not Student's on the batches' few degrees of
/// freedom: σ is an allowance (credited beyond two standard errors, clamped to
/// [[`DRIFT_FLOOR`], [`DRIFT_CEILING`]]), not an estimate whose noise the interval carries.
/// [`DriftSize::Declared`] takes σ as given instead (the analysis's `judgment.drift`: neither read
/// from the batches nor clamped), whether or not the batches show drift. `None` when σ comes from
/// the batches and they do not clearly show drift, or there are no events.
pub fn drift_rate_interval(
    canary: &[IntervalCount],
    baseline: &[IntervalCount],
    confidence: f64,
    batches: usize,
    phi: f64,
    size: DriftSize,
) -> Option<DriftInterval> {
    use super::confidence_sequence::{CountIncrement, bisect_log, rate_ratio_evidence};
    let increments: Vec<CountIncrement> = canary
        .iter()
        .zip(baseline)
        .map(|(c, b)| CountIncrement {
            canary_events: c.events,
            canary_exposure: c.exposure,
            baseline_events: b.events,
            baseline_exposure: b.exposure,
        })
        .collect();
    let total = |f: fn(&CountIncrement) -> f64| increments.iter().filter(|c| c.is_valid()).map(f).sum::<f64>();
    let (x1, n1) = (total(|c| c.canary_events), total(|c| c.canary_exposure));
    let (x2, n2) = (total(|c| c.baseline_events), total(|c| c.baseline_exposure));
    if !(x1 + x2 > 0.0 && n1 > 0.0 && n2 > 0.0 && confidence > 0.0 && confidence <= 1.0) {
        return None;
    }
    let fitted = ((x1 + 0.5) / n1) / ((x2 + 0.5) / n2);
    let drift = match size {
        DriftSize::FromBatches => batch_drift(canary, baseline, fitted, batches, phi)?,
        DriftSize::Declared(sigma) if sigma.is_finite() && sigma > 0.0 => sigma,
        DriftSize::Declared(_) => return None,
    };
    let at_fitted = rate_ratio_evidence(&increments, fitted, drift, phi);
    let inflation = (at_fitted.variance / at_fitted.model_variance).max(1.0);
    let critical = normal::upper_quantile((1.0 - confidence) / 2.0);
    let z = |ratio: f64| {
        let score = rate_ratio_evidence(&increments, ratio, drift, phi);
        score.sum / score.variance.sqrt()
    };
    Some(DriftInterval {
        ci_low: bisect_log(|r| z(r) > critical),
        ci_high: bisect_log(|r| z(r) > -critical),
        drift,
        inflation,
    })
}

/// Welch-Satterthwaite degrees of freedom of a variance that is binomial (known) plus an excess
/// `dispersion − 1` (in binomial units) estimated with `df` degrees of freedom:
/// df · (φ / (φ − 1))². Infinite (`None`) at φ = 1, `df` for a dominating excess.
pub fn satterthwaite_df(dispersion: f64, df: usize) -> Option<f64> {
    if dispersion <= 1.0 || df == 0 {
        return None;
    }
    let ratio = dispersion / (dispersion - 1.0);
    let effective = df as f64 * ratio * ratio;
    (effective < NORMAL_BEYOND_DF).then_some(effective)
}

/// P(T > t) for Student's t law with `df` degrees of freedom (through the incomplete beta
/// function, as SciPy's `t.sf`); the normal tail for `None` or very many degrees of freedom.
pub fn student_t_upper_tail(t: f64, df: Option<f64>) -> f64 {
    let Some(df) = df.filter(|d| *d < NORMAL_BEYOND_DF && *d > 0.0) else { return normal::upper_tail(t) };
    if t.is_nan() {
        return f64::NAN;
    }
    let half = 0.5 * beta_reg(0.5 * df, 0.5, df / (df + t * t));
    if t >= 0.0 { half } else { 1.0 - half }
}

/// The t with P(T > t) = p (SciPy's `t.isf`), for 0 < p < 1; the normal quantile for `None`.
pub fn student_t_upper_quantile(p: f64, df: Option<f64>) -> f64 {
    let Some(df) = df.filter(|d| *d < NORMAL_BEYOND_DF && *d > 0.0) else { return normal::upper_quantile(p) };
    if !(p > 0.0 && p < 1.0) {
        return if p <= 0.0 { f64::INFINITY } else { f64::NEG_INFINITY };
    }
    if p > 0.5 {
        return -student_t_upper_quantile(1.0 - p, Some(df));
    }
    let x = beta_quantile(0.5 * df, 0.5, 2.0 * p);
    if x <= 0.0 { f64::INFINITY } else { (df * (1.0 - x) / x).sqrt() }
}

/// A one-sided p-value computed on the normal scale (the statistic's z = Φ⁻¹(1 − p)) read
/// against Student's t with `df` degrees of freedom: P(T > z). Monotone in `p`, equal to `p` for
/// `None`, and larger for a small p when the variance behind it rests on few degrees of freedom.
pub fn t_calibrated(p: f64, df: Option<f64>) -> f64 {
    if df.is_none() || !(p > 0.0 && p < 1.0) {
        return p;
    }
    student_t_upper_tail(normal::upper_quantile(p), df).clamp(0.0, 1.0)
}

/// The normal-scale tail whose critical value is Student's at `tail`: the inverse of
/// [`t_calibrated`], so that an interval built at this tail excludes exactly the nulls the
/// calibrated test rejects at `tail`.
pub fn normal_tail_for(tail: f64, df: Option<f64>) -> f64 {
    if df.is_none() || !(tail > 0.0 && tail < 1.0) {
        return tail;
    }
    normal::upper_tail(student_t_upper_quantile(tail, df))
}

/// The variance inflation of the mean of an autocorrelated series: 1 + 2 Σ_{k=1..K} w_k ρ̃_k with
/// Bartlett weights w_k = 1 − k/(K+1) and each lag-k autocorrelation ρ̂_k shrunk by one standard
/// error under independence (ρ̃_k = max(0, ρ̂_k − 1/√n)), so that white noise is not inflated by its
/// own sampling noise, except for the first `known_lags` lags, whose dependence is known from how
/// the points were made (windows sharing data): those count as measured, ρ̃_k = max(0, ρ̂_k).
/// `n / inflation` is the effective sample size. At least 1, at most n; 1 for fewer than 4 values
/// or a constant series.
pub fn autocorrelation_inflation(series: &[f64], max_lag: usize, known_lags: usize) -> f64 {
    let n = series.len();
    if n < 4 || series.iter().any(|v| !v.is_finite()) {
        return 1.0;
    }
    let mean = series.iter().sum::<f64>() / n as f64;
    let centred: Vec<f64> = series.iter().map(|v| v - mean).collect();
    let gamma = |k: usize| centred.iter().zip(&centred[k..]).map(|(a, b)| a * b).sum::<f64>() / n as f64;
    let variance = gamma(0);
    if !(variance > 0.0 && variance.is_finite()) {
        return 1.0;
    }
    let lags = max_lag.min(n - 2);
    let noise = 1.0 / (n as f64).sqrt();
    let sum: f64 = (1..=lags)
        .map(|k| {
            let weight = 1.0 - k as f64 / (lags + 1) as f64;
            let shrink = if k <= known_lags { 0.0 } else { noise };
            weight * (gamma(k) / variance - shrink).max(0.0)
        })
        .sum();
    (1.0 + 2.0 * sum).clamp(1.0, n as f64)
}

/// Lags the autocorrelation of `n` points is read to: at least `overlap` (points whose windows
/// share data are dependent at least that far) and ⌈n^(1/3)⌉, at most n/4.
pub fn autocorrelation_lags(n: usize, overlap: usize) -> usize {
    let rule = (n as f64).cbrt().ceil() as usize;
    rule.max(overlap).min((n / 4).max(1))
}

#[cfg(test)]
mod tests;
