//! How canary's analysis, metric inputs and report map onto the Kayenta port: each metric's
//! options from its configuration, the per-interval values Kayenta judges on each side, the
//! group weights, and the classifications, group scores and verdict written into the report
//! (`judgment.judge: kayenta | both`).

use super::classifier::{
    CONFIDENCE, Classified, EffectMeasure, KayentaClass, KayentaDirection, NanStrategy, Options, TOLERANCE, classify,
};
use super::scorer::{ScoreInput, SummaryClass, score};
use super::statistics::Stats;
use crate::config::{
    Analysis, JudgeChoice, KayentaEffectMeasure, KayentaMultipleSeries, KayentaNanStrategy, KayentaOutlierStrategy,
    MetricConfig, MetricKind, NoDataPolicy,
};
use crate::judge::report::{
    Classification, GroupResult, JudgmentReport, KayentaGroupScore, KayentaMetricResult, KayentaStats, KayentaVerdict,
};
use crate::judge::{Context, Judgment, MetricInput};
use crate::model::{Direction, Point, PointTime, QueryRole, Series, Side, Verdict, Window};
use std::collections::BTreeMap;

/// Judges every metric of the analysis on its fetched data as its `judgment.judge` chooses: the
/// default judge's report ([`crate::judge::judge`], on the same [`Judgment`]), with the
/// Kayenta-compatible judgment added by [`apply`] for `kayenta` and `both`.
pub(crate) fn judge(judgment: Judgment<'_>) -> JudgmentReport {
    let (analysis, context) = (judgment.analysis, judgment.context);
    if analysis.judgment.judge == JudgeChoice::Default {
        return crate::judge::judge(judgment);
    }
    // Split by `breakdown` once here, as the default judge splits (splitting a part again
    // returns it as it is), so that both judges see the same parts in the same order.
    let inputs: Vec<MetricInput<'_>> = judgment.inputs.into_iter().flat_map(MetricInput::split).collect();
    let report = crate::judge::judge(Judgment { inputs: inputs.clone(), ..judgment });
    apply(analysis, &inputs, &context, report)
}

/// Kayenta's options for a metric of an analysis: direction and `critical` from the metric, the
/// rest from its `kayenta:` block, Kayenta's defaults otherwise.
pub(crate) fn options_for(config: &MetricConfig) -> Options {
    let mut options = Options {
        direction: match config.direction {
            Direction::Increase => KayentaDirection::Increase,
            Direction::Decrease => KayentaDirection::Decrease,
            Direction::Either => KayentaDirection::Either,
        },
        critical: config.critical,
        ..Options::default()
    };
    if let Some(k) = &config.kayenta {
        options.nan_strategy = match k.nan_strategy {
            KayentaNanStrategy::Remove => NanStrategy::Remove,
            KayentaNanStrategy::Replace => NanStrategy::Replace,
        };
        options.must_have_data = k.must_have_data;
        options.tolerance = k.tolerance.unwrap_or(TOLERANCE);
        options.confidence = k.confidence.unwrap_or(CONFIDENCE);
        if let Some(effect) = &k.effect_size {
            options.effect_measure = match effect.measure {
                KayentaEffectMeasure::MeanRatio => EffectMeasure::MeanRatio,
                KayentaEffectMeasure::Cles => EffectMeasure::Cles,
            };
            options.allowed_increase = effect.allowed_increase;
            options.allowed_decrease = effect.allowed_decrease;
            options.critical_increase = effect.critical_increase;
            options.critical_decrease = effect.critical_decrease;
        }
        if let Some(outliers) = &k.outliers {
            options.remove_outliers = outliers.strategy == KayentaOutlierStrategy::Remove;
            options.outlier_factor = outliers.factor;
        }
    }
    options
}

/// The points of a series that fall in the judged part of the window (after the warm-up; a
/// Datadog bucket still filling is left out), NaNs kept: Kayenta's NaN strategy decides.
fn in_window(series: &Series, window: &Window, point_time: PointTime) -> Vec<Point> {
    let step = window.step_seconds as i64;
    series
        .points
        .iter()
        .filter(|p| p.time >= window.judged_from() && p.time <= window.end)
        .filter(|p| point_time != PointTime::IntervalStart || p.time + step <= window.end)
        .copied()
        .collect()
}

