//! Prometheus and the backends that speak its HTTP API (Thanos, Mimir, Cortex, VictoriaMetrics):
//! `query_range` by POST form over the window, split into requests of at most 11,000 points per
//! series, with per-request and overall timeouts and bounded, jittered retries on 5xx, 429,
//! timeouts and connection errors only. Errors say what went wrong in the user's terms: a PromQL
//! error shows the query and the server's message; gateway HTML pages are summarised, never
//! parsed as JSON; credentials never appear in any message.

use super::SourceError;
use super::connection::Connection;
use super::fetch::{self, Batch, HttpSource, OwnedQuery, PointOrder, QueryFuture};
use super::http;
use super::http::Secret;
use crate::model::{Point, PointTime, Series};
use reqwest::header::AUTHORIZATION;
use reqwest_middleware::ClientWithMiddleware;
use reqwest_retry::DefaultRetryableStrategy;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Prometheus refuses range queries of more than 11,000 points per series.
pub const MAX_POINTS_PER_REQUEST: i64 = 11_000;

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// `Authorization: Bearer …`; `origin` names where the token came from, for error messages.
    Bearer {
        token: Secret,
        origin: String,
    },
    /// Basic auth (Grafana Cloud: the instance ID and an access-policy token).
    Basic {
        user: String,
        password: Secret,
        origin: String,
    },
}

/// Everything needed to talk to one server: the connection (its base URL may carry a path
/// prefix, `/api/v1/...` is appended) and how requests authenticate.
#[derive(Debug, Clone)]
pub struct PrometheusSettings {
    pub(crate) connection: Connection,
    pub auth: Auth,
}

impl PrometheusSettings {
    /// Every credential value of this source, scrubbed from anything a server echoes.
    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.connection.credential_headers().collect();
        match &self.auth {
            Auth::None => {}
            Auth::Bearer { token, .. } => secrets.push(token.expose().trim().to_string()),
            Auth::Basic { user, password, .. } => {
                secrets.push(password.expose().trim().to_string());
                secrets.push(base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    format!("{user}:{}", password.expose().trim()),
                ));
            }
        }
        secrets.retain(|s| !s.trim().is_empty());
        secrets
    }
}

/// A live Prometheus-compatible source.
pub struct PrometheusSource {
    settings: Arc<PrometheusSettings>,
    client: ClientWithMiddleware,
    runtime: tokio::runtime::Runtime,
}

impl PrometheusSource {
    pub fn new(settings: PrometheusSettings) -> Result<PrometheusSource, SourceError> {
        let mut headers = settings.connection.plain_headers("source URL")?;
        let authorization = match &settings.auth {
            Auth::None => None,
            Auth::Bearer { token, origin } => Some((format!("Bearer {}", token.expose().trim()), origin)),
            Auth::Basic { user, password, origin } => Some((
                format!(
                    "Basic {}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        format!("{user}:{}", password.expose().trim())
                    )
                ),
                origin,
            )),
        };
        if let Some((value, origin)) = authorization {
            headers.insert(AUTHORIZATION, http::sensitive_value(&value, origin)?);
        }
        let client = settings.connection.client(headers, DefaultRetryableStrategy)?;
        let runtime = fetch::runtime()?;
        Ok(PrometheusSource { settings: Arc::new(settings), client, runtime })
    }
}

impl HttpSource for PrometheusSource {
    const KIND: &'static str = "prometheus";
    const POINT_TIME: PointTime = PointTime::IntervalEnd;
    const PROGRESS: &'static str = "querying Prometheus";

