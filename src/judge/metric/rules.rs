//! The checks both kinds share beside the statistical tests: thresholds on a side's statistic,
//! and sustained-breach rules on per-step points (see [`crate::judge::sustained`]).
use super::{MetricInput, carry_key};
use crate::config::{Statistic, ThresholdConfig};
use crate::judge::report::{Finding, FindingKind, TestKindResult, TestOutcome, TestResult};
use crate::model::{Side, number::plain, window::Window};
use std::collections::BTreeMap;

/// Threshold checks on the statistic each threshold names.
pub(super) fn thresholds(
    configs: &[ThresholdConfig],
    statistic_of: impl Fn(Side, Statistic) -> Option<f64>,
) -> Vec<TestResult> {
    configs
        .iter()
        .flat_map(|threshold| {
            let name = threshold.statistic.to_string();
            let canary_value = statistic_of(Side::Canary, threshold.statistic);
            let baseline_value = statistic_of(Side::Baseline, threshold.statistic);
            let mut checks: Vec<(f64, bool, String)> = Vec::new(); // (bound, is_upper, description)
            if let Some(max) = threshold.max {
                checks.push((max, true, format!("the maximum {}", plain(max))));
            }
            if let Some(min) = threshold.min {
                checks.push((min, false, format!("the minimum {}", plain(min))));
            }
            if let (Some(ratio), Some(b)) = (threshold.max_ratio, baseline_value) {
                let bound = b * ratio + threshold.slack;
                checks.push((
                    bound,
                    true,
                    format!("baseline {} × {} + {} = {}", plain(b), plain(ratio), plain(threshold.slack), plain(bound)),
                ));
            }
            if let (Some(ratio), Some(b)) = (threshold.min_ratio, baseline_value) {
                let bound = b * ratio - threshold.slack;
                checks.push((
                    bound,
                    false,
                    format!("baseline {} × {} − {} = {}", plain(b), plain(ratio), plain(threshold.slack), plain(bound)),
                ));
            }
            checks
                .into_iter()
                .map(|(bound, upper, description)| {
                    let (outcome, reason) = match canary_value {
                        None => (TestOutcome::Skipped, format!("no canary {name} to compare with {description}")),
                        Some(value) => {
                            let breached = if upper { value > bound } else { value < bound };
                            let relation = match (breached, upper) {
                                (true, true) => "exceeds",
                                (true, false) => "is below",
                                (false, true) => "is within",
                                (false, false) => "is at or above",
                            };
                            let outcome = if breached { TestOutcome::Fail } else { TestOutcome::Pass };
                            (outcome, format!("canary {name} {} {relation} {description}", plain(value)))
                        }
                    };
                    TestResult {
                        statistic: canary_value,
                        threshold: Some(bound),
                        outcome,
                        reason,
                        ..TestResult::new(TestKindResult::Threshold)
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The spacing the points really have: the most common gap between consecutive timestamps (the
/// smaller one on a tie), or `step` when there are fewer than two points.
fn spacing_of(points: &[(i64, f64)], step: u64) -> u64 {
    let mut gaps: BTreeMap<u64, usize> = BTreeMap::new();
    for pair in points.windows(2) {
        let gap = pair[1].0.saturating_sub(pair[0].0);
        if gap > 0 {
            *gaps.entry(gap as u64).or_default() += 1;
        }
    }
    gaps.iter().max_by_key(|(gap, count)| (**count, std::cmp::Reverse(**gap))).map_or(step, |(gap, _)| *gap)
}

/// The metric's sustained-breach rules on per-step points (time, value) of each side; see
/// [`crate::judge::sustained`]. Not statistical tests: never part of the Holm family. A rule judges the
/// points at their own spacing (reported when it is not the step), and a rule whose longest run
/// of comparable points is shorter than its `for` (or, when the judged window is shorter than
/// `for`, than the window: the watchdog's carried stretches judge across runs) is skipped: it
/// cannot show that no breach happened.
pub(super) fn sustained_tests(
    input: &MetricInput<'_>,
    canary: &[(i64, f64)],
    baseline: &[(i64, f64)],
    window: &Window,
    findings: &mut Vec<Finding>,
) -> Vec<TestResult> {
    let step = window.step_seconds;
    let judged_span = window.end.saturating_sub(window.judged_from()).max(0) as u64;
    if input.config.sustained.is_empty() {
        return Vec::new();
    }
    let baseline_by_time: BTreeMap<i64, f64> = baseline.iter().copied().collect();
    let spacing = spacing_of(canary, step);
    let pair_within = spacing.max(spacing_of(baseline, step)) / 2;
    if spacing != step {
        findings.push(Finding {
            kind: FindingKind::StepMismatch,
            side: Some(Side::Canary),
            message: format!(
                "the canary's points are every {}, not every {} (the step): sustained rules were judged at the points' spacing",
                crate::model::Duration::from_secs(spacing),
                crate::model::Duration::from_secs(step)
            ),
        });
    }
    let name = input.name();
    input
        .config
        .sustained
        .iter()
        .enumerate()
        .map(|(index, rule_config)| {
            let rule = rule_config.rule();
            let carry = input.carries.get(&carry_key(&name, index));
            let found = crate::judge::sustained::evaluate(canary, &baseline_by_time, rule, spacing, pair_within, carry);
            let trailing = found.trailing.clone();
            let fired = found.fired.is_some();
            let stretch = found.fired.or(found.longest);
            let described = rule_config.describe();
            let too_few = !fired && found.covered_seconds < rule.for_seconds.min(judged_span);
            let reason = match &stretch {
                Some(stretch) if fired => {
                    format!("sustained breach of {described}: {}", crate::judge::sustained::describe_stretch(stretch))
                }
                _ if too_few => format!(
                    "{described}: {} comparable point(s) every {}{}, the longest unbroken run lasting {}, shorter than {}: no evidence that it was not breached",
                    found.compared,
                    crate::model::Duration::from_secs(spacing),
                    if rule.bound.is_relative() { " with a baseline point near it" } else { "" },
                    crate::model::Duration::from_secs(found.covered_seconds),
                    crate::model::Duration::from_secs(rule.for_seconds.min(judged_span))
                ),
                Some(stretch) => format!(
                    "no sustained breach of {described}: the longest breach lasted {} ({})",
                    crate::model::Duration::from_secs(stretch.duration_seconds),
                    crate::judge::sustained::describe_stretch(stretch)
                ),
                None => format!("no sustained breach of {described}: no point breached"),
            };
            TestResult {
                statistic: Some(stretch.as_ref().map_or(0.0, |s| s.duration_seconds as f64)),
                threshold: Some(rule.for_seconds as f64),
                outcome: if fired {
                    TestOutcome::Fail
                } else if too_few {
                    TestOutcome::Skipped
                } else {
                    TestOutcome::Pass
                },
                reason,
                sustained: Some(crate::judge::report::SustainedEvidence {
                    rule: described,
                    bound: rule.bound,
                    for_seconds: rule.for_seconds,
                    fired,
                    stretch,
                    trailing,
                    compared: found.compared,
                    covered_seconds: found.covered_seconds,
                    spacing_seconds: spacing,
                }),
                ..TestResult::new(TestKindResult::Sustained)
            }
        })
        .collect()
}
