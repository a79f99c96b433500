//! Feature-scoped groups, pure: a group that names a `feature` is judged apart from the
//! deployment. The deployment's score and verdict come from the other metrics alone; a feature
//! fails when any metric of its group fails. Only the verdict is decided here; the actions that
//! turn features off are called by [`crate::actions::features`], which turns a `feature_off`
//! verdict into a fail when one of them is not delivered.
//!
//! | deployment-level metrics | feature groups | verdict |
//! |---|---|---|
//! | fail | any | fail (failed features are still turned off, and the deployment is rolled back) |
//! | inconclusive | any | inconclusive (failed features are still turned off) |
//! | pass (or none) | one not judged (error, no data, left open by the drift rule) | inconclusive |
//! | pass (or none) | all pass | pass |
//! | pass (or none) | some fail | `feature_off` (exit 5), once their actions succeed |

use super::report::{FeatureResult, MetricResult};
use super::score::{self, RollUp};
use crate::config::Analysis;
use crate::model::Verdict;

/// Whether the analysis declares feature-scoped groups.
pub fn has_features(analysis: &Analysis) -> bool {
    analysis.groups.iter().any(|g| g.feature.is_some())
}

/// The roll-up of an analysis with feature-scoped groups, and each feature's result.
pub fn roll_up(analysis: &Analysis, metrics: &[MetricResult]) -> (RollUp, Vec<FeatureResult>) {
    let feature_of =
        |group: &str| analysis.groups.iter().find(|g| g.name.value == group).and_then(|g| g.feature.clone());
    let failed = |m: &MetricResult| score::counts_as_failed(analysis, m);
    let features: Vec<FeatureResult> = analysis
        .groups
        .iter()
        .filter_map(|g| g.feature.as_ref().map(|feature| (g, feature)))
        .map(|(group, feature)| {
            let failed_metrics: Vec<String> =
                metrics.iter().filter(|m| m.group == group.name.value && failed(m)).map(|m| m.name.clone()).collect();
            FeatureResult {
                feature: feature.clone(),
                group: group.name.value.clone(),
                failed: !failed_metrics.is_empty(),
                failed_metrics,
                action: None,
            }
        })
        .collect();
    let deployment: Vec<MetricResult> = metrics.iter().filter(|m| feature_of(&m.group).is_none()).cloned().collect();
    let all_groups = score::roll_up(analysis, metrics).groups;
    let mut roll_up = if deployment.is_empty() {
        RollUp { groups: Vec::new(), score: None, verdict: Verdict::Pass, reason: "no deployment-level metrics".into() }
    } else {
        score::roll_up(analysis, &deployment)
    };
    roll_up.groups = all_groups;
    // A feature's metric the judge could not judge (an error, no data, a failed test the drift
    // rule left open) is no evidence of the feature's health: nothing is turned off for it, and
    // the run is not a pass, as for a deployment metric.
    let open: Vec<&str> = metrics
        .iter()
        .filter(|m| feature_of(&m.group).is_some() && !failed(m) && score::unresolved(analysis, m))
        .map(|m| m.name.as_str())
        .collect();
    if roll_up.verdict == Verdict::Pass
        && let Some(first) = open.first()
    {
        let reason = &metrics.iter().find(|m| m.name == *first).expect("listed").reason;
        roll_up.verdict = Verdict::Inconclusive;
        roll_up.reason = format!("{} could not be judged (`{first}`: {reason})", open.join(", "));
    }
    let off: Vec<String> = features
        .iter()
        .filter(|f| f.failed)
        .map(|f| format!("{} ({})", f.feature, f.failed_metrics.join(", ")))
        .collect();
    if !off.is_empty() {
        let list = off.join("; ");
        match roll_up.verdict {
            Verdict::Pass => {
                roll_up.verdict = Verdict::FeatureOff;
                roll_up.reason = format!("deployment-level metrics pass; feature(s) to turn off: {list}");
            }
            _ => roll_up.reason = format!("{}; feature(s) also failed: {list}", roll_up.reason),
        }
    }
    (roll_up, features)
}
