//! Datadog's metrics query API: v2 `POST /api/v2/query/timeseries` (the default) or v1
//! `GET /api/v1/query`, on the API host of the organisation's site (`https://api.<site>`) or an
//! explicit URL. Both sides are bucketed alike: every request pins the rollup interval to the
//! window's step (v2 `interval`; v1 an explicit `.rollup(...)`), over the same step-aligned
//! window, split into requests of at most 1,440 buckets. Bucket timestamps mark interval starts,
//! so the judge drops a bucket that runs past the window's end. Null points and the buckets that
//! sparse v2 `times` leave out are missing points; a count's numerator bucket that is missing
//! where its denominator has traffic held no events and is filled with 0.
//!
//! Requests carry the keys only in the `DD-API-KEY` and `DD-APPLICATION-KEY` headers (marked
//! sensitive); no message ever shows them. 5xx, timeouts and connection errors are retried with
//! jittered backoff; a 429 is waited out for the `X-RateLimit-Reset` seconds Datadog asks (at most
//! [`MAX_RATE_LIMIT_WAIT`] per wait and within the overall timeout), during which no other query
//! is sent. A refused key is named: `/api/v1/validate` tells a bad API key from a bad application
//! key. Query syntax errors are configuration errors that show the query; HTML pages are
//! summarised, never parsed as JSON.
//!
//! This module holds the source itself (settings, client, the run of a batch and what only the
//! whole batch knows); [`combined`] the v2 requests that carry every query of one range at once
//! (one request per judgment, two with an offset baseline); [`site`] the sites, [`query`] the rollup and the request as sent,
//! [`rate_limit`] the request loop that waits out 429s, [`auth`] refused keys, [`response`] the v1
//! and v2 answers. What both HTTP sources share is in [`super::fetch`].

mod auth;
mod combined;
mod query;
mod rate_limit;
mod response;
mod site;

pub use response::{parse_combined_response_bytes, parse_response_bytes};
pub use site::{DEFAULT_SITE, site_url};

use super::SourceError;
use super::connection::Connection;
use super::fetch::{self, Batch, GroupFuture, HttpSource, OwnedQuery, PointOrder, QueryFuture};
use super::http;
use crate::config::DatadogApi;
use crate::model::{Point, PointTime, QueryRole, Series};
use auth::KeyCheck;
use rate_limit::{NotRateLimits, Pause};
use reqwest::header::{ACCEPT, HeaderName, HeaderValue};
use reqwest_middleware::ClientWithMiddleware;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Buckets per series and request. Datadog coarsens the rollup of a query that would return more
/// than about 1,500 points; longer windows are split so that the step is always honoured.
pub const MAX_POINTS_PER_REQUEST: i64 = 1440;

/// The most queries one v2 request carries. Datadog documents no such limit; canary's own bound
/// keeps each answer (and the body it must hold in memory) to a known size.
pub const MAX_QUERIES_PER_REQUEST: usize = 32;

/// The longest a rate-limited request waits for `X-RateLimit-Reset` before giving up.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// A Datadog key read from the environment or a file (trimmed), with where it came from; never
/// printed.
pub type Key = http::Secret;

/// Everything needed to talk to Datadog: the connection (the API base URL,
/// `https://api.datadoghq.com` or an explicit one: a proxy, a mock; its retries also bound the
/// waits for a rate limit, 429), which API, and the two keys.
#[derive(Debug, Clone)]
pub struct DatadogSettings {
    pub(crate) connection: Connection,
    pub api: DatadogApi,
    pub api_key: Key,
    pub app_key: Key,
    /// The longest single wait for a rate limit to reset.
    pub max_rate_limit_wait: Duration,
}

impl DatadogSettings {
    /// Every credential value of this source (the keys and any credential header), scrubbed from
    /// every message.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.api_key.expose().to_string(), self.app_key.expose().to_string()];
        secrets.extend(self.connection.credential_headers());
        secrets.retain(|s| !s.trim().is_empty());
        secrets
    }
}

/// A live Datadog source.
pub struct DatadogSource {
    settings: Arc<DatadogSettings>,
    client: ClientWithMiddleware,
    runtime: tokio::runtime::Runtime,
}

impl DatadogSource {
    pub fn new(settings: DatadogSettings) -> Result<DatadogSource, SourceError> {
        let config = |message: String| SourceError::Request(message);
        let mut headers = settings.connection.plain_headers("Datadog URL")?;
        for (name, key, what) in
            [("dd-api-key", &settings.api_key, "API key"), ("dd-application-key", &settings.app_key, "application key")]
        {
            if key.expose().is_empty() {
                return Err(config(format!("the Datadog {what} from {} is empty", key.origin())));
            }
            headers.insert(HeaderName::from_static(name), http::sensitive_value(key.expose(), key.origin())?);
        }
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let client = settings.connection.client(headers, NotRateLimits)?;
        let runtime = fetch::runtime()?;
        Ok(DatadogSource { settings: Arc::new(settings), client, runtime })
    }
}

