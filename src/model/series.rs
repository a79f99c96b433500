//! Time series as every source returns them: points of Unix seconds and values (NaN and
//! infinities kept), labels, what a point's timestamp marks, and where a judgment's data came
//! from.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One sample: Unix seconds and a value (which may be NaN or infinite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub time: i64,
    pub value: f64,
}

/// One time series with its labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<Point>,
}

/// What a point's timestamp marks: the end of the interval it summarises (Prometheus evaluates
/// `rate(x[5m])` at t over (t − 5m, t]) or its start (Datadog rollup buckets [t, t + step)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PointTime {
    #[default]
    IntervalEnd,
    IntervalStart,
}

/// Where the data of a judgment came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceDescription {
    /// `prometheus`, `datadog`, or `synthetic` for generated recordings.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The recording replayed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}
