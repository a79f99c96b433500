//! One metric, from its series to its tests: data quality first (see [`super::quality`]), then the
//! statistical tests (shift and spread for gauges, the rate test for counts) and thresholds. The
//! statistical tests' p-values are only provisional here: [`super::judge`] adjusts them across the
//! whole analysis (Holm) before outcomes are decided.

use super::quality::{clean, coverage_gap, join, overlap_factor, range_in_query, thin, thinning_finding};
use super::report::{
    Classification, Finding, FindingKind, MetricResult, SideData, TestKindResult, TestOutcome, TestResult, Totals,
};
use super::{Direction, Margin};
use crate::config::{MetricConfig, MetricKind, QueryRole, Statistic, TestKind, ThresholdConfig};
use crate::model::number::{plain, short, short_signed};
use crate::model::{Point, PointTime, Series};
use crate::model::{Side, Window};
use crate::stats::descriptive::median_sorted;
use crate::stats::mann_whitney::Ranks;
use crate::stats::{
    Alternative, ExactNull, IntervalCount, Method, Summary, dispersed_rate_test, hodges_lehmann, mann_whitney,
};
use std::collections::BTreeMap;

/// A metric's configuration, rendered queries and fetched series.
#[derive(Debug, Clone)]
pub struct MetricInput<'a> {
    pub config: &'a MetricConfig,
    pub queries: BTreeMap<Side, BTreeMap<QueryRole, String>>,
    pub baseline: BTreeMap<QueryRole, Vec<Series>>,
    pub canary: BTreeMap<QueryRole, Vec<Series>>,
    /// For a metric with a `breakdown`: the label values of this part.
    pub part: Option<BTreeMap<String, String>>,
    /// Breach stretches still running at the end of an earlier judgment (the watchdog's previous
    /// run), by [`carry_key`]: sustained rules continue them.
    pub carries: BTreeMap<String, super::sustained::Carry>,
}

/// The key of a sustained rule's carried stretch: the reported metric name and the rule's index.
pub fn carry_key(metric: &str, rule: usize) -> String {
    format!("{metric}#{rule}")
}

impl<'a> MetricInput<'a> {
    /// An input with no series yet.
    pub fn new(config: &'a MetricConfig) -> MetricInput<'a> {
        MetricInput {
            config,
            queries: BTreeMap::new(),
            baseline: BTreeMap::new(),
            canary: BTreeMap::new(),
            part: None,
            carries: BTreeMap::new(),
        }
    }

    /// The fetched series of one side.
    pub fn side(&self, side: Side) -> &BTreeMap<QueryRole, Vec<Series>> {
        match side {
            Side::Baseline => &self.baseline,
            Side::Canary => &self.canary,
        }
    }

    /// The name it is reported under: `p99_latency`, or `p99_latency{route="/cart"}` for a part.
    pub fn name(&self) -> String {
        match &self.part {
            None => self.config.name().to_string(),
            Some(labels) => {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                format!("{}{{{}}}", self.config.name(), pairs.join(","))
            }
        }
    }

    /// Splits a metric with a `breakdown` into one input per combination of its labels' values,
    /// matching baseline and canary series by those values. Other metrics are returned as they are.
    pub fn split(self) -> Vec<MetricInput<'a>> {
        let labels = &self.config.breakdown;
        if labels.is_empty() {
            return vec![self];
        }
        let key = |series: &Series| -> BTreeMap<String, String> {
            labels.iter().map(|l| (l.clone(), series.labels.get(l).cloned().unwrap_or_default())).collect()
        };
        let mut keys: Vec<BTreeMap<String, String>> =
            self.baseline.values().chain(self.canary.values()).flatten().map(&key).collect();
        keys.sort();
        keys.dedup();
        let select = |side: &BTreeMap<QueryRole, Vec<Series>>, wanted: &BTreeMap<String, String>| {
            side.iter()
                .map(|(role, series)| (*role, series.iter().filter(|s| key(s) == *wanted).cloned().collect::<Vec<_>>()))
                .collect::<BTreeMap<_, _>>()
        };
        keys.into_iter()
            .map(|wanted| MetricInput {
                config: self.config,
                queries: self.queries.clone(),
                baseline: select(&self.baseline, &wanted),
                canary: select(&self.canary, &wanted),
                part: Some(wanted),
                carries: self.carries.clone(),
            })
            .collect()
    }
}

/// What every metric's judgment shares.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub window: Window,
    pub point_time: PointTime,
    pub alpha: f64,
}

/// A metric evaluated up to the multiplicity correction.
pub(super) struct Evaluated {
    pub result: MetricResult,
    /// Set when data quality already decided the classification (no data, error).
    pub settled: bool,
}