impl DatadogSource {
    /// What the queries of a batch about to start share.
    fn shared(&self) -> Arc<Shared> {
        Arc::new(Shared {
            deadline: Instant::now() + self.settings.connection.total_timeout,
            settings: Arc::clone(&self.settings),
            client: self.client.clone(),
            pause: Pause::default(),
            key_check: tokio::sync::OnceCell::new(),
        })
    }
}

/// What all the queries of one run share.
struct Shared {
    settings: Arc<DatadogSettings>,
    client: ClientWithMiddleware,
    /// When the overall timeout ends.
    deadline: Instant,
    /// Holds every request back while a rate limit is waited out.
    pause: Pause,
    /// Whether the API key is valid, asked once when Datadog refuses a request.
    key_check: tokio::sync::OnceCell<KeyCheck>,
}

impl HttpSource for DatadogSource {
    const KIND: &'static str = "datadog";
    const POINT_TIME: PointTime = PointTime::IntervalStart;
    const PROGRESS: &'static str = "querying Datadog";

    fn batch(&self) -> Batch<'_> {
        self.settings.connection.batch(&self.runtime, self.settings.secrets())
    }

    fn query_runner(&self) -> Box<dyn Fn(OwnedQuery) -> QueryFuture + Send + Sync> {
        fetch::query_runner(self.shared(), |shared, query| async move { run_query(&shared, &query).await })
    }

    /// v2: every query of one range and step in one request (at most
    /// [`MAX_QUERIES_PER_REQUEST`] each); v1 takes one query per request.
    fn groups(&self, queries: &[OwnedQuery]) -> Vec<Vec<usize>> {
        if self.settings.api == DatadogApi::V1 {
            return (0..queries.len()).map(|index| vec![index]).collect();
        }
        let mut by_range: BTreeMap<(i64, i64, u64), Vec<usize>> = BTreeMap::new();
        for (index, query) in queries.iter().enumerate() {
            by_range.entry((query.start, query.end, query.step)).or_default().push(index);
        }
        by_range
            .into_values()
            .flat_map(|group| group.chunks(MAX_QUERIES_PER_REQUEST).map(<[usize]>::to_vec).collect::<Vec<_>>())
            .collect()
    }

    fn group_runner(&self) -> Box<dyn Fn(Vec<OwnedQuery>) -> GroupFuture + Send + Sync> {
        let shared = self.shared();
        Box::new(move |queries: Vec<OwnedQuery>| {
            let shared = Arc::clone(&shared);
            Box::pin(async move { combined::run_group(&shared, queries).await })
        })
    }

    fn finish(queries: &[OwnedQuery], results: &mut [Result<Vec<Series>, SourceError>]) {
        fill_missing_events(queries, results);
    }
}

/// Datadog leaves out the buckets of a count that saw no events (a null point in v1, a missing
/// time in v2). Where a numerator's series has no bucket but its denominator has traffic, the
/// numerator counted zero events: fill those buckets with 0, so that the judge's pairing of
/// numerator and denominator keeps every interval with traffic. Series pair by their tags (or
/// one with one).
fn fill_missing_events(queries: &[OwnedQuery], results: &mut [Result<Vec<Series>, SourceError>]) {
    for (index, query) in queries.iter().enumerate() {
        if query.role != QueryRole::Numerator {
            continue;
        }
        let is_partner = |q: &OwnedQuery| {
            q.role == QueryRole::Denominator
                && q.metric == query.metric
                && q.side == query.side
                && (q.start, q.end, q.step) == (query.start, query.end, query.step)
        };
        // Only an unambiguous partner: in a many-analysis run several services share metric
        // names, and one service's traffic must never shape another's counts (the judge's own
        // pairing then fills the gaps from the service's own denominator).
        let mut partners = queries.iter().enumerate().filter(|(_, q)| is_partner(q)).map(|(p, _)| p);
        let (Some(partner), None) = (partners.next(), partners.next()) else { continue };
        let Ok(denominator) = &results[partner] else { continue };
        let denominator = denominator.clone();
        let Ok(numerator) = &mut results[index] else { continue };
        let single = numerator.len() == 1 && denominator.len() == 1;
        for series in numerator.iter_mut() {
            let Some(exposure) = denominator.iter().find(|d| single || d.labels == series.labels) else { continue };
            let have: std::collections::BTreeSet<i64> = series.points.iter().map(|p| p.time).collect();
            let missing: Vec<Point> = exposure
                .points
                .iter()
                .filter(|p| !have.contains(&p.time))
                .map(|p| Point { time: p.time, value: 0.0 })
                .collect();
            if !missing.is_empty() {
                series.points.extend(missing);
                series.points.sort_by_key(|p| p.time);
            }
        }
    }
}

