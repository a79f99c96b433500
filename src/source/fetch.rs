//! What the two HTTP sources (Prometheus and Datadog) share in running a batch of queries: the
//! owned form of a query, the fetch plan (identical queries fetched once, then grouped into
//! requests as the backend allows), the client with its retry middleware and runtime, the bounded
//! concurrent runner with its overall deadline, splitting a long window into requests and merging
//! their answers, parsing off the runtime's workers, and the wording of the errors they both
//! report (a query refused, a send that failed, an answer that is not the backend's JSON).
//!
//! A batch becomes backend requests in [`HttpSource::fetch_all`]'s three steps: [`FetchPlan::new`]
//! keeps one query per distinct (query text, range, step), [`HttpSource::groups`] puts the
//! distinct queries into groups that one request answers (each query alone on Prometheus; every
//! query of one range in one request on Datadog v2), and the answers are fanned back out to every
//! request that asked for them.

use super::http::{self, describe_error, looks_like_html};
use super::{MetricSource, QueryRequest, SourceError};
use crate::model::{Point, PointTime, QueryRole, Series, Side, SourceDescription};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::{RetryTransientMiddleware, RetryableStrategy};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The run of one query of a batch on the runtime.
pub(crate) type QueryFuture = Pin<Box<dyn Future<Output = Result<Vec<Series>, SourceError>> + Send>>;

/// The run of one group of queries (see [`HttpSource::groups`]): one result per query, in order.
pub(crate) type GroupFuture = Pin<Box<dyn Future<Output = Vec<Result<Vec<Series>, SourceError>>> + Send>>;

/// An HTTP source as the shared [`MetricSource`] implementation sees it: what it reports, how it
/// runs one query, and what it adds once the whole batch is answered.
pub(crate) trait HttpSource {
    /// `prometheus`, `datadog`: the kind the report names.
    const KIND: &'static str;
    const POINT_TIME: PointTime;
    /// The progress bar's message: `querying Prometheus`.
    const PROGRESS: &'static str;
    /// Where and how a batch runs.
    fn batch(&self) -> Batch<'_>;
    /// Runs one query of the batch just started (which may share state among its queries).
    fn query_runner(&self) -> Box<dyn Fn(OwnedQuery) -> QueryFuture + Send + Sync>;
    /// The server's scrape interval, when it can tell (see [`MetricSource::scrape_interval`]).
    fn scrape_interval(&self) -> Option<crate::model::Duration> {
        None
    }
    /// Which of the batch's distinct queries one request answers together: a list of groups of
    /// indexes into `queries`, each index in exactly one group. By default each query alone.
    fn groups(&self, queries: &[OwnedQuery]) -> Vec<Vec<usize>> {
        (0..queries.len()).map(|index| vec![index]).collect()
    }
    /// Runs one group of the batch just started; by default each of its queries with
    /// [`HttpSource::query_runner`], one after the other.
    fn group_runner(&self) -> Box<dyn Fn(Vec<OwnedQuery>) -> GroupFuture + Send + Sync> {
        let run = Arc::new(self.query_runner());
        Box::new(move |queries: Vec<OwnedQuery>| {
            let run = Arc::clone(&run);
            Box::pin(async move {
                let mut results = Vec::with_capacity(queries.len());
                for query in queries {
                    results.push(run(query).await);
                }
                results
            })
        })
    }
    /// Completes the results with what only the whole batch knows.
    fn finish(_queries: &[OwnedQuery], _results: &mut [Result<Vec<Series>, SourceError>]) {}
}

/// A [`HttpSource::query_runner`]: `run` on each query with the state the batch's queries share.
pub(crate) fn query_runner<T, F, Fut>(state: Arc<T>, run: F) -> Box<dyn Fn(OwnedQuery) -> QueryFuture + Send + Sync>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>, OwnedQuery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Series>, SourceError>> + Send + 'static,
{
    Box::new(move |query: OwnedQuery| Box::pin(run(Arc::clone(&state), query)))
}

impl<S: HttpSource> MetricSource for S {
    fn description(&self) -> SourceDescription {
        SourceDescription { kind: S::KIND.into(), url: Some(http::redact_url(self.batch().url)), replay: None }
    }

    fn point_time(&self) -> PointTime {
        S::POINT_TIME
    }

