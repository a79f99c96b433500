//! A Kayenta-compatible judge: Spinnaker Kayenta's NetflixACAJudge (the `MannWhitneyClassifier`
//! per metric, then the `WeightedSumScorer` and `ThresholdScoreClassifier`), ported as specified
//! in Kayenta's source (`kayenta-judge`, `kayenta-mannwhitney`) and checked against Kayenta's own
//! test suites (`tests/data/kayenta-judge-fixtures.json`). Pure: no I/O.
//!
//! Per metric: NaN `remove` or `replace` (with 0.0), optional Tukey-fence outlier removal
//! (widened by P1/P99, `outliers.strategy: remove`), summary statistics, then the short-circuits
//! (an empty side, identical data, a single distinct value), R's `wilcox.test(x, y, conf.int = TRUE,
//! exact = FALSE, correct = TRUE)` interval and location estimate (normal approximation, roots
//! found with a port of R's `zeroin`, tolerance 1e-4), the mean-ratio or CLES effect size, and the
//! decision rule: High when the interval's lower end exceeds `tolerance × |estimate|` (0.25), Low
//! when its upper end lies below the negative of that, each only when the effect size agrees.
//!
//! **The one deliberate difference.** When both sides are constant but different, Kayenta adds
//! Gaussian noise N(0, (value·1e-5)²) to every point from an *unseeded* random generator, so the
//! same data can be judged differently from one run to the next. Here the noise has the same
//! distribution but comes from a fixed-seed generator ([`NOISE_SEED`], SplitMix64 with
//! Box–Muller), drawn for the canary first and then the baseline: the same data always gives
//! the same result, and the result is one that Kayenta itself could have given.

use statrs::function::erf::erfc_inv;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The judge's fixed tolerance (Kayenta hard-codes it since PR #356).
pub const TOLERANCE: f64 = 0.25;
/// The judge's fixed confidence level.
pub const CONFIDENCE: f64 = 0.98;
/// Seed of the noise added to constant-but-different sides ("KAYN"); Kayenta's is unseeded.
pub const NOISE_SEED: u64 = 0x4B41_594E;

const ZEROIN_TOL: f64 = 1e-4;
const ZEROIN_MAXIT: usize = 1000;
const EPSILON: f64 = f64::EPSILON;

/// Which change fails the metric (`analysisConfigurations.canary.direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KayentaDirection {
    Increase,
    Decrease,
    #[default]
    Either,
}

/// `nanStrategy`: drop NaNs (default) or replace them by 0.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NanStrategy {
    #[default]
    Remove,
    Replace,
}

/// `effectSize.measure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EffectMeasure {
    #[default]
    MeanRatio,
    Cles,
}

/// Options of one metric, Kayenta's defaults in [`Default`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub direction: KayentaDirection,
    pub nan_strategy: NanStrategy,
    pub critical: bool,
    pub must_have_data: bool,
    pub tolerance: f64,
    pub confidence: f64,
    pub effect_measure: EffectMeasure,
    /// `None`: 1.0 for meanRatio, 0.5 for CLES.
    pub allowed_increase: Option<f64>,
    pub allowed_decrease: Option<f64>,
    pub critical_increase: Option<f64>,
    pub critical_decrease: Option<f64>,
    /// `outliers.strategy: remove`: Tukey's fences widened by P1/P99.
    pub remove_outliers: bool,
    /// `outliers.outlierFactor` (the IQR multiplier).
    pub outlier_factor: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            direction: KayentaDirection::Either,
            nan_strategy: NanStrategy::Remove,
            critical: false,
            must_have_data: false,
            tolerance: TOLERANCE,
            confidence: CONFIDENCE,
            effect_measure: EffectMeasure::MeanRatio,
            allowed_increase: None,
            allowed_decrease: None,
            critical_increase: None,
            critical_decrease: None,
            remove_outliers: false,
            outlier_factor: 3.0,
        }
    }
}

/// Kayenta's per-metric classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KayentaClass {
    Pass,
    High,
    Low,
    Nodata,
    NodataFailMetric,
    Error,
}

impl KayentaClass {
    /// Kayenta's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KayentaClass::Pass => "Pass",
            KayentaClass::High => "High",
            KayentaClass::Low => "Low",
            KayentaClass::Nodata => "Nodata",
            KayentaClass::NodataFailMetric => "NodataFailMetric",
            KayentaClass::Error => "Error",
        }
    }

    /// Parses Kayenta's spelling.
    pub fn parse(text: &str) -> Option<KayentaClass> {
        Some(match text {
            "Pass" => KayentaClass::Pass,
            "High" => KayentaClass::High,
            "Low" => KayentaClass::Low,
            "Nodata" => KayentaClass::Nodata,
            "NodataFailMetric" => KayentaClass::NodataFailMetric,
            "Error" => KayentaClass::Error,
            _ => return None,
        })
    }
}

/// `{min, max, mean, std, count}` of one side (sample standard deviation; all zeros when empty).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    pub count: usize,
}

/// The Mann-Whitney part of a classification, when the test ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub ci_lower: f64,
    pub ci_upper: f64,
    /// The shift canary − baseline (≈ Hodges–Lehmann).
    pub estimate: f64,
    /// The effect size used by the gate (the mean ratio, or CLES).
    pub effect: f64,
}