/// Evaluates one metric; intervals are computed at `confidence` (two-sided).
pub(super) fn evaluate(input: &MetricInput<'_>, context: &Context, confidence: f64) -> Evaluated {
    let config = input.config;
    let mut result = MetricResult {
        name: input.name(),
        group: config.group().to_string(),
        kind: config.kind(),
        direction: config.direction,
        critical: config.critical,
        // Never a pass until [`Evidence`] says so: see `super::judge`.
        classification: Classification::NoData,
        reason: String::new(),
        queries: input.queries.clone(),
        baseline: SideData::default(),
        canary: SideData::default(),
        tests: Vec::new(),
        findings: Vec::new(),
        kayenta: None,
    };
    if let Some(problem) = window_problem(&context.window) {
        result.findings.push(Finding { kind: FindingKind::StepMismatch, side: None, message: problem.clone() });
        result.classification = Classification::Error;
        result.reason = problem;
        return Evaluated { result, settled: true };
    }
    // A two-sided test spends α on both sides: its interval must be correspondingly wider.
    let confidence = if config.direction == Direction::Either { 1.0 - (1.0 - confidence) / 2.0 } else { confidence };
    let outcome = match config.kind() {
        MetricKind::Gauge => evaluate_gauge(input, context, confidence, &mut result),
        MetricKind::Count => evaluate_count(input, context, confidence, &mut result),
    };
    match outcome {
        Ok(()) => Evaluated { result, settled: false },
        Err((classification, reason)) => {
            result.classification = classification;
            result.reason = reason;
            for test in &mut result.tests {
                test.outcome = TestOutcome::Skipped;
            }
            Evaluated { result, settled: true }
        }
    }
}

/// The longest step the judge accepts: a year. Longer steps (a recording's `step_seconds` of
/// u64::MAX) would overflow the arithmetic on timestamps.
pub const MAX_STEP_SECONDS: u64 = 366 * 86_400;

/// Why the window cannot be judged: a step outside 1 s to [`MAX_STEP_SECONDS`], or a warm-up
/// that does not end before the window does. The configuration and the recording reader check
/// these too; the judge does not trust them.
fn window_problem(window: &Window) -> Option<String> {
    if !(1..=MAX_STEP_SECONDS).contains(&window.step_seconds) {
        return Some(format!(
            "the window's step of {} s is outside the judge's range of 1 s to {} s",
            window.step_seconds, MAX_STEP_SECONDS
        ));
    }
    let length = window.end.checked_sub(window.start).filter(|l| *l > 0);
    if length.is_none_or(|length| window.warmup_seconds >= length as u64) {
        return Some(format!(
            "the window from {} to {} with a warm-up of {} s leaves nothing to judge",
            crate::model::window::format_timestamp(window.start),
            crate::model::window::format_timestamp(window.end),
            window.warmup_seconds
        ));
    }
    None
}

/// A data-quality stop: the classification and its reason.
type Settled = (Classification, String);

/// The single series a query returned on one side, or `None` when it returned none.
fn single_series<'s>(
    series: &'s BTreeMap<QueryRole, Vec<Series>>,
    role: QueryRole,
    side: Side,
    findings: &mut Vec<Finding>,
) -> Result<Option<&'s Series>, Settled> {
    match series.get(&role).map(Vec::as_slice).unwrap_or_default() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => {
            let labels: Vec<String> = many.iter().take(4).map(|s| format!("{:?}", s.labels)).collect();
            let message = format!(
                "the {} query returned {} series ({}{}); expected one: aggregate it (sum, max) in the query, or judge each on its own with `breakdown`",
                side.name(),
                many.len(),
                labels.join(", "),
                if many.len() > 4 { ", …" } else { "" }
            );
            findings.push(Finding { kind: FindingKind::UnexpectedSeries, side: Some(side), message: message.clone() });
            Err((Classification::Error, message))
        }
    }
}

/// Refuses a series whose points are not in strictly increasing time order: a duplicated
/// timestamp would be counted twice (totals doubled), an unordered one breaks the pairing of sides.
fn check_order(
    series: Option<&Series>,
    side: Side,
    role: QueryRole,
    findings: &mut Vec<Finding>,
) -> Result<(), Settled> {
    let Some(series) = series else { return Ok(()) };
    let Some(pair) = series.points.windows(2).find(|pair| pair[1].time <= pair[0].time) else { return Ok(()) };
    let at = crate::model::window::format_timestamp;
    let message = if pair[1].time == pair[0].time {
        format!(
            "the {} {} has two points at {}: one point per timestamp is expected (a duplicate would be counted twice)",
            side.name(),
            role.name(),
            at(pair[0].time)
        )
    } else {
        format!(
            "the {} {} has a point at {} after one at {}: points must be in time order",
            side.name(),
            role.name(),
            at(pair[1].time),
            at(pair[0].time)
        )
    };
    findings.push(Finding { kind: FindingKind::UnexpectedSeries, side: Some(side), message: message.clone() });
    Err((Classification::Error, message))
}

/// The range window of the metric's queries: declared, or read from the rendered PromQL.
fn range_of(input: &MetricInput<'_>, step_seconds: u64) -> crate::model::Duration {
    input.config.range.unwrap_or_else(|| {
        input
            .queries
            .values()
            .flat_map(|by_role| by_role.values())
            .filter_map(|query| range_in_query(query))
            .max()
            .unwrap_or(crate::model::Duration::from_secs(step_seconds))
    })
}

fn no_data(findings: &mut Vec<Finding>, kind: FindingKind, side: Option<Side>, message: String) -> Settled {
    findings.push(Finding { kind, side, message: message.clone() });
    (Classification::NoData, message)
}

