//! The verdict of a judgment or a comparison: pass, fail, inconclusive, feature off. Its exit code
//! is decided at the top of the crate (`error`).

/// The outcome of a judgment, which decides the exit code when nothing went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
    /// The deployment is healthy, and the feature-scoped groups that failed had their features
    /// turned off by their actions (no deployment rollback).
    #[serde(rename = "feature_off")]
    FeatureOff,
}
