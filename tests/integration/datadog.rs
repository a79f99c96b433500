//! The Datadog source end to end against wiremock, whose answers follow Datadog's documented
//! responses: v2 `POST /api/v2/query/timeseries` with sparse `times`, v1 `GET /api/v1/query` with
//! null points, float ms times and grouped series; every mock matches the method, path, both key
//! headers and the request body or query string. Judgments healthy and regressed through both
//! APIs, `record` then `--replay`, `validate --live`, retries of a 503, the wait for a 429's
//! `X-RateLimit-Reset`, refused keys named without their values, syntax errors, empty results,
//! gateway HTML, and the keys absent from every output. Analyses: `tests/data/datadog/`.

use crate::support::{TempDir, canary_bin, stderr, stdout};
use serde_json::{Value, json};
use std::process::Output;
use std::time::{Duration, Instant};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const V2: &str = "tests/data/datadog/checkout.yaml";
const V1: &str = "tests/data/datadog/checkout-v1.yaml";
const REGIONS: &str = "tests/data/datadog/breakdown-v1.yaml";
const START: &str = "2026-11-20T10:00:00Z";
const END: &str = "2026-11-20T10:30:00Z";
const START_SECONDS: i64 = 1_795_168_800;
const END_SECONDS: i64 = START_SECONDS + 1800;
/// Buckets are asked for from the window's start through the one starting at its end (which the
/// judge drops as partial): `to` is exclusive.
const TO_SECONDS: i64 = END_SECONDS + 60;
/// Distinctive fake keys: no output may contain them, nor any part of them.
const API_KEY: &str = "ddapi-4b1d6c0ffee5ca1ab1e7";
const APP_KEY: &str = "ddapp-9f8e7d6c5b4a392817f0";

/// The six queries of the checkout analyses, per side: (numerator, denominator, p99).
fn queries(version: &str) -> [String; 3] {
    [
        format!("sum:trace.http.request.errors{{service:checkout,version:{version}}}.as_count()"),
        format!("sum:trace.http.request.hits{{service:checkout,version:{version}}}.as_count()"),
        format!("p99:trace.http.request.duration{{service:checkout,version:{version}}}"),
    ]
}

/// How the canary (version 1.4.2) differs from the baseline (1.4.1).
#[derive(Clone, Copy)]
struct Scenario {
    latency: f64,
    errors: f64,
}

const HEALTHY: Scenario = Scenario { latency: 1.0004, errors: 1.0 };
const REGRESSED: Scenario = Scenario { latency: 1.5, errors: 3.0 };

/// The bucket starting at `t` of the series a query names, or `None` when Datadog would have no
/// point there: errors are sparse (no bucket without errors), and the baseline's latency misses a
/// bucket now and then.
fn point(query: &str, t: i64, scenario: Scenario, region: Option<&str>) -> Option<f64> {
    let canary = query.contains("version:1.4.2");
    let i = t / 60;
    let phase = if canary { 3 } else { 0 };
    if query.contains("duration") {
        if !canary && i % 13 == 0 {
            return None;
        }
        let level = if region == Some("eu") { 0.31 } else { 0.25 };
        let value = level + ((i * 7 + phase) % 11) as f64 * 0.002;
        Some(if canary { value * scenario.latency } else { value })
    } else if query.contains("hits") {
        Some(hits(t))
    } else if query.contains("errors") {
        let errors = ((i * 7 + phase) % 11) as f64 * 4.0;
        let errors = if canary { (errors * scenario.errors).round() } else { errors };
        (errors > 0.0).then_some(errors)
    } else {
        None
    }
}

fn hits(t: i64) -> f64 {
    2000.0 + ((t / 60) % 5) as f64 * 10.0
}

/// Answers `POST /api/v2/query/timeseries` for the window, interval and queries of the request:
/// one series per query that has points (`query_index` its position), on the sparse `times` of
/// the buckets where any of them has a point.
pub(crate) struct TimeseriesV2(Scenario);

