//! Metric sources: one trait, one module per backend, plus recorded data. A source returns plain
//! series (timestamps and values, NaN and infinities kept as such, gaps as missing points), so the
//! judge cannot tell live data from recorded data. All network I/O lives below this module.

pub(crate) mod connection;
pub mod datadog;
pub(crate) mod fetch;
pub mod grouping;
pub mod http;
pub mod incremental;
pub mod points;
pub mod prometheus;
pub mod recorded;
pub(crate) mod targets;
#[cfg(test)]
pub(crate) mod test_support;

use crate::model::{PointTime, QueryRole, Series, Side, SourceDescription, Window};

/// One query to run.
#[derive(Debug, Clone)]
pub struct QueryRequest<'a> {
    pub metric: &'a str,
    pub side: Side,
    pub role: QueryRole,
    pub query: &'a str,
    /// The window to query, already shifted back by the baseline's offset.
    pub window: Window,
}

impl QueryRequest<'_> {
    /// How messages name the query: `metric `latency`, canary value`.
    pub(crate) fn label(&self) -> String {
        format!("metric `{}`, {} {}", self.metric, self.side.name(), self.role.name())
    }
}

/// Why a source could not deliver.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The request cannot succeed as written (a query error, data missing from a recording).
    #[error("{0}")]
    Request(String),
    /// The backend could not be reached or refused (exit 4).
    #[error("{0}")]
    Unavailable(String),
    /// The answer was larger than the query's budget (`--max-series`, `--max-response-size`):
    /// could not judge (exit 4), like [`SourceError::Unavailable`]; a grouped query over its
    /// services' budget is asked again per service.
    #[error("{0}")]
    OverBudget(String),
}

impl SourceError {
    /// The same error with every value of `secrets` replaced by `[redacted]`.
    pub fn scrubbed(self, secrets: &[&str]) -> SourceError {
        match self {
            SourceError::Request(m) => SourceError::Request(http::scrub_secrets(&m, secrets)),
            SourceError::Unavailable(m) => SourceError::Unavailable(http::scrub_secrets(&m, secrets)),
            SourceError::OverBudget(m) => SourceError::OverBudget(http::scrub_secrets(&m, secrets)),
        }
    }
}

/// A provider of series.
pub trait MetricSource {
    /// What the report says about where the data came from.
    fn description(&self) -> SourceDescription;
    /// How timestamps relate to intervals for this source.
    fn point_time(&self) -> PointTime;
    /// Runs one query over its window at the window's step.
    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError>;
    /// Runs many queries (concurrently where the source can), one result per request, in order.
    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        requests.iter().map(|request| self.fetch(request)).collect()
    }
    /// [`MetricSource::fetch_all`] where request `i` answers for `members[i]` services (a grouped
    /// query, `grouping`): a source with per-answer limits allows it their budgets together.
    fn fetch_all_for(&self, requests: &[QueryRequest<'_>], members: &[usize]) -> Vec<Result<Vec<Series>, SourceError>> {
        let _ = members;
        self.fetch_all(requests)
    }
    /// The server's scrape interval, when it can tell (one extra request; `None` when unknown),
    /// to explain an empty answer whose range is too short for it.
    fn scrape_interval(&self) -> Option<crate::model::Duration> {
        None
    }
}

/// The parts of [`MetricSource`] that a source layered over another (its field `inner`) passes
/// through unchanged: what it is, how its timestamps read, its scrape interval, and one query as
/// a batch of one. Written inside the `impl MetricSource` of wrappers that only change `fetch_all`.
macro_rules! passes_through_to_inner {
    () => {
        fn description(&self) -> $crate::model::SourceDescription {
            self.inner.description()
        }

        fn point_time(&self) -> $crate::model::PointTime {
            self.inner.point_time()
        }

        fn scrape_interval(&self) -> Option<$crate::model::Duration> {
            self.inner.scrape_interval()
        }

        fn fetch(
            &self,
            request: &$crate::source::QueryRequest<'_>,
        ) -> Result<Vec<$crate::model::Series>, $crate::source::SourceError> {
            self.fetch_all(std::slice::from_ref(request)).pop().expect("one answer per request")
        }
    };
}
pub(crate) use passes_through_to_inner;

/// A progress bar on stderr, shown only when stderr is a terminal and `CI` is unset.
pub fn progress_bar(length: u64, message: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length).with_message(message);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar
}