    fn scrape_interval(&self) -> Option<crate::model::Duration> {
        HttpSource::scrape_interval(self)
    }

    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        self.fetch_all(std::slice::from_ref(request)).pop().expect("one result per request")
    }

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        self.fetch_all_for(requests, &vec![1; requests.len()])
    }

    fn fetch_all_for(&self, requests: &[QueryRequest<'_>], members: &[usize]) -> Vec<Result<Vec<Series>, SourceError>> {
        let batch = self.batch();
        let limits = BatchLimits {
            concurrency: batch.concurrency,
            total_timeout: batch.total_timeout,
            url: http::redact_url(batch.url),
        };
        let mut plan = FetchPlan::new(requests);
        plan.answer_for(members);
        let groups = self.groups(&plan.distinct);
        run_batch(batch.runtime, plan, groups, limits, S::PROGRESS, &batch.secrets, self.group_runner(), S::finish)
    }
}

/// The fetch plan of a batch: its distinct queries, and which one answers each request. Two
/// requests are the same query when their query text, range and step are equal (the source, and
/// so the backend, is the same for the whole batch): a denominator shared by several metrics, or
/// one query serving both sides over the same range, is fetched once and its answer given to
/// every request that asked for it.
#[derive(Debug, Clone)]
pub(crate) struct FetchPlan {
    /// One per distinct query, in the order of their first request; labelled by every use.
    pub(crate) distinct: Vec<OwnedQuery>,
    /// Per request (in order), the index in `distinct` of the query that answers it.
    pub(crate) answers: Vec<usize>,
    /// Every request, owned, in order.
    pub(crate) requests: Vec<OwnedQuery>,
}

impl FetchPlan {
    /// Plans `requests`: each distinct (query text, start, end, step) once.
    pub(crate) fn new(requests: &[QueryRequest<'_>]) -> FetchPlan {
        let requests: Vec<OwnedQuery> = requests.iter().map(OwnedQuery::new).collect();
        let mut index: HashMap<(&str, i64, i64, u64), usize> = HashMap::new();
        let mut distinct: Vec<OwnedQuery> = Vec::new();
        let mut uses: Vec<Vec<&str>> = Vec::new();
        let mut answers = Vec::with_capacity(requests.len());
        for request in &requests {
            let key = (request.query.as_str(), request.start, request.end, request.step);
            let at = *index.entry(key).or_insert_with(|| {
                distinct.push(request.clone());
                uses.push(Vec::new());
                distinct.len() - 1
            });
            uses[at].push(&request.label);
            answers.push(at);
        }
        for (query, uses) in distinct.iter_mut().zip(uses) {
            query.label = shared_label(&uses);
        }
        FetchPlan { distinct, answers, requests }
    }

    /// Gives each distinct query the budget of the most services any of its requests answers for
    /// (`members[i]` for request `i`; 1 where missing).
    pub(crate) fn answer_for(&mut self, members: &[usize]) {
        for (request, &at) in self.answers.iter().enumerate() {
            let members = members.get(request).copied().unwrap_or(1).max(1);
            let query = &mut self.distinct[at];
            query.members = query.members.max(members);
        }
    }

    /// The answers of the distinct queries given to every request, in the requests' order.
    pub(crate) fn fan_out(
        &self,
        distinct: Vec<Result<Vec<Series>, SourceError>>,
    ) -> Vec<Result<Vec<Series>, SourceError>> {
        let mut uses = vec![0usize; distinct.len()];
        for &at in &self.answers {
            uses[at] += 1;
        }
        let mut distinct: Vec<Option<Result<Vec<Series>, SourceError>>> = distinct.into_iter().map(Some).collect();
        self.answers
            .iter()
            .map(|&at| {
                uses[at] -= 1;
                // The last use takes the answer itself; earlier ones a copy.
                if uses[at] == 0 {
                    distinct[at].take().expect("one answer per distinct query")
                } else {
                    distinct[at].clone().expect("one answer per distinct query")
                }
            })
            .collect()
    }
}

/// How messages name a query with several uses: `metric `a`, canary denominator (also metric
/// `b`, canary denominator)`, at most three others named.
fn shared_label(uses: &[&str]) -> String {
    match uses {
        [] => String::new(),
        [one] => one.to_string(),
        [first, others @ ..] => {
            let mut named: Vec<&str> = others.iter().take(3).copied().collect();
            let more = others.len().saturating_sub(3);
            let and_more = if more > 0 { format!(" and {more} more") } else { String::new() };
            named.dedup();
            format!("{first} (also {}{and_more})", named.join("; "))
        }
    }
}

/// Where and how an [`HttpSource`] runs a batch of queries.
pub(crate) struct Batch<'a> {
    /// The base URL (shown redacted).
    pub(crate) url: &'a str,
    pub(crate) runtime: &'a tokio::runtime::Runtime,
    /// How many queries run at once.
    pub(crate) concurrency: usize,
    /// How long the whole batch may run.
    pub(crate) total_timeout: Duration,
    /// Every credential value of the source, scrubbed from every message whatever a server echoed.
    pub(crate) secrets: Vec<String>,
}

