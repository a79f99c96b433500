//! A caching layer over any source for repeated judgments of one canary (`canary watch`): each
//! query remembers the points it has already fetched, and a later request over a longer (or
//! later) window fetches only the new tail, so the cost grows linearly with the canary's lifetime.
//! For sources whose points mark bucket starts (Datadog), the last bucket of a window is still
//! filling when fetched and is fetched again by the next look.
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
use crate::model::{Point, PointTime, QueryRole, Series, Side, SourceDescription};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

type Key = (String, Side, QueryRole, String);

/// What one query has fetched so far.
struct Fetched {
    start: i64,
    /// The last instant on this query's grid (`start` plus whole steps) that is fetched: the
    /// next fetch starts one step later.
    end: i64,
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
                    series: k.series.into_iter().collect(),
                    served_from: k.start,
                };
                ((k.metric, k.side, k.role, k.query), fetched)
            })
            .collect();
        IncrementalSource { inner, cache: RefCell::new(cache), cost: RefCell::new(FetchCost::default()) }
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
    /// points are no longer needed by a window that only moves forward).
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
                        (labels.clone(), points.iter().copied().filter(|p| p.time >= fetched.served_from).collect())
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
    fn description(&self) -> SourceDescription {
        self.inner.description()
    }

    fn point_time(&self) -> PointTime {
        self.inner.point_time()
    }

    fn scrape_interval(&self) -> Option<crate::model::Duration> {
        self.inner.scrape_interval()
    }

    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        self.fetch_all(std::slice::from_ref(request)).pop().expect("one result per request")
    }

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        let step = |r: &QueryRequest<'_>| r.window.step_seconds as i64;
        // Only the part of each window not fetched before.
        let missing: Vec<QueryRequest<'_>> = requests
            .iter()
            .map(|request| {
                let mut part = request.clone();
                let mut cache = self.cache.borrow_mut();
                match cache.get(&key(request)) {
                    Some(known) if request.window.start >= known.start => {
                        part.window.start = known.end + step(request);
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
            match answers.next().expect("one answer per request") {
                Ok(series) => {
                    let mut cache = self.cache.borrow_mut();
                    let entry = cache.entry(key(request)).or_insert_with(|| Fetched {
                        start: missing[index].window.start,
                        end: missing[index].window.start - step(request),
                        series: BTreeMap::new(),
                        served_from: request.window.start,
                    });
                    // A bucket that starts at the window's end was still filling when fetched:
                    // keep it out, so that the next look fetches it again, complete.
                    let complete_until = match self.inner.point_time() {
                        PointTime::IntervalStart => request.window.end - step(request),
                        PointTime::IntervalEnd => request.window.end,
                    };
                    for s in series {
                        let points: Vec<_> = s.points.into_iter().filter(|p| p.time <= complete_until).collect();
                        self.cost.borrow_mut().points += points.len();
                        let known = entry.series.entry(s.labels).or_default();
                        // Points off the grid past its last complete instant are fetched again
                        // by the next look: each is kept once.
                        let newest = known.last().map_or(i64::MIN, |p| p.time);
                        known.extend(points.into_iter().filter(|p| p.time > newest));
                    }
                    // The last point of this query's grid that is complete: the next fetch
                    // continues on the same grid, one step after it.
                    let on_grid = complete_until - (complete_until - entry.start).rem_euclid(step(request));
                    entry.end = entry.end.max(on_grid);
                }
                Err(error) => {
                    failures.insert(index, error);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Duration, Point, Window};

    /// Answers with one point per step of the window and counts what it was asked for.
    struct Counting {
        asked: RefCell<Vec<(i64, i64)>>,
        point_time: PointTime,
    }

    impl MetricSource for Counting {
        fn description(&self) -> SourceDescription {
            SourceDescription { kind: "test".into(), url: None, replay: None }
        }
        fn point_time(&self) -> PointTime {
            self.point_time
        }
        fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
            let w = request.window;
            self.asked.borrow_mut().push((w.start, w.end));
            let points = (w.start..=w.end)
                .step_by(w.step_seconds as usize)
                .map(|t| Point { time: t, value: t as f64 })
                .collect();
            Ok(vec![Series { labels: BTreeMap::new(), points }])
        }
    }

    #[test]
    fn later_windows_fetch_only_the_new_tail() {
        let inner = Counting { asked: RefCell::new(Vec::new()), point_time: PointTime::IntervalEnd };
        let source = IncrementalSource::new(&inner);
        let step = Duration::from_secs(60);
        for end in [600, 1200, 1800] {
            let window = Window::between(0, end, step, Duration::default()).unwrap();
            let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
            let series = source.fetch(&request).unwrap();
            assert_eq!(series[0].points.len() as i64, end / 60 + 1);
            assert_eq!(series[0].points.last().unwrap().time, end);
        }
        assert_eq!(*inner.asked.borrow(), vec![(0, 600), (660, 1200), (1260, 1800)]);
        assert_eq!(source.points_fetched(), 31);
        // A sliding window is served from what is known.
        let window = Window::between(600, 1800, step, Duration::default()).unwrap();
        let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
        assert_eq!(source.fetch(&request).unwrap()[0].points.len(), 21);
        assert_eq!(inner.asked.borrow().len(), 3);
    }

    /// A first window that starts off the grid of its end: later fetches stay on the first
    /// fetch's grid, and every point is served once.
    #[test]
    fn later_fetches_stay_on_the_grid_of_the_first() {
        let inner = Counting { asked: RefCell::new(Vec::new()), point_time: PointTime::IntervalEnd };
        let source = IncrementalSource::new(&inner);
        let step = Duration::from_secs(60);
        let mut served = Vec::new();
        for end in [600, 1200, 1800] {
            let window = Window::between(10, end, step, Duration::default()).unwrap();
            let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
            served = source.fetch(&request).unwrap().remove(0).points;
        }
        let times: Vec<i64> = served.iter().map(|p| p.time).collect();
        assert_eq!(times, (10..=1800).step_by(60).collect::<Vec<i64>>());
        assert_eq!(*inner.asked.borrow(), vec![(10, 600), (610, 1200), (1210, 1800)]);
    }

    /// A window that reaches back before what is known is fetched again whole, without holding
    /// any point twice.
    #[test]
    fn a_window_reaching_back_is_fetched_again_without_duplicates() {
        let inner = Counting { asked: RefCell::new(Vec::new()), point_time: PointTime::IntervalEnd };
        let source = IncrementalSource::new(&inner);
        for (start, end) in [(600, 1200), (0, 1200)] {
            let window = Window::between(start, end, Duration::from_secs(60), Duration::default()).unwrap();
            let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
            let points = source.fetch(&request).unwrap().remove(0).points;
            assert_eq!(points.len() as i64, (end - start) / 60 + 1);
        }
    }

    #[test]
    fn a_bucket_still_filling_is_fetched_again() {
        let inner = Counting { asked: RefCell::new(Vec::new()), point_time: PointTime::IntervalStart };
        let source = IncrementalSource::new(&inner);
        for end in [600, 1200] {
            let window = Window::between(0, end, Duration::from_secs(60), Duration::default()).unwrap();
            let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
            source.fetch(&request).unwrap();
        }
        assert_eq!(*inner.asked.borrow(), vec![(0, 600), (600, 1200)]);
    }
}