/// The most points a side without series is padded to: a window of more steps (a recording from
/// year 1 asked for 8.5 GB) makes the metric an error instead.
pub(crate) const MAX_PLACEHOLDER_POINTS: u64 = 1_000_000;

/// What Kayenta pads a side without any series to: one NaN per step of the judged window.
fn placeholder(window: &Window) -> Result<Vec<f64>, String> {
    let span = window.end.saturating_sub(window.judged_from()).max(0) as u64;
    let points = (span / window.step_seconds.max(1)).max(1);
    if points > MAX_PLACEHOLDER_POINTS {
        return Err(format!(
            "the judged window holds {points} steps, more than the {MAX_PLACEHOLDER_POINTS} a side without series is padded to"
        ));
    }
    Ok(vec![f64::NAN; points as usize])
}

/// Whether a query of the metric returned more than one series on either side.
fn several_series(input: &MetricInput<'_>) -> bool {
    Side::BOTH.into_iter().any(|side| input.side(side).values().any(|series| series.len() > 1))
}

fn one_series<'s>(input: &'s MetricInput<'_>, side: Side, role: QueryRole) -> Result<Option<&'s Series>, String> {
    match input.side(side).get(&role).map(Vec::as_slice).unwrap_or_default() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(format!(
            "the {} query returned {} series; Kayenta would judge each tag combination on its own: use `breakdown`",
            side.name(),
            many.len()
        )),
    }
}

