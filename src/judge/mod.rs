//! The judgment, pure: per metric a classification with the rule that fired, the gating tests
//! corrected for multiplicity (Holm) across the whole analysis, group scores, a score and a
//! verdict. Data quality is judged first ([`quality`]); nothing here does I/O.

pub mod features;
pub mod metric;
pub mod quality;
pub mod report;
mod score;
pub mod sequential;
pub mod shift;
pub(crate) mod short_range;
pub mod sustained;

pub use metric::{Context, MetricInput};
pub(crate) use score::no_data_policy;
pub use shift::judge_shift;

use crate::config::Analysis;
use crate::config::template::ResolvedSides;
use crate::model::SourceDescription;
use crate::stats::holm::holm_adjust;
use report::{Classification, JudgmentReport, REPORT_SCHEMA_VERSION, SideDescription, TestOutcome};

/// Everything one judgment takes: the analysis, each metric's fetched data, what every metric
/// shares, the variables of both sides, and where the data came from.
pub(crate) struct Judgment<'a> {
    pub(crate) analysis: &'a Analysis,
    pub(crate) inputs: Vec<MetricInput<'a>>,
    pub(crate) context: Context,
    pub(crate) sides: &'a ResolvedSides,
    pub(crate) source: SourceDescription,
}

/// Judges every metric of the analysis on its fetched data.
pub(crate) fn judge(judgment: Judgment<'_>) -> JudgmentReport {
    let Judgment { analysis, inputs, context, sides, source } = judgment;
    let context = &context;
    let inputs: Vec<MetricInput<'_>> = inputs.into_iter().flat_map(MetricInput::split).collect();
    // Intervals at the simultaneous (Bonferroni) level of the family: an interval that lies wholly
    // beyond its margin then always means a failed test, whatever Holm decides for the others.
    let family_size: usize = inputs.iter().map(|input| input.config.tests().len()).sum();
    let confidence = 1.0 - 2.0 * context.alpha / family_size.max(1) as f64;
    let mut evaluated: Vec<metric::Evaluated> =
        inputs.iter().map(|input| metric::evaluate(input, context, confidence)).collect();

    // The family: every statistical test of every metric that reached its tests.
    let family: Vec<(usize, usize)> = evaluated
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.settled)
        .flat_map(|(m, e)| {
            e.result.tests.iter().enumerate().filter(|(_, t)| t.gating && t.p_value.is_some()).map(move |(t, _)| (m, t))
        })
        .collect();
    let p_values: Vec<f64> = family.iter().map(|&(m, t)| evaluated[m].result.tests[t].p_value.unwrap_or(1.0)).collect();
    for (&(m, t), adjusted) in family.iter().zip(holm_adjust(&p_values)) {
        let direction = evaluated[m].result.direction;
        metric::settle_test(&mut evaluated[m].result.tests[t], adjusted, context.alpha, direction);
    }

    let metrics: Vec<_> = evaluated
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            let mut result = e.result;
            if e.settled {
                if result.classification == Classification::NoData {
                    result.inconclusive = Some(report::Inconclusive::by(report::InconclusiveRule::DataQuality));
                }
                return result;
            }
            // A fail stands unless every failing gating test is a rate test whose interval under
            // the drift the data show does not confirm it (then: inconclusive, rule `drift`).
            let failing: Vec<&report::TestResult> =
                result.tests.iter().filter(|t| t.gating && t.outcome == TestOutcome::Fail).collect();
            let unconfirmed: Vec<_> = failing.iter().map(|t| metric::drift_unconfirmed(t, result.direction)).collect();
            if let Some(test) = failing.iter().zip(&unconfirmed).find(|(_, u)| u.is_none()).map(|(t, _)| *t) {
                result.classification = metric::failure_class(test, result.direction);
                result.reason = test.reason.clone();
                return result;
            }
            if let Some(drift) = unconfirmed.into_iter().flatten().next() {
                return inconclusive(result, drift);
            }
            // A pass needs positive evidence: a test or threshold that ran on valid data.
            let evidence = match metric::positive_evidence(&result.tests) {
                Ok(evidence) => evidence,
                Err((classification, reason)) => {
                    result.classification = classification;
                    result.findings.push(report::Finding {
                        kind: report::FindingKind::NoEvidence,
                        side: None,
                        message: reason.clone(),
                    });
                    result.reason = reason;
                    if classification == Classification::NoData {
                        result.inconclusive = Some(report::Inconclusive::by(report::InconclusiveRule::NoEvidence));
                    }
                    return result;
                }
            };
            let median = result.baseline.summary.as_ref().map(|s| s.p50);
            let config = inputs[index].config;
            let bar = config.too_little_data(analysis.judgment.too_little_data_bar);
            let imprecise = result
                .tests
                .iter()
                .filter(|t| t.gating)
                .find_map(|t| metric::imprecision(t, result.direction, config.inconclusive_beyond(), median, bar))
                .or_else(|| {
                    // Widened by dispersion, yet the estimate itself lies beyond the margin.
                    result
                        .tests
                        .iter()
                        .filter(|t| t.gating)
                        .find_map(|t| metric::dispersed_estimate_beyond_margin(t, result.direction))
                });
            result.rules_out = metric::rules_out(&result.tests, result.direction, median);
            match imprecise {
                Some(imprecision) => inconclusive(result, imprecision),
                None => {
                    evidence.classify(&mut result);
                    result
                }
            }
        })
        .collect();

    let (roll_up, features) = if features::has_features(analysis) {
        features::roll_up(analysis, &metrics)
    } else {
        (score::roll_up(analysis, &metrics), Vec::new())
    };
    let offset = analysis.baseline.offset.map(|o| o.as_secs());
    JudgmentReport {
        schema_version: REPORT_SCHEMA_VERSION,
        analysis: analysis.name.clone(),
        verdict: roll_up.verdict,
        reason: roll_up.reason,
        score: roll_up.score,
        pass_score: analysis.judgment.pass_score,
        marginal_score: analysis.judgment.marginal_score,
        alpha: context.alpha,
        window: context.window,
        last_seconds: None,
        source,
        baseline: SideDescription { variables: sides.baseline.clone(), offset_seconds: offset },
        canary: SideDescription { variables: sides.canary.clone(), offset_seconds: None },
        groups: roll_up.groups,
        metrics,
        rollback: None,
        features,
        judge: None,
        kayenta_verdict: None,
        watchdog: None,
    }
}

#[cfg(test)]
mod tests;

/// A metric inconclusive by a bar or the drift rule: its reason, a finding, and the rule.
fn inconclusive(mut result: report::MetricResult, imprecision: metric::Imprecision) -> report::MetricResult {
    result.classification = Classification::NoData;
    result.findings.push(report::Finding {
        kind: report::FindingKind::Imprecise,
        side: None,
        message: imprecision.reason.clone(),
    });
    result.reason = imprecision.reason;
    result.inconclusive = Some(imprecision.inconclusive);
    result
}