fn evaluate_gauge(
    input: &MetricInput<'_>,
    context: &Context,
    confidence: f64,
    result: &mut MetricResult,
) -> Result<(), Settled> {
    let config = input.config;
    let step = context.window.step_seconds;
    let factor = overlap_factor(range_of(input, step), step);
    let mut cleaned: BTreeMap<Side, Vec<Point>> = BTreeMap::new();
    for side in Side::BOTH {
        let series = input.side(side);
        let one = single_series(series, QueryRole::Value, side, &mut result.findings)?;
        check_order(one, side, QueryRole::Value, &mut result.findings)?;
        let points = one
            .map(|s| clean(&s.points, &context.window, context.point_time, side, &mut result.findings))
            .unwrap_or_default();
        cleaned.insert(side, points);
    }
    for side in Side::BOTH {
        if cleaned[&side].is_empty() {
            let message = format!("no {} data in the judged window", side.name());
            return Err(no_data(&mut result.findings, FindingKind::NoTraffic, Some(side), message));
        }
    }
    if identical(&cleaned[&Side::Baseline], &cleaned[&Side::Canary]) {
        let constant = cleaned[&Side::Canary].windows(2).all(|pair| pair[0].value == pair[1].value);
        if let Some(message) = identical_sides(input, &[QueryRole::Value], constant) {
            result.findings.push(Finding { kind: FindingKind::IdenticalSeries, side: None, message: message.clone() });
            return Err((Classification::Error, message));
        }
    }
    if factor > 1 {
        result.findings.push(thinning_finding(range_of(input, step), step, factor));
    }
    let judged: BTreeMap<Side, Vec<f64>> = Side::BOTH
        .into_iter()
        .map(|side| (side, sorted(thin(&cleaned[&side], factor, step).iter().map(|p| p.value).collect())))
        .collect();
    for side in Side::BOTH {
        let all = sorted(cleaned[&side].iter().map(|p| p.value).collect());
        let data = SideData { samples: judged[&side].len(), summary: Some(Summary::of_sorted(&all)), totals: None };
        *result.side_mut(side) = data;
    }
    let gauge_stat = |data: &SideData, statistic: Statistic| {
        data.summary.as_ref().and_then(|s| match statistic {
            Statistic::Mean => Some(s.mean),
            Statistic::Min => Some(s.min),
            Statistic::P50 => Some(s.p50),
            Statistic::P90 => Some(s.p90),
            Statistic::P99 => Some(s.p99),
            Statistic::Max => Some(s.max),
            Statistic::Rate | Statistic::Total => None,
        })
    };
    result.tests.extend(thresholds(&config.thresholds, &result.baseline, &result.canary, gauge_stat));
    let per_point = |side: Side| cleaned[&side].iter().map(|p| (p.time, p.value)).collect::<Vec<_>>();
    let rules = sustained_tests(
        input,
        &per_point(Side::Canary),
        &per_point(Side::Baseline),
        &context.window,
        &mut result.findings,
    );
    result.tests.extend(rules);
    let minimum = config.min_samples();
    for side in Side::BOTH {
        let count = judged[&side].len();
        if count < minimum {
            let message = format!(
                "{count} {} point(s) to judge, fewer than the minimum {minimum}{}",
                side.name(),
                if factor > 1 { " after thinning overlapping windows" } else { "" }
            );
            return Err(no_data(&mut result.findings, FindingKind::TooFewSamples, Some(side), message));
        }
    }
    for side in Side::BOTH {
        let what = format!("{} series", side.name());
        if let Some(gap) = coverage_gap(&cleaned[&side], &context.window, context.point_time, side, &what) {
            return Err(no_data(&mut result.findings, gap.kind, gap.side, gap.message));
        }
    }
    let (baseline, canary) = (&judged[&Side::Baseline], &judged[&Side::Canary]);
    let margin = config.margin.unwrap_or_default();
    for test in config.tests() {
        match test {
            TestKind::Shift => result.tests.push(shift_test(canary, baseline, config.direction, margin, confidence)),
            TestKind::Spread => result.tests.push(spread_test(canary, baseline, config.direction, margin)),
            TestKind::Rate => {}
        }
    }
    Ok(())
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_unstable_by(f64::total_cmp);
    values
}

/// Why identical data on both sides cannot be judged, or `None` when it can. The same rendered
/// query on both sides (or queries that are not known) returning the same data is a
/// misconfiguration: both selectors match the same instances. Different queries whose identical
/// values are also constant are a guard (`up`, a healthy constant): judged by its tests and
/// thresholds. Different queries with identical varying values still point at the same instances.
fn identical_sides(input: &MetricInput<'_>, roles: &[QueryRole], constant: bool) -> Option<String> {
    let query = |side: Side, role: &QueryRole| input.queries.get(&side).and_then(|q| q.get(role));
    let same_query = roles.iter().any(|role| match (query(Side::Baseline, role), query(Side::Canary, role)) {
        (Some(baseline), Some(canary)) => baseline == canary,
        _ => true,
    });
    if same_query {
        Some(
            "baseline and canary use the same query and got the same data: the two sides select the same instances (check the selectors)"
                .to_string(),
        )
    } else if !constant {
        Some("baseline and canary series are identical: do both selectors match the same instances?".to_string())
    } else {
        None
    }
}

fn identical(a: &[Point], b: &[Point]) -> bool {
    !a.is_empty() && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.value == y.value)
}

