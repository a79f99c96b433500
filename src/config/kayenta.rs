//! A metric's `kayenta` section: the settings only the Kayenta-compatible judge reads.

use serde::{Deserialize, Serialize};

/// Settings only the Kayenta-compatible judge reads (`judgment.judge: kayenta` or `both`), named
/// after Kayenta's `analysisConfigurations.canary` keys. Direction, `critical` and the group come
/// from the metric itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KayentaMetricConfig {
    /// `remove` (Kayenta's default) drops NaN points; `replace` turns them into 0.
    #[serde(default)]
    pub nan_strategy: KayentaNanStrategy,
    /// With `nan_strategy: remove` and a non-critical metric, a side without data fails the metric
    /// (Kayenta's `NodataFailMetric`) instead of being `Nodata`.
    #[serde(default)]
    pub must_have_data: bool,
    /// Reported, but left out of Kayenta's score.
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub effect_size: Option<KayentaEffectSize>,
    #[serde(default)]
    pub outliers: Option<KayentaOutliers>,
    /// Fraction of |estimate| the interval must clear (Kayenta's fixed 0.25).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Confidence of the Mann-Whitney interval (Kayenta's fixed 0.98).
    #[serde(default)]
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaNanStrategy {
    #[default]
    Remove,
    Replace,
}

/// Kayenta's `effectSize`: thresholds on the mean ratio (multipliers, default 1.0) or on CLES
/// (probabilities, default 0.5) that a High or Low must also reach.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KayentaEffectSize {
    #[serde(default)]
    pub measure: KayentaEffectMeasure,
    #[serde(default)]
    pub allowed_increase: Option<f64>,
    #[serde(default)]
    pub allowed_decrease: Option<f64>,
    /// Critical metrics: a High is critical only at or above this.
    #[serde(default)]
    pub critical_increase: Option<f64>,
    #[serde(default)]
    pub critical_decrease: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KayentaEffectMeasure {
    #[default]
    MeanRatio,
    Cles,
}

/// Kayenta's `outliers`: Tukey-fence removal (widened by P1/P99) before the test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KayentaOutliers {
    pub strategy: KayentaOutlierStrategy,
    /// The IQR multiplier (`outlierFactor`).
    #[serde(default = "default_outlier_factor")]
    pub factor: f64,
}

fn default_outlier_factor() -> f64 {
    3.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaOutlierStrategy {
    Keep,
    Remove,
}
