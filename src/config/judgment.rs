//! How the metrics roll up into one verdict: the `judgment` section (false-alarm level, scores,
//! which judge decides).

use serde::{Deserialize, Serialize};

/// How the metrics roll up into one verdict.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgmentConfig {
    /// Family-wise false-alarm level across all gating tests (Holm-corrected).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Score (0 to 100) at or above which the canary passes.
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// Score at or above which a canary below `pass_score` is inconclusive (marginal) rather than failed.
    #[serde(default = "default_marginal_score")]
    pub marginal_score: f64,
    /// Which judge decides: `default`, `kayenta` (the Kayenta-compatible NetflixACAJudge) or
    /// `both` (both are reported; the default judge decides the verdict and exit code).
    #[serde(default)]
    pub judge: JudgeChoice,
    /// Under the Kayenta-compatible judge, a metric whose query returned several series (an
    /// `Error` that Kayenta leaves out of its score, so a regression there can pass):
    /// `inconclusive` (the default) keeps such a run from passing; `ignore` is Kayenta's behaviour.
    #[serde(default)]
    pub kayenta_multiple_series: KayentaMultipleSeries,
    /// The default "too little data" bar (a ratio > 1): a metric with no significant regression is
    /// inconclusive, not a pass, when its interval cannot rule out the canary being this many
    /// times the baseline in the bad direction (1/bar for decreases). Metrics may set their own.
    #[serde(default = "default_too_little_data_bar")]
    pub too_little_data_bar: f64,
    /// The per-side drift of count rates the judge allows for (a percentage, 1% to 50%): how far
    /// each deployment's error/conversion rates wander on their own, as a relative standard
    /// deviation. Sequences (`canary watch --looks sequential`, the sequential watchdog): the
    /// allowance until half an hour of data shows the service's own; unset, 15%. One-look
    /// judgments (`canary judge`, fixed-look `watch`): a failed rate test is re-checked under this
    /// drift and is inconclusive (`drift`) when it could explain the failure; unset, drift is read
    /// from the window's batches only.
    #[serde(default)]
    pub drift: Option<crate::model::Margin>,
}

/// The range `judgment.drift` must lie in, in percent.
pub const DRIFT_PERCENT: std::ops::RangeInclusive<f64> = 1.0..=50.0;

impl JudgmentConfig {
    /// The declared per-side count drift as a fraction (0.03 for `3%`), when the analysis sets
    /// one (validated to be a percentage in [`DRIFT_PERCENT`]).
    pub fn drift_fraction(&self) -> Option<f64> {
        match self.drift {
            Some(crate::model::Margin::Percent(percent)) => Some(percent / 100.0),
            _ => None,
        }
    }
}

/// The default "too little data" bar: see docs/analysis.md, "Too little data".
pub const DEFAULT_TOO_LITTLE_DATA_BAR: f64 = 2.25;

fn default_too_little_data_bar() -> f64 {
    DEFAULT_TOO_LITTLE_DATA_BAR
}

/// What a metric with several series does to the Kayenta-compatible judge's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaMultipleSeries {
    /// A run that would pass is inconclusive instead, naming the metric.
    #[default]
    Inconclusive,
    /// Kayenta's behaviour: the metric is an `Error` left out of the score.
    Ignore,
}

/// Which judge decides a judgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JudgeChoice {
    /// This project's judge.
    #[default]
    Default,
    /// The Kayenta-compatible judge (Spinnaker's NetflixACAJudge): its classifications and verdict.
    Kayenta,
    /// Both: the default judge's verdict, with Kayenta's classifications and verdict beside it.
    Both,
}

fn default_alpha() -> f64 {
    0.01
}

fn default_pass_score() -> f64 {
    95.0
}

fn default_marginal_score() -> f64 {
    75.0
}

impl Default for JudgmentConfig {
    fn default() -> JudgmentConfig {
        JudgmentConfig {
            alpha: default_alpha(),
            pass_score: default_pass_score(),
            marginal_score: default_marginal_score(),
            judge: JudgeChoice::default(),
            kayenta_multiple_series: KayentaMultipleSeries::default(),
            too_little_data_bar: default_too_little_data_bar(),
            drift: None,
        }
    }
}