/// The one-sided (per direction) Mann-Whitney p-value of "canary − baseline ≤ margin"; `None`
/// when it cannot be computed (values moved by the margin overflow): never a default of 1.
fn shifted_p_value(canary: &[f64], baseline: &[f64], direction: Direction, margin: f64) -> Option<f64> {
    let one_sided = |shift: f64, alternative: Alternative| {
        let moved: Vec<f64> = canary.iter().map(|c| c + shift).collect();
        if moved.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let ranks = Ranks::of_sorted(&moved, baseline);
        mann_whitney(&ranks, alternative, Method::Auto, None).ok().map(|t| t.p_value).filter(|p| !p.is_nan())
    };
    match direction {
        Direction::Increase => one_sided(-margin, Alternative::Greater),
        Direction::Decrease => one_sided(margin, Alternative::Less),
        Direction::Either => {
            let (up, down) = (one_sided(-margin, Alternative::Greater)?, one_sided(margin, Alternative::Less)?);
            Some((2.0 * up.min(down)).min(1.0))
        }
    }
}

fn shift_test(canary: &[f64], baseline: &[f64], direction: Direction, margin: Margin, confidence: f64) -> TestResult {
    let amount = margin.amount(median_sorted(baseline));
    let p_value = shifted_p_value(canary, baseline, direction, amount);
    let ranks = Ranks::of_sorted(canary, baseline);
    let law = ExactNull::affordable(canary.len(), baseline.len())
        .then(|| ExactNull::new(canary.len(), baseline.len()).ok())
        .flatten();
    // When the requested level cannot be reached with these sample sizes (or rounds to 1), the
    // interval at that level is unbounded, not the span of the differences.
    let shift = hodges_lehmann(canary, baseline, confidence, law.as_ref()).ok().map(|mut s| {
        if !s.reachable {
            (s.ci_low, s.ci_high) = (f64::NEG_INFINITY, f64::INFINITY);
        }
        s
    });
    TestResult {
        statistic: Some(ranks.u()),
        p_value,
        estimate: shift.as_ref().map(|s| s.estimate),
        ci_low: shift.as_ref().map(|s| s.ci_low),
        ci_high: shift.as_ref().map(|s| s.ci_high),
        confidence: shift.as_ref().map(|s| s.confidence),
        margin: Some(amount),
        ..TestResult::new(TestKindResult::Shift)
    }
}

fn spread_test(canary: &[f64], baseline: &[f64], direction: Direction, margin: Margin) -> TestResult {
    let deviations = |values: &[f64]| {
        let center = median_sorted(values);
        sorted(values.iter().map(|v| (v - center).abs()).collect())
    };
    let (canary_dev, baseline_dev) = (deviations(canary), deviations(baseline));
    let factor = match margin {
        Margin::Percent(p) => 1.0 + p / 100.0,
        Margin::Absolute(_) => 1.0,
    };
    // `None` when it cannot be computed (deviations that overflow): never a default of 1.
    let test = |scale: f64, alternative: Alternative| {
        let moved: Vec<f64> = canary_dev.iter().map(|d| d * scale).collect();
        if moved.iter().chain(&baseline_dev).any(|v| !v.is_finite()) {
            return None;
        }
        mann_whitney(&Ranks::of_sorted(&moved, &baseline_dev), alternative, Method::Auto, None)
            .ok()
            .map(|t| t.p_value)
            .filter(|p| !p.is_nan())
    };
    let p_value = match direction {
        Direction::Increase => test(1.0 / factor, Alternative::Greater),
        Direction::Decrease => test(factor, Alternative::Less),
        Direction::Either => test(1.0 / factor, Alternative::Greater)
            .zip(test(factor, Alternative::Less))
            .map(|(up, down)| (2.0 * up.min(down)).min(1.0)),
    };
    let (canary_mad, baseline_mad) = (median_sorted(&canary_dev), median_sorted(&baseline_dev));
    TestResult {
        statistic: Some(Ranks::of_sorted(&canary_dev, &baseline_dev).u()),
        p_value,
        estimate: (baseline_mad > 0.0).then(|| canary_mad / baseline_mad),
        margin: Some(factor),
        ..TestResult::new(TestKindResult::Spread)
    }
}

