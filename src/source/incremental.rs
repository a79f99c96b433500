//! A caching layer over any source for repeated judgments of one canary (`canary watch`): each
//! query remembers the points it has already fetched, and a later request over a longer (or
//! later) window fetches only the new tail, so the cost grows linearly with the canary's lifetime.
//! For sources whose points mark bucket starts (Datadog), the last bucket of a window is still
//! filling when fetched and is fetched again by the next look.
//!
//! Samples reach a backend late (remote-write lag, a slow scrape, a bucket still filling), so a
//! point once fetched is not final: every fetch that extends a query also asks again for the
//! trailing overlap of what is known ([`overlap_from`]: the last 5 steps, at most 5 minutes, at
//! least one step) and replaces those points with the new answer. A point that vanished from the
//! new answer is dropped (no data, never the old value kept or a value invented). Each point that
//! changed, appeared or vanished is counted as a revision per metric and side
//! ([`IncrementalSource::take_revisions`]), for the command to say so.
//!
//! The cron watchdog keeps what is known between runs: [`IncrementalSource::with_known`] starts
//! from the queries its state file held (validated there), and [`IncrementalSource::known`] gives
//! back what a run leaves, each query's points from the start of the window it last served.
//!
//! Every fetch of one query stays on the grid of its first fetch (its start plus whole steps),
//! even when a later window ends off that grid: a tail fetched from another instant would put
//! the later points on another grid, and thinning them with the first ones would silently drop
//! about half of them.

use super::{MetricSource, QueryRequest, SourceError};
use crate::model::{Point, PointTime, QueryRole, Series, Side};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

type Key = (String, Side, QueryRole, String);

/// How many trailing steps of what is known every extending fetch asks for again.
const OVERLAP_STEPS: i64 = 5;
/// The most time those steps may span (with long steps, fewer of them; never fewer than one).
const OVERLAP_SECONDS: i64 = 300;

/// The first instant asked for again when a query known on `start..=end` (on the grid of `start`
/// with `step`) is extended: the last [`OVERLAP_STEPS`] steps of it, at most [`OVERLAP_SECONDS`],
/// at least the last step, never before `start`.
pub(crate) fn overlap_from(start: i64, end: i64, step: i64) -> i64 {
    let steps = (OVERLAP_SECONDS / step.max(1)).clamp(1, OVERLAP_STEPS);
    (end - (steps - 1) * step).max(start)
}

/// Points of one metric and side whose value changed, appeared or vanished when asked for again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revision {
    pub(crate) metric: String,
    pub(crate) side: Side,
    /// How many points were revised since the last [`IncrementalSource::take_revisions`].
    pub(crate) points: usize,
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "metric `{}` ({}): {} point(s) already fetched changed when asked for again (late samples); judged with the new answer",
            self.metric,
            self.side.name(),
            self.points
        )
    }
}

/// What one query has fetched so far.
struct Fetched {
    start: i64,
    /// The last instant on this query's grid (`start` plus whole steps) that is fetched: the
    /// next fetch asks again from [`overlap_from`] of it.
    end: i64,
    /// The step of the last fetch (none yet for what an earlier run left).
    step: Option<i64>,
    series: BTreeMap<BTreeMap<String, String>, Vec<crate::model::Point>>,
    /// The start of the last window served: what is kept between runs starts there.
    served_from: i64,
}

/// What one query has fetched, as a run leaves it and the next one starts from it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownQuery {
    pub metric: String,
    pub side: Side,
    pub role: QueryRole,
    pub query: String,
    /// The first instant of this query's grid (later fetches stay on `start` plus whole steps).
    pub start: i64,
    /// The last instant fetched (on the grid).
    pub end: i64,
    pub series: Vec<(BTreeMap<String, String>, Vec<Point>)>,
}

/// What was asked of the wrapped source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchCost {
    /// Queries sent to the wrapped source (each over the part of its window not known).
    pub queries: usize,
    /// Points they returned.
    pub points: usize,
    /// The earliest instant asked for, if anything was asked.
    pub from: Option<i64>,
}

