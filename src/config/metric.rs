//! One metric and how it is judged: gauge or count, its queries, tests, thresholds, margins,
//! sustained-breach rules, breakdowns, no-data policy and the settings only the Kayenta-compatible
//! judge reads; and the scoring groups metrics belong to.

use super::{ActionConfig, Statistic};
use crate::model::{Direction, Duration, Margin, QueryRole};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub name: Spanned<String>,
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default)]
    pub description: Option<String>,
    /// The feature (flag) this group measures. When only feature-scoped groups fail and their
    /// actions succeed, the features are turned off instead of rolling the deployment back.
    #[serde(default)]
    pub feature: Option<String>,
    /// The call that turns the feature off (required with `feature`).
    #[serde(default)]
    pub action: Option<ActionConfig>,
}

fn default_weight() -> f64 {
    1.0
}

/// One metric: a gauge (one query, e.g. p99 latency) or a count (numerator and denominator
/// queries, e.g. errors of requests), and how to judge it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Group for scoring; metrics without one form the group `default`.
    #[serde(default)]
    pub group: Option<String>,
    /// Gauge metrics: the query.
    #[serde(default)]
    pub query: Option<String>,
    /// Count metrics: the events query (errors, checkouts).
    #[serde(default)]
    pub numerator: Option<String>,
    /// Count metrics: the exposure query (requests, sessions).
    #[serde(default)]
    pub denominator: Option<String>,
    /// Which change is bad.
    pub direction: Direction,
    /// Practical margin a change must exceed to fail: `20` (units) or `5%` (of the baseline
    /// median for gauges; of the rate for counts, which take only relative margins).
    #[serde(default)]
    pub margin: Option<Margin>,
    /// Statistical tests: `shift` (Mann-Whitney with Hodges-Lehmann) and `spread` for gauges,
    /// `rate` for counts. Default: `[shift]` for gauges, `[rate]` for counts.
    #[serde(default)]
    pub tests: Option<Vec<TestKind>>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdConfig>,
    /// Sustained-breach rules: a bound on the canary's per-point values that fails the metric
    /// when breached over a continuous stretch of at least `for` (see `judge::sustained`).
    #[serde(default)]
    pub sustained: Vec<SustainedConfig>,
    /// A failure of a critical metric fails the whole canary.
    #[serde(default)]
    pub critical: bool,
    /// Fewer (non-overlapping) points than this on either side makes the metric "no data".
    #[serde(default)]
    pub min_samples: Option<usize>,
    /// What no data means: `fail`, `inconclusive` (default) or `ignore`.
    #[serde(default)]
    pub no_data: NoDataPolicy,
    /// A metric with no significant regression is "too little data" (not a pass) when its interval
    /// reaches beyond the too-little-data bar in the bad direction; with this set (e.g. 3), also when the
    /// interval's bad-direction end lies beyond this many margins. Default 0: off.
    #[serde(default)]
    pub inconclusive_beyond: Option<f64>,
    /// The "too little data" bar of this metric, as a ratio (> 1): a metric with no significant
    /// regression is inconclusive, not a pass, when its interval cannot rule out the canary being
    /// this many times the baseline in the bad direction (its rate for counts, its median for
    /// gauges; 1/bar for decreases). Default: `judgment.too_little_data_bar`.
    #[serde(default)]
    pub too_little_data_bar: Option<f64>,
    /// Gauges only: the bar as a shift in the metric's units (> 0) instead of a ratio, e.g. for a
    /// metric whose baseline median is near 0. Exclusive with `too_little_data_bar`.
    #[serde(default)]
    pub too_little_data_shift: Option<f64>,
    /// Labels whose values split the metric: the query returns one series per combination (e.g.
    /// `sum by (route) (...)`), and each is judged and reported on its own, all of them in the
    /// multiplicity correction. Without it, more than one series is an error.
    #[serde(default)]
    pub breakdown: Vec<String>,
    /// The range window of `rate()`/`increase()` inside the query. Points closer than this overlap
    /// and are not independent; they are judged in non-overlapping blocks.
    #[serde(default)]
    pub range: Option<Duration>,
    /// Settings of the Kayenta-compatible judge (see `judgment.judge`).
    #[serde(default)]
    pub kayenta: Option<KayentaMetricConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    Shift,
    Spread,
    Rate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NoDataPolicy {
    Fail,
    #[default]
    Inconclusive,
    Ignore,
}

/// A threshold on one statistic of the canary: absolute (`max`, `min`) or relative to the same
/// statistic of the baseline (`max_ratio`: canary ≤ baseline × max_ratio + slack; `min_ratio`:
/// canary ≥ baseline × min_ratio − slack).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    pub statistic: Statistic,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    #[serde(default)]
    pub slack: f64,
}