fn evaluate_count(
    input: &MetricInput<'_>,
    context: &Context,
    confidence: f64,
    result: &mut MetricResult,
) -> Result<(), Settled> {
    let config = input.config;
    let step = context.window.step_seconds;
    let factor = overlap_factor(range_of(input, step), step);
    let mut intervals: BTreeMap<Side, Vec<(i64, f64, f64)>> = BTreeMap::new();
    // Per-interval rates at every step (not thinned), for sustained-breach rules.
    let mut rates_per_step: BTreeMap<Side, Vec<(i64, f64)>> = BTreeMap::new();
    let mut denominators: BTreeMap<Side, Vec<Point>> = BTreeMap::new();
    for side in Side::BOTH {
        let series = input.side(side);
        let numerator = single_series(series, QueryRole::Numerator, side, &mut result.findings)?;
        let denominator = single_series(series, QueryRole::Denominator, side, &mut result.findings)?;
        check_order(numerator, side, QueryRole::Numerator, &mut result.findings)?;
        check_order(denominator, side, QueryRole::Denominator, &mut result.findings)?;
        let Some(denominator) = denominator else {
            let message = format!("the {} denominator query returned no series: no traffic", side.name());
            return Err(no_data(&mut result.findings, FindingKind::NoTraffic, Some(side), message));
        };
        let den = clean(&denominator.points, &context.window, context.point_time, side, &mut result.findings);
        let (num, unusable) = match numerator {
            Some(numerator) => {
                let unusable: Vec<i64> =
                    numerator.points.iter().filter(|p| !p.value.is_finite()).map(|p| p.time).collect();
                (clean(&numerator.points, &context.window, context.point_time, side, &mut result.findings), unusable)
            }
            None => (Vec::new(), Vec::new()),
        };
        // A count that is negative or infinite is no count: the sources validate, the judge does
        // not trust them (a negative error count would make any canary look healthy).
        for (role, points) in [(QueryRole::Numerator, &num), (QueryRole::Denominator, &den)] {
            if let Some(bad) = points.iter().find(|p| p.value < 0.0) {
                let message = format!(
                    "the {} {} is {} at {}: counts must be finite and at least 0",
                    side.name(),
                    role.name(),
                    bad.value,
                    crate::model::window::format_timestamp(bad.time)
                );
                result.findings.push(Finding {
                    kind: FindingKind::InvalidCounts,
                    side: Some(side),
                    message: message.clone(),
                });
                return Err((Classification::Error, message));
            }
        }
        for (role, series) in [(QueryRole::Numerator, numerator), (QueryRole::Denominator, Some(denominator))] {
            let judged = |p: &&Point| p.time >= context.window.judged_from() && p.time <= context.window.end;
            if let Some(bad) = series.into_iter().flat_map(|s| &s.points).filter(judged).find(|p| !p.value.is_finite())
            {
                let message = format!(
                    "the {} {} is {} at {}: counts must be finite and at least 0",
                    side.name(),
                    role.name(),
                    bad.value,
                    crate::model::window::format_timestamp(bad.time)
                );
                result.findings.push(Finding {
                    kind: FindingKind::InvalidCounts,
                    side: Some(side),
                    message: message.clone(),
                });
                return Err((Classification::Error, message));
            }
        }
        // A counter that never fired has no series at all: that is zero events, not missing data.
        let (joined, filled, orphaned) = join(&num, &den, &unusable);
        denominators.insert(side, den.clone());
        if numerator.is_some() && filled > 0 {
            result.findings.push(Finding {
                kind: FindingKind::UnexpectedSeries,
                side: Some(side),
                message: format!(
                    "{filled} interval(s) with traffic but no numerator point were counted as zero events"
                ),
            });
        }
        if orphaned > 0 {
            result.findings.push(Finding {
                kind: FindingKind::UnexpectedSeries,
                side: Some(side),
                message: format!("{orphaned} numerator point(s) without a denominator point were dropped"),
            });
        }
        rates_per_step.insert(side, joined.iter().filter(|(_, _, d)| *d > 0.0).map(|&(t, n, d)| (t, n / d)).collect());
        let kept: Vec<i64> =
            thin(&joined.iter().map(|&(t, _, _)| Point { time: t, value: 0.0 }).collect::<Vec<_>>(), factor, step)
                .iter()
                .map(|p| p.time)
                .collect();
        intervals.insert(side, joined.into_iter().filter(|(t, _, _)| kept.binary_search(t).is_ok()).collect());
    }
    for side in Side::BOTH {
        let data = &intervals[&side];
        let (events, exposure) = data.iter().fold((0.0, 0.0), |(e, x), &(_, n, d)| (e + n, x + d));
        let rates = sorted(data.iter().filter(|(_, _, d)| *d > 0.0).map(|&(_, n, d)| n / d).collect());
        let side_data = SideData {
            samples: data.len(),
            summary: (!rates.is_empty()).then(|| Summary::of_sorted(&rates)),
            totals: Some(Totals {
                numerator: events,
                denominator: exposure,
                rate: (exposure > 0.0).then(|| events / exposure),
            }),
        };
        *result.side_mut(side) = side_data;
    }
    let count_stat = |data: &SideData, statistic: Statistic| {
        data.totals.as_ref().and_then(|t| match statistic {
            Statistic::Rate => t.rate,
            Statistic::Total => Some(t.numerator),
            _ => None,
        })
    };
    for side in Side::BOTH {
        let totals = result.side(side);
        if totals.totals.as_ref().is_none_or(|t| t.denominator <= 0.0) {
            let message = format!("no traffic on the {}: its denominator is 0 over the judged window", side.name());
            return Err(no_data(&mut result.findings, FindingKind::NoTraffic, Some(side), message));
        }
    }
    let same = |a: &[(i64, f64, f64)], b: &[(i64, f64, f64)]| {
        !a.is_empty() && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.1 == y.1 && x.2 == y.2)
    };
    if same(&intervals[&Side::Baseline], &intervals[&Side::Canary]) {
        let canary = &intervals[&Side::Canary];
        let constant = canary.windows(2).all(|pair| pair[0].1 == pair[1].1 && pair[0].2 == pair[1].2);
        if let Some(message) = identical_sides(input, &[QueryRole::Numerator, QueryRole::Denominator], constant) {
            result.findings.push(Finding { kind: FindingKind::IdenticalSeries, side: None, message: message.clone() });
            return Err((Classification::Error, message));
        }
    }
    if factor > 1 {
        result.findings.push(thinning_finding(range_of(input, step), step, factor));
    }
    result.tests.extend(thresholds(&config.thresholds, &result.baseline, &result.canary, count_stat));
    let rules = sustained_tests(
        input,
        &rates_per_step[&Side::Canary],
        &rates_per_step[&Side::Baseline],
        &context.window,
        &mut result.findings,
    );
    result.tests.extend(rules);
    // The rate test compares the intervals both sides have.
    let baseline_by_time: BTreeMap<i64, (f64, f64)> =
        intervals[&Side::Baseline].iter().map(|&(t, n, d)| (t, (n, d))).collect();
    let (mut canary_counts, mut baseline_counts) = (Vec::new(), Vec::new());
    // Paired within half a step: a canary scraped a few seconds off the baseline's grid still pairs.
    let half = (step / 2) as i64;
    let mut used = std::collections::BTreeSet::new();
    for &(time, events, exposure) in &intervals[&Side::Canary] {
        let nearest = baseline_by_time
            .range(time.saturating_sub(half)..=time.saturating_add(half))
            .filter(|(t, _)| !used.contains(*t))
            .min_by_key(|(t, _)| (**t - time).unsigned_abs());
        if let Some((&b_time, &(b_events, b_exposure))) = nearest {
            used.insert(b_time);
            canary_counts.push(IntervalCount { events, exposure });
            baseline_counts.push(IntervalCount { events: b_events, exposure: b_exposure });
        }
    }
    let minimum = config.min_samples();
    if canary_counts.len() < minimum {
        let message =
            format!("{} interval(s) with data on both sides, fewer than the minimum {minimum}", canary_counts.len());
        return Err(no_data(&mut result.findings, FindingKind::TooFewSamples, None, message));
    }
    for side in Side::BOTH {
        let what = format!("{} denominator", side.name());
        if let Some(gap) = coverage_gap(&denominators[&side], &context.window, context.point_time, side, &what) {
            return Err(no_data(&mut result.findings, gap.kind, gap.side, gap.message));
        }
    }
    if config.tests().contains(&TestKind::Rate) {
        let test = rate_test(&canary_counts, &baseline_counts, config.direction, config.margin, confidence);
        if let Some(dispersion) = test.1 {
            result.findings.push(Finding {
                kind: FindingKind::Overdispersion,
                side: None,
                message: format!(
                    "the canary/baseline split of events varies {}× more than Poisson noise between blocks; the rate test allows for it",
                    short(dispersion)
                ),
            });
        }
        result.tests.push(test.0);
    }
    Ok(())
}