    fn batch(&self) -> Batch<'_> {
        self.settings.connection.batch(&self.runtime, self.settings.secrets())
    }

    fn query_runner(&self) -> Box<dyn Fn(OwnedQuery) -> QueryFuture + Send + Sync> {
        let state = Arc::new((self.client.clone(), Arc::clone(&self.settings)));
        fetch::query_runner(state, |state, query| async move { query_range(&state.0, &state.1, &query).await })
    }

    fn scrape_interval(&self) -> Option<crate::model::Duration> {
        let settings = &self.settings;
        // An explanation, not data: never worth more than a few seconds of the run.
        let limit = settings.connection.request_timeout.min(Duration::from_secs(5));
        let ask = async { tokio::time::timeout(limit, targets(&self.client, settings)).await };
        self.runtime.block_on(ask).ok()?.ok()?
    }
}

/// The largest scrape interval of the server's active targets (see `super::targets`).
async fn targets(
    client: &ClientWithMiddleware,
    settings: &PrometheusSettings,
) -> Result<Option<crate::model::Duration>, SourceError> {
    let endpoint = format!("{}/api/v1/targets?state=active", settings.connection.url.trim_end_matches('/'));
    let url = http::redact_url(&endpoint);
    let response =
        client.get(&endpoint).send().await.map_err(|e| SourceError::Unavailable(http::describe_error(&e)))?;
    if !response.status().is_success() {
        return Err(SourceError::Unavailable(format!("{url} answered {}", response.status())));
    }
    let limit = settings.connection.max_response_bytes.min(super::targets::MAX_TARGETS_BYTES);
    let body = http::read_bounded_body(response, limit, &url).await?;
    super::targets::largest_scrape_interval(&body, &url)
}

/// Runs one range query, split into requests of at most 11,000 points, and merges the series.
async fn query_range(
    client: &ClientWithMiddleware,
    settings: &PrometheusSettings,
    query: &OwnedQuery,
) -> Result<Vec<Series>, SourceError> {
    fetch::split_and_merge(query, MAX_POINTS_PER_REQUEST, PointOrder::AsAnswered, |start, end| {
        request(client, settings, query, start, end)
    })
    .await
}

/// The endpoint URL under the configured base (which may carry a path prefix).
fn endpoint(base: &str) -> String {
    format!("{}/api/v1/query_range", base.trim_end_matches('/'))
}

async fn request(
    client: &ClientWithMiddleware,
    settings: &PrometheusSettings,
    query: &OwnedQuery,
    start: i64,
    end: i64,
) -> Result<Vec<Series>, SourceError> {
    let url = http::redact_url(&endpoint(&settings.connection.url));
    let form = [
        ("query", query.query.clone()),
        ("start", start.to_string()),
        ("end", end.to_string()),
        ("step", query.step.to_string()),
        ("timeout", format!("{}s", settings.connection.request_timeout.as_secs().max(1))),
        // Thanos: a judgment on half the data is worse than none.
        ("partial_response", "false".to_string()),
    ];
    let unavailable = |message: String| fetch::unavailable(query, message);
    let response = client
        .post(endpoint(&settings.connection.url))
        .form(&form)
        .send()
        .await
        .map_err(|error| fetch::send_failed(query, &url, &error, settings.connection.retries))?;
    let status = response.status();
    let budget = query.budget(&settings.connection);
    let body = http::read_bounded_body(response, budget.max_response_bytes, &url)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let (query, auth) = (query.clone(), settings.auth.clone());
    let secrets = settings.secrets();
    let parse = move || {
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        interpret(status, &body, &url, &query, &auth, &Limits { budget, secrets: &secrets })
    };
    fetch::parse_off_runtime(parse, SourceError::Unavailable).await
}

/// Interprets one `query_range` answer (HTTP status and body) as a live query would, for the fuzz
/// targets and property tests: the query is a fixed placeholder and no credentials are involved.
#[doc(hidden)]
pub fn parse_response_bytes(status: u16, body: &[u8]) -> Result<Vec<Series>, SourceError> {
    let status = reqwest::StatusCode::from_u16(status).map_err(|e| SourceError::Unavailable(e.to_string()))?;
    let query = fetch::fuzz_query("up", 60);
    interpret(status, body, "http://prometheus.invalid/api/v1/query_range", &query, &Auth::None, &Limits::default())
}