/// A sustained-breach rule: exactly one bound, on the canary's per-point values (gauges: the
/// values; counts: the per-interval rate), absolute (`max`, `min`) or relative to the baseline's
/// value at the same timestamp (`max_ratio`: breach above baseline × max_ratio + slack;
/// `min_ratio`: below baseline × min_ratio − slack), breached without a break for at least `for`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SustainedConfig {
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max_ratio: Option<f64>,
    #[serde(default)]
    pub min_ratio: Option<f64>,
    /// Relative bounds only: an absolute allowance added to the limit (in the metric's units).
    #[serde(default)]
    pub slack: f64,
    /// How long the breach must last without a break (at least one step).
    #[serde(rename = "for")]
    pub duration: Duration,
}

impl SustainedConfig {
    /// The rule it states (after validation: exactly one bound).
    pub fn rule(&self) -> crate::model::Rule {
        use crate::model::{Bound, Rule};
        let slack = self.slack;
        let bound = match (self.max, self.min, self.max_ratio, self.min_ratio) {
            (Some(v), ..) => Bound::Max(v),
            (_, Some(v), ..) => Bound::Min(v),
            (_, _, Some(ratio), _) => Bound::MaxRatio { ratio, slack },
            (_, _, _, Some(ratio)) => Bound::MinRatio { ratio, slack },
            _ => Bound::Max(f64::INFINITY),
        };
        Rule { bound, for_seconds: self.duration.as_secs() }
    }

    /// `max 0.01 for 5m`, `max_ratio 1.5 (+ slack 2) for 10m`.
    pub fn describe(&self) -> String {
        use crate::model::number::plain;
        let slack = if self.slack != 0.0 { format!(" (slack {})", plain(self.slack)) } else { String::new() };
        let bound = match (self.max, self.min, self.max_ratio, self.min_ratio) {
            (Some(v), ..) => format!("max {}", plain(v)),
            (_, Some(v), ..) => format!("min {}", plain(v)),
            (_, _, Some(r), _) => format!("max_ratio {}{slack}", plain(r)),
            (_, _, _, Some(r)) => format!("min_ratio {}{slack}", plain(r)),
            _ => "no bound".into(),
        };
        format!("{bound} for {}", self.duration)
    }
}

/// Gauge or count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Gauge,
    Count,
}

impl MetricConfig {
    pub fn name(&self) -> &str {
        &self.name.value
    }

    pub fn kind(&self) -> MetricKind {
        if self.query.is_some() { MetricKind::Gauge } else { MetricKind::Count }
    }

    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or("default")
    }

    /// The statistical tests to run, defaults applied.
    pub fn tests(&self) -> Vec<TestKind> {
        self.tests.clone().unwrap_or_else(|| match self.kind() {
            MetricKind::Gauge => vec![TestKind::Shift],
            MetricKind::Count => vec![TestKind::Rate],
        })
    }

    /// Minimum number of judged points per side (after blocking), defaults applied.
    pub fn min_samples(&self) -> usize {
        self.min_samples.unwrap_or(match self.kind() {
            MetricKind::Gauge => 10,
            MetricKind::Count => 3,
        })
    }

    /// How many margins the bad-direction end of an interval may reach before a metric without a
    /// significant regression counts as too little data (0: only the too-little-data bar).
    pub fn inconclusive_beyond(&self) -> f64 {
        self.inconclusive_beyond.unwrap_or(0.0)
    }

    /// The "too little data" bar that applies to this metric: its own (`too_little_data_shift`,
    /// `too_little_data_bar`) or the analysis's default `judgment_bar`.
    pub fn too_little_data(&self, judgment_bar: f64) -> TooLittleDataBar {
        match (self.too_little_data_shift, self.too_little_data_bar) {
            (Some(shift), _) => TooLittleDataBar { limit: BarLimit::Shift(shift), setting: "too_little_data_shift" },
            (None, Some(ratio)) => TooLittleDataBar { limit: BarLimit::Ratio(ratio), setting: "too_little_data_bar" },
            (None, None) => {
                TooLittleDataBar { limit: BarLimit::Ratio(judgment_bar), setting: "judgment.too_little_data_bar" }
            }
        }
    }

    /// The query templates by role.
    pub fn queries(&self) -> Vec<(QueryRole, &str)> {
        match (&self.query, &self.numerator, &self.denominator) {
            (Some(query), _, _) => vec![(QueryRole::Value, query.as_str())],
            (None, Some(numerator), Some(denominator)) => {
                vec![(QueryRole::Numerator, numerator.as_str()), (QueryRole::Denominator, denominator.as_str())]
            }
            _ => Vec::new(),
        }
    }
}

/// The "too little data" bar of one metric and the setting it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TooLittleDataBar {
    pub limit: BarLimit,
    /// `too_little_data_bar` or `too_little_data_shift` (the metric's own) or
    /// `judgment.too_little_data_bar` (the analysis's default).
    pub setting: &'static str,
}

/// A bar's limit: a ratio of the baseline (> 1; 1/ratio for decreases) or a shift in the
/// metric's units (> 0, either way).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BarLimit {
    Ratio(f64),
    Shift(f64),
}

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
