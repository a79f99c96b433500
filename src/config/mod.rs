//! Analysis files: what to query for baseline and canary, over which window, and how to judge
//! each metric. Parsing is strict (unknown keys, wrong types and bad durations are errors naming
//! file, line, column and field, with the near miss suggested); [`Analysis::validate`] checks the
//! rules that span fields. No I/O beyond reading the file.
//!
//! Split by role: `analysis` (the file as a whole, reading and parsing), `source` (where the
//! metrics live), `metric` (metrics, tests, thresholds, sustained rules, groups), `judgment` (how
//! metrics roll up), `kayenta` (the Kayenta-compatible judge's settings), `webhook` (rollback
//! webhook and feature actions), `validation` (the cross-field rules). Every type is re-exported
//! here: `crate::config::Analysis`, `crate::config::MetricConfig`, ….

mod analysis;
mod duration;
mod error;
mod judgment;
mod kayenta;
mod metric;
mod source;
pub mod template;
mod validation;
mod webhook;
pub mod window;

pub use analysis::{Analysis, SideConfig, WindowConfig};
pub use duration::Duration;
pub use error::ConfigError;
pub use judgment::{JudgeChoice, JudgmentConfig, KayentaMultipleSeries};
pub use kayenta::{
    KayentaEffectMeasure, KayentaEffectSize, KayentaMetricConfig, KayentaNanStrategy, KayentaOutlierStrategy,
    KayentaOutliers,
};
pub use metric::{
    GroupConfig, MetricConfig, MetricKind, NoDataPolicy, Statistic, SustainedConfig, TestKind, ThresholdConfig,
};
pub use source::{DatadogApi, SourceConfig, SourceKind};
pub use webhook::{ActionConfig, ActionMethod, RollbackConfig};

use serde::{Deserialize, Serialize};

/// What a query of a metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueryRole {
    Value,
    Numerator,
    Denominator,
}

impl QueryRole {
    /// The name used in recordings, reports and messages: `value`, `numerator`, `denominator`.
    pub fn name(self) -> &'static str {
        match self {
            QueryRole::Value => "value",
            QueryRole::Numerator => "numerator",
            QueryRole::Denominator => "denominator",
        }
    }
}

#[cfg(test)]
mod tests;