/// One query of a batch, owned so that it can run on the runtime.
#[derive(Debug, Clone)]
pub(crate) struct OwnedQuery {
    /// `metric `m`, canary query`: how messages name the query.
    pub(crate) label: String,
    pub(crate) metric: String,
    pub(crate) side: Side,
    pub(crate) role: QueryRole,
    pub(crate) query: String,
    /// The first point's time, inclusive.
    pub(crate) start: i64,
    /// The last point's time, inclusive.
    pub(crate) end: i64,
    pub(crate) step: u64,
    /// How many services' queries this one answers (a grouped query, `source::grouping`): its
    /// answer may hold their budgets together (see [`OwnedQuery::budget`]); 1 for a query of its own.
    pub(crate) members: usize,
}

/// The most series a grouped query's answer may hold, whatever the services' budgets add up to
/// (unless one service's `--max-series` is higher): 10 × the default `--max-series`.
pub(crate) const GROUP_MAX_SERIES: usize = 100_000;

/// The most bytes a grouped query's answer may have, whatever the services' budgets add up to
/// (unless one service's `--max-response-size` is larger): 4 × the default, so that what one grouped
/// query brings into memory stays bounded.
pub(crate) const GROUP_MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// What one query's answer may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    pub(crate) max_series: usize,
    pub(crate) max_response_bytes: u64,
    /// How many services' budgets it adds up (1: the query's own).
    pub(crate) members: usize,
}

impl Budget {
    /// The budget of a query answering for `members` services, each allowed `max_series` series
    /// and `max_response_bytes` bytes: their sum, but never more than [`GROUP_MAX_SERIES`] and
    /// [`GROUP_MAX_RESPONSE_BYTES`] (nor less than one service's own budget).
    pub(crate) fn for_members(max_series: usize, max_response_bytes: u64, members: usize) -> Budget {
        let members = members.max(1);
        if members == 1 {
            return Budget { max_series, max_response_bytes, members };
        }
        Budget {
            max_series: max_series.saturating_mul(members).min(GROUP_MAX_SERIES.max(max_series)),
            max_response_bytes: max_response_bytes
                .saturating_mul(members as u64)
                .min(GROUP_MAX_RESPONSE_BYTES.max(max_response_bytes)),
            members,
        }
    }

    /// How an error names the series limit: `the limit set by --max-series` for a query of its own.
    pub(crate) fn series_limit(&self) -> String {
        if self.members == 1 {
            "the limit set by --max-series".into()
        } else {
            format!(
                "the limit of a query grouped for {} services (their --max-series together, at most {GROUP_MAX_SERIES})",
                self.members
            )
        }
    }
}

impl OwnedQuery {
    /// This query's budget under the source's `--max-series` and `--max-response-size`.
    pub(crate) fn budget(&self, connection: &super::connection::Connection) -> Budget {
        Budget::for_members(connection.max_series, connection.max_response_bytes, self.members)
    }

    pub(crate) fn new(request: &QueryRequest<'_>) -> OwnedQuery {
        OwnedQuery {
            label: request.label(),
            metric: request.metric.to_string(),
            side: request.side,
            role: request.role,
            query: request.query.to_string(),
            start: request.window.start,
            end: request.window.end,
            step: request.window.step_seconds,
            members: 1,
        }
    }
}

/// The query the fuzz targets' entry points (`parse_response_bytes`) interpret answers for: the
/// canary's value query `query`, labelled `fuzz`, over 0 through 600 s.
pub(crate) fn fuzz_query(query: &str, step: u64) -> OwnedQuery {
    OwnedQuery {
        label: "fuzz".into(),
        metric: "fuzz".into(),
        side: Side::Canary,
        role: QueryRole::Value,
        query: query.into(),
        start: 0,
        end: 600,
        step,
        members: 1,
    }
}