/// One metric's classification.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub classification: KayentaClass,
    pub critical: bool,
    pub reason: String,
    /// mean(canary)/mean(baseline), Kayenta's "deviation": NaN when either mean is 0; 1.0 on the
    /// short-circuits; absent on Error.
    pub ratio: Option<f64>,
    pub interval: Option<Interval>,
    pub experiment: Stats,
    pub control: Stats,
    /// Set when both sides were constant but different and the seeded noise was added.
    pub noise_added: bool,
    /// Why classification failed (Error only).
    pub error: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// Transforms, statistics, detectors

/// Drops NaNs.
pub fn remove_nans(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| !v.is_nan()).collect()
}

/// Replaces NaNs by `with`.
pub fn replace_nans(values: &[f64], with: f64) -> Vec<f64> {
    values.iter().map(|&v| if v.is_nan() { with } else { v }).collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Summary statistics as Kayenta reports them.
pub fn summary_stats(values: &[f64]) -> Stats {
    let n = values.len();
    if n == 0 {
        return Stats::default();
    }
    let m = mean(values);
    let std = if n > 1 { (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    Stats {
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: m,
        std,
        count: n,
    }
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut s = values.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    s
}

/// The R-7 percentile (linear interpolation, `h = (n − 1)·p/100`), `p` in 0..=100.
pub fn percentile_r7(values: &[f64], p: f64) -> f64 {
    let s = sorted(values);
    percentile_sorted(&s, p)
}

fn percentile_sorted(s: &[f64], p: f64) -> f64 {
    if s.is_empty() {
        return f64::NAN;
    }
    let h = (s.len() - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    if lo + 1 >= s.len() {
        return s[s.len() - 1];
    }
    s[lo] + (h - lo as f64) * (s[lo + 1] - s[lo])
}

/// Indices of the outliers by Tukey's fences `[Q1 − k·IQR, Q3 + k·IQR]`; with `reduce_sensitivity`
/// (what the judge uses) the fences are widened to at least P1 and P99.
pub fn iqr_outliers(values: &[f64], factor: f64, reduce_sensitivity: bool) -> Vec<usize> {
    if values.is_empty() {
        return Vec::new();
    }
    let s = sorted(values);
    let (q1, q3) = (percentile_sorted(&s, 25.0), percentile_sorted(&s, 75.0));
    let iqr = q3 - q1;
    let (mut lower, mut upper) = (q1 - factor * iqr, q3 + factor * iqr);
    if reduce_sensitivity {
        lower = lower.min(percentile_sorted(&s, 1.0));
        upper = upper.max(percentile_sorted(&s, 99.0));
    }
    values.iter().enumerate().filter(|(_, v)| **v < lower || **v > upper).map(|(i, _)| i).collect()
}

/// Indices of the points more than `k` population standard deviations from the mean.
pub fn ksigma_outliers(values: &[f64], k: f64) -> Vec<usize> {
    if values.is_empty() {
        return Vec::new();
    }
    let m = mean(values);
    let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    values.iter().enumerate().filter(|(_, v)| (**v - m).abs() > k * sd).map(|(i, _)| i).collect()
}

/// mean(experiment)/mean(control); NaN when either mean is exactly 0.
pub fn mean_ratio(experiment: &[f64], control: &[f64]) -> f64 {
    let (e, c) = (mean(experiment), mean(control));
    if e == 0.0 || c == 0.0 { f64::NAN } else { e / c }
}

/// Vargha–Delaney A: P(E > C) + ½·P(E = C), from pooled average ranks.
pub fn cles(experiment: &[f64], control: &[f64]) -> f64 {
    let (m, n) = (experiment.len() as f64, control.len() as f64);
    let pooled: Vec<f64> = experiment.iter().chain(control).copied().collect();
    let (ranks, _) = average_ranks(&pooled);
    let rank_sum: f64 = ranks[..experiment.len()].iter().sum();
    (2.0 * rank_sum - m * (m + 1.0)) / (2.0 * m * n)
}

/// Cohen's d with the pooled standard deviation (in Kayenta's code, unused by the judge).
pub fn cohen_d(a: &[f64], b: &[f64]) -> f64 {
    let (sa, sb) = (summary_stats(a), summary_stats(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled = (((na - 1.0) * sa.std.powi(2) + (nb - 1.0) * sb.std.powi(2)) / (na + nb - 2.0)).sqrt();
    (sa.mean - sb.mean) / pooled
}

/// Average ranks (1-based, ties share their mean rank) and Σ(t³ − t) over the tie groups.
fn average_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].partial_cmp(&values[b]).unwrap_or(Ordering::Equal));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0; // mean of i+1 ..= j
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    (ranks, ties)
}

// ------------------------------------------------------------------------------------------------
// Mann-Whitney interval and estimate (R's wilcox.test, normal approximation)

/// W(μ, z_q) = (dz − corr)/σ − z_q on the ranks of (x − μ, y): a decreasing step function of μ.
/// Errs when every observation is tied (σ = 0).
pub fn wilcoxon_diff(x: &[f64], y: &[f64], mu: f64, zq: f64) -> Result<f64, String> {
    let (m, n) = (x.len() as f64, y.len() as f64);
    let pooled: Vec<f64> = x.iter().map(|v| v - mu).chain(y.iter().copied()).collect();
    let (ranks, ties) = average_ranks(&pooled);
    let dz = ranks[..x.len()].iter().sum::<f64>() - m * (m + 1.0) / 2.0 - m * n / 2.0;
    let corr = if dz == 0.0 { 0.0 } else { 0.5 * dz.signum() };
    let sigma = ((m * n / 12.0) * ((m + n + 1.0) - ties / ((m + n) * (m + n - 1.0)))).sqrt();
    if sigma == 0.0 || sigma.is_nan() {
        return Err("cannot compute confidence interval when all observations are tied".into());
    }
    Ok((dz - corr) / sigma - zq)
}

/// "Equals 0 within 1 ulp", as R's zeroin tests f(a) and f(b).
fn is_zero(value: f64) -> bool {
    value.abs() <= 5e-324
}

/// R's `R_zeroin2` (stats/src/zeroin.c): Brent's root finder on [ax, bx] with f(ax), f(bx) known.
pub fn zeroin<F>(mut f: F, ax: f64, bx: f64, fa: f64, fb: f64, tol: f64, maxit: usize) -> Result<f64, String>
where
    F: FnMut(f64) -> Result<f64, String>,
{
    let (mut a, mut b, mut fa, mut fb) = (ax, bx, fa, fb);
    let (mut c, mut fc) = (a, fa);
    if is_zero(fa) {
        return Ok(a);
    }
    if is_zero(fb) {
        return Ok(b);
    }
    let mut remaining = maxit + 1;
    while remaining > 0 {
        remaining -= 1;
        let prev_step = b - a;
        if fc.abs() < fb.abs() {
            // make b the best approximation
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol_act = 2.0 * EPSILON * b.abs() + tol / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || fb == 0.0 {
            return Ok(b);
        }
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                // linear interpolation (secant)
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // inverse quadratic interpolation
                let qq = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * qq * (qq - t1) - (b - a) * (t1 - 1.0));
                q = (qq - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < (0.75 * cb * q - (tol_act * q).abs() / 2.0) && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        a = b;
        fa = fb;
        b += new_step;
        fb = f(b)?;
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            c = a;
            fc = fa;
        }
    }
    Ok(b) // not converged: R returns the last approximation too
}

/// Φ⁻¹(α/2) for `confidence` = 1 − α: negative (−2.326348 for 0.98).
pub fn z_quantile(confidence: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(1.0 - confidence)
}

/// `(ci_lower, ci_upper, estimate)` of the shift x − y (x: canary, y: baseline), exactly as
/// Kayenta (R's `wilcox.test` with `exact = FALSE, correct = TRUE`). When the confidence cannot be
/// reached the interval falls back to an end of `[min(x) − max(y), max(x) − min(y)]`, silently.
pub fn mann_whitney_interval(x: &[f64], y: &[f64], confidence: f64) -> Result<(f64, f64, f64), String> {
    if x.is_empty() || y.is_empty() {
        return Err("empty sample".into());
    }
    let z = z_quantile(confidence);
    let (sx, sy) = (summary_stats(x), summary_stats(y));
    let mu_min = sx.min - sy.max;
    let mu_max = sx.max - sy.min;
    let root = |zq: f64| -> Result<f64, String> {
        let f = |mu: f64| wilcoxon_diff(x, y, mu, zq);
        let (f_lower, f_upper) = (f(mu_min)?, f(mu_max)?);
        if f_lower <= 0.0 {
            return Ok(mu_min);
        }
        if f_upper >= 0.0 {
            return Ok(mu_max);
        }
        zeroin(f, mu_min, mu_max, f_lower, f_upper, ZEROIN_TOL, ZEROIN_MAXIT)
    };
    let ci_lower = root(-z)?;
    let ci_upper = root(z)?;
    let f0 = |mu: f64| wilcoxon_diff(x, y, mu, 0.0);
    let estimate = zeroin(f0, mu_min, mu_max, f0(mu_min)?, f0(mu_max)?, ZEROIN_TOL, ZEROIN_MAXIT)?;
    Ok((ci_lower, ci_upper, estimate))
}

// ------------------------------------------------------------------------------------------------
// The classifier

/// SplitMix64 with Box–Muller: the seeded stand-in for Kayenta's unseeded Gaussian noise.
struct Noise {
    state: u64,
    spare: Option<f64>,
}

impl Noise {
    fn new(seed: u64) -> Noise {
        Noise { state: seed, spare: None }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    fn standard_normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

fn distinct_count(values: &[f64]) -> usize {
    let s = sorted(values);
    let mut count = 0;
    for (i, v) in s.iter().enumerate() {
        if i == 0 || *v != s[i - 1] {
            count += 1;
        }
    }
    count
}

/// Classifies one metric as Kayenta's `MannWhitneyClassifier` does (inputs may hold NaNs).
pub fn classify(name: &str, experiment: &[f64], control: &[f64], options: &Options) -> Classified {
    let cles_measure = options.effect_measure == EffectMeasure::Cles;
    let default_threshold = if cles_measure { 0.5 } else { 1.0 };
    let allowed_increase = options.allowed_increase.unwrap_or(default_threshold);
    let allowed_decrease = options.allowed_decrease.unwrap_or(default_threshold);
    let critical_increase = options.critical_increase.unwrap_or(default_threshold);
    let critical_decrease = options.critical_decrease.unwrap_or(default_threshold);

    let transform = |values: &[f64]| -> Vec<f64> {
        let cleaned = match options.nan_strategy {
            NanStrategy::Remove => remove_nans(values),
            NanStrategy::Replace => replace_nans(values, 0.0),
        };
        if !options.remove_outliers {
            return cleaned;
        }
        let outliers = iqr_outliers(&cleaned, options.outlier_factor, true);
        cleaned.into_iter().enumerate().filter(|(i, _)| outliers.binary_search(i).is_err()).map(|(_, v)| v).collect()
    };
    let mut e = transform(experiment);
    let mut c = transform(control);
    let mut result = Classified {
        classification: KayentaClass::Pass,
        critical: false,
        reason: String::new(),
        ratio: Some(1.0),
        interval: None,
        experiment: summary_stats(&e),
        control: summary_stats(&c),
        noise_added: false,
        error: None,
    };

    // 1. an empty side
    if e.is_empty() || c.is_empty() {
        if options.nan_strategy == NanStrategy::Replace {
            return result;
        }
        result.reason = format!("Missing data for {name}");
        if options.must_have_data && !options.critical {
            result.classification = KayentaClass::NodataFailMetric;
        } else {
            result.classification = KayentaClass::Nodata;
            result.critical = options.critical;
        }
        return result;
    }
    // 2. identical multisets
    if e.len() == c.len() && sorted(&e) == sorted(&c) {
        result.reason = "The Canary and Baseline data are identical".into();
        return result;
    }
    // 3. one distinct value across both sides
    let pooled: Vec<f64> = e.iter().chain(&c).copied().collect();
    if distinct_count(&pooled) == 1 {
        return result;
    }
    // 4. both constant but different: Kayenta's noise, seeded here
    if distinct_count(&e) == 1 && distinct_count(&c) == 1 {
        let mut noise = Noise::new(NOISE_SEED);
        for side in [&mut e, &mut c] {
            let sigma = side[0].abs() * 1e-5;
            for v in side.iter_mut() {
                *v += noise.standard_normal() * sigma;
            }
        }
        result.noise_added = true;
    }

    let tested = (|| -> Result<(Interval, f64), String> {
        if e.iter().chain(&c).any(|v| !v.is_finite()) {
            return Err("infinite values cannot be ranked".into());
        }
        let (ci_lower, ci_upper, estimate) = mann_whitney_interval(&e, &c, options.confidence)?;
        let ratio = mean_ratio(&e, &c);
        let effect = if cles_measure { cles(&e, &c) } else { ratio };
        Ok((Interval { ci_lower, ci_upper, estimate, effect }, ratio))
    })();
    let (interval, ratio) = match tested {
        Ok(tested) => tested,
        Err(error) => {
            result.classification = KayentaClass::Error;
            result.reason = "Metric Classification Failed".into();
            result.ratio = None;
            result.error = Some(error);
            return result;
        }
    };
    let bound = options.tolerance * interval.estimate.abs();
    let effect_nan = interval.effect.is_nan();
    let is_high = matches!(options.direction, KayentaDirection::Increase | KayentaDirection::Either)
        && interval.ci_lower > bound
        && (effect_nan || interval.effect >= allowed_increase);
    let is_low = matches!(options.direction, KayentaDirection::Decrease | KayentaDirection::Either)
        && interval.ci_upper < -bound
        && (effect_nan || interval.effect <= allowed_decrease);
    result.ratio = Some(ratio);
    result.interval = Some(interval);
    let (label, is_critical) = if is_high {
        (KayentaClass::High, options.critical && (effect_nan || interval.effect >= critical_increase))
    } else if is_low {
        (KayentaClass::Low, options.critical && (effect_nan || interval.effect <= critical_decrease))
    } else {
        return result;
    };
    result.classification = label;
    result.critical = is_critical;
    result.reason = if is_critical {
        format!("The metric {name} was classified as {} (Critical)", label.as_str())
    } else {
        format!("{name} was classified as {}", label.as_str())
    };
    result
}

// ------------------------------------------------------------------------------------------------
// Scoring

/// One classified metric as the scorer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreInput {
    pub classification: KayentaClass,
    pub groups: Vec<String>,
    pub critical: bool,
    pub muted: bool,
    pub reason: String,
}

/// Kayenta's summary classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryClass {
    Pass,
    Marginal,
    Fail,
}

impl SummaryClass {
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryClass::Pass => "Pass",
            SummaryClass::Marginal => "Marginal",
            SummaryClass::Fail => "Fail",
        }
    }
}

/// A group's score: `None` when none of its metrics counts (Kayenta reports 0.0 and counts the
/// group as 100 in the summary).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScore {
    pub name: String,
    pub score: f64,
    pub no_data: bool,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: f64,
    pub classification: SummaryClass,
    pub reason: String,
    pub groups: Vec<GroupScore>,
}