impl Respond for TimeseriesV2 {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (body, from, to, interval) = v2_body_and_window(request);
        let attributes = &body["data"]["attributes"];
        let queries: Vec<&str> =
            attributes["queries"].as_array().unwrap().iter().map(|q| q["query"].as_str().unwrap()).collect();
        let times: Vec<i64> = (from..to)
            .step_by(interval as usize)
            .filter(|&t| queries.iter().any(|q| point(q, t, self.0, None).is_some()))
            .collect();
        let (mut series, mut values) = (Vec::new(), Vec::new());
        for (index, query) in queries.iter().enumerate() {
            let points: Vec<Option<f64>> = times.iter().map(|&t| point(query, t, self.0, None)).collect();
            if points.iter().any(Option::is_some) {
                series.push(json!({"group_tags": [], "query_index": index, "unit": null}));
                values.push(points);
            }
        }
        let times: Vec<i64> = times.iter().map(|t| t * 1000).collect();
        let answer = json!({"data": {"id": "0", "type": "timeseries_response", "attributes": {
            "series": series, "times": times, "values": values,
        }}});
        ResponseTemplate::new(200).set_body_raw(answer.to_string(), "application/vnd.api+json")
    }
}

/// A v2 request's body and its `from`, `to` and `interval` in seconds.
pub(crate) fn v2_body_and_window(request: &Request) -> (Value, i64, i64, i64) {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let seconds = |field: &str| body["data"]["attributes"][field].as_i64().unwrap() / 1000;
    let (from, to, interval) = (seconds("from"), seconds("to"), seconds("interval"));
    (body, from, to, interval)
}

/// Matches a v2 request whose queries are exactly `queries`, in any order, each once.
pub(crate) struct QueriesAre(pub(crate) Vec<String>);

impl wiremock::Match for QueriesAre {
    fn matches(&self, request: &Request) -> bool {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else { return false };
        let Some(asked) = body["data"]["attributes"]["queries"].as_array() else { return false };
        let mut asked: Vec<&str> = asked.iter().filter_map(|q| q["query"].as_str()).collect();
        let mut wanted: Vec<&str> = self.0.iter().map(String::as_str).collect();
        asked.sort_unstable();
        wanted.sort_unstable();
        asked == wanted
    }
}

/// Answers `GET /api/v1/query`: null points, float ms times, `interval` in seconds, and one
/// series per region for a `by {region}` query.
struct QueryV1(Scenario);

impl Respond for QueryV1 {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let param = |name: &str| request.url.query_pairs().find(|(k, _)| k == name).unwrap().1.into_owned();
        let (from, to, query) =
            (param("from").parse::<i64>().unwrap(), param("to").parse::<i64>().unwrap(), param("query"));
        let regions: Vec<Option<&str>> =
            if query.contains("by {region}") { vec![Some("eu"), Some("us")] } else { vec![None] };
        let series: Vec<Value> = regions
            .iter()
            .map(|region| {
                let pointlist: Vec<Value> = (from..to)
                    .step_by(60)
                    .map(|t| json!([(t * 1000) as f64, point(&query, t, self.0, *region)]))
                    .collect();
                json!({
                    "metric": "trace.http.request", "display_name": "trace.http.request", "expression": query,
                    "scope": "service:checkout", "tag_set": region.map(|r| vec![format!("region:{r}")]).unwrap_or_default(),
                    "aggr": null, "query_index": 0, "interval": 60, "length": pointlist.len(),
                    "start": from * 1000, "end": to * 1000 - 1000, "attributes": {}, "unit": null,
                    "pointlist": pointlist,
                })
            })
            .collect();
        let answer = json!({
            "status": "ok", "res_type": "time_series", "resp_version": 1, "query": query,
            "from_date": from * 1000, "to_date": to * 1000, "group_by": [], "message": "",
            "times": [], "values": [], "series": series,
        });
        ResponseTemplate::new(200).set_body_raw(answer.to_string(), "application/json")
    }
}

/// A v2 mock for a request over the test window, with both keys.
fn v2_request() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/api/v2/query/timeseries"))
        .and(header("dd-api-key", API_KEY))
        .and(header("dd-application-key", APP_KEY))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({"data": {"type": "timeseries_request", "attributes": {
            "from": START_SECONDS * 1000, "to": TO_SECONDS * 1000, "interval": 60_000,
        }}})))
}

/// A v1 mock for one exact query (as sent, rollup included) over the test window, with both keys.
fn v1_query(query: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/api/v1/query"))
        .and(header("dd-api-key", API_KEY))
        .and(header("dd-application-key", APP_KEY))
        .and(query_param("from", START_SECONDS.to_string()))
        .and(query_param("to", TO_SECONDS.to_string()))
        .and(query_param("query", query))
}