/// How long and how wide a batch of queries may run, and the server it names in errors.
struct BatchLimits {
    concurrency: usize,
    total_timeout: Duration,
    /// The source's URL, already redacted.
    url: String,
}

/// Runs `run` on every group of the plan's distinct queries on `runtime` (at most
/// `limits.concurrency` groups at once, all within `limits.total_timeout`, with a progress bar
/// saying `progress`), and fans the answers out: one result per request of the plan, in order.
/// `finish` may complete the results with what only the whole batch knows; then every value of
/// `secrets` is scrubbed from every message, whatever a server echoed.
#[allow(clippy::too_many_arguments)]
fn run_batch<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    plan: FetchPlan,
    groups: Vec<Vec<usize>>,
    limits: BatchLimits,
    progress: &'static str,
    secrets: &[String],
    run: F,
    finish: impl FnOnce(&[OwnedQuery], &mut [Result<Vec<Series>, SourceError>]),
) -> Vec<Result<Vec<Series>, SourceError>>
where
    F: Fn(Vec<OwnedQuery>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Result<Vec<Series>, SourceError>>> + Send + 'static,
{
    let progress = super::progress_bar(groups.len() as u64, progress);
    let planned: Vec<Vec<OwnedQuery>> =
        groups.iter().map(|group| group.iter().map(|&i| plan.distinct[i].clone()).collect()).collect();
    let answered = runtime.block_on(run_bounded(planned, limits.concurrency, limits.total_timeout, progress, run));
    let mut distinct: Vec<Option<Result<Vec<Series>, SourceError>>> = (0..plan.distinct.len()).map(|_| None).collect();
    for (group, answers) in groups.iter().zip(answered) {
        let mut answers = answers.map(Vec::into_iter);
        for &index in group {
            let answer = answers.as_mut().and_then(Iterator::next);
            distinct[index] = Some(answer.unwrap_or_else(|| {
                Err(unavailable(
                    &plan.distinct[index],
                    format!(
                        "{}: no answer within the overall timeout of {}s",
                        limits.url,
                        limits.total_timeout.as_secs()
                    ),
                ))
            }));
        }
    }
    let distinct = distinct.into_iter().map(|answer| answer.expect("every distinct query is in a group")).collect();
    let mut results = plan.fan_out(distinct);
    finish(&plan.requests, &mut results);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    results.into_iter().map(|r| r.map_err(|e| e.scrubbed(&secrets))).collect()
}

/// The runtime the HTTP sources run their queries on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, SourceError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SourceError::Unavailable(format!("cannot start the I/O runtime: {e}")))
}

/// The client of a metric source ([`http::source_client`]) behind bounded retries
/// ([`http::retry_policy`]) of what `strategy` deems transient.
pub(crate) fn retrying_client(
    headers: reqwest::header::HeaderMap,
    request_timeout: Duration,
    ca_file: Option<&std::path::Path>,
    retries: u32,
    strategy: impl RetryableStrategy + Send + Sync + 'static,
) -> Result<ClientWithMiddleware, SourceError> {
    let client = http::source_client(headers, request_timeout, ca_file).map_err(SourceError::Request)?;
    Ok(ClientBuilder::new(client)
        .with(RetryTransientMiddleware::new_with_policy_and_strategy(http::retry_policy(retries), strategy))
        .build())
}

/// Runs `run` on every item, at most `concurrency` at once and all within `total_timeout`, and
/// returns one answer per item in their order; an item still unanswered at the deadline is
/// `None`. Advances `progress` as items finish.
pub(crate) async fn run_bounded<Q, R, F, Fut>(
    items: Vec<Q>,
    concurrency: usize,
    total_timeout: Duration,
    progress: indicatif::ProgressBar,
    run: F,
) -> Vec<Option<R>>
where
    Q: Send + 'static,
    R: Send + 'static,
    F: Fn(Q) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let run = Arc::new(run);
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let (run, limit, progress) = (Arc::clone(&run), Arc::clone(&limit), progress.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore is never closed");
            let result = run(item).await;
            progress.inc(1);
            (index, result)
        });
    }
    let mut results: Vec<Option<R>> = (0..tasks.len()).map(|_| None).collect();
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            let (index, result) = joined.expect("query tasks do not panic");
            results[index] = Some(result);
        }
    };
    if tokio::time::timeout(total_timeout, collect).await.is_err() {
        tasks.abort_all();
    }
    progress.finish_and_clear();
    results
}