/// Rounds to two decimals, half-up, on the shortest decimal representation (as Scala's
/// `BigDecimal(double).setScale(2, HALF_UP)`).
fn round_half_up_2(value: f64) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let text = format!("{}", value.abs());
    let (int_part, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let digits: Vec<u32> = frac.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut cents = int_part.parse::<f64>().unwrap_or(0.0) * 100.0
        + f64::from(digits.first().copied().unwrap_or(0) * 10 + digits.get(1).copied().unwrap_or(0));
    if digits.get(2).is_some_and(|d| *d >= 5) {
        cents += 1.0;
    }
    value.signum() * cents / 100.0
}

/// The `WeightedSumScorer` and `ThresholdScoreClassifier`.
pub fn score(
    results: &[ScoreInput],
    group_weights: &BTreeMap<String, f64>,
    pass_threshold: f64,
    marginal_threshold: f64,
) -> Score {
    let active: Vec<&ScoreInput> = results.iter().filter(|r| !r.muted).collect();
    let mut names: Vec<&str> = Vec::new();
    for r in &active {
        for g in &r.groups {
            if !names.contains(&g.as_str()) {
                names.push(g);
            }
        }
    }
    let configured: f64 = group_weights.values().sum();
    let unweighted = names.iter().filter(|g| !group_weights.contains_key(**g)).count();
    let default_weight = if unweighted > 0 { (100.0 - configured) / unweighted as f64 } else { 0.0 };
    let mut groups = Vec::new();
    let mut summary = 0.0;
    for g in names {
        let members: Vec<&&ScoreInput> = active.iter().filter(|r| r.groups.iter().any(|x| x == g)).collect();
        let passed = members.iter().filter(|r| r.classification == KayentaClass::Pass).count();
        let total = members
            .iter()
            .filter(|r| {
                matches!(
                    r.classification,
                    KayentaClass::Pass | KayentaClass::High | KayentaClass::Low | KayentaClass::NodataFailMetric
                )
            })
            .count();
        let no_data = total == 0;
        let group_score = if no_data { 0.0 } else { 100.0 * passed as f64 / total as f64 };
        let weight = group_weights.get(g).copied().unwrap_or(default_weight);
        let effective = if no_data { 100.0 } else { group_score };
        summary += effective * weight / 100.0;
        groups.push(GroupScore { name: g.to_string(), score: group_score, no_data, weight });
    }
    let mut summary = round_half_up_2(summary);
    let mut reason = String::new();
    let nodata = active.iter().filter(|r| r.classification == KayentaClass::Nodata).count();
    if let Some(failed) = active.iter().find(|r| r.critical && r.classification != KayentaClass::Pass) {
        summary = 0.0;
        reason = format!("Canary Failed: {}", failed.reason);
    } else if !active.is_empty() && nodata as f64 / active.len() as f64 >= 0.5 {
        summary = 0.0;
        reason = "Canary Failed: 50% or more metrics returned NODATA".into();
    }
    let classification = if summary >= pass_threshold {
        SummaryClass::Pass
    } else if summary >= marginal_threshold {
        SummaryClass::Marginal
    } else {
        SummaryClass::Fail
    };
    Score { score: summary, classification, reason, groups }
}

