//! Sustained-breach rules, pure: "error rate above 1% for 5 minutes", "p99 above 1.5× the
//! baseline for 10 minutes". A rule is a bound on the canary's per-point values (absolute, or
//! relative to the baseline's value at the same timestamp) that must be breached over a
//! continuous stretch of at least `for`.
//!
//! # Semantics
//!
//! - The points are the canary's judged points at the window's step (after the warm-up and the
//!   data-quality cleaning, but *not* thinned for overlapping range windows): gauges their values,
//!   counts the per-interval rate numerator / denominator.
//! - A point *breaches* when it lies strictly beyond its limit: `value > max`, `value < min`,
//!   `value > baseline × max_ratio + slack`, `value < baseline × min_ratio − slack`. A value equal
//!   to the limit does not breach (as with whole-window thresholds).
//! - The step is the points' own spacing (the judge passes the spacing the canary's points really
//!   have, which a recording or a source may not match with its declared step).
//! - A relative bound pairs each canary point with the baseline point nearest to it within
//!   `pair_within` seconds (the judge passes half the larger of both sides' spacings): a canary
//!   scraped a few seconds off its baseline's grid is still compared.
//! - A *stretch* is a run of breaching points each one step after the previous one (more than 0
//!   and at most 1.5 steps later). A missing point breaks it: no canary point in that step, a NaN
//!   or infinite value (dropped by cleaning), a count interval with no traffic (denominator 0),
//!   or, for a relative rule, no finite baseline value within half a step. A point that does not
//!   breach breaks it too.
//! - A rule's *comparable* points are the canary points it could judge (finite, with a limit). A
//!   rule whose longest run of consecutive comparable points is shorter than `for` could never
//!   have fired, so it cannot show that no breach happened (see [`Evaluation::covered_seconds`]).
//! - A stretch's *duration* is `last − first + step` (each point stands for one step), so one
//!   breaching point lasts one step, and a stretch of `for / step` points fires: exactly at the
//!   duration fires.
//! - The rule *fires* when some stretch lasts at least `for`. The reported stretch is the first
//!   that did, with all its points; when none did, the longest breach (the first of equal ones).
//! - A trailing stretch carried over from an earlier judgment ([`Carry`]) is joined with the
//!   first stretch of this one when that begins exactly one step after the carried stretch's end
//!   (or overlaps it: points already carried are not counted twice).

use crate::model::Rule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One breaching point: when, the canary's value, and the limit it breached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StretchPoint {
    /// Unix seconds.
    pub time: i64,
    pub value: f64,
    pub limit: f64,
}

/// A run of consecutive breaching points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stretch {
    /// Timestamp of the first point (Unix seconds).
    pub start: i64,
    /// Timestamp of the last point (Unix seconds).
    pub end: i64,
    /// end − start + step.
    pub duration_seconds: u64,
    pub points: Vec<StretchPoint>,
}

/// A trailing stretch carried over from an earlier judgment (the watchdog's previous run).
pub type Carry = Stretch;

/// What a rule found in one judgment.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The first stretch that lasted at least `for`.
    pub fired: Option<Stretch>,
    /// The longest stretch (the first of equal ones), fired or not.
    pub longest: Option<Stretch>,
    /// The stretch still running at the last judged point, if the last point breached: what a
    /// later judgment of new points would continue.
    pub trailing: Option<Stretch>,
    /// Canary points the rule could judge (finite, with a limit), carried ones included.
    pub compared: usize,
    /// The longest run of consecutive comparable points, as a duration (last − first + step): a
    /// rule can only fire on a run at least `for` long.
    pub covered_seconds: u64,
}

/// The baseline value nearest to `time` within `within` seconds (the earlier one on a tie).
pub fn nearest(baseline: &BTreeMap<i64, f64>, time: i64, within: u64) -> Option<f64> {
    let within = within.min(i64::MAX as u64) as i64;
    baseline
        .range(time.saturating_sub(within)..=time.saturating_add(within))
        .min_by_key(|(t, _)| (**t - time).unsigned_abs())
        .map(|(_, v)| *v)
}

