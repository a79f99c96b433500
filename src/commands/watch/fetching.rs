//! How the looks of a watch of several analyses share their fetches: every service with a look at
//! one time asks the one incremental source for its new points in a single `fetch_all`
//! ([`crate::source::incremental`]); below it, [`Grouping`] hands the missing parts to
//! [`fetch_grouped_within`], which fetches identical queries once and queries of one shape that differ
//! only in a service's label value as one grouped query (as `judge --fleet` does). The answers are
//! then [`Served`] to each service's own judgment, which plans and checks its queries exactly as
//! a watch of that analysis alone does.

use crate::model::{PointTime, QueryRole, Series, Side, SourceDescription};
use crate::source::grouping::{GroupableShape, Wanted, fetch_grouped_within};
use crate::source::incremental::{IncrementalSource, Revision};
use crate::source::{MetricSource, QueryRequest, SourceError};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

/// A source that fetches its requests grouped where their shapes allow, counting what it sends.
pub(super) struct Grouping<'a> {
    inner: &'a dyn MetricSource,
    /// Each groupable query's shape and its service's value of the grouping label, by the query's
    /// text (the same for every window: a query is rendered from the analysis and the step).
    shapes: HashMap<String, (GroupableShape, String)>,
    /// Each service's `--max-series`, held to its share of a grouped answer.
    max_series: usize,
    backend_queries: Cell<usize>,
}

impl<'a> Grouping<'a> {
    pub(super) fn new(
        inner: &'a dyn MetricSource,
        shapes: HashMap<String, (GroupableShape, String)>,
        max_series: usize,
    ) -> Grouping<'a> {
        Grouping { inner, shapes, max_series, backend_queries: Cell::new(0) }
    }

    /// Queries sent to the backend so far.
    pub(super) fn backend_queries(&self) -> usize {
        self.backend_queries.get()
    }
}

impl MetricSource for Grouping<'_> {
    crate::source::passes_through_to_inner!();

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        let wanted: Vec<Wanted<'_>> = requests
            .iter()
            .map(|request| Wanted {
                request: request.clone(),
                group: self.shapes.get(request.query).map(|(shape, value)| (shape, value.as_str())),
            })
            .collect();
        let fetched = fetch_grouped_within(self.inner, &wanted, self.max_series);
        self.backend_queries.set(self.backend_queries.get() + fetched.backend_queries);
        fetched.answers
    }
}

/// What each step's looks fetched so far, an incremental source per step: the points one query
/// fetched on one step's grid are never served to a look on another's (two analyses of one run
/// may share a query's text, the baseline's for instance, and differ in step). One analysis has
/// one step, so one incremental source, as it always had.
pub(super) struct ByStep<'a> {
    inner: &'a dyn MetricSource,
    steps: RefCell<BTreeMap<u64, IncrementalSource<'a>>>,
}

impl<'a> ByStep<'a> {
    pub(super) fn new(inner: &'a dyn MetricSource) -> ByStep<'a> {
        ByStep { inner, steps: RefCell::new(BTreeMap::new()) }
    }

    /// The points revised by the fetches since the last call (late samples), as
    /// [`IncrementalSource::take_revisions`].
    pub(super) fn take_revisions(&self) -> Vec<Revision> {
        self.steps.borrow().values().flat_map(IncrementalSource::take_revisions).collect()
    }

    /// Points fetched so far, every step's.
    pub(super) fn points_fetched(&self) -> usize {
        self.steps.borrow().values().map(IncrementalSource::points_fetched).sum()
    }

    /// The source below: what the looks' judgments ask of it besides points (its description,
    /// what its points' times mark, its scrape interval) is the same at every step.
    pub(super) fn inner(&self) -> &'a dyn MetricSource {
        self.inner
    }

    /// Each step's requests from its own incremental source, answers in the order asked.
    pub(super) fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        let mut by_step: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (index, request) in requests.iter().enumerate() {
            by_step.entry(request.window.step_seconds).or_default().push(index);
        }
        {
            let mut steps = self.steps.borrow_mut();
            for &step in by_step.keys() {
                steps.entry(step).or_insert_with(|| IncrementalSource::new(self.inner));
            }
        }
        let steps = self.steps.borrow();
        let mut answers: Vec<Option<Result<Vec<Series>, SourceError>>> = requests.iter().map(|_| None).collect();
        for (step, indices) in by_step {
            let asked: Vec<QueryRequest<'_>> = indices.iter().map(|&i| requests[i].clone()).collect();
            for (index, answer) in indices.into_iter().zip(steps[&step].fetch_all(&asked)) {
                answers[index] = Some(answer);
            }
        }
        answers.into_iter().map(|answer| answer.expect("one answer per request")).collect()
    }
}

/// What identifies one request: metric, side, role, query and window.
type Key = (String, Side, QueryRole, String, (i64, i64, u64));

fn key(request: &QueryRequest<'_>) -> Key {
    let window = (request.window.start, request.window.end, request.window.step_seconds);
    (request.metric.to_string(), request.side, request.role, request.query.to_string(), window)
}

/// The answers of one round's fetch, served to each service's judgment; a request that was not
/// fetched in the round is refused (never fetched behind the round's back). What the judgment
/// asks of the source besides (its description, what its points' times mark, and the scrape
/// interval, which explains a query that came back empty) is asked once for the round.
pub(super) struct Served {
    answers: HashMap<Key, Result<Vec<Series>, SourceError>>,
    description: SourceDescription,
    point_time: PointTime,
    /// Asked of the source only when some query came back without a point, as alone.
    scrape_interval: Option<crate::model::Duration>,
}

