//! What the gauge and the count evaluations both do before their tests: one series per query
//! and side, in time order; the range window of the queries and the thinning of overlapping
//! windows; no data; identical sides.
use super::{Context, MetricInput};
use crate::judge::quality::range_in_query;
use crate::judge::quality::{overlap_factor, thinning_finding};
use crate::judge::report::{Classification, Finding, FindingKind};
use crate::model::{Duration, Point, QueryRole, Series, Side, window::Window};
use std::collections::BTreeMap;

/// A data-quality stop: the classification and its reason.
pub(super) type Settled = (Classification, String);

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

/// One series per role on one side (`None` for a query that returned none), each in time order.
/// The shared opening of both kinds: every role's series count is checked before any order.
pub(super) fn series_of<'s, const N: usize>(
    input: &'s MetricInput<'_>,
    side: Side,
    roles: [QueryRole; N],
    findings: &mut Vec<Finding>,
) -> Result<[Option<&'s Series>; N], Settled> {
    let series = input.side(side);
    let mut found = [None; N];
    for (slot, role) in found.iter_mut().zip(roles) {
        *slot = single_series(series, role, side, findings)?;
    }
    for (one, role) in found.iter().zip(roles) {
        check_order(*one, side, role, findings)?;
    }
    Ok(found)
}

/// What a kind's evaluation starts from: the metric's input, what every metric's judgment shares,
/// the level of its intervals (already widened for a two-sided test), and the thinning of its
/// range windows.
pub(super) struct Opening<'e, 'a> {
    pub(super) input: &'e MetricInput<'a>,
    pub(super) context: &'e Context,
    pub(super) confidence: f64,
    pub(super) thinning: Thinning,
}

/// The range window of the queries against the step: overlapping windows (a range longer than
/// the step) are thinned to every `factor`-th point, so that no event is counted twice. What
/// dependence is left (windows that still share a boundary scrape, instance-level wobble that
/// lasts minutes) is measured on the data by [`Thinning::serial_inflation`].
pub(super) struct Thinning {
    range: Duration,
    /// Whether the range was declared or read from a query (not the step's default).
    known_range: bool,
    /// Whether a query summarises its range with an `*_over_time` function, whose closed ranges
    /// read a boundary sample twice (`rate` and `increase` only difference the samples, so
    /// adjacent windows sharing a boundary count disjoint increases).
    over_time: bool,
    pub(super) step: u64,
    pub(super) factor: u64,
}

/// Fewer time-paired points than this: the dependence is read from each side's own series.
const MIN_PAIRS_FOR_DIFFERENCES: usize = 10;

impl Thinning {
    pub(super) fn of(input: &MetricInput<'_>, window: &Window) -> Thinning {
        let step = window.step_seconds;
        let known_range = input.config.range.is_some() || query_range(input).is_some();
        let range = range_of(input, step);
        let over_time = input.queries.values().flat_map(|by_role| by_role.values()).any(|q| q.contains("_over_time("));
        Thinning { range, known_range, over_time, step, factor: overlap_factor(range, step) }
    }

    /// Whether the kept points' windows still share their boundary: a range of exactly `factor`
    /// steps is closed at both ends on Prometheus 2.x, so `max_over_time(x[1m])` at a 1m step
    /// reads the scrape at each boundary twice.
    pub(super) fn boundary_shared(&self) -> bool {
        self.known_range && self.over_time && self.range.as_secs() >= self.factor.saturating_mul(self.step)
    }

    /// The variance inflation of the shift test's statistic from the serial dependence of the kept
    /// points ([`crate::stats::dependence::autocorrelation_inflation`]), read on the canary −
    /// baseline differences of time-paired points (wobble both sides share cancels there), or on
    /// the more dependent side's own series when fewer than [`MIN_PAIRS_FOR_DIFFERENCES`] pair up.
    /// When the windows share a boundary, the lag-1 dependence is known and counted as measured.
    pub(super) fn serial_inflation(&self, canary: &[Point], baseline: &[Point]) -> f64 {
        use crate::stats::dependence::{autocorrelation_inflation, autocorrelation_lags};
        let overlap = usize::from(self.boundary_shared());
        let stride = i64::try_from(self.factor.saturating_mul(self.step)).unwrap_or(i64::MAX);
        let differences = paired_differences(canary, baseline, stride / 2);
        if differences.len() >= MIN_PAIRS_FOR_DIFFERENCES {
            return autocorrelation_inflation(&differences, autocorrelation_lags(differences.len(), overlap), overlap);
        }
        [canary, baseline]
            .iter()
            .map(|side| {
                let values: Vec<f64> = side.iter().map(|p| p.value).collect();
                autocorrelation_inflation(&values, autocorrelation_lags(values.len(), overlap), overlap)
            })
            .fold(1.0, f64::max)
    }