// ------------------------------------------------------------------------------------------------
// In a judgment: `judgment.judge: kayenta | both`

use super::metric::{Context, MetricInput};
use super::report::{
    Classification, GroupResult, JudgmentReport, KayentaGroupScore, KayentaMetricResult, KayentaStats, KayentaVerdict,
};
use crate::config::{
    Analysis, JudgeChoice, KayentaEffectMeasure, KayentaMultipleSeries, KayentaNanStrategy, KayentaOutlierStrategy,
    MetricConfig, MetricKind, QueryRole,
};
use crate::model::{Direction, Point, PointTime, Series, Side, Verdict, Window};

/// Kayenta's options for a metric of an analysis: direction and `critical` from the metric, the
/// rest from its `kayenta:` block, Kayenta's defaults otherwise.
pub fn options_for(config: &MetricConfig) -> Options {
    let mut options = Options {
        direction: match config.direction {
            Direction::Increase => KayentaDirection::Increase,
            Direction::Decrease => KayentaDirection::Decrease,
            Direction::Either => KayentaDirection::Either,
        },
        critical: config.critical,
        ..Options::default()
    };
    if let Some(k) = &config.kayenta {
        options.nan_strategy = match k.nan_strategy {
            KayentaNanStrategy::Remove => NanStrategy::Remove,
            KayentaNanStrategy::Replace => NanStrategy::Replace,
        };
        options.must_have_data = k.must_have_data;
        options.tolerance = k.tolerance.unwrap_or(TOLERANCE);
        options.confidence = k.confidence.unwrap_or(CONFIDENCE);
        if let Some(effect) = &k.effect_size {
            options.effect_measure = match effect.measure {
                KayentaEffectMeasure::MeanRatio => EffectMeasure::MeanRatio,
                KayentaEffectMeasure::Cles => EffectMeasure::Cles,
            };
            options.allowed_increase = effect.allowed_increase;
            options.allowed_decrease = effect.allowed_decrease;
            options.critical_increase = effect.critical_increase;
            options.critical_decrease = effect.critical_decrease;
        }
        if let Some(outliers) = &k.outliers {
            options.remove_outliers = outliers.strategy == KayentaOutlierStrategy::Remove;
            options.outlier_factor = outliers.factor;
        }
    }
    options
}

