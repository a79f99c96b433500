//! How the looks of a watch of several analyses share their fetches: every service with a look at
//! one time asks the one incremental source for its new points in a single `fetch_all`
//! ([`crate::source::incremental`]); below it, [`Grouping`] hands the missing parts to
//! [`fetch_grouped`], which fetches identical queries once and queries of one shape that differ
//! only in a service's label value as one grouped query (as `judge --fleet` does). The answers are
//! then [`Served`] to each service's own judgment, which plans and checks its queries exactly as
//! a watch of that analysis alone does.

use crate::model::{PointTime, QueryRole, Series, Side, SourceDescription};
use crate::source::grouping::{GroupableShape, Wanted, fetch_grouped};
use crate::source::{MetricSource, QueryRequest, SourceError};
use std::cell::Cell;
use std::collections::HashMap;

/// A source that fetches its requests grouped where their shapes allow, counting what it sends.
pub(super) struct Grouping<'a> {
    inner: &'a dyn MetricSource,
    /// Each groupable query's shape and its service's value of the grouping label, by the query's
    /// text (the same for every window: a query is rendered from the analysis and the step).
    shapes: HashMap<String, (GroupableShape, String)>,
    backend_queries: Cell<usize>,
}

impl<'a> Grouping<'a> {
    pub(super) fn new(inner: &'a dyn MetricSource, shapes: HashMap<String, (GroupableShape, String)>) -> Grouping<'a> {
        Grouping { inner, shapes, backend_queries: Cell::new(0) }
    }

    /// Queries sent to the backend so far.
    pub(super) fn backend_queries(&self) -> usize {
        self.backend_queries.get()
    }
}

impl MetricSource for Grouping<'_> {
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
        self.fetch_all(std::slice::from_ref(request)).pop().expect("one answer per request")
    }

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        let wanted: Vec<Wanted<'_>> = requests
            .iter()
            .map(|request| Wanted {
                request: request.clone(),
                group: self.shapes.get(request.query).map(|(shape, value)| (shape, value.as_str())),
            })
            .collect();
        let fetched = fetch_grouped(self.inner, &wanted);
        self.backend_queries.set(self.backend_queries.get() + fetched.backend_queries);
        fetched.answers
    }
}

/// What identifies one request: metric, side, role, query and window.
type Key = (String, Side, QueryRole, String, (i64, i64, u64));

fn key(request: &QueryRequest<'_>) -> Key {
    let window = (request.window.start, request.window.end, request.window.step_seconds);
    (request.metric.to_string(), request.side, request.role, request.query.to_string(), window)
}

/// The answers of one round's fetch, served to each service's judgment; a request that was not
/// fetched in the round is refused (never fetched behind the round's back).
pub(super) struct Served<'a> {
    inner: &'a dyn MetricSource,
    answers: HashMap<Key, Result<Vec<Series>, SourceError>>,
}

impl<'a> Served<'a> {
    pub(super) fn new(
        inner: &'a dyn MetricSource,
        requests: &[QueryRequest<'_>],
        answers: Vec<Result<Vec<Series>, SourceError>>,
    ) -> Served<'a> {
        Served { inner, answers: requests.iter().map(key).zip(answers).collect() }
    }
}

impl MetricSource for Served<'_> {
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
        self.answers.get(&key(request)).cloned().unwrap_or_else(|| {
            Err(SourceError::Request(format!("internal error: {} was not fetched with its look", request.label())))
        })
    }

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        requests.iter().map(|request| self.fetch(request)).collect()
    }
}
