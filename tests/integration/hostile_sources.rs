//! Hostile metric backends (issue 11): answers a real server would not give, from a wiremock
//! server or a raw TCP server in the test. A 500 with a success body, duplicate series, negative
//! error counts, more series than allowed, answers too large or endless, a body that trickles,
//! credentials reflected in a 401/403 body, and redirects to another origin that would collect
//! the credentials. Every case asserts the exit code, that the verdict is never pass, and that no
//! secret appears in stdout, stderr or any file written.

use crate::support::{TempDir, canary_bin, form_pairs, stderr, stdout};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Gauge and count analysis with a Prometheus source (the URL is always passed).
const CHECKOUT: &str = "tests/data/live/checkout-live.yaml";
const DATADOG: &str = "tests/data/datadog/checkout.yaml";
const START: &str = "2026-11-20T10:00:00Z";
const END: &str = "2026-11-20T10:30:00Z";
const TOKEN: &str = "hunter2-bearer-7c1f9a";
const API_KEY: &str = "ddapi-hostile-5e2b7d41";
const APP_KEY: &str = "ddapp-hostile-90c3aa17";
const SECRETS: [&str; 3] = [TOKEN, API_KEY, APP_KEY];

/// A Prometheus matrix answer for the checkout analysis: per query, a value at every step of the
/// requested range, the series repeated `copies` times, plus `extra_series` one-point series.
struct Matrix {
    status: u16,
    copies: usize,
    extra_series: usize,
    /// The canary's error count per step (the baseline's is 5).
    canary_errors: f64,
}

impl Default for Matrix {
    fn default() -> Matrix {
        Matrix { status: 200, copies: 1, extra_series: 0, canary_errors: 5.0 }
    }
}

impl Matrix {
    fn value(&self, query: &str) -> f64 {
        let canary = query.contains("checkout-healthy");
        if query.contains("code=\"500\"") {
            if canary { self.canary_errors } else { 5.0 }
        } else if query.contains("checkouts_total") {
            300.0
        } else if query.contains("histogram_quantile") {
            0.25
        } else {
            1000.0
        }
    }
}

fn form_field(body: &[u8], name: &str) -> String {
    form_pairs(body).into_iter().find_map(|(key, value)| (key == name).then_some(value)).unwrap_or_default()
}