/// The points of a series that fall in the judged part of the window (after the warm-up; a
/// Datadog bucket still filling is left out), NaNs kept: Kayenta's NaN strategy decides.
fn in_window(series: &Series, window: &Window, point_time: PointTime) -> Vec<Point> {
    let step = window.step_seconds as i64;
    series
        .points
        .iter()
        .filter(|p| p.time >= window.judged_from() && p.time <= window.end)
        .filter(|p| point_time != PointTime::IntervalStart || p.time + step <= window.end)
        .copied()
        .collect()
}

/// The most points a side without series is padded to: a window of more steps (a recording from
/// year 1 asked for 8.5 GB) makes the metric an error instead.
pub const MAX_PLACEHOLDER_POINTS: u64 = 1_000_000;

/// What Kayenta pads a side without any series to: one NaN per step of the judged window.
fn placeholder(window: &Window) -> Result<Vec<f64>, String> {
    let span = window.end.saturating_sub(window.judged_from()).max(0) as u64;
    let points = (span / window.step_seconds.max(1)).max(1);
    if points > MAX_PLACEHOLDER_POINTS {
        return Err(format!(
            "the judged window holds {points} steps, more than the {MAX_PLACEHOLDER_POINTS} a side without series is padded to"
        ));
    }
    Ok(vec![f64::NAN; points as usize])
}

