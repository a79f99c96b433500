//! Kayenta's per-metric classification, its `MannWhitneyClassifier`: the options of one metric,
//! the NaN and outlier handling, the short-circuits (an empty side, identical data, a single
//! distinct value), the seeded noise for constant-but-different sides, and the decision rule on
//! the interval and the effect size. Pure.

use super::interval::mann_whitney_interval;
use super::statistics::{Stats, cles, iqr_outliers, mean_ratio, remove_nans, replace_nans, sorted, summary_stats};

/// The judge's fixed tolerance (Kayenta hard-codes it since PR #356).
pub const TOLERANCE: f64 = 0.25;
/// The judge's fixed confidence level.
pub const CONFIDENCE: f64 = 0.98;
/// Seed of the noise added to constant-but-different sides ("KAYN"); Kayenta's is unseeded.
pub const NOISE_SEED: u64 = 0x4B41_594E;

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

    /// A failure that counts in its group's score: High, Low or NodataFailMetric.
    pub fn fails_its_group(self) -> bool {
        matches!(self, KayentaClass::High | KayentaClass::Low | KayentaClass::NodataFailMetric)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
