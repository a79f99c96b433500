//! Kayenta's `WeightedSumScorer` and `ThresholdScoreClassifier`: group scores from the metrics'
//! classifications, the weighted sum rounded half-up to two decimals, the critical-metric and
//! NODATA overrides, and the Pass / Marginal / Fail thresholds. Pure.

use super::classifier::KayentaClass;
use std::collections::BTreeMap;

/// One classified metric as the scorer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreInput {
    pub classification: KayentaClass,
    pub groups: Vec<String>,
    pub critical: bool,
    pub muted: bool,
    pub reason: String,
}

/// Kayenta's summary classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryClass {
    Pass,
    Marginal,
    Fail,
}

impl SummaryClass {
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryClass::Pass => "Pass",
            SummaryClass::Marginal => "Marginal",
            SummaryClass::Fail => "Fail",
        }
    }
}

/// A group's score: `None` when none of its metrics counts (Kayenta reports 0.0 and counts the
/// group as 100 in the summary).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScore {
    pub name: String,
    pub score: f64,
    pub no_data: bool,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: f64,
    pub classification: SummaryClass,
    pub reason: String,
    pub groups: Vec<GroupScore>,
}

/// Rounds to two decimals, half-up, on the shortest decimal representation (as Scala's
/// `BigDecimal(double).setScale(2, HALF_UP)`).
fn round_half_up_2(value: f64) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let text = format!("{}", value.abs());
    let (int_part, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let digits: Vec<u32> = frac.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut cents = int_part.parse::<f64>().unwrap_or(0.0) * 100.0
        + f64::from(digits.first().copied().unwrap_or(0) * 10 + digits.get(1).copied().unwrap_or(0));
    if digits.get(2).is_some_and(|d| *d >= 5) {
        cents += 1.0;
    }
    value.signum() * cents / 100.0
}

/// The `WeightedSumScorer` and `ThresholdScoreClassifier`.
pub fn score(
    results: &[ScoreInput],
    group_weights: &BTreeMap<String, f64>,
    pass_threshold: f64,
    marginal_threshold: f64,
) -> Score {
    let active: Vec<&ScoreInput> = results.iter().filter(|r| !r.muted).collect();
    let mut names: Vec<&str> = Vec::new();
    for r in &active {
        for g in &r.groups {
            if !names.contains(&g.as_str()) {
                names.push(g);
            }
        }
    }
    let configured: f64 = group_weights.values().sum();
    let unweighted = names.iter().filter(|g| !group_weights.contains_key(**g)).count();
    let default_weight = if unweighted > 0 { (100.0 - configured) / unweighted as f64 } else { 0.0 };
    let mut groups = Vec::new();
    let mut summary = 0.0;
    for g in names {
        let members: Vec<&&ScoreInput> = active.iter().filter(|r| r.groups.iter().any(|x| x == g)).collect();
        let passed = members.iter().filter(|r| r.classification == KayentaClass::Pass).count();
        let failed = members.iter().filter(|r| r.classification.fails_its_group()).count();
        let total = passed + failed;
        let no_data = total == 0;
        let group_score = if no_data { 0.0 } else { 100.0 * passed as f64 / total as f64 };
        let weight = group_weights.get(g).copied().unwrap_or(default_weight);
        let effective = if no_data { 100.0 } else { group_score };
        summary += effective * weight / 100.0;
        groups.push(GroupScore { name: g.to_string(), score: group_score, no_data, weight });
    }
    let mut summary = round_half_up_2(summary);
    let mut reason = String::new();
    let nodata = active.iter().filter(|r| r.classification == KayentaClass::Nodata).count();
    if let Some(failed) = active.iter().find(|r| r.critical && r.classification != KayentaClass::Pass) {
        summary = 0.0;
        reason = format!("Canary Failed: {}", failed.reason);
    } else if !active.is_empty() && nodata as f64 / active.len() as f64 >= 0.5 {
        summary = 0.0;
        reason = "Canary Failed: 50% or more metrics returned NODATA".into();
    }
    let classification = if summary >= pass_threshold {
        SummaryClass::Pass
    } else if summary >= marginal_threshold {
        SummaryClass::Marginal
    } else {
        SummaryClass::Fail
    };
    Score { score: summary, classification, reason, groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up_on_the_decimal() {
        assert_eq!(round_half_up_2(100.0 / 3.0), 33.33);
        assert_eq!(round_half_up_2(33.335), 33.34);
        assert_eq!(round_half_up_2(5.0), 5.0);
        assert_eq!(round_half_up_2(66.66666666666667), 66.67);
    }
}