/// What an answer may hold, and the credentials it must not echo.
struct Limits<'a> {
    budget: fetch::Budget,
    secrets: &'a [&'a str],
}

impl Default for Limits<'_> {
    fn default() -> Self {
        // The body is read already: only the series count is checked here.
        let budget = fetch::Budget::for_members(super::points::DEFAULT_MAX_SERIES, u64::MAX, 1);
        Limits { budget, secrets: &[] }
    }
}

/// Turns a response into series or an error in the user's terms.
fn interpret(
    status: reqwest::StatusCode,
    body: &[u8],
    url: &str,
    query: &OwnedQuery,
    auth: &Auth,
    limits: &Limits<'_>,
) -> Result<Vec<Series>, SourceError> {
    let echo = |body: &[u8]| http::echoed_body(body, limits.secrets);
    let unavailable = |message: String| fetch::unavailable(query, message);
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        let credential = match auth {
            Auth::None => "no credentials were sent (set token_env or token_file in the analysis's source)".to_string(),
            Auth::Bearer { origin, .. } | Auth::Basic { origin, .. } => format!("check the credential from {origin}"),
        };
        return Err(unavailable(format!(
            "authentication refused by {url} (HTTP {}{}): {credential}",
            status.as_u16(),
            echo(body).map(|s| format!(": {s}")).unwrap_or_default()
        )));
    }
    let envelope: Envelope<'_> = match serde_json::from_slice(body) {
        Ok(envelope) => envelope,
        Err(error) => {
            return Err(fetch::not_json(query, status, url, body, "Prometheus", echo(body), error.to_string()));
        }
    };
    // Status first: only a 2xx answer is data, whatever its body says.
    if envelope.status == "success" && !status.is_success() {
        return Err(unavailable(format!(
            "HTTP {} from {url}: only a 2xx answer is taken as data, and this one says `success`",
            status.as_u16()
        )));
    }
    if envelope.status != "success" {
        let raw_message = envelope.error.unwrap_or_default();
        // VictoriaMetrics answers parse errors with 422 and the status code as errorType.
        let parse_error = ["parse error", "cannot parse", "unparsed data", "unexpected token"]
            .iter()
            .any(|needle| raw_message.contains(needle));
        let message = if raw_message.is_empty() {
            "no error message".to_string()
        } else {
            http::echoed_text(&raw_message, limits.secrets)
        };
        let kind = http::echoed_text(&envelope.error_type.unwrap_or_default(), limits.secrets);
        let kind =
            if kind.is_empty() || kind == status.as_u16().to_string() { String::new() } else { format!(", {kind}") };
        let rejected = parse_error || status.as_u16() == 400 || kind == ", bad_data";
        let http = format!(" (HTTP {}{kind})", status.as_u16());
        return Err(if rejected {
            fetch::query_rejected(query, "the server", &http, &message, &query.query)
        } else {
            fetch::query_failed(query, url, &http, &message)
        });
    }
    for warning in envelope.warnings.iter().flatten() {
        let warning = http::echoed_text(warning, limits.secrets);
        if warning.contains("truncated") || warning.contains("partial") {
            return Err(unavailable(format!("the server returned incomplete data: {warning}")));
        }
        eprintln!("canary: warning: {}: the server warned: {warning}", query.label);
    }
    let data = envelope.data.ok_or_else(|| fetch::without_data(query, status, url))?;
    if data.result_type != "matrix" {
        return Err(SourceError::Request(format!(
            "{}: expected a range result (matrix), got `{}`\n  query: {}",
            query.label,
            http::echoed_text(&data.result_type, limits.secrets),
            query.query
        )));
    }
    let series: Vec<MatrixSeries> =
        http::parse_bounded_list(data.result.get(), limits.budget.max_series).map_err(|error| match error {
            http::BoundedListError::TooMany => SourceError::OverBudget(format!(
                "{}: the query returned more than {} series, {}: aggregate it (sum by …) or raise --max-series\n  query: {}",
                query.label,
                limits.budget.max_series,
                limits.budget.series_limit(),
                query.query
            )),
            http::BoundedListError::Json(e) => unavailable(format!("malformed result from {url}: {e}")),
        })?;
    series
        .into_iter()
        .map(|s| {
            if s.histograms.is_some() {
                return Err(SourceError::Request(format!(
                    "{}: the query returns native histograms; wrap it in histogram_quantile() or sum() to get numbers\n  query: {}",
                    query.label, query.query
                )));
            }
            let points = s.values.unwrap_or_default().into_iter().map(|(t, v)| Point { time: t.round() as i64, value: v.0 }).collect();
            Ok(Series { labels: s.metric, points })
        })
        .collect()
}

