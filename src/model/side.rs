//! Which side of the comparison a series belongs to (baseline or canary) and what a query of a
//! metric measures (its value, or a rate's numerator or denominator).

use serde::{Deserialize, Serialize};

/// Baseline or canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Baseline,
    Canary,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Baseline, Side::Canary];

    pub fn name(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::Canary => "canary",
        }
    }
}

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