/// Whether a query of the metric returned more than one series on either side.
fn several_series(input: &MetricInput<'_>) -> bool {
    Side::BOTH.into_iter().any(|side| input.side(side).values().any(|series| series.len() > 1))
}

fn one_series<'s>(input: &'s MetricInput<'_>, side: Side, role: QueryRole) -> Result<Option<&'s Series>, String> {
    match input.side(side).get(&role).map(Vec::as_slice).unwrap_or_default() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(format!(
            "the {} query returned {} series; Kayenta would judge each tag combination on its own: use `breakdown`",
            side.name(),
            many.len()
        )),
    }
}

/// The per-interval values Kayenta judges on one side: a gauge's values as they are; a count's
/// per-interval ratio numerator/denominator (an interval with exposure but no numerator point
/// counts 0 events; a ratio without exposure is NaN).
pub fn side_values(input: &MetricInput<'_>, side: Side, context: &Context) -> Result<Vec<f64>, String> {
    let window = &context.window;
    match input.config.kind() {
        MetricKind::Gauge => Ok(match one_series(input, side, QueryRole::Value)? {
            None => placeholder(window)?,
            Some(series) => in_window(series, window, context.point_time).iter().map(|p| p.value).collect(),
        }),
        MetricKind::Count => {
            let Some(denominator) = one_series(input, side, QueryRole::Denominator)? else {
                return placeholder(window);
            };
            let numerator: Vec<Point> = one_series(input, side, QueryRole::Numerator)?
                .map(|s| in_window(s, window, context.point_time))
                .unwrap_or_default();
            Ok(in_window(denominator, window, context.point_time)
                .iter()
                .map(|d| {
                    let events = numerator.iter().find(|n| n.time == d.time).map_or(0.0, |n| n.value);
                    let ratio = events / d.value;
                    if ratio.is_finite() { ratio } else { f64::NAN }
                })
                .collect())
        }
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

fn maps_to(class: KayentaClass) -> Classification {
    match class {
        KayentaClass::Pass => Classification::Pass,
        KayentaClass::High => Classification::FailHigh,
        KayentaClass::Low => Classification::FailLow,
        KayentaClass::Nodata | KayentaClass::NodataFailMetric => Classification::NoData,
        KayentaClass::Error => Classification::Error,
    }
}

fn stats(s: Stats) -> KayentaStats {
    KayentaStats { count: s.count, min: s.min, max: s.max, mean: s.mean, std: s.std }
}

/// The group weights Kayenta's scorer gets: none when the analysis declares no groups (each group
/// then gets an equal share of 100); the declared weights as percentages when they sum to 100
/// (as `canary import kayenta` writes them); otherwise scaled to sum to 100.
pub fn group_weights(analysis: &Analysis) -> BTreeMap<String, f64> {
    let total: f64 = analysis.groups.iter().map(|g| g.weight).sum();
    let scale = if (total - 100.0).abs() < 1e-9 { 1.0 } else { 100.0 / total };
    analysis.groups.iter().map(|g| (g.name.value.clone(), g.weight * scale)).collect()
}

fn verdict_of(class: SummaryClass) -> Verdict {
    match class {
        SummaryClass::Pass => Verdict::Pass,
        SummaryClass::Marginal => Verdict::Inconclusive,
        SummaryClass::Fail => Verdict::Fail,
    }
}

/// Adds the Kayenta-compatible judgment to a report of the default judge, per
/// `analysis.judgment.judge`: `default` leaves it as it is; `both` adds Kayenta's classification
/// to every metric and its verdict beside the default one; `kayenta` also makes Kayenta's
/// classifications, group scores, score and verdict the report's own. `inputs` are the metrics'
/// inputs (already split by `breakdown`) in the order of `report.metrics`.
pub fn apply(
    analysis: &Analysis,
    inputs: &[MetricInput<'_>],
    context: &Context,
    mut report: JudgmentReport,
) -> JudgmentReport {
    let choice = analysis.judgment.judge;
    if choice == JudgeChoice::Default {
        return report;
    }
    let mut scored = Vec::with_capacity(inputs.len());
    for (input, metric) in inputs.iter().zip(report.metrics.iter_mut()) {
        let options = options_for(input.config);
        let name = input.name();
        let muted = input.config.kayenta.as_ref().is_some_and(|k| k.muted);
        let sides = side_values(input, Side::Canary, context)
            .and_then(|canary| side_values(input, Side::Baseline, context).map(|baseline| (canary, baseline)));
        let classified = match sides {
            Ok((canary, baseline)) => classify(&name, &canary, &baseline, &options),
            Err(error) => Classified {
                classification: KayentaClass::Error,
                critical: false,
                reason: "Metric Classification Failed".into(),
                ratio: None,
                interval: None,
                experiment: Stats::default(),
                control: Stats::default(),
                noise_added: false,
                error: Some(error),
            },
        };
        let mut reason = classified.reason.clone();
        if let Some(error) = &classified.error {
            reason = format!("{reason}: {error}");
        }
        let result = KayentaMetricResult {
            classification: classified.classification.as_str().into(),
            maps_to: maps_to(classified.classification),
            critical: classified.critical,
            muted,
            reason: reason.clone(),
            ratio: classified.ratio.and_then(finite),
            ci_lower: classified.interval.map(|i| i.ci_lower),
            ci_upper: classified.interval.map(|i| i.ci_upper),
            estimate: classified.interval.map(|i| i.estimate),
            effect_measure: match options.effect_measure {
                EffectMeasure::MeanRatio => "mean_ratio".into(),
                EffectMeasure::Cles => "cles".into(),
            },
            effect: classified.interval.and_then(|i| finite(i.effect)),
            tolerance: options.tolerance,
            confidence: options.confidence,
            baseline: stats(classified.control),
            canary: stats(classified.experiment),
            noise_added: classified.noise_added,
            error: classified.error.clone(),
        };
        scored.push(ScoreInput {
            classification: classified.classification,
            groups: vec![metric.group.clone()],
            critical: classified.critical,
            muted,
            reason,
        });
        metric.kayenta = Some(result);
    }
    let (pass, marginal) = (analysis.judgment.pass_score, analysis.judgment.marginal_score);
    let summary = score(&scored, &group_weights(analysis), pass, marginal);
    let mut verdict_value = verdict_of(summary.classification);
    let mut verdict_reason = summary.reason.clone();
    // Kayenta leaves a metric with several series out of its score, so a regression there passes:
    // unless the analysis asks for exactly that, such a run does not pass.
    if verdict_value == Verdict::Pass
        && analysis.judgment.kayenta_multiple_series == KayentaMultipleSeries::Inconclusive
    {
        let several: Vec<&str> = inputs
            .iter()
            .zip(&report.metrics)
            .filter(|(input, _)| several_series(input))
            .map(|(_, metric)| metric.name.as_str())
            .collect();
        if !several.is_empty() {
            verdict_value = Verdict::Inconclusive;
            verdict_reason = format!(
                "{} returned several series, which Kayenta leaves out of its score: not a pass (aggregate the query, use `breakdown`, or set judgment.kayenta_multiple_series: ignore for Kayenta's behaviour)",
                several.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let verdict = KayentaVerdict {
        score: summary.score,
        classification: summary.classification.as_str().into(),
        verdict: verdict_value,
        reason: verdict_reason,
        pass_score: pass,
        marginal_score: marginal,
        groups: summary
            .groups
            .iter()
            .map(|g| KayentaGroupScore { name: g.name.clone(), weight: g.weight, score: g.score, no_data: g.no_data })
            .collect(),
    };
    if choice == JudgeChoice::Kayenta {
        for metric in &mut report.metrics {
            if let Some(k) = &metric.kayenta {
                metric.classification = k.maps_to;
                metric.reason = if k.reason.is_empty() {
                    format!(
                        "Kayenta: {} (the interval of the shift does not clear ±{} × |estimate| in a bad direction)",
                        k.classification, k.tolerance
                    )
                } else {
                    format!("Kayenta: {}", k.reason)
                };
            }
        }
        report.groups = summary
            .groups
            .iter()
            .map(|g| {
                let members: Vec<&ScoreInput> =
                    scored.iter().filter(|s| !s.muted && s.groups.contains(&g.name)).collect();
                let passed = members.iter().filter(|s| s.classification == KayentaClass::Pass).count();
                let failed = members
                    .iter()
                    .filter(|s| {
                        matches!(
                            s.classification,
                            KayentaClass::High | KayentaClass::Low | KayentaClass::NodataFailMetric
                        )
                    })
                    .count();
                GroupResult {
                    name: g.name.clone(),
                    weight: g.weight,
                    score: (!g.no_data).then_some(g.score),
                    passed,
                    failed,
                    unscored: members.len() - passed - failed,
                }
            })
            .collect();
        report.score = Some(summary.score);
        report.verdict = verdict.verdict;
        report.reason = kayenta_reason(&verdict);
    }
    report.judge = Some(choice);
    report.kayenta_verdict = Some(verdict);
    report
}

/// One line: Kayenta's score against its thresholds, and the override if one fired.
pub fn kayenta_reason(verdict: &KayentaVerdict) -> String {
    let against = format!(
        "Kayenta score {} ({}; pass at {}, marginal at {})",
        crate::model::number::plain(verdict.score),
        verdict.classification,
        crate::model::number::plain(verdict.pass_score),
        crate::model::number::plain(verdict.marginal_score)
    );
    if verdict.reason.is_empty() { against } else { format!("{against}: {}", verdict.reason) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol, "got {got}, want {want} (±{tol})");
    }

    #[test]
    fn the_r_reference_interval() {
        let (lo, hi, est) = mann_whitney_interval(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
        approx(lo, 6.0, 1e-6);
        approx(hi, 39.0, 1e-6);
        approx(est, 22.5, 1e-6);
        approx(z_quantile(0.98), -2.326348, 1e-6);
    }

    #[test]
    fn small_separated_samples_fall_back_to_the_range_and_fail_high() {
        let result = classify("m", &[3.0, 4.0], &[1.0, 2.0], &Options::default());
        let interval = result.interval.unwrap();
        assert_eq!((interval.ci_lower, interval.ci_upper), (1.0, 3.0));
        assert_eq!(result.classification, KayentaClass::High);
    }

    #[test]
    fn one_point_per_side_is_an_error() {
        let result = classify("m", &[3.0, 3.0], &[1.0], &Options::default());
        // constant but different: seeded noise, then one baseline point
        assert!(result.noise_added);
        let single = classify("m", &[3.0], &[1.0], &Options::default());
        assert!(matches!(single.classification, KayentaClass::Error | KayentaClass::High));
    }

    #[test]
    fn constant_but_different_sides_are_judged_deterministically() {
        let a = classify("m", &[10.0; 5], &[1.0; 5], &Options::default());
        let b = classify("m", &[10.0; 5], &[1.0; 5], &Options::default());
        assert_eq!(a, b);
        assert_eq!(a.classification, KayentaClass::High);
        assert!(a.noise_added);
        let zeros = classify("m", &[10.0; 5], &[0.0; 5], &Options::default());
        assert_eq!(zeros.classification, KayentaClass::High);
        assert!(zeros.ratio.unwrap().is_nan());
    }

    #[test]
    fn outlier_removal_is_opt_in() {
        let options = Options { remove_outliers: true, ..Options::default() };
        let values = [21.0, 23.0, 24.0, 25.0, 50.0, 29.0, 23.0, 21.0];
        assert_eq!(iqr_outliers(&values, 3.0, true), vec![4]);
        let result = classify("m", &values, &[21.0, 23.0, 24.0, 25.0, 29.0, 23.0, 21.0], &options);
        assert_eq!(result.experiment.count, 7);
        assert_eq!(result.reason, "The Canary and Baseline data are identical");
    }

    #[test]
    fn nodata_fail_metric_needs_remove_and_non_critical() {
        let options = Options { must_have_data: true, ..Options::default() };
        assert_eq!(classify("m", &[f64::NAN], &[1.0], &options).classification, KayentaClass::NodataFailMetric);
        let critical = Options { critical: true, ..options.clone() };
        let result = classify("m", &[f64::NAN], &[1.0], &critical);
        assert_eq!((result.classification, result.critical), (KayentaClass::Nodata, true));
        let replace = Options { nan_strategy: NanStrategy::Replace, ..options };
        assert_eq!(classify("m", &[], &[1.0], &replace).classification, KayentaClass::Pass);
    }

    #[test]
    fn rounding_is_half_up_on_the_decimal() {
        assert_eq!(round_half_up_2(100.0 / 3.0), 33.33);
        assert_eq!(round_half_up_2(33.335), 33.34);
        assert_eq!(round_half_up_2(5.0), 5.0);
        assert_eq!(round_half_up_2(66.66666666666667), 66.67);
    }

    #[test]
    fn a_huge_window_is_an_error_not_a_huge_allocation() {
        use crate::model::Duration;
        // Window::between refuses such a window; the placeholder must not trust its caller either.
        let year_one = Window { start: -62_135_596_800, end: 1_795_428_000, step_seconds: 60, warmup_seconds: 0 };
        let error = placeholder(&year_one).unwrap_err();
        assert!(error.contains("more than the 1000000"), "{error}");
        let hour = Window::between(0, 3600, Duration::from_secs(60), Duration::default()).unwrap();
        assert_eq!(placeholder(&hour).unwrap().len(), 60);
    }
}
