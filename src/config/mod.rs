//! Analysis files: what to query for baseline and canary, over which window, and how to judge
//! each metric. Parsing is strict (unknown keys, wrong types and bad durations are errors naming
//! file, line, column and field, with the near miss suggested); [`Analysis::validate`] checks the
//! rules that span fields. No I/O beyond reading the file.
//!
//! Split by role: `analysis` (the file as a whole, its sides, window, rollback webhook and feature
//! actions; reading and parsing), `source` (where the metrics live), `metric` (metrics, tests,
//! thresholds, sustained rules, Kayenta settings, groups), `statistic` (what a threshold bounds), `judgment` (how
//! metrics roll up into a verdict), `validation` (the cross-field rules). Every type is re-exported here:
//! `crate::config::Analysis`, `crate::config::MetricConfig`, ….

mod analysis;
mod error;
pub mod fleet;
mod judgment;
mod metric;
mod source;
mod statistic;
pub mod template;
mod validation;

pub use analysis::{ActionConfig, Analysis, RollbackConfig};
pub use error::ConfigError;
pub use judgment::{JudgeChoice, JudgmentConfig, KayentaMultipleSeries};
pub use metric::{
    BarLimit, GroupConfig, KayentaEffectMeasure, KayentaMetricConfig, KayentaNanStrategy, KayentaOutlierStrategy,
    MetricConfig, MetricKind, NoDataPolicy, SustainedConfig, TestKind, ThresholdConfig, TooLittleDataBar,
};
pub use source::{DatadogApi, SourceConfig, SourceKind};
pub use statistic::Statistic;

#[cfg(test)]
mod tests;
