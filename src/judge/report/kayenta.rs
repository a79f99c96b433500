//! The report's records of the Kayenta-compatible judge (`judgment.judge: kayenta` or `both`):
//! its roll-up, group scores, and each metric as Kayenta's classifier saw it.

use super::Classification;
use crate::model::Verdict;
use serde::Serialize;

/// The Kayenta-compatible judge's roll-up (Kayenta's WeightedSumScorer and ThresholdScoreClassifier).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct KayentaVerdict {
    /// Kayenta's summary score, 0 to 100, rounded to two decimals.
    pub score: f64,
    /// Kayenta's summary classification: `Pass`, `Marginal` or `Fail`.
    pub classification: String,
    /// Pass → pass, Marginal → inconclusive, Fail → fail.
    pub verdict: Verdict,
    /// The override that zeroed the score (a critical metric, 50% NODATA), or empty.
    pub reason: String,
    pub pass_score: f64,
    pub marginal_score: f64,
    pub groups: Vec<KayentaGroupScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct KayentaGroupScore {
    pub name: String,
    /// The weight used (percent of the summary).
    pub weight: f64,
    /// 100 × Pass / (Pass + High + Low + NodataFailMetric); 0 when no_data.
    pub score: f64,
    /// None of its metrics counted (Kayenta then counts the group as 100 in the summary).
    pub no_data: bool,
}

/// One metric as the Kayenta-compatible judge classified it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct KayentaMetricResult {
    /// Kayenta's classification: `Pass`, `High`, `Low`, `Nodata`, `NodataFailMetric` or `Error`.
    pub classification: String,
    /// The report's classification it maps to.
    pub maps_to: Classification,
    /// Whether this failure zeroes Kayenta's score.
    pub critical: bool,
    /// Reported only when true (omitted means false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    /// Kayenta's reason (empty for a plain Pass).
    pub reason: String,
    /// mean(canary) / mean(baseline), Kayenta's "deviation"; null when a mean is 0 (NaN) or on Error.
    pub ratio: Option<f64>,
    /// The Mann-Whitney interval of the shift canary − baseline and its estimate (when the test ran).
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub estimate: Option<f64>,
    /// `mean_ratio` or `cles`, and its value (null when NaN or the test did not run).
    pub effect_measure: String,
    pub effect: Option<f64>,
    /// The interval must clear `tolerance × |estimate|`; confidence of the interval.
    pub tolerance: f64,
    pub confidence: f64,
    pub baseline: KayentaStats,
    pub canary: KayentaStats,
    /// Both sides were constant but different: the seeded noise Kayenta adds (unseeded there) was added.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noise_added: bool,
    /// Why classification failed (Error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Kayenta's per-side statistics after its NaN and outlier handling (sample standard deviation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct KayentaStats {
    pub count: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}