/// Finds the breaching stretches of `canary` (time, value; sorted by time) under `rule`, with the
/// baseline's values by timestamp for relative bounds (paired within `pair_within` seconds), and
/// an optional carried stretch.
pub fn evaluate(
    canary: &[(i64, f64)],
    baseline: &BTreeMap<i64, f64>,
    rule: Rule,
    step_seconds: u64,
    pair_within: u64,
    carry: Option<&Carry>,
) -> Evaluation {
    let step = step_seconds.max(1) as i64;
    let mut stretches: Vec<Vec<StretchPoint>> = Vec::new();
    let mut current: Vec<StretchPoint> = carry.map(|c| c.points.clone()).unwrap_or_default();
    let mut last_seen: Option<i64> = current.last().map(|p| p.time);
    let mut compared = current.len();
    // The current run of consecutive comparable points (first, last) and the longest one's duration.
    let mut run: Option<(i64, i64)> = carry.map(|c| (c.start, c.end));
    let mut covered = carry.map_or(0, |c| c.duration_seconds);
    for &(time, value) in canary {
        if let Some(carried_end) = carry.map(|c| c.end)
            && time <= carried_end
        {
            // Already part of the carried stretch (or before it): not counted twice.
            continue;
        }
        let limit = rule.bound.limit(nearest(baseline, time, pair_within)).filter(|l| l.is_finite());
        let consecutive = last_seen.is_some_and(|last| time > last && time - last <= step + step / 2);
        let breach = match limit {
            Some(limit) if value.is_finite() => {
                compared += 1;
                let first = match run {
                    Some((first, last)) if last_seen == Some(last) && consecutive => first,
                    _ => time,
                };
                run = Some((first, time));
                covered = covered.max((time - first + step) as u64);
                rule.bound.breaches(value, limit).then_some(limit)
            }
            _ => {
                run = None;
                None
            }
        };
        match breach {
            Some(limit) => {
                if !consecutive && !current.is_empty() {
                    stretches.push(std::mem::take(&mut current));
                }
                current.push(StretchPoint { time, value, limit });
            }
            None => {
                if !current.is_empty() {
                    stretches.push(std::mem::take(&mut current));
                }
            }
        }
        last_seen = Some(time);
    }
    // The stretch still open at the end is trailing only when it reaches the last judged point.
    let last_point = canary.last().map(|&(t, _)| t).into_iter().chain(carry.map(|c| c.end)).max();
    let trailing_points =
        (!current.is_empty() && current.last().map(|p| p.time) == last_point).then(|| current.clone());
    if !current.is_empty() {
        stretches.push(current);
    }
    let to_stretch = |points: Vec<StretchPoint>| {
        let (start, end) = (points[0].time, points[points.len() - 1].time);
        Stretch { start, end, duration_seconds: (end - start + step) as u64, points }
    };
    let stretches: Vec<Stretch> = stretches.into_iter().map(to_stretch).collect();
    let fired = stretches.iter().find(|s| s.duration_seconds >= rule.for_seconds).cloned();
    let longest = stretches
        .iter()
        .fold(None::<&Stretch>, |best, s| match best {
            Some(b) if b.duration_seconds >= s.duration_seconds => Some(b),
            _ => Some(s),
        })
        .cloned();
    Evaluation { fired, longest, trailing: trailing_points.map(to_stretch), compared, covered_seconds: covered }
}