impl Served {
    pub(super) fn new(
        source: &dyn MetricSource,
        requests: &[QueryRequest<'_>],
        answers: Vec<Result<Vec<Series>, SourceError>>,
    ) -> Served {
        let empty = |answer: &Result<Vec<Series>, SourceError>| {
            answer.as_ref().is_ok_and(|series| series.iter().all(|s| s.points.is_empty()))
        };
        let scrape_interval = if answers.iter().any(empty) { source.scrape_interval() } else { None };
        Served {
            answers: requests.iter().map(key).zip(answers).collect(),
            description: source.description(),
            point_time: source.point_time(),
            scrape_interval,
        }
    }
}

impl MetricSource for Served {
    fn description(&self) -> SourceDescription {
        self.description.clone()
    }

    fn point_time(&self) -> PointTime {
        self.point_time
    }

    fn scrape_interval(&self) -> Option<crate::model::Duration> {
        self.scrape_interval
    }

    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        self.answers.get(&key(request)).cloned().unwrap_or_else(|| {
            Err(SourceError::Request(format!("internal error: {} was not fetched with its look", request.label())))
        })
    }

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        requests.iter().map(|request| self.fetch(request)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Point, Window};
    use crate::source::grouping::groupable;
    use crate::source::incremental::IncrementalSource;

    const SHAPE: &str = r#"sum(increase(http_requests_total{deployment="PH"}[1m]))"#;
    const START: i64 = 1_795_168_800;

    /// A Prometheus stand-in: one series per deployment that has data, a point a minute; a
    /// grouped query (`deployment=~"a|b"`) answers one series per listed value, labelled with it.
    struct Fake {
        points: BTreeMap<String, Vec<Point>>,
        queries: Cell<usize>,
    }

    impl Fake {
        fn own(&self, value: &str, window: &Window) -> Vec<Series> {
            let Some(points) = self.points.get(value) else { return Vec::new() };
            let points = points.iter().copied().filter(|p| p.time >= window.start && p.time <= window.end).collect();
            vec![Series { labels: BTreeMap::new(), points }]
        }
    }

    impl MetricSource for Fake {
        fn description(&self) -> SourceDescription {
            SourceDescription { kind: "prometheus".into(), url: None, replay: None }
        }
        fn point_time(&self) -> PointTime {
            PointTime::IntervalEnd
        }
        fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
            self.queries.set(self.queries.get() + 1);
            let quoted = |after: &str| request.query.split(after).nth(1).and_then(|r| r.split('"').next());
            if let Some(values) = quoted("=~\"") {
                let mut out = Vec::new();
                for value in values.split('|') {
                    for mut one in self.own(value, &request.window) {
                        one.labels.insert("deployment".into(), value.into());
                        out.push(one);
                    }
                }
                return Ok(out);
            }
            Ok(self.own(quoted("deployment=\"").unwrap_or(""), &request.window))
        }
    }

    proptest::proptest! {
        /// Over rounds of growing windows, every service is served exactly what its own query
        /// returns over its look's window, while the backend gets one grouped query a round
        /// (services without data included: they get no series, never another's).
        #[test]
        fn each_service_is_served_its_own_querys_answer_with_one_query_a_round(
            services in 2usize..8,
            with_data in proptest::collection::vec(proptest::bool::ANY, 8),
            values in proptest::collection::vec(-1e6f64..1e6, 60),
            ends in proptest::collection::vec(1i64..15, 1..6),
        ) {
            let names: Vec<String> = (0..services).map(|i| format!("svc{i}")).collect();
            let mut points = BTreeMap::new();
            for (i, name) in names.iter().enumerate().filter(|(i, _)| with_data[*i]) {
                let series = (0..60).map(|k| Point { time: START + 60 * k as i64, value: values[(k + i) % 60] });
                points.insert(name.clone(), series.collect::<Vec<_>>());
            }
            let fake = Fake { points, queries: Cell::new(0) };
            let placeholder = "canaryPlaceholder1";
            let shape = groupable(&SHAPE.replace("PH", placeholder), placeholder).expect("a groupable shape");
            let queries: Vec<String> = names.iter().map(|name| SHAPE.replace("PH", name)).collect();
            let shapes = queries.iter().zip(&names).map(|(q, n)| (q.clone(), (shape.clone(), n.clone()))).collect();
            let grouping = Grouping::new(&fake, shapes, crate::source::points::DEFAULT_MAX_SERIES);
            let incremental = IncrementalSource::new(&grouping);
            let mut end = START;
            for (round, minutes) in ends.iter().enumerate() {
                end += 60 * minutes;
                let window = Window::between(START, end, crate::model::Duration::from_secs(60), Default::default()).unwrap();
                let requests: Vec<QueryRequest<'_>> = queries
                    .iter()
                    .map(|query| QueryRequest { metric: "requests", side: Side::Canary, role: QueryRole::Value, query, window })
                    .collect();
                let answers = incremental.fetch_all(&requests);
                let served = Served::new(&incremental, &requests, answers);
                for (request, name) in requests.iter().zip(&names) {
                    let own = fake.own(name, &window);
                    proptest::prop_assert_eq!(served.fetch(request).unwrap(), own, "{} at round {}", name, round);
                }
                proptest::prop_assert_eq!(grouping.backend_queries(), round + 1);
                // What the round did not fetch is refused, never fetched behind its back.
                let other = QueryRequest { query: "up", ..requests[0].clone() };
                proptest::prop_assert!(served.fetch(&other).is_err());
            }
            proptest::prop_assert_eq!(fake.queries.get(), ends.len());
        }
    }
}
