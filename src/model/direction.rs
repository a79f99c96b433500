//! Which change of a metric is bad ([`Direction`]) and the practical margin a change must exceed
//! to count ([`Margin`]).

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which change of the metric is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A rise is bad (latency, errors).
    Increase,
    /// A fall is bad (conversion, throughput).
    Decrease,
    /// Any change is bad.
    Either,
}

impl Direction {
    /// The name used on the command line and in reports: `increase`, `decrease`, `either`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
            Direction::Either => "either",
        }
    }
}

/// A practical margin: absolute in the metric's units (`20`) or relative to the baseline's
/// median (`5%`). Changes within it never fail a canary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Margin {
    Absolute(f64),
    Percent(f64),
}

impl Default for Margin {
    fn default() -> Margin {
        Margin::Absolute(0.0)
    }
}

impl FromStr for Margin {
    type Err = String;

    fn from_str(text: &str) -> Result<Margin, String> {
        let text = text.trim();
        let (number, percent) = match text.strip_suffix('%') {
            Some(number) => (number.trim(), true),
            None => (text, false),
        };
        let value: f64 = number.parse().map_err(|_| {
            format!("`{text}` is not a margin (expected an amount such as 20 or a percentage such as 5%)")
        })?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("`{text}`: a margin must be a finite amount of at least 0"));
        }
        Ok(if percent { Margin::Percent(value) } else { Margin::Absolute(value) })
    }
}

impl fmt::Display for Margin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Margin::Absolute(v) => write!(f, "{v}"),
            Margin::Percent(v) => write!(f, "{v}%"),
        }
    }
}

impl<'de> Deserialize<'de> for Margin {
    /// A number (absolute) or a string such as `5%` or `20`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Margin, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Number(number) => number.to_string(),
            Raw::Text(text) => text,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Margin {
    /// The margin in the metric's units, given the baseline's median.
    pub fn amount(self, baseline_median: f64) -> f64 {
        match self {
            Margin::Absolute(v) => v,
            Margin::Percent(p) => p / 100.0 * baseline_median.abs(),
        }
    }
}