/// `5m from 2024-05-01T10:03:00Z to 10:07:00Z: 0.031, 0.042, … (limit 0.01)` for a reason line.
pub fn describe_stretch(stretch: &Stretch) -> String {
    use crate::model::number::plain;
    const SHOWN: usize = 6;
    let values: Vec<String> = stretch.points.iter().take(SHOWN).map(|p| plain(p.value)).collect();
    let more =
        if stretch.points.len() > SHOWN { format!(", … ({} points)", stretch.points.len()) } else { String::new() };
    let limits = {
        let first = stretch.points.first().map_or(0.0, |p| p.limit);
        if stretch.points.iter().all(|p| p.limit == first) {
            format!("limit {}", plain(first))
        } else {
            let low = stretch.points.iter().map(|p| p.limit).fold(f64::INFINITY, f64::min);
            let high = stretch.points.iter().map(|p| p.limit).fold(f64::NEG_INFINITY, f64::max);
            format!("limits {} to {}", plain(low), plain(high))
        }
    };
    format!(
        "{} from {} to {}: {}{more} ({limits})",
        crate::model::Duration::from_secs(stretch.duration_seconds),
        crate::model::window::format_timestamp(stretch.start),
        crate::model::window::format_timestamp(stretch.end),
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Bound;

    const STEP: u64 = 60;

    fn points(values: &[f64]) -> Vec<(i64, f64)> {
        values.iter().enumerate().map(|(i, &v)| (60 * (i as i64 + 1), v)).collect()
    }

    fn max(bound: f64, minutes: u64) -> Rule {
        Rule { bound: Bound::Max(bound), for_seconds: minutes * 60 }
    }

    fn none() -> BTreeMap<i64, f64> {
        BTreeMap::new()
    }

    #[test]
    fn exactly_at_the_duration_fires_one_point_less_does_not() {
        let data = points(&[0.0, 2.0, 2.0, 2.0, 0.0]);
        let found = evaluate(&data, &none(), max(1.0, 3), STEP, STEP / 2, None);
        let fired = found.fired.expect("3 points of 1m last 3m");
        assert_eq!((fired.start, fired.end, fired.duration_seconds), (120, 240, 180));
        assert_eq!(fired.points.iter().map(|p| p.value).collect::<Vec<_>>(), vec![2.0, 2.0, 2.0]);
        let found = evaluate(&data, &none(), max(1.0, 4), STEP, STEP / 2, None);
        assert!(found.fired.is_none());
        assert_eq!(found.longest.unwrap().duration_seconds, 180);
        assert!(found.trailing.is_none(), "the last point does not breach");
    }

    #[test]
    fn the_bound_itself_is_not_a_breach() {
        let data = points(&[1.0, 1.0, 1.0]);
        assert!(evaluate(&data, &none(), max(1.0, 1), STEP, STEP / 2, None).longest.is_none());
        let min = Rule { bound: Bound::Min(1.0), for_seconds: 60 };
        assert!(evaluate(&data, &none(), min, STEP, STEP / 2, None).longest.is_none());
        let low = points(&[0.5, 0.5]);
        assert_eq!(evaluate(&low, &none(), min, STEP, STEP / 2, None).fired.unwrap().duration_seconds, 120);
    }

    #[test]
    fn a_single_point_spike_lasts_one_step() {
        let data = points(&[0.0, 0.0, 9.0, 0.0, 0.0]);
        let found = evaluate(&data, &none(), max(1.0, 2), STEP, STEP / 2, None);
        assert!(found.fired.is_none());
        assert_eq!(found.longest.unwrap().duration_seconds, 60);
        assert!(
            evaluate(&data, &none(), max(1.0, 1), STEP, STEP / 2, None).fired.is_some(),
            "for: 1 step fires on one point"
        );
    }

    #[test]
    fn a_missing_point_breaks_the_stretch() {
        // 60, 120 breach; 180 missing; 240, 300 breach.
        let data = vec![(60, 2.0), (120, 2.0), (240, 2.0), (300, 2.0)];
        let found = evaluate(&data, &none(), max(1.0, 3), STEP, STEP / 2, None);
        assert!(found.fired.is_none(), "two stretches of 2m, not one of 5m");
        let longest = found.longest.unwrap();
        assert_eq!((longest.start, longest.end), (60, 120), "the first of equal stretches");
        assert_eq!(found.trailing.unwrap().start, 240);
    }

    #[test]
    fn nan_breaks_the_stretch() {
        let data = points(&[2.0, 2.0, f64::NAN, 2.0, 2.0]);
        assert!(evaluate(&data, &none(), max(1.0, 3), STEP, STEP / 2, None).fired.is_none());
        let data = points(&[2.0, 2.0, f64::INFINITY, 2.0]);
        assert!(evaluate(&data, &none(), max(1.0, 3), STEP, STEP / 2, None).fired.is_none());
    }

    #[test]
    fn relative_bounds_use_the_baseline_at_the_same_timestamp_and_break_without_one() {
        let canary = points(&[3.0, 3.0, 3.0, 3.0]);
        let baseline: BTreeMap<i64, f64> = [(60, 1.0), (120, 1.0), (180, 2.5), (240, 1.0)].into();
        let rule = Rule { bound: Bound::MaxRatio { ratio: 1.5, slack: 0.0 }, for_seconds: 120 };
        let found = evaluate(&canary, &baseline, rule, STEP, STEP / 2, None);
        let fired = found.fired.unwrap();
        assert_eq!((fired.start, fired.end), (60, 120));
        assert_eq!(fired.points[0].limit, 1.5);
        // Without a baseline point at 120 the stretch breaks there.
        let sparse: BTreeMap<i64, f64> = [(60, 1.0), (180, 1.0), (240, 1.0)].into();
        let found = evaluate(&canary, &sparse, rule, STEP, STEP / 2, None);
        assert_eq!(found.fired.unwrap().start, 180);
        let slack = Rule { bound: Bound::MinRatio { ratio: 0.8, slack: 0.1 }, for_seconds: 60 };
        // 0.75 < 1 × 0.8 − 0.1 = 0.7? no; 0.6 < 0.7 yes.
        let found = evaluate(&[(60, 0.75), (120, 0.6)], &[(60, 1.0), (120, 1.0)].into(), slack, STEP, STEP / 2, None);
        assert_eq!(found.fired.unwrap().start, 120);
    }

    #[test]
    fn the_first_stretch_that_lasts_long_enough_is_reported() {
        let data = points(&[2.0, 2.0, 0.0, 3.0, 3.0, 3.0, 0.0, 4.0, 4.0]);
        let found = evaluate(&data, &none(), max(1.0, 2), STEP, STEP / 2, None);
        assert_eq!(found.fired.unwrap().start, 60);
        assert_eq!(found.longest.unwrap().start, 240);
        assert_eq!(found.trailing.unwrap().start, 480);
    }

    #[test]
    fn a_stretch_spanning_two_ticks_fires_with_the_carry() {
        // Tick 1 judged 60..=300 and ended in a 3m breach; tick 2 judges 360..=480.
        let first = evaluate(&points(&[0.0, 0.0, 2.0, 2.0, 2.0]), &none(), max(1.0, 5), STEP, STEP / 2, None);
        assert!(first.fired.is_none());
        let carry = first.trailing.unwrap();
        assert_eq!((carry.start, carry.end), (180, 300));
        let second: Vec<(i64, f64)> = vec![(360, 2.0), (420, 2.0), (480, 0.0)];
        assert!(
            evaluate(&second, &none(), max(1.0, 5), STEP, STEP / 2, None).fired.is_none(),
            "each tick alone is short"
        );
        let fired = evaluate(&second, &none(), max(1.0, 5), STEP, STEP / 2, Some(&carry)).fired.unwrap();
        assert_eq!((fired.start, fired.end, fired.duration_seconds), (180, 420, 300));
        // Overlapping windows do not count points twice.
        let overlapping: Vec<(i64, f64)> = vec![(240, 2.0), (300, 2.0), (360, 2.0)];
        let found = evaluate(&overlapping, &none(), max(1.0, 5), STEP, STEP / 2, Some(&carry));
        assert_eq!(found.longest.unwrap().duration_seconds, 240);
        // A gap between the ticks breaks it.
        let later: Vec<(i64, f64)> = vec![(420, 2.0), (480, 2.0)];
        let found = evaluate(&later, &none(), max(1.0, 5), STEP, STEP / 2, Some(&carry));
        assert!(found.fired.is_none());
        assert_eq!(found.trailing.unwrap().start, 420);
    }

    #[test]
    fn relative_bounds_pair_points_within_half_a_step() {
        // The canary scraped 7 s after the baseline's grid: every point is still compared.
        let canary: Vec<(i64, f64)> = (1..=6).map(|i| (60 * i + 7, 3.0)).collect();
        let baseline: BTreeMap<i64, f64> = (1..=6).map(|i| (60 * i, 1.0)).collect();
        let rule = Rule { bound: Bound::MaxRatio { ratio: 1.5, slack: 0.0 }, for_seconds: 300 };
        let found = evaluate(&canary, &baseline, rule, STEP, STEP / 2, None);
        assert_eq!((found.compared, found.covered_seconds), (6, 360));
        assert_eq!(found.fired.unwrap().duration_seconds, 360);
        // Every other baseline point missing: the comparable runs last one step each.
        let sparse: BTreeMap<i64, f64> = (1..=3).map(|i| (120 * i, 1.0)).collect();
        let found = evaluate(&canary, &sparse, rule, STEP, STEP / 2, None);
        assert_eq!((found.compared, found.covered_seconds, found.fired), (3, 60, None));
    }

    #[test]
    fn points_at_their_own_spacing_make_a_stretch() {
        // Points every 30 s judged at their spacing: a 5-minute burst of 10 points fires.
        let data: Vec<(i64, f64)> = (1..=10).map(|i| (30 * i, 2.0)).collect();
        let found = evaluate(&data, &none(), max(1.0, 5), 30, 15, None);
        assert_eq!(found.fired.unwrap().duration_seconds, 300);
        assert_eq!(found.compared, 10);
    }

    #[test]
    fn a_breach_running_to_the_last_point_is_trailing() {
        let found = evaluate(&points(&[0.0, 2.0, 2.0]), &none(), max(1.0, 5), STEP, STEP / 2, None);
        assert_eq!(found.trailing.unwrap().start, 120);
        assert!(evaluate(&[], &none(), max(1.0, 1), STEP, STEP / 2, None).longest.is_none());
    }
}

/// The rule inside the judge: analysis files, classification, reports.
#[cfg(test)]
mod judged {
    use crate::config::Analysis;
    use crate::config::template::resolve_sides;
    use crate::judge::report::{Classification, JudgmentReport, TestKindResult, TestOutcome};
    use crate::judge::{Context, Judgment, MetricInput, judge};
    use crate::model::{Duration, QueryRole};
    use crate::model::{Point, PointTime, Series, SourceDescription, Verdict, Window};
    use std::collections::BTreeMap;
    use std::path::Path;

    const START: i64 = 1_700_000_000 - 1_700_000_000 % 60;

    fn analysis(metrics: &str) -> Analysis {
        Analysis::parse(&format!("name: test\nmetrics:\n{metrics}"), Path::new("t.yaml"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn series(values: &[f64]) -> Vec<Series> {
        let points =
            values.iter().enumerate().map(|(i, &value)| Point { time: START + 60 * (i as i64 + 1), value }).collect();
        vec![Series { labels: BTreeMap::new(), points }]
    }

    fn run(analysis: &Analysis, input: MetricInput<'_>, minutes: i64) -> JudgmentReport {
        let window =
            Window::between(START, START + minutes * 60, Duration::from_secs(60), Duration::default()).unwrap();
        let context = Context {
            window,
            point_time: PointTime::IntervalEnd,
            alpha: analysis.judgment.alpha,
            declared_drift: None,
        };
        let sides = resolve_sides(analysis, &BTreeMap::new()).unwrap();
        let source = SourceDescription { kind: "t".into(), url: None, replay: None };
        judge(Judgment { analysis, inputs: vec![input], context, sides: &sides, source })
    }

    fn wiggle(i: usize) -> f64 {
        ((i as f64 * 2.399_963).sin() + (i as f64 * 0.7).cos()) / 2.0
    }

    const LATENCY: &str = "  - name: latency\n    query: q\n    direction: increase\n    margin: 10%\n    sustained:\n      - max_ratio: 1.5\n        for: 5m\n";

    #[test]
    fn a_five_minute_burst_fails_the_metric_while_the_shift_test_passes() {
        let a = analysis(LATENCY);
        let baseline: Vec<f64> = (0..60).map(|i| 100.0 + 3.0 * wiggle(i)).collect();
        let mut canary: Vec<f64> = (0..60).map(|i| 100.0 + 3.0 * wiggle(i + 5)).collect();
        for value in &mut canary[20..25] {
            *value = 200.0;
        }
        let input = MetricInput {
            baseline: [(QueryRole::Value, series(&baseline))].into(),
            canary: [(QueryRole::Value, series(&canary))].into(),
            ..MetricInput::new(&a.metrics[0])
        };
        let report = run(&a, input.clone(), 60);
        let metric = &report.metrics[0];
        assert_eq!(metric.classification, Classification::FailHigh, "{}", metric.reason);
        assert_eq!(report.verdict, Verdict::Fail);
        let shift = metric.tests.iter().find(|t| t.test == TestKindResult::Shift).unwrap();
        assert_eq!(shift.outcome, TestOutcome::Pass, "the whole window still looks fine: {}", shift.reason);
        let rule = metric.tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
        assert!(rule.p_value.is_none() && rule.adjusted_p_value.is_none(), "not part of the Holm family");
        let evidence = rule.sustained.as_ref().unwrap();
        let stretch = evidence.stretch.as_ref().unwrap();
        assert!(evidence.fired);
        assert_eq!((stretch.start, stretch.end, stretch.duration_seconds), (START + 21 * 60, START + 25 * 60, 300));
        assert!(metric.reason.starts_with("sustained breach of max_ratio 1.5 for 5m: 5m from "), "{}", metric.reason);
        assert!(metric.reason.contains("200, 200, 200, 200, 200"), "{}", metric.reason);

        // Four bad minutes, or five broken by a good one in the middle, do not fire.
        canary[24] = 100.0;
        let short = MetricInput { canary: [(QueryRole::Value, series(&canary))].into(), ..input.clone() };
        assert_eq!(run(&a, short, 60).metrics[0].classification, Classification::Pass);
        canary[24] = 200.0;
        canary[22] = 100.0;
        let broken = MetricInput { canary: [(QueryRole::Value, series(&canary))].into(), ..input.clone() };
        let report = run(&a, broken, 60);
        assert_eq!(report.metrics[0].classification, Classification::Pass, "{}", report.metrics[0].reason);
        let rule = report.metrics[0].tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
        assert!(rule.reason.contains("the longest breach lasted 2m"), "{}", rule.reason);
        // A NaN in the middle breaks the stretch too, but leaves the metric unable to pass.
        canary[22] = f64::NAN;
        let unusable = MetricInput { canary: [(QueryRole::Value, series(&canary))].into(), ..input };
        let report = run(&a, unusable, 60);
        assert_eq!(report.metrics[0].classification, Classification::NoData, "{}", report.metrics[0].reason);
    }

    #[test]
    fn count_rules_use_the_per_interval_rate_and_a_single_spike_does_not_fire() {
        let a = analysis(
            "  - name: errors\n    numerator: e\n    denominator: r\n    direction: increase\n    margin: 50%\n    sustained:\n      - max: 0.05\n        for: 3m\n",
        );
        let requests = vec![1000.0; 30];
        let baseline_errors = vec![10.0; 30];
        let mut canary_errors: Vec<f64> = (0..30).map(|i| 9.0 + (i % 3) as f64).collect();
        canary_errors[10] = 900.0;
        let input = |errors: &[f64]| MetricInput {
            baseline: [(QueryRole::Numerator, series(&baseline_errors)), (QueryRole::Denominator, series(&requests))]
                .into(),
            canary: [(QueryRole::Numerator, series(errors)), (QueryRole::Denominator, series(&requests))].into(),
            ..MetricInput::new(&a.metrics[0])
        };
        let report = run(&a, input(&canary_errors), 30);
        let rule = report.metrics[0].tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
        assert_eq!(rule.outcome, TestOutcome::Pass, "{}", rule.reason);
        assert!(rule.reason.contains("lasted 1m"), "{}", rule.reason);
        canary_errors[11] = 60.0;
        canary_errors[12] = 51.0;
        let report = run(&a, input(&canary_errors), 30);
        assert_eq!(report.metrics[0].classification, Classification::FailHigh);
        let rule = report.metrics[0].tests.iter().find(|t| t.test == TestKindResult::Sustained).unwrap();
        let stretch = rule.sustained.as_ref().unwrap().stretch.as_ref().unwrap();
        assert_eq!(stretch.points.iter().map(|p| p.value).collect::<Vec<_>>(), vec![0.9, 0.06, 0.051]);
    }

    #[test]
    fn the_schema_is_strict() {
        let parse = |rules: &str| {
            Analysis::parse(
                &format!(
                    "name: t\nmetrics:\n  - name: m\n    query: q\n    direction: increase\n    sustained:\n{rules}"
                ),
                Path::new("t.yaml"),
            )
        };
        assert!(parse("      - max: 1\n        for: 5m\n").is_ok());
        let error = |rules: &str| parse(rules).unwrap_err().to_string();
        assert!(error("      - max: 1\n        min: 0\n        for: 5m\n").contains("exactly one of max, min"));
        assert!(error("      - max: 1\n").contains("for"));
        assert!(error("      - max: 1\n        for: 5m\n        fro: 1\n").contains("fro"));
        assert!(error("      - max: 1\n        for: 30s\n").contains("shorter than the window's step"));
        assert!(error("      - max: 1\n        slack: 1\n        for: 5m\n").contains("only to max_ratio"));
        assert!(error("      - max_ratio: 0\n        for: 5m\n").contains("positive"));
    }
}