pub struct IncrementalSource<'a> {
    inner: &'a dyn MetricSource,
    cache: RefCell<HashMap<Key, Fetched>>,
    cost: RefCell<FetchCost>,
    revisions: RefCell<BTreeMap<(String, Side), usize>>,
}

impl<'a> IncrementalSource<'a> {
    pub fn new(inner: &'a dyn MetricSource) -> IncrementalSource<'a> {
        IncrementalSource::with_known(inner, Vec::new())
    }

    /// A source that already knows `known` (what an earlier run fetched): a request over a later
    /// window fetches only what comes after it.
    pub fn with_known(inner: &'a dyn MetricSource, known: Vec<KnownQuery>) -> IncrementalSource<'a> {
        let cache = known
            .into_iter()
            .map(|k| {
                let fetched = Fetched {
                    start: k.start,
                    end: k.end,
                    step: None,
                    series: k.series.into_iter().collect(),
                    served_from: k.start,
                };
                ((k.metric, k.side, k.role, k.query), fetched)
            })
            .collect();
        IncrementalSource {
            inner,
            cache: RefCell::new(cache),
            cost: RefCell::new(FetchCost::default()),
            revisions: RefCell::new(BTreeMap::new()),
        }
    }

    /// The points revised by fetches since the last call (late samples, vanished points), per
    /// metric and side, and forgets them.
    pub(crate) fn take_revisions(&self) -> Vec<Revision> {
        std::mem::take(&mut *self.revisions.borrow_mut())
            .into_iter()
            .map(|((metric, side), points)| Revision { metric, side, points })
            .collect()
    }

    /// Points fetched from the wrapped source so far.
    pub fn points_fetched(&self) -> usize {
        self.cost.borrow().points
    }

    /// What was asked of the wrapped source so far.
    pub fn cost(&self) -> FetchCost {
        *self.cost.borrow()
    }

    /// What is known, each query's points from the start of the last window it served (older
    /// points are no longer needed by a window that only moves forward), and at least the
    /// overlap the next fetch asks for again, so that its revisions are told apart from old points.
    pub fn known(&self) -> Vec<KnownQuery> {
        let cache = self.cache.borrow();
        let mut known: Vec<KnownQuery> = cache
            .iter()
            .map(|((metric, side, role, query), fetched)| KnownQuery {
                metric: metric.clone(),
                side: *side,
                role: *role,
                query: query.clone(),
                start: fetched.start,
                end: fetched.end,
                series: fetched
                    .series
                    .iter()
                    .map(|(labels, points)| {
                        let overlap =
                            fetched.step.map_or(fetched.start, |step| overlap_from(fetched.start, fetched.end, step));
                        let keep_from = fetched.served_from.min(overlap);
                        (labels.clone(), points.iter().copied().filter(|p| p.time >= keep_from).collect())
                    })
                    .collect(),
            })
            .collect();
        known.sort_by(|a, b| (&a.metric, a.side, a.role, &a.query).cmp(&(&b.metric, b.side, b.role, &b.query)));
        known
    }
}

fn key(request: &QueryRequest<'_>) -> Key {
    (request.metric.to_string(), request.side, request.role, request.query.to_string())
}

impl MetricSource for IncrementalSource<'_> {
    crate::source::passes_through_to_inner!();

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        let step = |r: &QueryRequest<'_>| r.window.step_seconds as i64;
        // Only the part of each window not fetched before, and the trailing overlap of what is
        // known again (late samples); a window that ends within what is known is served from it.
        let missing: Vec<QueryRequest<'_>> = requests
            .iter()
            .map(|request| {
                let mut part = request.clone();
                let mut cache = self.cache.borrow_mut();
                match cache.get(&key(request)) {
                    Some(known) if request.window.start >= known.start => {
                        part.window.start = if request.window.end > known.end {
                            overlap_from(known.start, known.end, step(request))
                        } else {
                            known.end + step(request)
                        };
                    }
                    // A window reaching back before what is known: fetched again whole, so that
                    // no point is held twice.
                    Some(_) => {
                        cache.remove(&key(request));
                    }
                    None => {}
                }
                part
            })
            .collect();
        let wanted: Vec<usize> =
            (0..missing.len()).filter(|&i| missing[i].window.start <= missing[i].window.end).collect();
        let to_fetch: Vec<QueryRequest<'_>> = wanted.iter().map(|&i| missing[i].clone()).collect();
        {
            let mut cost = self.cost.borrow_mut();
            cost.queries += to_fetch.len();
            let earliest = to_fetch.iter().map(|r| r.window.start).min();
            cost.from = cost.from.into_iter().chain(earliest).min();
        }
        let mut answers = self.inner.fetch_all(&to_fetch).into_iter();
        let mut failures: HashMap<usize, SourceError> = HashMap::new();
        for &index in &wanted {
            let request = &requests[index];
            let series = match answers.next().expect("one answer per request") {
                Ok(series) => series,
                Err(error) => {
                    failures.insert(index, error);
                    continue;
                }
            };
            let from = missing[index].window.start;
            // A bucket that starts at the window's end was still filling when fetched: keep it
            // out, so that the next look fetches it again, complete.
            let complete_until = match self.inner.point_time() {
                PointTime::IntervalStart => request.window.end - step(request),
                PointTime::IntervalEnd => request.window.end,
            };
            let mut answered: BTreeMap<_, Vec<Point>> = BTreeMap::new();
            for s in series {
                let points: Vec<Point> =
                    s.points.into_iter().filter(|p| p.time >= from && p.time <= complete_until).collect();
                self.cost.borrow_mut().points += points.len();
                answered.entry(s.labels).or_default().extend(points);
            }
            let mut cache = self.cache.borrow_mut();
            let entry = cache.entry(key(request)).or_insert_with(|| Fetched {
                start: from,
                end: from - step(request),
                step: None,
                series: BTreeMap::new(),
                served_from: request.window.start,
            });
            entry.step = Some(step(request));
            // What was known from `from` on is replaced by the answer: points that vanished from
            // it are dropped (no data), never kept or invented.
            let known_until = entry.end;
            let mut revised = 0;
            for (labels, known) in entry.series.iter_mut() {
                let old = known.split_off(known.partition_point(|p| p.time < from));
                let new = answered.remove(labels).unwrap_or_default();
                revised += revisions(&old, &new, known_until);
                known.extend(new);
            }
            for (labels, new) in answered {
                revised += revisions(&[], &new, known_until);
                entry.series.insert(labels, new);
            }
            entry.series.retain(|_, points| !points.is_empty());
            if revised > 0 {
                *self.revisions.borrow_mut().entry((request.metric.to_string(), request.side)).or_default() += revised;
            }
            // The last point of this query's grid that is complete: the next fetch continues on
            // the same grid.
            let on_grid = complete_until - (complete_until - entry.start).rem_euclid(step(request));
            entry.end = entry.end.max(on_grid);
        }
        requests
            .iter()
            .enumerate()
            .map(|(index, request)| {
                if let Some(error) = failures.remove(&index) {
                    return Err(error);
                }
                let mut cache = self.cache.borrow_mut();
                let Some(known) = cache.get_mut(&key(request)) else { return Ok(Vec::new()) };
                known.served_from = request.window.start;
                Ok(known
                    .series
                    .iter()
                    .map(|(labels, points)| Series {
                        labels: labels.clone(),
                        points: points
                            .iter()
                            .copied()
                            .filter(|p| p.time >= request.window.start && p.time <= request.window.end)
                            .collect(),
                    })
                    .collect())
            })
            .collect()
    }
}

/// How many instants up to `known_until` (what was complete before) differ between what was
/// known (`old`) and the new answer (`new`): a changed value, a point that appeared (a late
/// sample) or one that vanished. Both are sorted by time.
fn revisions(old: &[Point], new: &[Point], known_until: i64) -> usize {
    let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
    let old: BTreeMap<i64, f64> = old.iter().filter(|p| p.time <= known_until).map(|p| (p.time, p.value)).collect();
    let new: BTreeMap<i64, f64> = new.iter().filter(|p| p.time <= known_until).map(|p| (p.time, p.value)).collect();
    let changed = old.iter().filter(|(time, value)| !new.get(time).is_some_and(|v| same(**value, *v))).count();
    changed + new.keys().filter(|time| !old.contains_key(time)).count()
}

#[cfg(test)]
#[path = "incremental_tests.rs"]
mod tests;