/// Runs one query over its window, split into requests of at most 1,440 buckets, and merges
/// the series by their tags.
async fn run_query(shared: &Shared, query: &OwnedQuery) -> Result<Vec<Series>, SourceError> {
    let sent = query::prepare(shared.settings.api, &query.query, query.step)
        .map_err(|message| SourceError::Request(format!("{}: {message}\n  query: {}", query.label, query.query)))?;
    let step = query.step as i64;
    // Buckets starting from `start` through `end`, as every source answers for its window; the
    // last one runs past the window's end, and the judge drops it. Each request asks from its
    // first bucket (inclusive) to the end of its last (exclusive).
    fetch::split_and_merge(query, MAX_POINTS_PER_REQUEST, PointOrder::ByTime, |first, last| {
        rate_limit::request(shared, query, &sent, first, last + step)
    })
    .await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query of `metric `m`, canary query` at `step` seconds.
    pub(crate) fn query(step: u64) -> OwnedQuery {
        OwnedQuery {
            query: "avg:http.server.latency{service:web} by {version}".into(),
            start: 1_717_430_400,
            end: 1_717_430_700,
            ..fetch::tests::query("", step)
        }
    }

    pub(crate) fn settings() -> DatadogSettings {
        DatadogSettings {
            connection: Connection {
                url: "https://api.datadoghq.eu".into(),
                headers: BTreeMap::new(),
                ca_file: None,
                request_timeout: Duration::from_secs(30),
                total_timeout: Duration::from_secs(120),
                retries: 3,
                concurrency: 8,
                max_response_bytes: crate::source::points::DEFAULT_MAX_RESPONSE_BYTES,
                max_series: crate::source::points::DEFAULT_MAX_SERIES,
            },
            api: DatadogApi::V2,
            api_key: Key::from_origin("abcdef0123456789-api".into(), "$DD_API_KEY".into()),
            app_key: Key::from_origin("fedcba9876543210-app".into(), "the file /run/secrets/dd-app".into()),
            max_rate_limit_wait: MAX_RATE_LIMIT_WAIT,
        }
    }

    #[test]
    fn missing_count_buckets_are_zero_events_where_there_was_traffic() {
        let q = |role: QueryRole| OwnedQuery { role, ..query(60) };
        let queries = [q(QueryRole::Numerator), q(QueryRole::Denominator)];
        let series = |points: &[(i64, f64)]| Series {
            labels: BTreeMap::new(),
            points: points.iter().map(|&(time, value)| Point { time, value }).collect(),
        };
        let mut results =
            vec![Ok(vec![series(&[(120, 2.0)])]), Ok(vec![series(&[(60, 100.0), (120, 90.0), (180, 80.0)])])];
        fill_missing_events(&queries, &mut results);
        let numerator = results[0].as_ref().unwrap();
        assert_eq!(numerator[0].points, series(&[(60, 0.0), (120, 2.0), (180, 0.0)]).points);
    }

    #[test]
    fn a_numerator_is_never_filled_from_an_ambiguous_denominator() {
        // Two services of one fleet batch: the same metric name and side, different queries.
        let q = |role: QueryRole, query: &str| OwnedQuery { role, query: query.into(), ..super::tests::query(60) };
        let queries = [
            q(QueryRole::Numerator, "sum:errors{service:a}.as_count()"),
            q(QueryRole::Denominator, "sum:requests{service:a}.as_count()"),
            q(QueryRole::Numerator, "sum:errors{service:b}.as_count()"),
            q(QueryRole::Denominator, "sum:requests{service:b}.as_count()"),
        ];
        let series = |points: &[(i64, f64)]| Series {
            labels: BTreeMap::new(),
            points: points.iter().map(|&(time, value)| Point { time, value }).collect(),
        };
        let b_errors = series(&[(60, 1.0)]);
        let mut results = vec![
            Ok(vec![series(&[(60, 1.0)])]),
            Ok(vec![series(&[(60, 10.0), (120, 10.0), (180, 10.0), (240, 10.0)])]),
            Ok(vec![b_errors.clone()]),
            Ok(vec![series(&[(60, 10.0)])]),
        ];
        fill_missing_events(&queries, &mut results);
        // B's errors keep B's own buckets: nothing at A's times 120, 180 and 240.
        assert_eq!(results[2].as_ref().unwrap()[0].points, b_errors.points);
    }

    #[test]
    fn the_api_version_is_a_datadog_field() {
        let base = "name: x\nmetrics:\n  - name: m\n    query: 'avg:q{a:b}'\n    direction: increase\n";
        let parse = |source: &str| crate::config::Analysis::parse(&format!("{base}{source}"), "a.yaml".as_ref());
        let analysis = parse("source:\n  kind: datadog\n  api: v1\n").unwrap();
        assert_eq!(analysis.source.unwrap().api, Some(DatadogApi::V1));
        assert!(parse("source:\n  kind: prometheus\n  api: v1\n").unwrap_err().to_string().contains("source.api"));
        assert!(parse("source:\n  kind: datadog\n  api: v3\n").is_err());
        let inline = "source:\n  kind: datadog\n  headers:\n    DD-APPLICATION-KEY: abc\n";
        assert!(parse(inline).unwrap_err().to_string().contains("app_key_env"));
    }
}