/// How the points of merged series are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PointOrder {
    /// As the requests answered, one request after the other.
    AsAnswered,
    /// Sorted by time (stable), never deduplicated: a repeated timestamp is refused by the point
    /// checks.
    ByTime,
}

/// Runs a query whose window (`query.start` through `query.end`, every `query.step`) is split
/// into requests of at most `max_points` points per series, one after the other; `request` gets
/// the first and the last point time of each. The series of all requests are merged by their
/// labels.
pub(crate) async fn split_and_merge<F, Fut>(
    query: &OwnedQuery,
    max_points: i64,
    order: PointOrder,
    mut request: F,
) -> Result<Vec<Series>, SourceError>
where
    F: FnMut(i64, i64) -> Fut,
    Fut: Future<Output = Result<Vec<Series>, SourceError>>,
{
    let step = query.step as i64;
    let mut merged: BTreeMap<BTreeMap<String, String>, Vec<Point>> = BTreeMap::new();
    let mut first = query.start;
    while first <= query.end {
        let last = query.end.min(first + (max_points - 1) * step);
        for series in request(first, last).await? {
            merged.entry(series.labels).or_default().extend(series.points);
        }
        first = last + step;
    }
    Ok(merged
        .into_iter()
        .map(|(labels, mut points)| {
            if order == PointOrder::ByTime {
                points.sort_by_key(|p| p.time);
            }
            Series { labels, points }
        })
        .collect())
}

/// Runs `parse` off the async runtime's workers, so that the deadlines keep running; a parse
/// that panicked becomes the error `failed` makes of its message.
pub(crate) async fn parse_off_runtime<F, T>(
    parse: F,
    failed: impl FnOnce(String) -> SourceError,
) -> Result<T, SourceError>
where
    F: FnOnce() -> Result<T, SourceError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(parse).await.unwrap_or_else(|e| Err(failed(format!("parsing the answer failed: {e}"))))
}

/// "Could not judge", naming the query: `metric `m`, canary query: {message}`.
pub(crate) fn unavailable(query: &OwnedQuery, message: String) -> SourceError {
    SourceError::Unavailable(format!("{}: {message}", query.label))
}

/// A request that could not be sent or got no answer, after its retries.
pub(crate) fn send_failed(
    query: &OwnedQuery,
    url: &str,
    error: &reqwest_middleware::Error,
    retries: u32,
) -> SourceError {
    let cause = describe_error(error);
    unavailable(query, format!("cannot query {url}: {cause}; gave up after {retries} retries"))
}

/// The server refused the query as written: a configuration error that shows the query sent.
/// `server` names who refused (`Datadog`, `the server`); `http` is ` (HTTP 400)` or empty.
pub(crate) fn query_rejected(query: &OwnedQuery, server: &str, http: &str, message: &str, sent: &str) -> SourceError {
    SourceError::Request(format!("{}: {server} rejected the query{http}: {message}\n  query: {sent}", query.label))
}

/// The server failed to run the query; `http` is ` (HTTP 503)` or empty.
pub(crate) fn query_failed(query: &OwnedQuery, url: &str, http: &str, message: &str) -> SourceError {
    unavailable(query, format!("the query failed on {url}{http}: {message}"))
}

/// An answer that is not the backend's JSON (`backend`: `Prometheus`, `Datadog`): a gateway's
/// HTML page or anything else, shown as `shown` (the sanitised body) or else `error`.
pub(crate) fn not_json(
    query: &OwnedQuery,
    status: reqwest::StatusCode,
    url: &str,
    body: &[u8],
    backend: &str,
    shown: Option<String>,
    error: String,
) -> SourceError {
    let what =
        if looks_like_html(body) { "an HTML page".to_string() } else { format!("a body that is not {backend} JSON") };
    let detail = shown.unwrap_or(error);
    unavailable(query, format!("HTTP {} from {url} with {what}: {detail}", status.as_u16()))
}

/// A successful-looking answer without its `data`.
pub(crate) fn without_data(query: &OwnedQuery, status: reqwest::StatusCode, url: &str) -> SourceError {
    unavailable(query, format!("HTTP {} from {url} without data", status.as_u16()))
}

#[cfg(test)]
pub(crate) mod tests;