/// Null rate ratios for a relative margin: (1 + δ) above, (1 − δ) below.
fn null_ratios(margin: Option<Margin>) -> (f64, f64) {
    let delta = match margin {
        Some(Margin::Percent(p)) => p / 100.0,
        _ => 0.0,
    };
    (1.0 + delta, (1.0 - delta).max(f64::MIN_POSITIVE))
}

/// The rate test, and the dispersion when it exceeded Poisson noise noticeably.
fn rate_test(
    canary: &[IntervalCount],
    baseline: &[IntervalCount],
    direction: Direction,
    margin: Option<Margin>,
    confidence: f64,
) -> (TestResult, Option<f64>) {
    let (above, below) = null_ratios(margin);
    let blocks = canary.len().min(10);
    let run = |ratio: f64, alternative: Alternative| {
        dispersed_rate_test(canary, baseline, ratio, alternative, confidence, blocks)
    };
    let events: f64 = canary.iter().chain(baseline).map(|c| c.events).sum();
    let mut test = TestResult {
        statistic: Some(canary.iter().map(|c| c.events).sum()),
        confidence: Some(confidence),
        margin: Some(match direction {
            Direction::Decrease => below,
            _ => above,
        }),
        ..TestResult::new(TestKindResult::Rate)
    };
    if events <= 0.0 {
        test.gating = false;
        test.reason =
            "no events on either side: the rates cannot be compared (a `rate` threshold can judge such windows)".into();
        return (test, None);
    }
    let outcome = match direction {
        Direction::Increase => run(above, Alternative::Greater),
        Direction::Decrease => run(below, Alternative::Less),
        Direction::Either => run(above, Alternative::Greater).and_then(|up| {
            let down = run(below, Alternative::Less)?;
            Ok(crate::stats::DispersedRateTest { p_value: (2.0 * up.p_value.min(down.p_value)).min(1.0), ..up })
        }),
    };
    match outcome {
        Ok(result) => {
            test.p_value = Some(result.p_value);
            test.estimate = Some(result.rate_ratio);
            test.ci_low = Some(result.ci_low);
            test.ci_high = Some(result.ci_high);
            let noted = (result.dispersion > 1.5).then_some(result.dispersion);
            (test, noted)
        }
        Err(error) => {
            // Still gating: a rate test that could not be computed leaves the metric unproven.
            test.outcome = TestOutcome::Skipped;
            test.reason = format!("the rate test could not be computed: {error}");
            (test, None)
        }
    }
}

