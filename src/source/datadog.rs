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

use super::http::{self, describe_error, looks_like_html, run_bounded, summary};
use super::{MetricSource, Point, PointTime, QueryRequest, Series, SourceDescription, SourceError};
use crate::config::template::Side;
use crate::config::{DatadogApi, QueryRole};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::{
    RetryTransientMiddleware, Retryable, RetryableStrategy, default_on_request_failure, default_on_request_success,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Buckets per series and request. Datadog coarsens the rollup of a query that would return more
/// than about 1,500 points; longer windows are split so that the step is always honoured.
pub const MAX_POINTS_PER_REQUEST: i64 = 1440;

/// The longest a rate-limited request waits for `X-RateLimit-Reset` before giving up.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The site used when neither `DD_SITE` nor `source.site` names one.
pub const DEFAULT_SITE: &str = "datadoghq.com";

/// Datadog's sites (the `servers` of its API specification).
pub const SITES: [&str; 9] = [
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
];

/// The API base URL of a Datadog site: `datadoghq.eu` → `https://api.datadoghq.eu`. Accepts the
/// site as Datadog writes it, its region name (`us3`, `eu`, `ap1`, `gov`) or the address of the
/// web app (`https://app.datadoghq.eu`).
pub fn site_url(site: &str) -> Result<String, String> {
    let mut name = site.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    let mut name = name.trim_end_matches('/').to_string();
    for prefix in ["app.", "api."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    let name = match name.as_str() {
        "us1" | "us" => "datadoghq.com".to_string(),
        "us3" | "us5" | "ap1" | "ap2" | "uk1" => format!("{name}.datadoghq.com"),
        "eu" | "eu1" => "datadoghq.eu".to_string(),
        "gov" | "us1-fed" => "ddog-gov.com".to_string(),
        "us2-fed" => "us2.ddog-gov.com".to_string(),
        _ => name,
    };
    let well_formed = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && (SITES.contains(&name.as_str())
            || name.ends_with(".datadoghq.com")
            || name.ends_with(".datadoghq.eu")
            || name.ends_with(".ddog-gov.com"));
    if !well_formed {
        return Err(format!(
            "`{site}` is not a Datadog site (expected one of {}); to reach Datadog through a proxy, set source.url or --source-url",
            SITES.join(", ")
        ));
    }
    Ok(format!("https://api.{name}"))
}

/// A Datadog key read from the environment or a file (trimmed), with where it came from; never
/// printed.
pub type Key = http::Secret;

/// Everything needed to talk to Datadog.
#[derive(Debug, Clone)]
pub struct DatadogSettings {
    /// API base URL: `https://api.datadoghq.com`, or an explicit one (a proxy, a mock).
    pub url: String,
    pub api: DatadogApi,
    pub api_key: Key,
    pub app_key: Key,
    pub headers: BTreeMap<String, String>,
    /// PEM file of an extra certificate authority to trust (a proxy's).
    pub ca_file: Option<std::path::PathBuf>,
    pub request_timeout: Duration,
    pub total_timeout: Duration,
    /// Retries of a request that failed with 5xx, a timeout or a connection error, and waits for
    /// a rate limit (429).
    pub retries: u32,
    pub concurrency: usize,
    /// The longest single wait for a rate limit to reset.
    pub max_rate_limit_wait: Duration,
    /// The most bytes one answer may have (`--max-response-size`).
    pub max_response_bytes: u64,
    /// The most series one query may return (`--max-series`).
    pub max_series: usize,
}

impl DatadogSettings {
    /// Every credential value of this source (the keys and any credential header), scrubbed from
    /// every message.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.api_key.expose().to_string(), self.app_key.expose().to_string()];
        secrets
            .extend(self.headers.iter().filter(|(name, _)| http::is_credential_header(name)).map(|(_, v)| v.clone()));
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

/// Retries what the default strategy retries, except 429: rate limits are waited out for as
/// long as Datadog says, not for a backoff's guess.
struct NotRateLimits;

impl RetryableStrategy for NotRateLimits {
    fn handle(&self, result: &Result<reqwest::Response, reqwest_middleware::Error>) -> Option<Retryable> {
        match result {
            Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => None,
            Ok(response) => default_on_request_success(response),
            Err(error) => default_on_request_failure(error),
        }
    }
}

impl DatadogSource {
    pub fn new(settings: DatadogSettings) -> Result<DatadogSource, SourceError> {
        let config = |message: String| SourceError::Request(message);
        http::check_base_url(&settings.url, "Datadog URL")?;
        let mut headers = http::plain_headers(&settings.headers)?;
        for (name, key, what) in
            [("dd-api-key", &settings.api_key, "API key"), ("dd-application-key", &settings.app_key, "application key")]
        {
            if key.expose().is_empty() {
                return Err(config(format!("the Datadog {what} from {} is empty", key.origin())));
            }
            headers.insert(HeaderName::from_static(name), http::sensitive_value(key.expose(), key.origin())?);
        }
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let client =
            http::source_client(headers, settings.request_timeout, settings.ca_file.as_deref()).map_err(config)?;
        let client = ClientBuilder::new(client)
            .with(RetryTransientMiddleware::new_with_policy_and_strategy(
                http::retry_policy(settings.retries),
                NotRateLimits,
            ))
            .build();
        let runtime = http::runtime()?;
        Ok(DatadogSource { settings: Arc::new(settings), client, runtime })
    }
}

/// One query of a batch, owned so that it can run on the runtime.
#[derive(Debug, Clone)]
struct OwnedQuery {
    label: String,
    metric: String,
    side: Side,
    role: QueryRole,
    query: String,
    start: i64,
    end: i64,
    step: u64,
}

/// What all the queries of one run share.
struct Shared {
    settings: Arc<DatadogSettings>,
    client: ClientWithMiddleware,
    /// When the overall timeout ends.
    deadline: Instant,
    /// No request is sent before this instant: Datadog said the rate limit resets then.
    paused_until: Mutex<Option<Instant>>,
    /// Whether the API key is valid, asked once when Datadog refuses a request.
    key_check: tokio::sync::OnceCell<KeyCheck>,
}

impl MetricSource for DatadogSource {
    fn description(&self) -> SourceDescription {
        SourceDescription { kind: "datadog".into(), url: Some(http::redact_url(&self.settings.url)), replay: None }
    }

    fn point_time(&self) -> PointTime {
        PointTime::IntervalStart
    }

    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        self.fetch_all(std::slice::from_ref(request)).pop().expect("one result per request")
    }

    fn fetch_all(&self, requests: &[QueryRequest<'_>]) -> Vec<Result<Vec<Series>, SourceError>> {
        let queries: Vec<OwnedQuery> = requests
            .iter()
            .map(|r| OwnedQuery {
                label: format!("metric `{}`, {} {}", r.metric, r.side.name(), r.role.name()),
                metric: r.metric.to_string(),
                side: r.side,
                role: r.role,
                query: r.query.to_string(),
                start: r.window.start,
                end: r.window.end,
                step: r.window.step_seconds,
            })
            .collect();
        let progress = super::progress_bar(queries.len() as u64, "querying Datadog");
        let settings = Arc::clone(&self.settings);
        let client = self.client.clone();
        let planned = queries.clone();
        let mut results = self.runtime.block_on(async move {
            let shared = Arc::new(Shared {
                deadline: Instant::now() + settings.total_timeout,
                settings: Arc::clone(&settings),
                client,
                paused_until: Mutex::new(None),
                key_check: tokio::sync::OnceCell::new(),
            });
            let (concurrency, total, url) =
                (settings.concurrency, settings.total_timeout, http::redact_url(&settings.url));
            run_bounded(planned, concurrency, total, &url, progress, move |query: OwnedQuery| {
                let shared = Arc::clone(&shared);
                async move { run_query(&shared, &query).await }
            })
            .await
        });
        fill_missing_events(&queries, &mut results);
        // Whatever Datadog (or a proxy) echoed, no key reaches a message.
        let secrets = self.settings.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        results.into_iter().map(|r| r.map_err(|e| e.scrubbed(&secrets))).collect()
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
        let partner = queries
            .iter()
            .position(|q| q.role == QueryRole::Denominator && q.metric == query.metric && q.side == query.side);
        let Some(Ok(denominator)) = partner.map(|p| &results[p]) else { continue };
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

/// Runs one query over its window, split into requests of at most 1,440 buckets (`from`
/// inclusive, `to` exclusive), and merges the series by their tags.
async fn run_query(shared: &Shared, query: &OwnedQuery) -> Result<Vec<Series>, SourceError> {
    let sent = prepare(shared.settings.api, &query.query, query.step)
        .map_err(|message| SourceError::Request(format!("{}: {message}\n  query: {}", query.label, query.query)))?;
    let step = query.step as i64;
    let mut merged: BTreeMap<BTreeMap<String, String>, Vec<Point>> = BTreeMap::new();
    // Buckets starting from `start` through `end`, as every source answers for its window; the
    // last one runs past the window's end, and the judge drops it.
    let stop = query.end + step;
    let mut from = query.start;
    while from < stop {
        let to = stop.min(from + MAX_POINTS_PER_REQUEST * step);
        for series in request(shared, query, &sent, from, to).await? {
            merged.entry(series.labels).or_default().extend(series.points);
        }
        from = to;
    }
    Ok(merged
        .into_iter()
        .map(|(labels, mut points)| {
            // Sorted, never deduplicated: a repeated timestamp is refused by the point checks.
            points.sort_by_key(|p| p.time);
            Series { labels, points }
        })
        .collect())
}

/// The query as sent. A rollup interval written in the query must equal the step, so that both
/// sides are bucketed alike. v2 pins the interval with the request's `interval`; for v1 the
/// rollup is made explicit: a `.rollup(method)` without interval gets the step, and a query
/// without rollup gets `.rollup(avg, STEP)` (`.rollup(sum, STEP)` after `.as_count()`,
/// `.rollup(STEP)` for a percentile of a distribution) appended, which needs a single metric.
fn prepare(api: DatadogApi, query: &str, step: u64) -> Result<String, String> {
    let query = query.trim();
    let mut sent = String::with_capacity(query.len() + 20);
    let mut rest = query;
    let mut rollups = 0;
    while let Some(open) = rest.find(".rollup(") {
        let inside_start = open + ".rollup(".len();
        let Some(close) = rest[inside_start..].find(')') else { break };
        let inside = &rest[inside_start..inside_start + close];
        rollups += 1;
        let interval = inside.split(',').map(str::trim).find_map(|arg| arg.parse::<f64>().ok());
        if let Some(seconds) = interval
            && seconds != step as f64
        {
            return Err(format!(
                "the query's `.rollup({inside})` buckets every {seconds}s but the window's step is {step}s: both sides must be bucketed at the step (drop the interval from the rollup and canary sets it, or set the step to {seconds}s)"
            ));
        }
        sent.push_str(&rest[..inside_start]);
        match (api, interval, inside.trim().is_empty()) {
            (DatadogApi::V1, None, true) => sent.push_str(&step.to_string()),
            (DatadogApi::V1, None, false) => sent.push_str(&format!("{inside}, {step}")),
            _ => sent.push_str(inside),
        }
        rest = &rest[inside_start + close..];
    }
    sent.push_str(rest);
    if api == DatadogApi::V2 || rollups > 0 {
        return Ok(sent);
    }
    let terms = metric_terms(query);
    if terms > 1 {
        return Err(format!(
            "the v1 API buckets each metric of an expression by its own rollup, and this one combines {terms} metrics: write `.rollup(avg, {step})` (or `.rollup(sum, {step})` for `.as_count()`) after each of them, or use the v2 API"
        ));
    }
    let rollup = if query.contains(".as_count()") {
        format!(".rollup(sum, {step})")
    } else if is_percentile(query) {
        format!(".rollup({step})")
    } else {
        format!(".rollup(avg, {step})")
    };
    Ok(format!("{sent}{rollup}"))
}

/// How many metric queries (`name{scope}`) an expression holds; `by {tag}` groups do not count.
fn metric_terms(query: &str) -> usize {
    let bytes = query.as_bytes();
    (1..bytes.len())
        .filter(|&i| bytes[i] == b'{' && (bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'_' | b'.')))
        .count()
}

/// `p99:`, `p95:`, `p99.9:`: a percentile of a distribution metric, whose rollup takes no method.
fn is_percentile(query: &str) -> bool {
    let Some((aggregator, _)) = query.split_once(':') else { return false };
    let aggregator = aggregator.trim();
    aggregator.len() > 1
        && aggregator.starts_with('p')
        && aggregator[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The v1 request URL.
fn v1_url(base: &str, query: &str, from: i64, to: i64) -> Result<reqwest::Url, SourceError> {
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", base.trim_end_matches('/')))
        .map_err(|e| SourceError::Request(format!("Datadog URL `{base}` is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("from", &from.to_string())
        .append_pair("to", &to.to_string())
        .append_pair("query", query);
    Ok(url)
}

/// The v2 request body: one query, no formula but itself, `from`/`to`/`interval` in ms.
fn v2_body(query: &str, from: i64, to: i64, step: u64) -> Vec<u8> {
    let body = serde_json::json!({
        "data": {
            "type": "timeseries_request",
            "attributes": {
                "from": from * 1000,
                "to": to * 1000,
                "interval": step * 1000,
                "queries": [{"data_source": "metrics", "name": "q", "query": query}],
                "formulas": [{"formula": "q"}],
            }
        }
    });
    serde_json::to_vec(&body).expect("JSON serialises")
}

/// One request, with rate limits waited out.
async fn request(
    shared: &Shared,
    query: &OwnedQuery,
    sent: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Series>, SourceError> {
    let settings = &shared.settings;
    let base = settings.url.trim_end_matches('/');
    let unavailable = |message: String| SourceError::Unavailable(format!("{}: {message}", query.label));
    let mut waits = 0;
    loop {
        shared.wait_for_rate_limit().await;
        let (url, builder) = match settings.api {
            DatadogApi::V1 => {
                let url = v1_url(base, sent, from, to)?;
                (http::redact_url(&format!("{base}/api/v1/query")), shared.client.get(url))
            }
            DatadogApi::V2 => {
                let url = format!("{base}/api/v2/query/timeseries");
                let body = v2_body(sent, from, to, query.step);
                (http::redact_url(&url), shared.client.post(&url).header(CONTENT_TYPE, "application/json").body(body))
            }
        };
        let response = builder.send().await.map_err(|error| {
            let cause = describe_error(&error);
            unavailable(format!("cannot query {url}: {cause}; gave up after {} retries", settings.retries))
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::read_bounded_body(response, settings.max_response_bytes, &url)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            let limit = RateLimit::from_headers(&headers);
            let left = shared.deadline.saturating_duration_since(Instant::now());
            match limit.wait(waits, settings.retries, settings.max_rate_limit_wait, left) {
                Ok(wait) => {
                    if shared.pause(wait) {
                        eprintln!(
                            "canary: Datadog's rate limit is reached ({}); waiting {}s for it to reset",
                            limit.describe(),
                            wait.as_secs_f64().ceil()
                        );
                    }
                    waits += 1;
                    continue;
                }
                Err(reason) => {
                    return Err(unavailable(format!(
                        "rate limited by {url} (HTTP 429, {}): {reason}",
                        limit.describe()
                    )));
                }
            }
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let check = shared.key_check.get_or_init(|| check_api_key(shared)).await;
            return Err(auth_error(status, &body, check, settings));
        }
        // Parsed off the async runtime's workers, so that the deadlines keep running.
        let (api, owned_query, owned_sent, max_series) =
            (settings.api, query.clone(), sent.to_string(), settings.max_series);
        let series = tokio::task::spawn_blocking(move || {
            interpret(api, status, &body, &url, &owned_query, &owned_sent).and_then(|series| {
                if series.len() > max_series {
                    return Err(SourceError::Unavailable(format!(
                        "{}: the query returned {} series, more than --max-series {max_series}: aggregate it or raise --max-series\n  query: {owned_sent}",
                        owned_query.label,
                        series.len()
                    )));
                }
                Ok(series)
            })
        })
        .await
        .unwrap_or_else(|e| Err(unavailable(format!("parsing the answer failed: {e}"))));
        return series;
    }
}

impl Shared {
    /// Sleeps while Datadog's rate limit is being waited out.
    async fn wait_for_rate_limit(&self) {
        let until = *self.paused_until.lock().expect("no panics while locked");
        if let Some(until) = until
            && until > Instant::now()
        {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Holds every request back for `wait`, then sleeps it out; true when this started a pause
    /// (rather than joining one already under way).
    fn pause(&self, wait: Duration) -> bool {
        let now = Instant::now();
        let until = now + wait;
        let mut paused = self.paused_until.lock().expect("no panics while locked");
        let started = paused.is_none_or(|p| p <= now);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
        started
    }
}

/// Datadog's rate-limit headers (sent in lower case; names are case-insensitive).
#[derive(Debug, Default, Clone, PartialEq)]
struct RateLimit {
    name: Option<String>,
    limit: Option<u64>,
    period: Option<u64>,
    remaining: Option<u64>,
    reset: Option<u64>,
    retry_after: Option<u64>,
}

impl RateLimit {
    fn from_headers(headers: &HeaderMap) -> RateLimit {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
        let number = |name: &str| text(name).and_then(|v| v.parse::<f64>().ok()).map(|v| v.max(0.0).ceil() as u64);
        RateLimit {
            name: text("x-ratelimit-name"),
            limit: number("x-ratelimit-limit"),
            period: number("x-ratelimit-period"),
            remaining: number("x-ratelimit-remaining"),
            reset: number("x-ratelimit-reset"),
            retry_after: number("retry-after"),
        }
    }

    /// "query_timeseries: 0 of 1600 requests left per 3600s, resets in 412s".
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (self.remaining, self.limit, self.period) {
            (Some(r), Some(l), Some(p)) => parts.push(format!("{r} of {l} requests left per {p}s")),
            (Some(r), Some(l), None) => parts.push(format!("{r} of {l} requests left")),
            (None, Some(l), Some(p)) => parts.push(format!("{l} requests per {p}s")),
            _ => {}
        }
        if let Some(reset) = self.reset {
            parts.push(format!("resets in {reset}s"));
        }
        let details = if parts.is_empty() { "no X-RateLimit headers".to_string() } else { parts.join(", ") };
        match &self.name {
            Some(name) => format!("{name}: {details}"),
            None => details,
        }
    }

    /// How long to wait before retrying: `X-RateLimit-Reset`, else `Retry-After`, else
    /// `X-RateLimit-Period`, else 1, 2, 4… s; an error when that is longer than `bound`, runs past
    /// the overall timeout (`left`), or the retries are spent.
    fn wait(&self, waits: u32, retries: u32, bound: Duration, left: Duration) -> Result<Duration, String> {
        if waits >= retries {
            return Err(if retries == 0 {
                "not retried (--retries 0)".into()
            } else {
                format!("still limited after {waits} wait(s) for it to reset; try again later")
            });
        }
        let seconds = self.reset.or(self.retry_after).or(self.period).unwrap_or(1 << waits.min(5)).max(1);
        let wait = Duration::from_secs(seconds);
        if wait > bound {
            return Err(format!(
                "the limit resets in {seconds}s, longer than canary waits ({}s): try again later, query less often, or ask Datadog for a higher limit",
                bound.as_secs()
            ));
        }
        if wait >= left {
            return Err(format!(
                "the limit resets in {seconds}s, after the overall timeout (--timeout) ends: try again later"
            ));
        }
        Ok(wait)
    }
}

/// What `/api/v1/validate` says about the API key.
#[derive(Debug, Clone, PartialEq)]
enum KeyCheck {
    Valid,
    Invalid,
    Unknown(String),
}

/// Asks `/api/v1/validate`, which checks the API key alone.
async fn check_api_key(shared: &Shared) -> KeyCheck {
    let url = format!("{}/api/v1/validate", shared.settings.url.trim_end_matches('/'));
    let response = match shared.client.get(&url).send().await {
        Ok(response) => response,
        Err(error) => return KeyCheck::Unknown(describe_error(&error)),
    };
    let url = http::redact_url(&url);
    let status = response.status();
    let body = http::read_bounded_body(response, shared.settings.max_response_bytes, &url).await.unwrap_or_default();
    #[derive(Deserialize)]
    struct Validity {
        valid: bool,
    }
    match (status.as_u16(), serde_json::from_slice::<Validity>(&body)) {
        (200, Ok(Validity { valid: true })) => KeyCheck::Valid,
        (200, Ok(Validity { valid: false })) | (401 | 403, _) => KeyCheck::Invalid,
        (code, _) => KeyCheck::Unknown(format!("{url} answered HTTP {code}")),
    }
}

/// A refused request, in terms of which key to check (never its value).
fn auth_error(status: StatusCode, body: &[u8], check: &KeyCheck, settings: &DatadogSettings) -> SourceError {
    let detail = error_messages(body).map(|m| m.join("; ")).or_else(|| summary(body)).unwrap_or_default();
    let answer = if detail.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {detail}", status.as_u16())
    };
    let (api, app, url) = (settings.api_key.origin(), settings.app_key.origin(), &http::redact_url(&settings.url));
    let message = match check {
        KeyCheck::Invalid => format!(
            "Datadog at {url} refused the API key from {api} ({answer}; /api/v1/validate says it is not valid): check that it is an API key (not an application key) of an organisation on this site (DD_SITE, source.site or source.url choose the site)"
        ),
        KeyCheck::Valid => format!(
            "Datadog at {url} accepted the API key from {api} but refused the application key from {app} ({answer}): check that it is an application key of the same organisation, not revoked, with the `timeseries_query` permission"
        ),
        KeyCheck::Unknown(why) => format!(
            "Datadog at {url} refused the keys ({answer}): check the API key from {api} and the application key from {app}, both of an organisation on this site (the API key could not be checked on its own: {why})"
        ),
    };
    SourceError::Unavailable(message)
}

/// Interprets one Datadog answer (API version, HTTP status and body) as a live query at `step`
/// seconds would, for the fuzz targets and property tests: the query is a fixed placeholder.
#[doc(hidden)]
pub fn parse_response_bytes(api: DatadogApi, status: u16, body: &[u8], step: u64) -> Result<Vec<Series>, SourceError> {
    let status = StatusCode::from_u16(status).map_err(|e| SourceError::Unavailable(e.to_string()))?;
    let query = OwnedQuery {
        label: "fuzz".into(),
        metric: "fuzz".into(),
        side: Side::Canary,
        role: QueryRole::Value,
        query: "avg:fuzz{*}".into(),
        start: 0,
        end: 600,
        step,
    };
    interpret(api, status, body, "https://api.datadoghq.invalid", &query, "avg:fuzz{*}")
}

/// Turns a response into series or an error in the user's terms.
fn interpret(
    api: DatadogApi,
    status: StatusCode,
    body: &[u8],
    url: &str,
    query: &OwnedQuery,
    sent: &str,
) -> Result<Vec<Series>, SourceError> {
    let unavailable = |message: String| SourceError::Unavailable(format!("{}: {message}", query.label));
    let refused = |code: Option<u16>, message: String| {
        let http = code.map(|c| format!(" (HTTP {c})")).unwrap_or_default();
        if is_query_error(&message) || matches!(code, Some(400 | 422)) {
            SourceError::Request(format!(
                "{}: Datadog rejected the query{http}: {message}\n  query: {sent}",
                query.label
            ))
        } else {
            unavailable(format!("the query failed on {url}{http}: {message}"))
        }
    };
    let not_json = |error: String| {
        let what = if looks_like_html(body) { "an HTML page" } else { "a body that is not Datadog JSON" };
        let detail = summary(body).unwrap_or(error);
        unavailable(format!("HTTP {} from {url} with {what}: {detail}", status.as_u16()))
    };
    if !status.is_success() {
        return Err(match error_messages(body) {
            Some(messages) if !messages.is_empty() => refused(Some(status.as_u16()), messages.join("; ")),
            _ if looks_like_html(body) || serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
                not_json(String::from("empty body"))
            }
            _ => unavailable(format!("HTTP {} from {url} without an error message", status.as_u16())),
        });
    }
    match api {
        DatadogApi::V1 => {
            let response: V1Response = serde_json::from_slice(body).map_err(|e| not_json(e.to_string()))?;
            let error = response
                .error
                .filter(|e| !e.trim().is_empty())
                .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "));
            let failed = response.status.as_deref().is_some_and(|s| s != "ok");
            if let Some(messages) = response.errors.as_ref().map(messages_of).filter(|m| !m.is_empty()) {
                return Err(refused(None, messages.join("; ")));
            }
            if error.is_some() || failed {
                let message = error.unwrap_or_else(|| format!("status `{}`", response.status.unwrap_or_default()));
                return Err(refused(None, message));
            }
            v1_series(response.series, query, sent)
        }
        DatadogApi::V2 => {
            let response: V2Response = serde_json::from_slice(body).map_err(|e| not_json(e.to_string()))?;
            if let Some(messages) = response.errors.as_ref().map(messages_of).filter(|m| !m.is_empty()) {
                return Err(refused(None, messages.join("; ")));
            }
            let data = response
                .data
                .ok_or_else(|| unavailable(format!("HTTP {} from {url} without data", status.as_u16())))?;
            v2_series(data.attributes, query).map_err(|m| unavailable(format!("malformed answer from {url}: {m}")))
        }
    }
}

fn v1_series(series: Vec<V1Series>, query: &OwnedQuery, sent: &str) -> Result<Vec<Series>, SourceError> {
    series
        .into_iter()
        .map(|s| {
            // The interval is in seconds in real answers (the specification says ms): accept both.
            if let Some(interval) = s.interval
                && interval != query.step as f64
                && interval != (query.step * 1000) as f64
            {
                return Err(SourceError::Request(format!(
                    "{}: Datadog bucketed the series every {interval}s, not every {}s as the step asks: give the query a rollup of the step, or no rollup and let canary add it\n  query: {sent}",
                    query.label, query.step
                )));
            }
            let points = s
                .pointlist
                .into_iter()
                .filter_map(|(time, value)| value.map(|value| Point { time: (time / 1000.0).round() as i64, value }))
                .collect();
            Ok(Series { labels: labels(&s.tag_set), points })
        })
        .collect()
}

fn v2_series(attributes: V2Attributes, query: &OwnedQuery) -> Result<Vec<Series>, String> {
    if attributes.values.len() != attributes.series.len() {
        return Err(format!("{} series but {} lists of values", attributes.series.len(), attributes.values.len()));
    }
    let times: Vec<i64> = attributes.times.iter().map(|t| (t / 1000.0).round() as i64).collect();
    warn_if_coarser(&times, query);
    attributes
        .series
        .iter()
        .zip(attributes.values)
        .map(|(series, values)| {
            if values.len() != times.len() {
                return Err(format!("{} times but {} values in a series", times.len(), values.len()));
            }
            let points = times
                .iter()
                .zip(values)
                .filter_map(|(&time, value)| value.map(|value| Point { time, value }))
                .collect();
            Ok(Series { labels: labels(&series.group_tags), points })
        })
        .collect()
}

/// v2 treats `interval` as a hint and may bucket more coarsely; say so when the buckets are
/// evidently further apart than the step (with enough of them that sparseness cannot explain it).
fn warn_if_coarser(times: &[i64], query: &OwnedQuery) {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    if times.len() < 10 {
        return;
    }
    let spacing = times.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0).fold(0, gcd);
    if spacing > query.step as i64 {
        eprintln!(
            "canary: warning: {}: Datadog answered with buckets {spacing}s apart, coarser than the step of {}s; set the step to {spacing}s",
            query.label, query.step
        );
    }
}

/// Tags (`version:1.4.2`) as labels; a tag without a value becomes a label with an empty value.
fn labels(tags: &[String]) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for tag in tags {
        let (key, value) = tag.split_once(':').unwrap_or((tag.as_str(), ""));
        labels
            .entry(key.to_string())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    labels
}

fn is_query_error(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["error parsing query", "unable to parse", "parse error", "syntax error", "invalid query"]
        .iter()
        .any(|needle| lower.contains(needle))
}

/// The messages of an `{"errors": ...}` body, however they are shaped: an array of strings or
/// of objects (`detail`, `title`), or one string.
fn error_messages(body: &[u8]) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Errors {
        errors: serde_json::Value,
    }
    serde_json::from_slice::<Errors>(body).ok().map(|e| messages_of(&e.errors))
}

fn messages_of(errors: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    // Datadog's parse errors span lines ("Error parsing query: \nunable to parse ..."): one line each.
    let line = |text: &str| http::echoed_text(text, &[]);
    let one = |value: &Value| match value {
        Value::String(text) => Some(line(text)),
        Value::Object(object) => ["detail", "title", "message"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_str))
            .map(line)
            .or_else(|| Some(line(&value.to_string()))),
        Value::Null => None,
        other => Some(line(&other.to_string())),
    };
    match errors {
        // At most 5 messages echoed, each sanitised and capped.
        Value::Array(items) => items.iter().filter_map(one).filter(|m| !m.is_empty()).take(5).collect(),
        other => one(other).into_iter().filter(|m| !m.is_empty()).collect(),
    }
}

/// `GET /api/v1/query` (`MetricsQueryResponse`).
#[derive(Deserialize)]
struct V1Response {
    status: Option<String>,
    error: Option<String>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
    #[serde(default)]
    series: Vec<V1Series>,
}

#[derive(Deserialize)]
struct V1Series {
    #[serde(default)]
    tag_set: Vec<String>,
    interval: Option<f64>,
    /// `[ms, value | null]`; the time may be written as a float.
    #[serde(default)]
    pointlist: Vec<(f64, Option<f64>)>,
}

/// `POST /api/v2/query/timeseries`. `errors` is a string in the success schema and an array in
/// error bodies.
#[derive(Deserialize)]
struct V2Response {
    data: Option<V2Data>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct V2Data {
    attributes: V2Attributes,
}

#[derive(Deserialize)]
struct V2Attributes {
    #[serde(default)]
    series: Vec<V2Series>,
    /// Bucket starts in ms, only those with data (sparse).
    #[serde(default)]
    times: Vec<f64>,
    /// One list per series, lined up with `times`.
    #[serde(default)]
    values: Vec<Vec<Option<f64>>>,
}

#[derive(Deserialize)]
struct V2Series {
    #[serde(default)]
    group_tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(step: u64) -> OwnedQuery {
        OwnedQuery {
            label: "metric `m`, canary query".into(),
            metric: "m".into(),
            side: Side::Canary,
            role: QueryRole::Value,
            query: "avg:http.server.latency{service:web} by {version}".into(),
            start: 1_717_430_400,
            end: 1_717_430_700,
            step,
        }
    }

    fn v1(body: &str) -> Result<Vec<Series>, SourceError> {
        interpret(DatadogApi::V1, StatusCode::OK, body.as_bytes(), "u", &query(60), "q")
    }

    fn v2(status: u16, body: &str) -> Result<Vec<Series>, SourceError> {
        interpret(DatadogApi::V2, StatusCode::from_u16(status).unwrap(), body.as_bytes(), "u", &query(60), "sent q")
    }

    /// D1 of the API reference: v1, grouped by version, with null points and float ms times.
    const D1: &str = r#"{"status":"ok","res_type":"time_series","resp_version":1,"query":"avg:http.server.latency{service:web} by {version}.rollup(avg, 60)",
     "from_date":1717430400000,"to_date":1717430700000,"group_by":["version"],"message":"","times":[],"values":[],
     "series":[
      {"metric":"http.server.latency","display_name":"http.server.latency","expression":"avg:http.server.latency{service:web,version:1.4.1}.rollup(avg, 60)",
       "scope":"service:web,version:1.4.1","tag_set":["version:1.4.1"],"aggr":"avg","query_index":0,"interval":60,"length":5,
       "start":1717430400000,"end":1717430699000,"attributes":{},
       "unit":[{"family":"time","name":"second","plural":"seconds","scale_factor":1.0,"short_name":"s","id":11},null],
       "pointlist":[[1717430400000.0,0.121],[1717430460000.0,0.118],[1717430520000.0,0.125],[1717430580000.0,0.119],[1717430640000.0,0.122]]},
      {"metric":"http.server.latency","display_name":"http.server.latency","expression":"avg:http.server.latency{service:web,version:1.4.2}.rollup(avg, 60)",
       "scope":"service:web,version:1.4.2","tag_set":["version:1.4.2"],"aggr":"avg","query_index":0,"interval":60,"length":5,
       "start":1717430400000,"end":1717430699000,"attributes":{},"unit":null,
       "pointlist":[[1717430400000.0,null],[1717430460000.0,0.191],[1717430520000.0,0.204],[1717430580000.0,null],[1717430640000.0,0.198]]}]}"#;

    #[test]
    fn v1_grouped_series_with_null_points_and_float_ms_times() {
        let series = v1(D1).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].labels, BTreeMap::from([("version".to_string(), "1.4.1".to_string())]));
        assert_eq!(series[0].points.len(), 5);
        assert_eq!(series[0].points[0], Point { time: 1_717_430_400, value: 0.121 });
        // Null points are missing points.
        let canary: Vec<(i64, f64)> = series[1].points.iter().map(|p| (p.time, p.value)).collect();
        assert_eq!(canary, vec![(1_717_430_460, 0.191), (1_717_430_520, 0.204), (1_717_430_640, 0.198)]);
        assert_eq!(series[1].labels["version"], "1.4.2");
    }

    #[test]
    fn v1_interval_is_read_in_seconds_and_must_match_the_step() {
        // `interval: 60` is seconds; a 60 s step accepts it, a 30 s step does not.
        assert!(v1(D1).is_ok());
        let err = interpret(DatadogApi::V1, StatusCode::OK, D1.as_bytes(), "u", &query(30), "q").unwrap_err();
        assert!(matches!(err, SourceError::Request(_)), "{err}");
        assert!(err.to_string().contains("every 60s, not every 30s"), "{err}");
        // An interval written in ms (as the specification says) is accepted too.
        let ms = D1.replace("\"interval\":60", "\"interval\":60000");
        assert!(v1(&ms).is_ok());
    }

    #[test]
    fn v1_empty_and_error_status() {
        let empty = r#"{"status":"ok","res_type":"time_series","series":[],"from_date":1,"to_date":2,"group_by":[],"query":"x"}"#;
        assert_eq!(v1(empty).unwrap(), Vec::new());
        let failed = r#"{"status":"error","error":"Error parsing query: unable to parse avg:foo{*"}"#;
        let err = v1(failed).unwrap_err();
        assert!(matches!(err, SourceError::Request(_)), "{err}");
        let failed = r#"{"status":"error","error":"backend overloaded","series":[]}"#;
        assert!(matches!(v1(failed).unwrap_err(), SourceError::Unavailable(_)));
    }

    /// D3 of the API reference: v2, sparse times and nulls (one series per answer, as canary asks).
    #[test]
    fn v2_sparse_times_and_nulls() {
        let body = r#"{"data":{"id":"0","type":"timeseries_response","attributes":{
          "series":[{"group_tags":[],"query_index":0,"unit":[{"family":"time","name":"second","plural":"seconds","scale_factor":1.0,"short_name":"s","id":11},null]},
                    {"group_tags":["version:1.4.2","region:eu"],"query_index":0,"unit":null}],
          "times":[1717430400000,1717430460000,1717430520000,1717430640000],
          "values":[[0.121,0.118,0.125,0.122],[null,0.191,0.204,0.198]]}}}"#;
        let series = v2(200, body).unwrap();
        let times = |s: &Series| s.points.iter().map(|p| p.time).collect::<Vec<_>>();
        // 10:42 (…580) is absent: a missing point, not a zero.
        assert_eq!(times(&series[0]), vec![1_717_430_400, 1_717_430_460, 1_717_430_520, 1_717_430_640]);
        assert_eq!(times(&series[1]), vec![1_717_430_460, 1_717_430_520, 1_717_430_640]);
        assert!(series[0].labels.is_empty());
        assert_eq!(series[1].labels["region"], "eu");
        assert_eq!(series[1].labels["version"], "1.4.2");
    }

    #[test]
    fn v2_empty_results_are_no_series() {
        let body =
            r#"{"data":{"id":"0","type":"timeseries_response","attributes":{"series":[],"times":[],"values":[]}}}"#;
        assert_eq!(v2(200, body).unwrap(), Vec::new());
        let mismatched = r#"{"data":{"attributes":{"series":[{"group_tags":[]}],"times":[1,2],"values":[[1.0]]}}}"#;
        assert!(v2(200, mismatched).unwrap_err().to_string().contains("2 times but 1 values"));
    }

    #[test]
    fn syntax_errors_are_configuration_errors_showing_the_query() {
        let body = r#"{"errors":["Error parsing query: \nunable to parse avg:http.server.latency{service:web: Rule 'scope_expr' didn't match at 'service:web' (line 1, column 25)."]}"#;
        let err = v2(400, body).unwrap_err();
        assert!(matches!(err, SourceError::Request(_)), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("Rule 'scope_expr'") && text.contains("query: sent q") && text.contains("HTTP 400"),
            "{text}"
        );
        let invalid = r#"{"errors":["API input validation failed: Invalid type. Expected \"timeseries_request\"."]}"#;
        assert!(matches!(v2(400, invalid).unwrap_err(), SourceError::Request(_)));
        // A 200 with an error string is an error too, never data.
        let errors = r#"{"data":{"attributes":{"series":[],"times":[],"values":[]}},"errors":"Query timed out"}"#;
        let err = v2(200, errors).unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)) && err.to_string().contains("Query timed out"), "{err}");
    }

    #[test]
    fn html_pages_and_server_errors_cannot_judge() {
        let page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        let err = v2(502, page).unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)));
        assert!(err.to_string().contains("HTTP 502 from u with an HTML page: 502 Bad Gateway"), "{err}");
        let err = v2(503, r#"{"errors":["Service Unavailable"]}"#).unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)) && err.to_string().contains("Service Unavailable"));
        let err = v2(200, r#"{"data":{"attributes":"#).unwrap_err();
        assert!(err.to_string().contains("not Datadog JSON"), "{err}");
    }

    fn settings() -> DatadogSettings {
        DatadogSettings {
            url: "https://api.datadoghq.eu".into(),
            api: DatadogApi::V2,
            api_key: Key::from_origin("abcdef0123456789-api".into(), "$DD_API_KEY".into()),
            app_key: Key::from_origin("fedcba9876543210-app".into(), "the file /run/secrets/dd-app".into()),
            headers: BTreeMap::new(),
            ca_file: None,
            request_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(120),
            retries: 3,
            concurrency: 8,
            max_rate_limit_wait: MAX_RATE_LIMIT_WAIT,
            max_response_bytes: crate::source::points::DEFAULT_MAX_RESPONSE_BYTES,
            max_series: crate::source::points::DEFAULT_MAX_SERIES,
        }
    }

    #[test]
    fn refused_keys_are_named_by_origin_never_by_value() {
        let s = settings();
        let forbidden = br#"{"errors":["Forbidden"]}"#;
        let api = auth_error(StatusCode::FORBIDDEN, forbidden, &KeyCheck::Invalid, &s).to_string();
        assert!(api.contains("refused the API key from $DD_API_KEY") && api.contains("HTTP 403: Forbidden"), "{api}");
        let app = auth_error(StatusCode::FORBIDDEN, forbidden, &KeyCheck::Valid, &s).to_string();
        assert!(app.contains("refused the application key from the file /run/secrets/dd-app"), "{app}");
        let both = auth_error(StatusCode::UNAUTHORIZED, b"", &KeyCheck::Unknown("timed out".into()), &s);
        assert!(matches!(both, SourceError::Unavailable(_)));
        let both = both.to_string();
        assert!(both.contains("$DD_API_KEY") && both.contains("/run/secrets/dd-app") && both.contains("HTTP 401"));
        for text in [api, app, both, format!("{s:?}")] {
            assert!(!text.contains("abcdef") && !text.contains("fedcba"), "{text}");
        }
    }

    #[test]
    fn rate_limit_waits_follow_the_reset_header_within_bounds() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-limit", "1600"),
            ("x-ratelimit-period", "3600"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "412"),
            ("x-ratelimit-name", "query_timeseries"),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        let limit = RateLimit::from_headers(&headers);
        assert_eq!(limit.describe(), "query_timeseries: 0 of 1600 requests left per 3600s, resets in 412s");
        let (bound, left) = (MAX_RATE_LIMIT_WAIT, Duration::from_secs(120));
        assert!(limit.wait(0, 3, bound, left).unwrap_err().contains("resets in 412s, longer than canary waits (60s)"));
        let soon = RateLimit { reset: Some(2), ..limit.clone() };
        assert_eq!(soon.wait(0, 3, bound, left), Ok(Duration::from_secs(2)));
        assert!(soon.wait(3, 3, bound, left).unwrap_err().contains("after 3 wait(s)"));
        assert!(soon.wait(0, 0, bound, left).unwrap_err().contains("--retries 0"));
        assert!(soon.wait(0, 3, bound, Duration::from_secs(1)).unwrap_err().contains("overall timeout"));
        // Without headers: 1, 2, 4 s.
        assert_eq!(RateLimit::default().wait(2, 3, bound, left), Ok(Duration::from_secs(4)));
    }

    #[test]
    fn rollups_are_pinned_to_the_step() {
        let v1 = |q: &str| prepare(DatadogApi::V1, q, 60);
        assert_eq!(
            v1("avg:http.server.latency{service:web} by {version}").unwrap(),
            "avg:http.server.latency{service:web} by {version}.rollup(avg, 60)"
        );
        assert_eq!(
            v1("sum:http.errors{track:canary}.as_count()").unwrap(),
            "sum:http.errors{track:canary}.as_count().rollup(sum, 60)"
        );
        assert_eq!(
            v1("p99:http.server.latency{track:canary}").unwrap(),
            "p99:http.server.latency{track:canary}.rollup(60)"
        );
        assert_eq!(v1("max:q{a:b}.rollup(max)").unwrap(), "max:q{a:b}.rollup(max, 60)");
        assert_eq!(v1("avg:q{a:b}.rollup(avg, 60)").unwrap(), "avg:q{a:b}.rollup(avg, 60)");
        let err = v1("sum:a{x:y}.as_count() / sum:b{x:y}.as_count()").unwrap_err();
        assert!(err.contains("combines 2 metrics"), "{err}");
        // A rollup of another interval would bucket the sides unlike the step, in both APIs.
        assert!(v1("avg:q{a:b}.rollup(avg, 300)").unwrap_err().contains("every 300s"));
        assert!(prepare(DatadogApi::V2, "p99:q{a:b}.rollup(120)", 60).is_err());
        // v2 pins the interval in the request and sends the query as written.
        assert_eq!(prepare(DatadogApi::V2, "avg:q{a:b} by {v}", 60).unwrap(), "avg:q{a:b} by {v}");
    }

    #[test]
    fn v2_requests_name_the_window_in_ms_and_the_step_as_interval() {
        let body: serde_json::Value = serde_json::from_slice(&v2_body("avg:q{a:b}", 100, 700, 60)).unwrap();
        let attributes = &body["data"]["attributes"];
        assert_eq!(body["data"]["type"], "timeseries_request");
        assert_eq!((attributes["from"].as_i64(), attributes["to"].as_i64()), (Some(100_000), Some(700_000)));
        assert_eq!(attributes["interval"], 60_000);
        assert_eq!(attributes["queries"][0]["query"], "avg:q{a:b}");
        let url = v1_url("https://api.datadoghq.com/", "avg:q{a:b} by {v}", 100, 700).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.datadoghq.com/api/v1/query?from=100&to=700&query=avg%3Aq%7Ba%3Ab%7D+by+%7Bv%7D"
        );
    }

    #[test]
    fn sites_pick_the_api_host() {
        assert_eq!(site_url("datadoghq.com").unwrap(), "https://api.datadoghq.com");
        assert_eq!(site_url("us3.datadoghq.com").unwrap(), "https://api.us3.datadoghq.com");
        assert_eq!(site_url("datadoghq.eu").unwrap(), "https://api.datadoghq.eu");
        assert_eq!(site_url("ddog-gov.com").unwrap(), "https://api.ddog-gov.com");
        assert_eq!(site_url("https://app.us5.datadoghq.com/").unwrap(), "https://api.us5.datadoghq.com");
        assert_eq!(site_url("ap1").unwrap(), "https://api.ap1.datadoghq.com");
        assert_eq!(site_url("EU").unwrap(), "https://api.datadoghq.eu");
        assert!(site_url("grafana.net").unwrap_err().contains("not a Datadog site"));
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
    fn tags_become_labels() {
        let tags = ["version:1.4.2".to_string(), "canary".to_string(), "url:http://x".to_string()];
        let labels = labels(&tags);
        assert_eq!(labels["version"], "1.4.2");
        assert_eq!(labels["canary"], "");
        assert_eq!(labels["url"], "http://x");
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