#[derive(Deserialize)]
struct Envelope<'a> {
    status: String,
    #[serde(borrow)]
    data: Option<Data<'a>>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    warnings: Option<Vec<String>>,
}

/// The result is borrowed from the body, not copied: a large response is held once as text.
#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(borrow)]
    result: &'a serde_json::value::RawValue,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    values: Option<Vec<(f64, SampleValue)>>,
    histograms: Option<serde::de::IgnoredAny>,
}

/// A sample value as Prometheus writes it: a string (`"0.25"`, `"NaN"`, `"+Inf"`).
struct SampleValue(f64);

impl<'de> Deserialize<'de> for SampleValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SampleValue, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = SampleValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sample value string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SampleValue, E> {
                text.parse().map(SampleValue).map_err(|_| E::custom(format!("`{text}` is not a sample value")))
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<SampleValue, E> {
                Ok(SampleValue(value))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<SampleValue, E> {
                Ok(SampleValue(value as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<SampleValue, E> {
                Ok(SampleValue(value as f64))
            }
        }
        deserializer.deserialize_any(Text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> OwnedQuery {
        fetch::tests::query("rate(x[1m])", 60)
    }

    #[test]
    fn parses_a_matrix_with_special_values() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"pod":"a"},"values":[[1435781430.781,"1"],[1435781445,"NaN"],[1435781460,"+Inf"],[1435781475,"1e-07"]]}]}}"#;
        let series = interpret(reqwest::StatusCode::OK, body, "u", &query(), &Auth::None, &Limits::default()).unwrap();
        let values: Vec<f64> = series[0].points.iter().map(|p| p.value).collect();
        assert_eq!(series[0].points[0].time, 1435781431);
        assert!(values[1].is_nan() && values[2] == f64::INFINITY && values[3] == 1e-7);
        assert_eq!(series[0].labels["pod"], "a");
    }

    #[test]
    fn a_promql_error_is_a_request_error_showing_the_query() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:9: parse error: unexpected end of input"}"#;
        let err = interpret(reqwest::StatusCode::BAD_REQUEST, body, "u", &query(), &Auth::None, &Limits::default())
            .unwrap_err();
        assert!(matches!(err, SourceError::Request(_)));
        let text = err.to_string();
        assert!(text.contains("parse error") && text.contains("query: rate(x[1m])"), "{text}");
    }

    #[test]
    fn victoria_metrics_parse_errors_are_request_errors() {
        let body = br#"{"status":"error","errorType":"422","error":"cannot execute query: argList: unexpected token \"\"; unparsed data: \"\""}"#;
        let err =
            interpret(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body, "u", &query(), &Auth::None, &Limits::default())
                .unwrap_err();
        assert!(matches!(err, SourceError::Request(_)), "{err}");
        assert!(err.to_string().contains("(HTTP 422): cannot execute"), "{err}");
    }

    #[test]
    fn execution_errors_html_pages_and_truncation_cannot_judge() {
        let body = br#"{"status":"error","errorType":"execution","error":"found duplicate series"}"#;
        let err =
            interpret(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body, "u", &query(), &Auth::None, &Limits::default())
                .unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)));
        let html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        let err =
            interpret(reqwest::StatusCode::BAD_GATEWAY, html, "http://x", &query(), &Auth::None, &Limits::default())
                .unwrap_err();
        assert!(err.to_string().contains("HTTP 502 from http://x with an HTML page: 502 Bad Gateway"), "{err}");
        let truncated = br#"{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":["results truncated due to limit"]}"#;
        let err =
            interpret(reqwest::StatusCode::OK, truncated, "u", &query(), &Auth::None, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("incomplete data"), "{err}");
    }

    #[test]
    fn authentication_errors_name_where_the_credential_came_from_never_its_value() {
        let auth = Auth::Bearer { token: Secret::new("s3cr3t-token".into()), origin: "$PROM_TOKEN".into() };
        let err =
            interpret(reqwest::StatusCode::UNAUTHORIZED, b"no org id", "http://x", &query(), &auth, &Limits::default())
                .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("$PROM_TOKEN") && text.contains("no org id") && !text.contains("s3cr3t"), "{text}");
        assert!(!format!("{auth:?}").contains("s3cr3t"));
    }

    #[test]
    fn only_a_2xx_answer_is_data() {
        let success =
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[60,"1"]]}]}}"#;
        for status in [500, 503, 302, 404, 203] {
            let status = reqwest::StatusCode::from_u16(status).unwrap();
            let answer = interpret(status, success, "u", &query(), &Auth::None, &Limits::default());
            if status.is_success() {
                assert_eq!(answer.unwrap().len(), 1);
            } else {
                let error = answer.unwrap_err();
                assert!(matches!(error, SourceError::Unavailable(_)), "{error}");
                assert!(error.to_string().contains("only a 2xx answer is taken as data"), "{error}");
            }
        }
    }

    #[test]
    fn too_many_series_are_refused_naming_the_flag() {
        let one = r#"{"metric":{},"values":[[60,"1"]]}"#;
        let body =
            format!(r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#, [one; 4].join(","));
        let limits = Limits { budget: fetch::Budget { max_series: 3, ..Limits::default().budget }, secrets: &[] };
        let error =
            interpret(reqwest::StatusCode::OK, body.as_bytes(), "u", &query(), &Auth::None, &limits).unwrap_err();
        assert!(
            error.to_string().contains("more than 3 series") && error.to_string().contains("--max-series"),
            "{error}"
        );
        assert!(matches!(error, SourceError::OverBudget(_)), "a typed over-budget error: {error:?}");
        assert!(error.to_string().starts_with(&query().label), "names the query's metric and side: {error}");
        let limits = Limits { budget: fetch::Budget { max_series: 4, ..Limits::default().budget }, secrets: &[] };
        assert_eq!(
            interpret(reqwest::StatusCode::OK, body.as_bytes(), "u", &query(), &Auth::None, &limits).unwrap().len(),
            4
        );
    }

    #[test]
    fn echoed_errors_never_show_the_credentials() {
        let body = br#"{"status":"error","errorType":"execution","error":"token s3cr3t-token is not allowed [31m"}"#;
        let limits =
            Limits { budget: fetch::Budget { max_series: 10, ..Limits::default().budget }, secrets: &["s3cr3t-token"] };
        let error = interpret(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body, "u", &query(), &Auth::None, &limits)
            .unwrap_err()
            .to_string();
        assert!(!error.contains("s3cr3t") && !error.contains('\u{1b}') && error.contains("[redacted]"), "{error}");
    }

    #[test]
    fn path_prefixes_are_kept() {
        assert_eq!(endpoint("http://mimir/prometheus/"), "http://mimir/prometheus/api/v1/query_range");
        assert_eq!(endpoint("http://prom:9090"), "http://prom:9090/api/v1/query_range");
    }
}