impl Respond for Matrix {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let number = |name: &str| form_field(&request.body, name).parse::<i64>().unwrap();
        let (start, end, step) = (number("start"), number("end"), number("step"));
        let value = self.value(&form_field(&request.body, "query"));
        let values: Vec<String> =
            (0..).map(|i| start + i * step).take_while(|t| *t <= end).map(|t| format!("[{t},\"{value}\"]")).collect();
        let one = format!(r#"{{"metric":{{}},"values":[{}]}}"#, values.join(","));
        let mut series = vec![one; self.copies];
        series.extend(
            (0..self.extra_series).map(|i| format!(r#"{{"metric":{{"pod":"p{i}"}},"values":[[{start},"1"]]}}"#)),
        );
        let body =
            format!(r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#, series.join(","));
        ResponseTemplate::new(self.status).set_body_raw(body, "application/json")
    }
}

/// `canary ARGS` with the bearer token and Datadog keys in the environment.
fn canary(args: &[&str]) -> Output {
    let mut command = std::process::Command::new(canary_bin());
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env("CANARY_SOURCE_TOKEN", TOKEN)
        .env("DD_API_KEY", API_KEY)
        .env("DD_APP_KEY", APP_KEY);
    for name in ["DD_SITE", "CANARY_SOURCE_URL", "CANARY_SOURCE_TOKEN_FILE", "NO_COLOR", "GITHUB_STEP_SUMMARY"] {
        command.env_remove(name);
    }
    command.output().unwrap()
}

fn explain(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// Judges the checkout analysis against `url`, writing a JSON report to `dir/report.json` too.
fn judge(url: &str, dir: &TempDir, analysis: &str, extra: &[&str]) -> Output {
    let report = dir.file("report.json", "");
    std::fs::remove_file(&report).unwrap();
    let output_flag = format!("json={}", report.display());
    let mut args = vec!["judge", analysis, "--source-url", url, "--start", START, "--end", END, "--retries", "0"];
    args.extend_from_slice(&["--format", "json", "--output", &output_flag]);
    args.extend_from_slice(extra);
    canary(&args)
}

/// The exit code is `code` (never pass), and no secret is in stdout, stderr or any file in `dir`.
fn assert_refused(output: &Output, code: i32, dir: &TempDir, expected: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", explain(output));
    assert!(stderr(output).contains(expected), "expected `{expected}`\n{}", explain(output));
    assert_no_secret(output, dir);
}

fn assert_no_secret(output: &Output, dir: &TempDir) {
    let mut texts = vec![stdout(output), stderr(output)];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        texts.push(String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()).into_owned());
    }
    for text in &texts {
        for secret in SECRETS {
            assert!(!text.contains(secret) && !text.contains(&secret[4..16]), "a secret leaked:\n{text}");
        }
    }
}

async fn prometheus(answer: Matrix) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(answer).mount(&server).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_with_a_success_body_is_never_data() {
    let server = prometheus(Matrix { status: 500, ..Matrix::default() }).await;
    let dir = TempDir::new("hostile-500");
    let out = judge(&server.uri(), &dir, CHECKOUT, &[]);
    assert_refused(&out, 4, &dir, "only a 2xx answer is taken as data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_series_are_refused_alike_by_judge_and_record() {
    let server = prometheus(Matrix { copies: 2, ..Matrix::default() }).await;
    let dir = TempDir::new("hostile-duplicates");
    let out = judge(&server.uri(), &dir, CHECKOUT, &[]);
    assert_refused(&out, 4, &dir, "twice");
    let judged = stderr(&out).lines().find(|l| l.contains("twice")).unwrap().to_string();
    // `canary record` applies the same check: it refuses with the same error, and writes nothing
    // that a replay would refuse.
    let file = dir.path().join("recording.json");
    let file_flag = file.display().to_string();
    let url = server.uri();
    let out = canary(&["record", CHECKOUT, "--source-url", &url, "--start", START, "--end", END, "--out", &file_flag]);
    assert_refused(&out, 4, &dir, &judged);
    assert!(!file.exists(), "a recording was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_error_counts_cannot_pass() {
    let server = prometheus(Matrix { canary_errors: -5.0, ..Matrix::default() }).await;
    let dir = TempDir::new("hostile-negative");
    let out = judge(&server.uri(), &dir, CHECKOUT, &[]);
    assert_refused(&out, 4, &dir, "must be between 0 and");
    // The same check refuses the count in a recording.
    let recording = dir.path().join("negative.json");
    let healthy = prometheus(Matrix::default()).await;
    let (url, file) = (healthy.uri(), recording.display().to_string());
    let out = canary(&["record", CHECKOUT, "--source-url", &url, "--start", START, "--end", END, "--out", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let text = std::fs::read_to_string(&recording).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["metrics"]["error_rate"]["canary"]["queries"]["numerator"]["series"][0]["points"][3][1] = (-7.0).into();
    std::fs::write(&recording, value.to_string()).unwrap();
    let out = canary(&["judge", CHECKOUT, "--replay", &file, "--format", "json"]);
    assert_refused(&out, 4, &dir, "metric `error_rate`, canary numerator: the series has the count -7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_series_than_max_series_cannot_judge() {
    let server = prometheus(Matrix { extra_series: 100_000, ..Matrix::default() }).await;
    let dir = TempDir::new("hostile-series");
    let out = judge(&server.uri(), &dir, CHECKOUT, &[]);
    assert_refused(&out, 4, &dir, "more than 10000 series, the limit set by --max-series");
    // Raising the limit lets them through (to a data-quality verdict, never a pass).
    let out = judge(&server.uri(), &dir, CHECKOUT, &["--max-series", "200000"]);
    assert_ne!(out.status.code(), Some(0), "{}", explain(&out));
    assert!(!stderr(&out).contains("--max-series"), "{}", explain(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_larger_than_max_response_size_cannot_judge() {
    // Declared large (Content-Length).
    let server = prometheus(Matrix { extra_series: 40_000, ..Matrix::default() }).await;
    let dir = TempDir::new("hostile-size");
    let out = judge(&server.uri(), &dir, CHECKOUT, &["--max-response-size", "1MiB"]);
    assert_refused(&out, 4, &dir, "larger than the 1MiB allowed by --max-response-size");
    // Endless, without a length: refused while it streams, long before the overall timeout.
    let url = endless_server(|stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(br#"{"status":"success","data":{"resultType":"matrix","result":["#);
        let chunk = r#"{"metric":{},"values":[[1795168800,"1"]]},"#.repeat(1000);
        while stream.write_all(chunk.as_bytes()).is_ok() {}
    });
    let out = judge(&url, &dir, CHECKOUT, &["--max-response-size", "2MiB", "--timeout", "10m"]);
    assert_refused(&out, 4, &dir, "larger than the 2MiB allowed by --max-response-size");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_is_cut_at_the_overall_timeout() {
    let url = endless_server(|stream| {
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n");
        while stream.write_all(b" ").is_ok() {
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let dir = TempDir::new("hostile-trickle");
    let out = judge(&url, &dir, CHECKOUT, &["--timeout", "2s", "--query-timeout", "60s"]);
    assert_refused(&out, 4, &dir, "overall timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_reflected_in_a_refusal_are_never_echoed() {
    let dir = TempDir::new("hostile-reflect");
    // Prometheus: a 401 that quotes the bearer token, with terminal escapes.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(format!("\u{1b}]0;pwned\u{7}invalid token Bearer {TOKEN} \u{1b}[31m")),
        )
        .mount(&server)
        .await;
    let out = judge(&server.uri(), &dir, CHECKOUT, &[]);
    assert_refused(&out, 4, &dir, "invalid token Bearer [redacted]");
    assert!(!stderr(&out).contains('\u{1b}'), "{}", explain(&out));
    // Datadog: a 403 that quotes both keys in its errors (and the key check alike).
    let server = MockServer::start().await;
    let body = serde_json::json!({"errors": [format!("Forbidden: key {API_KEY} with application key {APP_KEY}")]});
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(403).set_body_json(&body)).mount(&server).await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(403).set_body_json(&body)).mount(&server).await;
    let out = judge(&server.uri(), &dir, DATADOG, &[]);
    assert_refused(&out, 4, &dir, "Forbidden: key [redacted] with application key [redacted]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_follow_a_redirect_to_another_origin() {
    let dir = TempDir::new("hostile-redirect");
    // The collector records whatever reaches it.
    let collector = MockServer::start().await;
    Mock::given(method("POST")).respond_with(Matrix::default()).mount(&collector).await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).mount(&collector).await;
    for (analysis, status) in [(DATADOG, 307), (DATADOG, 302), (DATADOG, 308), (CHECKOUT, 307), (CHECKOUT, 301)] {
        let hostile = MockServer::start().await;
        let location = format!("{}/collect/secret-path?key=1", collector.uri());
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(status).insert_header("location", location.as_str()))
            .mount(&hostile)
            .await;
        let out = judge(&hostile.uri(), &dir, analysis, &[]);
        let expected = format!("redirected to another origin, {}/…", collector.uri());
        assert_refused(&out, 4, &dir, &expected);
        assert!(stderr(&out).contains("set the source URL"), "{}", explain(&out));
        assert!(!stderr(&out).contains("secret-path"), "{}", explain(&out));
        let reached = collector.received_requests().await.unwrap();
        assert!(reached.is_empty(), "{analysis} {status}: the collector was reached: {:?}", reached[0].headers);
    }
}

/// A raw HTTP server on 127.0.0.1 that reads each request's head and hands the connection to
/// `answer`, on a thread per connection; returns its URL.
fn endless_server(answer: fn(&mut std::net::TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
                    head.push(byte[0]);
                }
                answer(&mut stream);
            });
        }
    });
    url
}

/// Counts that are valid (below 2^53) but huge once made the count test run for minutes; the
/// deadline covers the judgment, so the run ends at --timeout (or, with bounded numerics, sooner)
/// and never passes.
#[test]
fn the_overall_timeout_covers_the_judgment() {
    let dir = TempDir::new("hostile-slow-judgment");
    let mut recording: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("fixtures/healthy.json").unwrap()).unwrap();
    for (side, errors) in [("baseline", 4.0e15), ("canary", 8.0e15)] {
        let queries = &mut recording["metrics"]["error_rate"][side]["queries"];
        for (role, value) in [("numerator", errors), ("denominator", 9.0e15)] {
            for point in queries[role]["series"][0]["points"].as_array_mut().unwrap() {
                point[1] = value.into();
            }
        }
    }
    let file = dir.file("huge-counts.json", &recording.to_string());
    let mut child = std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", "analyses/checkout.yaml", "--replay", &file.display().to_string(), "--timeout", "3s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard only (the run ends at 3 s): without the deadline it runs for many minutes.
    let mut waited = Duration::ZERO;
    while child.try_wait().unwrap().is_none() {
        if waited > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("the judgment ran past --timeout 3s");
        }
        std::thread::sleep(Duration::from_millis(100));
        waited += Duration::from_millis(100);
    }
    let out = child.wait_with_output().unwrap();
    assert!(matches!(out.status.code(), Some(1 | 3 | 4)), "{}", explain(&out));
    if out.status.code() == Some(4) {
        assert!(stderr(&out).contains("timed out"), "{}", explain(&out));
    }
}

/// A Datadog v2 answer whose series repeats every bucket time (as two overlapping answers merged
/// would): once silently deduplicated, now refused like Prometheus's.
struct RepeatedTimesV2;

impl Respond for RepeatedTimesV2 {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let attributes = &body["data"]["attributes"];
        let (from, to) = (attributes["from"].as_i64().unwrap(), attributes["to"].as_i64().unwrap());
        let times: Vec<i64> = (from..to).step_by(60_000).flat_map(|t| [t, t]).collect();
        let values: Vec<f64> = times.iter().enumerate().map(|(i, _)| if i % 2 == 0 { 1000.0 } else { 1.0 }).collect();
        let answer = serde_json::json!({"data": {"id": "0", "type": "timeseries_response", "attributes": {
            "series": [{"group_tags": [], "query_index": 0, "unit": null}], "times": times, "values": [values],
        }}});
        ResponseTemplate::new(200).set_body_raw(answer.to_string(), "application/vnd.api+json")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_repeated_bucket_times_are_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(RepeatedTimesV2).mount(&server).await;
    let dir = TempDir::new("hostile-datadog-duplicates");
    let out = judge(&server.uri(), &dir, DATADOG, &[]);
    assert_refused(&out, 4, &dir, "twice");
}

/// A server that accepts and never answers: every `watch` look is bounded by `--timeout`, as a
/// whole `judge` run is, even when the per-request timeout and retries would take minutes.
#[test]
fn a_watch_look_ends_at_the_timeout_when_the_backend_never_answers() {
    let url = endless_server(|_stream| std::thread::sleep(Duration::from_secs(600)));
    let started = std::time::Instant::now();
    let out = std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["watch", "analyses/checkout.yaml", "--source-url", &url, "--now", "2026-11-23T10:00:00Z"])
        .args(["--lifetime", "20m", "--interval", "10m", "--timeout", "2s", "--query-timeout", "60s"])
        .env_remove("CI")
        .env("PROMETHEUS_TOKEN", "watch-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", explain(&out));
    assert!(!stderr(&out).contains("watch-token"), "{}", explain(&out));
    // The source's own deadline ends the fetch; the look's deadline (fetching and judging) is the
    // backstop that ends a judgment that would not.
    let ended = ["no answer within the overall timeout of 2s", "look 1 did not finish within the timeout of 2s"];
    assert!(ended.iter().any(|e| stderr(&out).contains(e)), "{}", explain(&out));
    // A hang guard, not a speed claim: without the deadline the look waits 60 s per request.
    assert!(started.elapsed() < Duration::from_secs(50), "{}", explain(&out));
}
