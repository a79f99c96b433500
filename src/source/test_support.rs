//! A scripted metric source for unit tests: it answers each query with what a closure returns
//! and counts the queries it was asked, so a test states only its answers.

use super::{MetricSource, QueryRequest, SourceError};
use crate::model::{PointTime, Series, SourceDescription};
use std::cell::Cell;

type Answer<'a> = Box<dyn Fn(&QueryRequest<'_>) -> Result<Vec<Series>, SourceError> + 'a>;

/// A source of the given kind and point time whose answers a closure gives.
pub(crate) struct ScriptedSource<'a> {
    kind: &'static str,
    point_time: PointTime,
    answer: Answer<'a>,
    queries: Cell<usize>,
}

impl<'a> ScriptedSource<'a> {
    pub(crate) fn new(
        kind: &'static str,
        point_time: PointTime,
        answer: impl Fn(&QueryRequest<'_>) -> Result<Vec<Series>, SourceError> + 'a,
    ) -> ScriptedSource<'a> {
        ScriptedSource { kind, point_time, answer: Box::new(answer), queries: Cell::new(0) }
    }

    /// How many queries it was asked.
    pub(crate) fn queries(&self) -> usize {
        self.queries.get()
    }
}

impl MetricSource for ScriptedSource<'_> {
    fn description(&self) -> SourceDescription {
        SourceDescription { kind: self.kind.into(), url: None, replay: None }
    }
    fn point_time(&self) -> PointTime {
        self.point_time
    }
    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        self.queries.set(self.queries.get() + 1);
        (self.answer)(request)
    }
}

/// Any text, or (as often) a text made of `parts` in any order: the hostile query texts a query
/// rewriter must refuse or rewrite soundly.
pub(crate) fn any_text_or_made_of(parts: &'static [&'static str]) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(proptest::sample::select(parts), 0..24).prop_map(|parts| parts.concat()),
    ]
}