/// The v2 analysis's one request, with all six queries of both sides, answered for `scenario`.
async fn mount_v2(server: &MockServer, scenario: Scenario) {
    let all: Vec<String> = ["1.4.1", "1.4.2"].into_iter().flat_map(queries).collect();
    v2_request().and(QueriesAre(all)).respond_with(TimeseriesV2(scenario)).mount(server).await;
}

/// Every query of the v1 analysis, with the rollups canary appends.
async fn mount_v1(server: &MockServer, scenario: Scenario) {
    for version in ["1.4.1", "1.4.2"] {
        let [numerator, denominator, p99] = queries(version);
        for sent in [
            format!("{numerator}.rollup(sum, 60)"),
            format!("{denominator}.rollup(sum, 60)"),
            format!("{p99}.rollup(60)"),
        ] {
            v1_query(&sent).respond_with(QueryV1(scenario)).mount(server).await;
        }
    }
}

/// `canary ARGS` in the repository root with the fake keys in `DD_API_KEY`/`DD_APP_KEY` (unless
/// `env` overrides them) and nothing else from the environment that could change the result.
fn canary(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let started = Instant::now();
    let mut command = std::process::Command::new(canary_bin());
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args(args).env("DD_API_KEY", API_KEY).env("DD_APP_KEY", APP_KEY);
    for name in [
        "DD_SITE",
        "CANARY_SOURCE_URL",
        "CANARY_SOURCE_TOKEN",
        "CANARY_SOURCE_TOKEN_FILE",
        "NO_COLOR",
        "GITHUB_STEP_SUMMARY",
    ] {
        command.env_remove(name);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (output, started.elapsed())
}

/// `canary judge ANALYSIS --source-url URL` over the test window, as JSON.
fn judge(url: &str, analysis: &str, extra: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let mut args = vec!["judge", analysis, "--source-url", url, "--start", START, "--end", END, "--format", "json"];
    args.extend_from_slice(extra);
    canary(&args, env)
}

fn explain(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("no JSON report ({e})\n{}", explain(output)))
}

fn metric<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

