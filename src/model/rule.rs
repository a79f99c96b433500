//! A sustained-breach rule as the analysis states it: a bound on the canary's per-point values
//! (absolute, or relative to the baseline at the same timestamp) and how long it must be breached.
//! The judge (`judge::sustained`) evaluates it.

use serde::{Deserialize, Serialize};

/// Which limit a rule sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Breach when the value is above this.
    Max(f64),
    /// Breach when the value is below this.
    Min(f64),
    /// Breach when the value is above baseline × ratio + slack at the same timestamp.
    MaxRatio { ratio: f64, slack: f64 },
    /// Breach when the value is below baseline × ratio − slack at the same timestamp.
    MinRatio { ratio: f64, slack: f64 },
}

impl Bound {
    /// Whether a breach is a value that is too high.
    pub fn is_upper(self) -> bool {
        matches!(self, Bound::Max(_) | Bound::MaxRatio { .. })
    }

    pub fn is_relative(self) -> bool {
        matches!(self, Bound::MaxRatio { .. } | Bound::MinRatio { .. })
    }

    /// The limit at one timestamp, given the baseline's value there (relative bounds need one).
    pub fn limit(self, baseline: Option<f64>) -> Option<f64> {
        match self {
            Bound::Max(v) | Bound::Min(v) => Some(v),
            Bound::MaxRatio { ratio, slack } => baseline.filter(|b| b.is_finite()).map(|b| b * ratio + slack),
            Bound::MinRatio { ratio, slack } => baseline.filter(|b| b.is_finite()).map(|b| b * ratio - slack),
        }
    }

    pub fn breaches(self, value: f64, limit: f64) -> bool {
        if self.is_upper() { value > limit } else { value < limit }
    }
}

/// One rule: a bound and how long it must be breached without a break.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub bound: Bound,
    pub for_seconds: u64,
}
