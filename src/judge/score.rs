//! Roll-up: group scores (share of scored metrics that passed), a weighted score, and the verdict.
//! A failed critical metric fails the run; no-data and error metrics are never counted as passes.

use super::report::{Classification, GroupResult, InconclusiveRule, MetricResult};
use crate::config::{Analysis, NoDataPolicy};
use crate::model::{Verdict, number::plain};

/// Group results, the score, the verdict and its reason.
pub struct RollUp {
    pub groups: Vec<GroupResult>,
    pub score: Option<f64>,
    pub verdict: Verdict,
    pub reason: String,
}

/// Whether a metric counts as failed: it failed, or had no data under its metric's `fail`
/// policy. Parts of a breakdown (`name{label="value"}`) follow their metric's policy.
pub(crate) fn counts_as_failed(analysis: &Analysis, metric: &MetricResult) -> bool {
    metric.classification.is_fail()
        || (metric.classification == Classification::NoData
            && no_data_policy(analysis, &metric.name) == NoDataPolicy::Fail)
}

/// The `no_data` policy of the metric whose results are reported under `name`.
pub(crate) fn no_data_policy(analysis: &Analysis, name: &str) -> NoDataPolicy {
    analysis
        .metrics
        .iter()
        .find(|config| super::metric::reported_under(config, name))
        .map_or(NoDataPolicy::Inconclusive, |config| config.no_data)
}

/// Whether a metric is inconclusive on plenty of data that point to a regression: by the drift
/// rule (its rate test failed, but within the drift the data show) or by `estimate_beyond_margin`
/// (its estimate lies beyond the margin). Such a metric has data; it is not "no data".
pub(crate) fn left_open_by_drift(metric: &MetricResult) -> bool {
    metric
        .inconclusive
        .as_ref()
        .is_some_and(|i| matches!(i.rule, InconclusiveRule::Drift | InconclusiveRule::EstimateBeyondMargin))
}

/// Whether `metric` could not be judged and keeps a run from passing: an error, or no data under
/// `no_data: inconclusive` (or left open by the drift rule, whatever the policy short of `fail`).
pub(crate) fn unresolved(analysis: &Analysis, metric: &MetricResult) -> bool {
    metric.classification == Classification::Error
        || (metric.classification == Classification::NoData
            && match no_data_policy(analysis, &metric.name) {
                NoDataPolicy::Inconclusive => true,
                // `ignore` leaves out a metric without data, never one whose test failed and that
                // the drift rule left open, nor one whose estimate is beyond its margin.
                NoDataPolicy::Ignore => left_open_by_drift(metric),
                NoDataPolicy::Fail => false,
            })
}

pub fn roll_up(analysis: &Analysis, metrics: &[MetricResult]) -> RollUp {
    let failed = |m: &MetricResult| counts_as_failed(analysis, m);
    let mut group_names: Vec<String> = analysis.groups.iter().map(|g| g.name.value.clone()).collect();
    for metric in metrics {
        if !group_names.contains(&metric.group) {
            group_names.push(metric.group.clone());
        }
    }
    let groups: Vec<GroupResult> = group_names
        .into_iter()
        .filter_map(|name| {
            let members: Vec<&MetricResult> = metrics.iter().filter(|m| m.group == name).collect();
            if members.is_empty() {
                return None;
            }
            let passed = members.iter().filter(|m| m.classification == Classification::Pass).count();
            let failed = members.iter().filter(|m| failed(m)).count();
            let scored = passed + failed;
            Some(GroupResult {
                weight: analysis.group_weight(&name),
                name,
                score: (scored > 0).then(|| 100.0 * passed as f64 / scored as f64),
                passed,
                failed,
                unscored: members.len() - scored,
            })
        })
        .collect();
    let weighted: Vec<(f64, f64)> = groups.iter().filter_map(|g| g.score.map(|s| (g.weight, s))).collect();
    let total_weight: f64 = weighted.iter().map(|(w, _)| w).sum();
    let score = (total_weight > 0.0)
        .then(|| (weighted.iter().map(|(w, s)| w * s).sum::<f64>() / total_weight * 100.0).round() / 100.0);

    let judgment = &analysis.judgment;
    if let Some(critical) = metrics.iter().find(|m| m.critical && failed(m)) {
        return RollUp {
            groups,
            score,
            verdict: Verdict::Fail,
            reason: format!("critical metric `{}` failed: {}", critical.name, critical.reason),
        };
    }
    let unresolved: Vec<&MetricResult> = metrics.iter().filter(|m| unresolved(analysis, m)).collect();
    let Some(value) = score else {
        let reason = match unresolved.first() {
            Some(m) => format!("no metric could be judged; `{}`: {}", m.name, m.reason),
            None => "no metric could be judged".to_string(),
        };
        return RollUp { groups, score, verdict: Verdict::Inconclusive, reason };
    };
    let failures: Vec<&str> = metrics.iter().filter(|m| failed(m)).map(|m| m.name.as_str()).collect();
    let failed_names = failures.join(", ");
    if value < judgment.marginal_score {
        let reason =
            format!("{failed_names} failed: the score is below the marginal score {}", plain(judgment.marginal_score));
        return RollUp { groups, score, verdict: Verdict::Fail, reason };
    }
    if value < judgment.pass_score {
        let reason = format!(
            "{failed_names} failed: the score is marginal (at least {} but below the pass score {})",
            plain(judgment.marginal_score),
            plain(judgment.pass_score)
        );
        return RollUp { groups, score, verdict: Verdict::Inconclusive, reason };
    }
    if let Some(first) = unresolved.first() {
        let names: Vec<&str> = unresolved.iter().map(|m| m.name.as_str()).collect();
        return RollUp {
            groups,
            score,
            verdict: Verdict::Inconclusive,
            reason: format!("{} could not be judged (`{}`: {})", names.join(", "), first.name, first.reason),
        };
    }
    let reason = if failures.is_empty() {
        "every metric passed".to_string()
    } else {
        format!("{failed_names} failed, but the score reaches the pass score {}", plain(judgment.pass_score))
    };
    RollUp { groups, score, verdict: Verdict::Pass, reason }
}