/// Threshold checks on the statistic each threshold names.
fn thresholds(
    configs: &[ThresholdConfig],
    baseline: &SideData,
    canary: &SideData,
    statistic_of: impl Fn(&SideData, Statistic) -> Option<f64>,
) -> Vec<TestResult> {
    configs
        .iter()
        .flat_map(|threshold| {
            let name = serde_json::to_value(threshold.statistic).unwrap_or_default();
            let name = name.as_str().unwrap_or("").to_string();
            let canary_value = statistic_of(canary, threshold.statistic);
            let baseline_value = statistic_of(baseline, threshold.statistic);
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
/// [`super::sustained`]. Not statistical tests: never part of the Holm family. A rule judges the
/// points at their own spacing (reported when it is not the step), and a rule whose longest run
/// of comparable points is shorter than its `for` (or, when the judged window is shorter than
/// `for`, than the window: the watchdog's carried stretches judge across runs) is skipped: it
/// cannot show that no breach happened.
fn sustained_tests(
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
            let found = super::sustained::evaluate(canary, &baseline_by_time, rule, spacing, pair_within, carry);
            let trailing = found.trailing.clone();
            let fired = found.fired.is_some();
            let stretch = found.fired.or(found.longest);
            let described = rule_config.describe();
            let too_few = !fired && found.covered_seconds < rule.for_seconds.min(judged_span);
            let reason = match &stretch {
                Some(stretch) if fired => {
                    format!("sustained breach of {described}: {}", super::sustained::describe_stretch(stretch))
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
                    super::sustained::describe_stretch(stretch)
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
                sustained: Some(super::report::SustainedEvidence {
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

/// Positive evidence that a metric is healthy: at least one gating test or threshold ran on valid
/// data and passed, and none was skipped or left without its p-value or interval. Only
/// [`positive_evidence`] builds one, and [`Evidence::classify`] is the only way the judge
/// classifies a metric pass: a metric no test evaluated cannot pass by construction.
pub(super) struct Evidence {
    reasons: Vec<String>,
}

impl Evidence {
    /// Classifies the metric pass, with the passed tests' reasons as its reason.
    pub(super) fn classify(self, result: &mut MetricResult) {
        result.classification = Classification::Pass;
        result.reason = self.reasons.join("; ");
    }
}

/// The name of a test in a reason line.
fn test_name(test: &TestResult) -> String {
    match test.test {
        TestKindResult::Shift => "shift test".into(),
        TestKindResult::Spread => "spread test".into(),
        TestKindResult::Rate => "rate test".into(),
        TestKindResult::Threshold => "threshold".into(),
        TestKindResult::Sustained => match &test.sustained {
            Some(rule) => format!("sustained rule `{}`", rule.rule),
            None => "sustained rule".into(),
        },
    }
}

/// Checks that the metric's tests (none of which failed) are positive evidence of health: every
/// gating test ran on valid data (a statistical test has its Holm-adjusted p-value, and the
/// shift and rate tests their interval; a threshold compared finite numbers; a sustained rule had
/// enough comparable points), and at least one did. Otherwise the classification (`error` for a
/// test that could not be computed, `no_data` when there was nothing to test) and why.
pub(super) fn positive_evidence(tests: &[TestResult]) -> Result<Evidence, (Classification, String)> {
    let mut reasons = Vec::new();
    for test in tests.iter().filter(|t| t.gating) {
        let name = test_name(test);
        let why = if test.outcome == TestOutcome::Skipped {
            Some(if test.reason.is_empty() { "it did not run".to_string() } else { test.reason.clone() })
        } else {
            match test.test {
                TestKindResult::Shift | TestKindResult::Spread | TestKindResult::Rate => {
                    let probability = |p: Option<f64>| p.is_some_and(|p| (0.0..=1.0).contains(&p));
                    let interval = matches!(test.test, TestKindResult::Spread)
                        || test.ci_low.zip(test.ci_high).is_some_and(|(low, high)| low <= high);
                    if !probability(test.p_value) || !probability(test.adjusted_p_value) {
                        Some("its p-value could not be computed".to_string())
                    } else if !interval {
                        Some("its confidence interval could not be computed".to_string())
                    } else {
                        None
                    }
                }
                TestKindResult::Threshold => {
                    let finite = |v: Option<f64>| v.is_some_and(f64::is_finite);
                    (!finite(test.statistic) || !finite(test.threshold))
                        .then(|| format!("it compared no finite numbers ({})", test.reason))
                }
                TestKindResult::Sustained => test
                    .sustained
                    .as_ref()
                    .is_none_or(|s| s.compared == 0 || s.covered_seconds == 0)
                    .then(|| "too few comparable canary/baseline points".to_string()),
            }
        };
        if let Some(why) = why {
            let classification =
                if test.test == TestKindResult::Sustained { Classification::NoData } else { Classification::Error };
            return Err((classification, format!("cannot pass: the {name} gave no evidence: {why}")));
        }
        if test.outcome == TestOutcome::Pass && !test.reason.is_empty() {
            reasons.push(test.reason.clone());
        } else if test.outcome == TestOutcome::Pass {
            reasons.push(format!("the {name} passed"));
        }
    }
    if reasons.is_empty() {
        let skipped: Vec<String> =
            tests.iter().filter(|t| !t.reason.is_empty()).map(|t| format!("{}: {}", test_name(t), t.reason)).collect();
        let detail = if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join("; ")) };
        return Err((Classification::NoData, format!("no test ran, so nothing shows the canary healthy{detail}")));
    }
    Ok(Evidence { reasons })
}

/// Decides the outcome and reason of a statistical test from its Holm-adjusted p-value.
pub(super) fn settle_test(test: &mut TestResult, adjusted: f64, alpha: f64, direction: Direction) {
    test.adjusted_p_value = Some(adjusted);
    let failed = adjusted <= alpha;
    test.outcome = if failed { TestOutcome::Fail } else { TestOutcome::Pass };
    let evidence = format!(
        "p = {}, Holm-adjusted {} {} {}",
        crate::model::number::p_value(test.p_value.unwrap_or(1.0)),
        crate::model::number::p_value(adjusted),
        if failed { "≤" } else { ">" },
        plain(alpha)
    );
    let interval = |format_value: &dyn Fn(f64) -> String| match (test.ci_low, test.ci_high) {
        (Some(low), Some(high)) => format!(" [{}, {}]", format_value(low), format_value(high)),
        _ => String::new(),
    };
    let margin = test.margin.unwrap_or(0.0);
    let (signed, plain) = (short_signed, short);
    test.reason = match test.test {
        TestKindResult::Shift => {
            let estimate = test.estimate.map(signed).unwrap_or_else(|| "?".into());
            let margin_text = if margin == 0.0 { "0".into() } else { format!("±{}", plain(margin)) };
            let improved = match direction {
                Direction::Increase => test.ci_high.is_some_and(|h| h < 0.0),
                Direction::Decrease => test.ci_low.is_some_and(|l| l > 0.0),
                Direction::Either => false,
            };
            if failed {
                format!("shift {estimate}{} beyond the margin {margin_text} ({evidence})", interval(&signed))
            } else if improved {
                format!("shift {estimate}{}: an improvement ({evidence})", interval(&signed))
            } else {
                format!(
                    "shift {estimate}{}, no significant change beyond the margin {margin_text} ({evidence})",
                    interval(&signed)
                )
            }
        }
        TestKindResult::Spread => {
            let estimate = test.estimate.map(|e| format!("×{}", plain(e))).unwrap_or_else(|| "?".into());
            let side = match direction {
                Direction::Increase => "wider",
                Direction::Decrease => "narrower",
                Direction::Either => "different",
            };
            if failed {
                format!(
                    "spread {estimate} of the baseline's: significantly {side} beyond ×{} ({evidence})",
                    plain(margin)
                )
            } else {
                format!("spread {estimate} of the baseline's, not significantly {side} ({evidence})")
            }
        }
        TestKindResult::Rate => {
            let ratio = |v: f64| format!("×{}", plain(v));
            let estimate = test.estimate.map(ratio).unwrap_or_else(|| "?".into());
            let improved = match direction {
                Direction::Increase => test.ci_high.is_some_and(|h| h < 1.0),
                Direction::Decrease => test.ci_low.is_some_and(|l| l > 1.0),
                Direction::Either => false,
            };
            if failed {
                format!(
                    "rate {estimate}{} of the baseline's, beyond the margin ×{} ({evidence})",
                    interval(&ratio),
                    plain(margin)
                )
            } else if improved {
                format!("rate {estimate}{} of the baseline's: an improvement ({evidence})", interval(&ratio))
            } else {
                format!(
                    "rate {estimate}{} of the baseline's, no significant change beyond ×{} ({evidence})",
                    interval(&ratio),
                    plain(margin)
                )
            }
        }
        TestKindResult::Threshold | TestKindResult::Sustained => test.reason.clone(),
    };
}

/// For a test that did not fail: why its interval is too wide to call the metric healthy, if it
/// is. Always: when the interval cannot rule out a doubling in the bad direction (rate ×2 or ×½;
/// a shift of the baseline median's size up, or half of it down), the data say nothing. With
/// `factor` > 0 also: when the interval's bad end lies beyond `factor` margins.
pub(super) fn imprecision(
    test: &TestResult,
    direction: Direction,
    factor: f64,
    baseline_median: Option<f64>,
) -> Option<String> {
    let (low, high) = (test.ci_low?, test.ci_high?);
    let margin = test.margin.unwrap_or(0.0);
    let level = test.confidence.map(|c| format!("{}% ", plain(c * 100.0))).unwrap_or_default();
    // (highest tolerable upper end, lowest tolerable lower end, what those limits are)
    let (up, down, show): (f64, f64, fn(f64) -> String) = match test.test {
        TestKindResult::Shift => {
            let scale = baseline_median?.abs();
            let (mut up, mut down) = (scale, -scale / 2.0);
            if factor > 0.0 && margin > 0.0 {
                (up, down) = (up.min(factor * margin), down.max(-factor * margin));
            }
            (up, down, short_signed)
        }
        TestKindResult::Rate => {
            let (mut up, mut down): (f64, f64) = (2.0, 0.5);
            let delta = (margin - 1.0).abs();
            if factor > 0.0 && delta > 0.0 {
                (up, down) = (up.min(1.0 + factor * delta), down.max(1.0 - factor * delta));
            }
            (up, down, |v| format!("×{}", short(v)))
        }
        _ => return None,
    };
    let (too_wide, end, limit) = match direction {
        Direction::Increase => (high > up, high, up),
        Direction::Decrease => (low < down, low, down),
        Direction::Either if high > up => (true, high, up),
        Direction::Either => (low < down, low, down),
    };
    too_wide.then(|| {
        format!(
            "too little data to call it healthy: the {level}interval [{}, {}] reaches {}, beyond {}; a regression that large cannot be ruled out",
            show(low),
            show(high),
            show(end),
            show(limit)
        )
    })
}

/// The failure label of a failed test.
pub(super) fn failure_class(test: &TestResult, direction: Direction) -> Classification {
    let high = match test.test {
        TestKindResult::Threshold => test.statistic.zip(test.threshold).is_some_and(|(v, bound)| v > bound),
        TestKindResult::Sustained => test.sustained.as_ref().is_some_and(|s| s.bound.is_upper()),
        _ => match direction {
            Direction::Increase => true,
            Direction::Decrease => false,
            Direction::Either => test.estimate.is_some_and(|e| match test.test {
                TestKindResult::Shift => e > 0.0,
                _ => e > 1.0,
            }),
        },
    };
    if high { Classification::FailHigh } else { Classification::FailLow }
}