/// The per-interval values Kayenta judges on one side: a gauge's values as they are; a count's
/// per-interval ratio numerator/denominator (an interval with exposure but no numerator point
/// counts 0 events; a ratio without exposure is NaN).
pub(crate) fn side_values(input: &MetricInput<'_>, side: Side, context: &Context) -> Result<Vec<f64>, String> {
    let window = &context.window;
    match input.config.kind() {
        MetricKind::Gauge => Ok(match one_series(input, side, QueryRole::Value)? {
            None => placeholder(window)?,
            Some(series) => in_window(series, window, context.point_time).iter().map(|p| p.value).collect(),
        }),
        MetricKind::Count => {
            let Some(denominator) = one_series(input, side, QueryRole::Denominator)? else {
                return placeholder(window);
            };
            let numerator: Vec<Point> = one_series(input, side, QueryRole::Numerator)?
                .map(|s| in_window(s, window, context.point_time))
                .unwrap_or_default();
            Ok(in_window(denominator, window, context.point_time)
                .iter()
                .map(|d| {
                    let events = numerator.iter().find(|n| n.time == d.time).map_or(0.0, |n| n.value);
                    let ratio = events / d.value;
                    if ratio.is_finite() { ratio } else { f64::NAN }
                })
                .collect())
        }
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

fn maps_to(class: KayentaClass) -> Classification {
    match class {
        KayentaClass::Pass => Classification::Pass,
        KayentaClass::High => Classification::FailHigh,
        KayentaClass::Low => Classification::FailLow,
        KayentaClass::Nodata | KayentaClass::NodataFailMetric => Classification::NoData,
        KayentaClass::Error => Classification::Error,
    }
}

fn stats(s: Stats) -> KayentaStats {
    KayentaStats { count: s.count, min: s.min, max: s.max, mean: s.mean, std: s.std }
}

/// The group weights Kayenta's scorer gets: none when the analysis declares no groups (each group
/// then gets an equal share of 100); the declared weights as percentages when they sum to 100
/// (as `canary import kayenta` writes them); otherwise scaled to sum to 100.
pub(crate) fn group_weights(analysis: &Analysis) -> BTreeMap<String, f64> {
    let total: f64 = analysis.groups.iter().map(|g| g.weight).sum();
    let scale = if (total - 100.0).abs() < 1e-9 { 1.0 } else { 100.0 / total };
    analysis.groups.iter().map(|g| (g.name.value.clone(), g.weight * scale)).collect()
}

fn verdict_of(class: SummaryClass) -> Verdict {
    match class {
        SummaryClass::Pass => Verdict::Pass,
        SummaryClass::Marginal => Verdict::Inconclusive,
        SummaryClass::Fail => Verdict::Fail,
    }
}

/// Adds the Kayenta-compatible judgment to a report of the default judge, per
/// `analysis.judgment.judge`: `default` leaves it as it is; `both` adds Kayenta's classification
/// to every metric and its verdict beside the default one; `kayenta` also makes Kayenta's
/// classifications, group scores, score and verdict the report's own. `inputs` are the metrics'
/// inputs (already split by `breakdown`) in the order of `report.metrics`.
pub(crate) fn apply(
    analysis: &Analysis,
    inputs: &[MetricInput<'_>],
    context: &Context,
    mut report: JudgmentReport,
) -> JudgmentReport {
    let choice = analysis.judgment.judge;
    if choice == JudgeChoice::Default {
        return report;
    }
    let mut scored = Vec::with_capacity(inputs.len());
    for (input, metric) in inputs.iter().zip(report.metrics.iter_mut()) {
        let options = options_for(input.config);
        let name = input.name();
        let muted = input.config.kayenta.as_ref().is_some_and(|k| k.muted);
        let sides = side_values(input, Side::Canary, context)
            .and_then(|canary| side_values(input, Side::Baseline, context).map(|baseline| (canary, baseline)));
        let classified = match sides {
            Ok((canary, baseline)) => classify(&name, &canary, &baseline, &options),
            Err(error) => Classified {
                classification: KayentaClass::Error,
                critical: false,
                reason: "Metric Classification Failed".into(),
                ratio: None,
                interval: None,
                experiment: Stats::default(),
                control: Stats::default(),
                noise_added: false,
                error: Some(error),
            },
        };
        let mut reason = classified.reason.clone();
        if let Some(error) = &classified.error {
            reason = format!("{reason}: {error}");
        }
        let result = KayentaMetricResult {
            classification: classified.classification.as_str().into(),
            maps_to: maps_to(classified.classification),
            critical: classified.critical,
            muted,
            reason: reason.clone(),
            ratio: classified.ratio.and_then(finite),
            ci_lower: classified.interval.map(|i| i.ci_lower),
            ci_upper: classified.interval.map(|i| i.ci_upper),
            estimate: classified.interval.map(|i| i.estimate),
            effect_measure: match options.effect_measure {
                EffectMeasure::MeanRatio => "mean_ratio".into(),
                EffectMeasure::Cles => "cles".into(),
            },
            effect: classified.interval.and_then(|i| finite(i.effect)),
            tolerance: options.tolerance,
            confidence: options.confidence,
            baseline: stats(classified.control),
            canary: stats(classified.experiment),
            noise_added: classified.noise_added,
            error: classified.error.clone(),
        };
        scored.push(ScoreInput {
            classification: classified.classification,
            groups: vec![metric.group.clone()],
            critical: classified.critical,
            muted,
            reason,
        });
        metric.kayenta = Some(result);
    }
    let (pass, marginal) = (analysis.judgment.pass_score, analysis.judgment.marginal_score);
    let summary = score(&scored, &group_weights(analysis), pass, marginal);
    let mut verdict_value = verdict_of(summary.classification);
    let mut verdict_reason = summary.reason.clone();
    // Kayenta leaves a metric with several series out of its score, so a regression there passes:
    // unless the analysis asks for exactly that, such a run does not pass.
    let several: Vec<&str> = inputs
        .iter()
        .zip(&report.metrics)
        .filter(|(input, _)| several_series(input))
        .map(|(_, metric)| metric.name.as_str())
        .collect();
    let kayenta_ignores_several = analysis.judgment.kayenta_multiple_series == KayentaMultipleSeries::Ignore;
    if verdict_value == Verdict::Pass && !kayenta_ignores_several && !several.is_empty() {
        verdict_value = Verdict::Inconclusive;
        verdict_reason = format!(
            "{} returned several series, which Kayenta leaves out of its score: not a pass (aggregate the query, use `breakdown`, or set judgment.kayenta_multiple_series: ignore for Kayenta's behaviour)",
            several.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
        );
    }
    // Kayenta leaves a metric without data out of its score, and knows nothing of canary's
    // data-quality findings: a metric the default judge could not judge on valid data (a series
    // that stops inside the window, identical series, invalid counts, no data) keeps the run from
    // passing here too, unless the analysis lets that metric's missing data be ignored.
    if verdict_value == Verdict::Pass {
        let unjudged: Vec<&str> = report
            .metrics
            .iter()
            // With `kayenta_multiple_series: ignore`, a metric with several series is Kayenta's to drop.
            .filter(|metric| !(kayenta_ignores_several && several.contains(&metric.name.as_str())))
            .filter(|metric| match metric.classification {
                Classification::Error => true,
                Classification::NoData => crate::judge::no_data_policy(analysis, &metric.name) != NoDataPolicy::Ignore,
                _ => false,
            })
            .map(|metric| metric.name.as_str())
            .collect();
        if !unjudged.is_empty() {
            verdict_value = Verdict::Inconclusive;
            verdict_reason = format!(
                "{} could not be judged on valid data (see the data-quality findings), which Kayenta would leave out of its score: not a pass (set the metric's no_data: ignore to leave it out)",
                unjudged.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let verdict = KayentaVerdict {
        score: summary.score,
        classification: summary.classification.as_str().into(),
        verdict: verdict_value,
        reason: verdict_reason,
        pass_score: pass,
        marginal_score: marginal,
        groups: summary
            .groups
            .iter()
            .map(|g| KayentaGroupScore { name: g.name.clone(), weight: g.weight, score: g.score, no_data: g.no_data })
            .collect(),
    };
    if choice == JudgeChoice::Kayenta {
        for metric in &mut report.metrics {
            if let Some(k) = &metric.kayenta {
                metric.classification = k.maps_to;
                metric.reason = if k.reason.is_empty() {
                    format!(
                        "Kayenta: {} (the interval of the shift does not clear ±{} × |estimate| in a bad direction)",
                        k.classification, k.tolerance
                    )
                } else {
                    format!("Kayenta: {}", k.reason)
                };
            }
        }
        report.groups = summary
            .groups
            .iter()
            .map(|g| {
                let members: Vec<&ScoreInput> =
                    scored.iter().filter(|s| !s.muted && s.groups.contains(&g.name)).collect();
                let passed = members.iter().filter(|s| s.classification == KayentaClass::Pass).count();
                let failed = members.iter().filter(|s| s.classification.fails_its_group()).count();
                GroupResult {
                    name: g.name.clone(),
                    weight: g.weight,
                    score: (!g.no_data).then_some(g.score),
                    passed,
                    failed,
                    unscored: members.len() - passed - failed,
                }
            })
            .collect();
        report.score = Some(summary.score);
        report.verdict = verdict.verdict;
        report.reason = verdict.summary_line();
    }
    report.judge = Some(choice);
    report.kayenta_verdict = Some(verdict);
    report
}

impl KayentaVerdict {
    /// One line: Kayenta's score against its thresholds, and the override if one fired (the
    /// report's reason under `judge: kayenta`; the renderers' `kayenta:` line).
    pub fn summary_line(&self) -> String {
        let against = format!(
            "Kayenta score {} ({}; pass at {}, marginal at {})",
            crate::model::number::plain(self.score),
            self.classification,
            crate::model::number::plain(self.pass_score),
            crate::model::number::plain(self.marginal_score)
        );
        if self.reason.is_empty() { against } else { format!("{against}: {}", self.reason) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_window_is_an_error_not_a_huge_allocation() {
        use crate::model::Duration;
        // Window::between refuses such a window; the placeholder must not trust its caller either.
        let year_one = Window { start: -62_135_596_800, end: 1_795_428_000, step_seconds: 60, warmup_seconds: 0 };
        let error = placeholder(&year_one).unwrap_err();
        assert!(error.contains("more than the 1000000"), "{error}");
        let hour = Window::between(0, 3600, Duration::from_secs(60), Duration::default()).unwrap();
        assert_eq!(placeholder(&hour).unwrap().len(), 60);
    }
}