    /// Notes a serial dependence that reduced the effective sample size noticeably.
    pub(super) fn note_dependence(&self, inflation: f64, points: usize, findings: &mut Vec<Finding>) {
        if inflation < 1.2 {
            return;
        }
        let why = if self.boundary_shared() {
            format!(" (the {} windows share their boundary scrapes)", self.range)
        } else {
            String::new()
        };
        findings.push(Finding {
            kind: FindingKind::OverlappingWindows,
            side: None,
            message: format!(
                "consecutive points are serially dependent{why}: {points} point(s) count as {} independent ones; the shift test allows for it",
                crate::model::number::short(points as f64 / inflation)
            ),
        });
    }

    /// Notes the thinning among the findings, when there is any.
    pub(super) fn note(&self, findings: &mut Vec<Finding>) {
        if self.factor > 1 {
            findings.push(thinning_finding(self.range, self.step, self.factor));
        }
    }
}

/// The range window of the metric's queries: declared, or read from the rendered PromQL.
fn range_of(input: &MetricInput<'_>, step_seconds: u64) -> crate::model::Duration {
    input.config.range.unwrap_or_else(|| query_range(input).unwrap_or(crate::model::Duration::from_secs(step_seconds)))
}

/// The longest range window read from the rendered queries.
fn query_range(input: &MetricInput<'_>) -> Option<crate::model::Duration> {
    input.queries.values().flat_map(|by_role| by_role.values()).filter_map(|query| range_in_query(query)).max()
}

/// Canary − baseline values of points paired in time (each baseline point at most once, the
/// nearest within `half_stride` seconds), in the canary's time order.
fn paired_differences(canary: &[Point], baseline: &[Point], half_stride: i64) -> Vec<f64> {
    let by_time: BTreeMap<i64, f64> = baseline.iter().map(|p| (p.time, p.value)).collect();
    let mut used = std::collections::BTreeSet::new();
    let mut differences = Vec::with_capacity(canary.len());
    for point in canary {
        let nearest = by_time
            .range(point.time.saturating_sub(half_stride)..=point.time.saturating_add(half_stride))
            .filter(|(t, _)| !used.contains(*t))
            .min_by_key(|(t, _)| (**t - point.time).unsigned_abs());
        if let Some((&time, &value)) = nearest {
            used.insert(time);
            differences.push(point.value - value);
        }
    }
    differences
}

pub(super) fn no_data(findings: &mut Vec<Finding>, kind: FindingKind, side: Option<Side>, message: String) -> Settled {
    findings.push(Finding { kind, side, message: message.clone() });
    (Classification::NoData, message)
}

pub(super) fn sorted(mut values: Vec<f64>) -> Vec<f64> {
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

/// Refuses identical data on both sides when [`identical_sides`] says it cannot be judged; the
/// values compared are a side's points (a gauge) or intervals (a count), in order.
pub(super) fn refuse_identical<T: PartialEq>(
    input: &MetricInput<'_>,
    roles: &[QueryRole],
    baseline: &[T],
    canary: &[T],
    findings: &mut Vec<Finding>,
) -> Result<(), Settled> {
    if baseline.is_empty() || baseline != canary {
        return Ok(());
    }
    let constant = canary.windows(2).all(|pair| pair[0] == pair[1]);
    match identical_sides(input, roles, constant) {
        Some(message) => {
            findings.push(Finding { kind: FindingKind::IdenticalSeries, side: None, message: message.clone() });
            Err((Classification::Error, message))
        }
        None => Ok(()),
    }
}
