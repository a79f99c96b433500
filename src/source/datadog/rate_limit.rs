//! Datadog's rate limits and the request loop that waits them out: a 429 is not retried by the
//! backoff of the client's middleware ([`NotRateLimits`]) but waited out for the seconds that
//! `X-RateLimit-Reset` asks ([`RateLimit`]), at most `max_rate_limit_wait` per wait and within the
//! overall timeout, while every other query of the run holds back ([`Pause`]).

use super::Shared;
use super::auth::{auth_error, check_api_key};
use super::query::{v1_url, v2_body};
use super::response::interpret;
use crate::config::DatadogApi;
use crate::model::Series;
use crate::source::SourceError;
use crate::source::fetch::{self, OwnedQuery};
use crate::source::http;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest_retry::{Retryable, RetryableStrategy, default_on_request_failure, default_on_request_success};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Retries what the default strategy retries, except 429: rate limits are waited out for as
/// long as Datadog says, not for a backoff's guess.
pub(super) struct NotRateLimits;

impl RetryableStrategy for NotRateLimits {
    fn handle(&self, result: &Result<reqwest::Response, reqwest_middleware::Error>) -> Option<Retryable> {
        match result {
            Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => None,
            Ok(response) => default_on_request_success(response),
            Err(error) => default_on_request_failure(error),
        }
    }
}

/// One request of `query` (`from` inclusive, `to` exclusive), with rate limits waited out.
pub(super) async fn request(
    shared: &Shared,
    query: &OwnedQuery,
    sent: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Series>, SourceError> {
    let settings = &shared.settings;
    let base = settings.connection.url.trim_end_matches('/');
    let build = |client: &reqwest_middleware::ClientWithMiddleware| match settings.api {
        DatadogApi::V1 => {
            let url = v1_url(base, sent, from, to)?;
            Ok((http::redact_url(&format!("{base}/api/v1/query")), client.get(url)))
        }
        DatadogApi::V2 => {
            let url = format!("{base}/api/v2/query/timeseries");
            let body = v2_body(&[sent], from, to, query.step);
            Ok((http::redact_url(&url), client.post(&url).header(CONTENT_TYPE, "application/json").body(body)))
        }
    };
    let budget = query.budget(&settings.connection);
    let (api, owned_query, owned_sent, max_series) = (settings.api, query.clone(), sent.to_string(), budget.max_series);
    let parse = move |status, body: Vec<u8>, url: String| {
        interpret(api, status, &body, &url, &owned_query, &owned_sent)
            .and_then(|series| at_most(series, max_series, &owned_query, &owned_sent))
    };
    send(shared, query, budget.max_response_bytes, build, parse).await
}

/// A query's series, or an error when there are more than `--max-series`.
pub(super) fn at_most(
    series: Vec<Series>,
    max_series: usize,
    query: &OwnedQuery,
    sent: &str,
) -> Result<Vec<Series>, SourceError> {
    if series.len() > max_series {
        return Err(SourceError::OverBudget(format!(
            "{}: the query returned {} series, more than --max-series {max_series}: aggregate it or raise --max-series\n  query: {sent}",
            query.label,
            series.len()
        )));
    }
    Ok(series)
}

/// Sends the request `build` makes (again after each rate-limit wait), reads at most
/// `max_response_bytes` of its answer and `parse`s it off the runtime's workers; `query` names
/// what was asked in the errors of sending, reading and waiting.
pub(super) async fn send<T, B, P>(
    shared: &Shared,
    query: &OwnedQuery,
    max_response_bytes: u64,
    build: B,
    parse: P,
) -> Result<T, SourceError>
where
    B: Fn(
        &reqwest_middleware::ClientWithMiddleware,
    ) -> Result<(String, reqwest_middleware::RequestBuilder), SourceError>,
    P: FnOnce(StatusCode, Vec<u8>, String) -> Result<T, SourceError> + Send + 'static,
    T: Send + 'static,
{
    let settings = &shared.settings;
    let unavailable = |message: String| fetch::unavailable(query, message);
    let mut waits = 0;
    loop {
        shared.pause.wait_out().await;
        let (url, builder) = build(&shared.client)?;
        let response = builder
            .send()
            .await
            .map_err(|error| fetch::send_failed(query, &url, &error, settings.connection.retries))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::read_bounded_body(response, max_response_bytes, &url)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            let limit = RateLimit::from_headers(&headers);
            let left = shared.deadline.saturating_duration_since(Instant::now());
            match limit.wait(waits, settings.connection.retries, settings.max_rate_limit_wait, left) {
                Ok(wait) => {
                    if shared.pause.start(wait) {
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
        return fetch::parse_off_runtime(move || parse(status, body, url), unavailable).await;
    }
}

/// The pause of every request of a run while a rate limit is waited out: no request is sent
/// before the instant it holds, when Datadog said the limit resets.
#[derive(Default)]
pub(super) struct Pause {
    until: Mutex<Option<Instant>>,
}

impl Pause {
    /// Sleeps while Datadog's rate limit is being waited out.
    async fn wait_out(&self) {
        let until = *self.until.lock().expect("no panics while locked");
        if let Some(until) = until
            && until > Instant::now()
        {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Holds every request back for `wait`, then sleeps it out; true when this started a pause
    /// (rather than joining one already under way).
    fn start(&self, wait: Duration) -> bool {
        let now = Instant::now();
        let until = now + wait;
        let mut paused = self.until.lock().expect("no panics while locked");
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::datadog::MAX_RATE_LIMIT_WAIT;
    use reqwest::header::{HeaderName, HeaderValue};

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
}