/// Asserts the keys appear nowhere in `texts`.
fn assert_no_keys(texts: &[&str]) {
    for text in texts {
        for key in [API_KEY, APP_KEY] {
            // Also a recognisable fragment, in case a key were cut or escaped.
            assert!(!text.contains(key) && !text.contains(&key[6..18]), "a key leaked:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_healthy_passes_and_regressed_fails() {
    let server = MockServer::start().await;
    mount_v2(&server, HEALTHY).await;
    let (out, _) = judge(&server.uri(), V2, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let healthy = report(&out);
    assert_eq!(healthy["verdict"], "pass");
    assert_eq!(healthy["source"]["kind"], "datadog");
    // Sparse error buckets were zero events: every minute with traffic counts in the totals.
    let expected: f64 = (0..30).map(|i| hits(START_SECONDS + i * 60)).sum();
    let error_rate = metric(&healthy, "error_rate");
    assert_eq!(error_rate["canary"]["totals"]["denominator"], expected, "{error_rate}");
    assert_eq!(error_rate["baseline"]["samples"], 30, "{error_rate}");
    // Buckets start at their timestamps: 30 whole one-minute buckets are judged, and the one
    // starting at the window's end is dropped as partial.
    let p99 = metric(&healthy, "p99_latency");
    assert_eq!(p99["canary"]["samples"], 30);
    assert!(p99["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "partial_bucket"), "{p99}");
    // All six queries of both sides in one request.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    let server = MockServer::start().await;
    mount_v2(&server, REGRESSED).await;
    let (out, _) = judge(&server.uri(), V2, &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let regressed = report(&out);
    assert_eq!(metric(&regressed, "error_rate")["classification"], "fail_high");
    assert_eq!(metric(&regressed, "p99_latency")["classification"], "fail_high");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_healthy_passes_and_regressed_fails() {
    let server = MockServer::start().await;
    mount_v1(&server, HEALTHY).await;
    let (out, _) = judge(&server.uri(), V1, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let healthy = report(&out);
    // Null latency points are missing points.
    let nulls = (0..30).filter(|i| (START_SECONDS / 60 + i) % 13 == 0).count();
    assert!(nulls > 0);
    assert_eq!(metric(&healthy, "p99_latency")["baseline"]["samples"], 30 - nulls);
    assert_eq!(metric(&healthy, "error_rate")["canary"]["samples"], 30);

    let server = MockServer::start().await;
    mount_v1(&server, REGRESSED).await;
    let (out, _) = judge(&server.uri(), V1, &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert_eq!(report(&out)["verdict"], "fail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_grouped_series_are_judged_per_tag() {
    let server = MockServer::start().await;
    for version in ["1.4.1", "1.4.2"] {
        let sent =
            format!("p99:trace.http.request.duration{{service:checkout,version:{version}}} by {{region}}.rollup(60)");
        v1_query(&sent).respond_with(QueryV1(HEALTHY)).mount(&server).await;
    }
    let (out, _) = judge(&server.uri(), REGIONS, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let report = report(&out);
    let names: Vec<&str> = report["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["p99_latency{region=\"eu\"}", "p99_latency{region=\"us\"}"]);
    assert!(metric(&report, "p99_latency{region=\"eu\"}")["baseline"]["summary"]["min"].as_f64().unwrap() > 0.3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_gives_the_same_verdict() {
    let server = MockServer::start().await;
    mount_v2(&server, REGRESSED).await;
    let dir = TempDir::new("datadog-record");
    let recording = dir.file("run.json", "");
    let recording_path = recording.display().to_string();
    let args = ["record", V2, "--source-url", &server.uri(), "--start", START, "--end", END, "--out", &recording_path];
    let (out, _) = canary(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let text = std::fs::read_to_string(&recording).unwrap();
    let recorded: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(recorded["source"]["kind"], "datadog");
    assert_eq!(recorded["point_time"], "interval_start");
    assert_no_keys(&[&text, &stderr(&out)]);

    let (live, _) = judge(&server.uri(), V2, &[], &[]);
    let (replayed, _) = canary(&["judge", V2, "--replay", &recording_path, "--format", "json"], &[]);
    assert_eq!(replayed.status.code(), Some(1), "{}", explain(&replayed));
    assert_eq!(live.status.code(), replayed.status.code());
    let (live, replayed) = (report(&live), report(&replayed));
    assert_eq!(live["verdict"], replayed["verdict"]);
    assert_eq!(live["score"], replayed["score"]);
    for name in ["error_rate", "p99_latency"] {
        assert_eq!(metric(&live, name)["classification"], metric(&replayed, name)["classification"]);
        assert_eq!(metric(&live, name)["canary"], metric(&replayed, name)["canary"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_live_previews_every_query() {
    let server = MockServer::start().await;
    mount_v2(&server, HEALTHY).await;
    let args = ["validate", V2, "--live", "--source-url", &server.uri(), "--start", START, "--end", END];
    let (out, _) = canary(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let text = stdout(&out);
    assert!(text.contains("live preview from") && text.contains("p99_latency"), "{text}");
    assert!(!text.contains("EMPTY"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_and_then_the_judgment_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503).set_body_raw(r#"{"errors":["Service Unavailable"]}"#, "application/json"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_v2(&server, HEALTHY).await;
    let (out, _) = judge(&server.uri(), V2, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_for_its_reset_then_retried() {
    let server = MockServer::start().await;
    let page = "<html><head><title>429 Too Many Requests</title></head><body>rate limited</body></html>";
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-limit", "1600")
                .insert_header("x-ratelimit-period", "3600")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1")
                .insert_header("x-ratelimit-name", "query_timeseries")
                .set_body_raw(page, "text/html"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_v2(&server, HEALTHY).await;
    let (out, elapsed) = judge(&server.uri(), V2, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    // The refused query was sent again, after the second the reset asked for.
    assert_eq!(requests.iter().filter(|r| r.body == requests[0].body).count(), 2);
    assert!(elapsed >= Duration::from_secs(1), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let text = stderr(&out);
    assert!(text.contains("rate limit") && text.contains("waiting 1s") && text.contains("query_timeseries"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_that_resets_too_late_cannot_judge_without_waiting() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-limit", "1600")
                .insert_header("x-ratelimit-period", "3600")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "412")
                .set_body_raw("<html><body>Too Many Requests</body></html>", "text/html"),
        )
        .mount(&server)
        .await;
    let (out, elapsed) = judge(&server.uri(), V2, &[], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", explain(&out));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let text = stderr(&out);
    assert!(text.contains("HTTP 429") && text.contains("resets in 412s, longer than canary waits (60s)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_api_key_is_named_and_never_shown() {
    let server = MockServer::start().await;
    let forbidden = || ResponseTemplate::new(403).set_body_raw(r#"{"errors":["Forbidden"]}"#, "application/json");
    Mock::given(method("POST")).and(path("/api/v2/query/timeseries")).respond_with(forbidden()).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .and(header("dd-api-key", API_KEY))
        .respond_with(forbidden())
        .mount(&server)
        .await;
    let (out, _) = judge(&server.uri(), V2, &[], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", explain(&out));
    let text = stderr(&out);
    assert!(text.contains("refused the API key from $DD_API_KEY") && text.contains("HTTP 403: Forbidden"), "{text}");
    assert!(!text.contains("application key from"), "{text}");
    assert_no_keys(&[&text, &stdout(&out)]);
    // Neither the queries nor the key check are retried, and the key is checked once.
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.iter().filter(|r| r.url.path() == "/api/v1/validate").count(), 1);
    // The one request of all six queries, and the key check.
    assert_eq!(requests.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_application_key_is_named_and_never_shown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/query/timeseries"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(r#"{"errors":["Unauthorized"]}"#, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/validate"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"valid":true}"#, "application/json"))
        .mount(&server)
        .await;
    let dir = TempDir::new("datadog-key-files");
    let app_key = dir.file("app-key", &format!("{APP_KEY}\n"));
    let analysis = std::fs::read_to_string(V2).unwrap().replace(
        "  url: http://127.0.0.1:9\n",
        &format!("  url: http://127.0.0.1:9\n  app_key_file: {}\n", app_key.display()),
    );
    let analysis = dir.file("analysis.yaml", &analysis);
    let (out, _) = judge(&server.uri(), &analysis.display().to_string(), &[], &[("DD_APP_KEY", "not-this-one")]);
    assert_eq!(out.status.code(), Some(4), "{}", explain(&out));
    let text = stderr(&out);
    assert!(text.contains("accepted the API key from $DD_API_KEY"), "{text}");
    assert!(text.contains(&format!("refused the application key from the file {}", app_key.display())), "{text}");
    assert!(text.contains("HTTP 401: Unauthorized"), "{text}");
    assert_no_keys(&[&text, &stdout(&out)]);
    // The key from the file, not $DD_APP_KEY, was sent.
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.headers.get("dd-application-key").unwrap() == APP_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_syntax_error_is_a_configuration_error_showing_the_query() {
    let server = MockServer::start().await;
    let body = r#"{"errors":["Error parsing query: \nunable to parse p99:trace.http.request.duration{service:checkout: Rule 'scope_expr' didn't match at 'service:checkout' (line 1, column 32)."]}"#;
    Mock::given(method("POST"))
        .and(path("/api/v2/query/timeseries"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let (out, _) = judge(&server.uri(), V2, &["--retries", "0"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let text = stderr(&out);
    assert!(text.contains("Datadog rejected the query (HTTP 400)") && text.contains("Rule 'scope_expr'"), "{text}");
    assert!(
        text.contains("query: sum:trace.http.request.") || text.contains("query: p99:trace.http.request."),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_result_is_no_data() {
    let server = MockServer::start().await;
    let empty = r#"{"data":{"id":"0","type":"timeseries_response","attributes":{"series":[],"times":[],"values":[]}}}"#;
    Mock::given(method("POST"))
        .and(path("/api/v2/query/timeseries"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(empty, "application/vnd.api+json"))
        .mount(&server)
        .await;
    let (out, _) = judge(&server.uri(), V2, &[], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", explain(&out));
    let report = report(&out);
    assert_eq!(report["verdict"], "inconclusive");
    assert_eq!(metric(&report, "p99_latency")["classification"], "no_data");
    assert_eq!(metric(&report, "error_rate")["classification"], "no_data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_html_page_is_a_readable_error() {
    let server = MockServer::start().await;
    let page =
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(page, "text/html"))
        .mount(&server)
        .await;
    let (out, _) = judge(&server.uri(), V2, &["--retries", "1"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", explain(&out));
    let text = stderr(&out);
    assert!(text.contains("HTTP 502") && text.contains("an HTML page: 502 Bad Gateway"), "{text}");
    // The one request of all six queries was tried twice.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_appear_in_no_output() {
    let server = MockServer::start().await;
    mount_v2(&server, REGRESSED).await;
    let dir = TempDir::new("datadog-no-keys");
    let json_file = dir.file("report.json", "");
    let markdown_file = dir.file("report.md", "");
    let (json_flag, markdown_flag) =
        (format!("json={}", json_file.display()), format!("markdown={}", markdown_file.display()));
    let (out, _) = judge(&server.uri(), V2, &["--output", &json_flag, "--output", &markdown_flag], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let (json_text, markdown_text) =
        (std::fs::read_to_string(&json_file).unwrap(), std::fs::read_to_string(&markdown_file).unwrap());
    assert!(json_text.contains("\"datadog\""), "{json_text}");
    assert_no_keys(&[&stdout(&out), &stderr(&out), &json_text, &markdown_text]);
    // Nor in the table, nor in a failure's message.
    let (out, _) = canary(&["judge", V2, "--source-url", &server.uri(), "--start", START, "--end", END], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(stdout(&out).contains("p99_latency"), "{}", explain(&out));
    assert_no_keys(&[&stdout(&out), &stderr(&out)]);
    let unreachable = "http://127.0.0.1:9";
    let (out, _) = judge(unreachable, V2, &["--retries", "0"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", explain(&out));
    assert_no_keys(&[&stdout(&out), &stderr(&out)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_keys_and_unknown_sites_are_configuration_errors() {
    let (out, _) = canary(&["judge", V2, "--start", START, "--end", END], &[("DD_API_KEY", "")]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(stderr(&out).contains("no Datadog API key: set $DD_API_KEY"), "{}", stderr(&out));
    let dir = TempDir::new("datadog-site");
    let analysis =
        std::fs::read_to_string(V2).unwrap().replace("  url: http://127.0.0.1:9\n", "  site: datadoghq.eu\n");
    let analysis = dir.file("analysis.yaml", &analysis).display().to_string();
    let (out, _) = canary(&["judge", &analysis, "--start", START, "--end", END], &[("DD_SITE", "grafana.net")]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(stderr(&out).contains("$DD_SITE: `grafana.net` is not a Datadog site"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_windows_are_split_so_that_the_step_holds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/query/timeseries"))
        .and(header("dd-api-key", API_KEY))
        .and(header("dd-application-key", APP_KEY))
        .respond_with(TimeseriesV2(HEALTHY))
        .mount(&server)
        .await;
    // 1,500 one-minute buckets (and the partial one at the end): two requests, each of all six
    // queries.
    let end = jiff::Timestamp::from_second(START_SECONDS + 1500 * 60).unwrap().to_string();
    let args = ["judge", V2, "--source-url", &server.uri(), "--start", START, "--end", &end, "--format", "json"];
    let (out, _) = canary(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let attributes = &body["data"]["attributes"];
        let buckets = (attributes["to"].as_i64().unwrap() - attributes["from"].as_i64().unwrap()) / 60_000;
        assert!(buckets <= 1440, "{buckets} buckets in one request");
        assert_eq!(attributes["queries"].as_array().unwrap().len(), 6);
    }
    assert_eq!(metric(&report(&out), "p99_latency")["canary"]["samples"], 1500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_before_after_baseline_is_queried_an_hour_earlier() {
    let server = MockServer::start().await;
    let query = "p99:trace.http.request.duration{service:checkout}";
    for shift in [3600, 0] {
        Mock::given(method("POST"))
            .and(path("/api/v2/query/timeseries"))
            .and(header("dd-api-key", API_KEY))
            .and(header("dd-application-key", APP_KEY))
            .and(body_partial_json(json!({"data": {"attributes": {
                "from": (START_SECONDS - shift) * 1000, "to": (TO_SECONDS - shift) * 1000,
                "queries": [{"query": query}],
            }}})))
            .respond_with(TimeseriesV2(HEALTHY))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (out, _) = judge(&server.uri(), "tests/data/datadog/before-after.yaml", &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let report = report(&out);
    // The baseline's buckets were moved onto the canary's timeline and judged there (less the
    // null points of the hour before).
    let nulls = (0..30).filter(|i| ((START_SECONDS - 3600) / 60 + i) % 13 == 0).count();
    assert_eq!(metric(&report, "p99_latency")["baseline"]["samples"], 30 - nulls);
    assert_eq!(report["baseline"]["offset_seconds"], 3600);
    server.verify().await;
}

#[test]
fn the_example_analysis_is_valid() {
    let (out, _) = canary(&["validate", "analyses/checkout-datadog.yaml", "--var", "canary_version=1.4.3"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    assert!(stdout(&out).contains("p99:trace.http.request{service:checkout,env:prod,version:1.4.3}"));
}
