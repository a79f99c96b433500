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

/// Judges every metric of `analysis` on its fetched data.
pub fn judge(
    analysis: &Analysis,
    inputs: Vec<MetricInput<'_>>,
    context: &Context,
    sides: &ResolvedSides,
    source: SourceDescription,
) -> JudgmentReport {
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
            let failure = result.tests.iter().find(|t| t.gating && t.outcome == TestOutcome::Fail);
            if let Some(test) = failure {
                result.classification = metric::failure_class(test, result.direction);
                result.reason = test.reason.clone();
                return result;
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
                .find_map(|t| metric::imprecision(t, result.direction, config.inconclusive_beyond(), median, bar));
            result.rules_out = metric::rules_out(&result.tests, result.direction, median);
            match imprecise {
                Some(imprecision) => {
                    result.classification = Classification::NoData;
                    result.findings.push(report::Finding {
                        kind: report::FindingKind::Imprecise,
                        side: None,
                        message: imprecision.reason.clone(),
                    });
                    result.reason = imprecision.reason;
                    result.inconclusive = Some(imprecision.inconclusive);
                }
                None => evidence.classify(&mut result),
            }
            result
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
