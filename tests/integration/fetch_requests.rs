//! Backend requests per judgment (issue 16): through Datadog v2 every query of both sides goes in
//! one request (the wiremock stand-in counts them), split only at 1,440 buckets, and a refused
//! query is still named; through a real Prometheus (behind a counting proxy in this module) a
//! denominator shared by two metrics is fetched once per side. Analyses: `tests/data/fetch/`.

use crate::servers::{self, WINDOW_END, WINDOW_START};
use crate::support::{canary_bin, stderr, stdout};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DATADOG: &str = "tests/data/fetch/datadog-shared.yaml";
const PROMETHEUS: &str = "tests/data/fetch/prometheus-shared.yaml";
const START: &str = "2026-11-20T10:00:00Z";
const END: &str = "2026-11-20T10:30:00Z";
const START_SECONDS: i64 = 1_795_168_800;

fn canary(args: &[&str]) -> Output {
    std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env("DD_API_KEY", "ddapi-fetch-requests-0001")
        .env("DD_APP_KEY", "ddapp-fetch-requests-0002")
        .env_remove("DD_SITE")
        .env_remove("CANARY_SOURCE_URL")
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn explain(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// The queries of a v2 request body, in order.
fn queries_of(body: &[u8]) -> Vec<String> {
    let body: Value = serde_json::from_slice(body).unwrap();
    body["data"]["attributes"]["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["query"].as_str().unwrap().to_string())
        .collect()
}

/// A healthy bucket value for a query at `t`: hits every minute, sparse errors and timeouts, a
/// p99 around 0.25 s; alike on both versions, out of phase.
fn value(query: &str, t: i64) -> Option<f64> {
    let phase = if query.contains("version:1.4.2") { 3 } else { 0 };
    let i = (t / 60 + phase) % 7;
    if query.contains("hits") {
        Some(1000.0 + i as f64 * 5.0)
    } else if query.contains("errors") || query.contains("timeouts") {
        (i % 3 != 0).then_some(20.0 + i as f64 * 10.0)
    } else {
        Some(0.25 + i as f64 * 0.001)
    }
}

/// Datadog v2's answer to every query of the request (`query_index` its position), or a parse
/// error: for a combined request holding a query on `broken`, without naming the query (as a
/// gateway might), and for that query alone, naming it.
struct Answers;

impl Respond for Answers {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let queries = queries_of(&request.body);
        if queries.iter().any(|q| q.contains("broken")) {
            let message = if queries.len() > 1 {
                "Error parsing query: one of the queries is invalid".to_string()
            } else {
                format!("Error parsing query: \nunable to parse {}: Rule 'scope_expr' didn't match", queries[0])
            };
            return ResponseTemplate::new(400).set_body_json(json!({"errors": [message]}));
        }
        let attributes = &serde_json::from_slice::<Value>(&request.body).unwrap()["data"]["attributes"];
        let (from, to) = (attributes["from"].as_i64().unwrap() / 1000, attributes["to"].as_i64().unwrap() / 1000);
        let times: Vec<i64> = (from..to).step_by(60).collect();
        let values: Vec<Vec<Option<f64>>> =
            queries.iter().map(|q| times.iter().map(|&t| value(q, t)).collect()).collect();
        let series: Vec<Value> =
            (0..queries.len()).map(|index| json!({"group_tags": [], "query_index": index, "unit": null})).collect();
        let times: Vec<i64> = times.iter().map(|t| t * 1000).collect();
        ResponseTemplate::new(200).set_body_json(json!({"data": {"id": "0", "type": "timeseries_response",
            "attributes": {"series": series, "times": times, "values": values}}}))
    }
}

async fn datadog() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/api/v2/query/timeseries")).respond_with(Answers).mount(&server).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datadog_judgment_is_one_request_with_the_shared_denominator_once_per_side() {
    let server = datadog().await;
    let out =
        canary(&["judge", DATADOG, "--source-url", &server.uri(), "--start", START, "--end", END, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one request per judgment");
    let queries = queries_of(&requests[0].body);
    // 3 metrics × 2 sides: 2 numerators, 1 shared denominator and 1 p99 per side.
    assert_eq!(queries.len(), 8, "{queries:?}");
    for version in ["1.4.1", "1.4.2"] {
        let hits = format!("sum:trace.http.request.hits{{service:checkout,version:{version}}}.as_count()");
        assert_eq!(queries.iter().filter(|q| **q == hits).count(), 1, "{queries:?}");
    }
    // Both metrics were judged on the one denominator's answer.
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = |name: &str| {
        let metric = report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap().clone();
        metric["canary"]["totals"]["denominator"].as_f64().unwrap()
    };
    assert!(total("error_rate") > 0.0 && total("error_rate") == total("timeout_rate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_query_of_the_combined_request_is_named() {
    let server = datadog().await;
    let dir = crate::support::TempDir::new("fetch-broken");
    let analysis = std::fs::read_to_string(DATADOG).unwrap().replace("trace.http.request.timeouts", "broken.timeouts");
    let analysis = dir.file("analysis.yaml", &analysis).display().to_string();
    let out =
        canary(&["judge", &analysis, "--source-url", &server.uri(), "--start", START, "--end", END, "--retries", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let text = stderr(&out);
    assert!(text.contains("metric `timeout_rate`") && text.contains("numerator"), "{text}");
    assert!(
        text.contains("Datadog rejected the query (HTTP 400)") && text.contains("query: sum:broken.timeouts"),
        "{text}"
    );
    // The combined request, then each of its 8 queries alone to find the one refused.
    assert_eq!(server.received_requests().await.unwrap().len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_over_1440_buckets_takes_two_combined_requests() {
    let server = datadog().await;
    let end = jiff::Timestamp::from_second(START_SECONDS + 1500 * 60).unwrap().to_string();
    let out =
        canary(&["judge", DATADOG, "--source-url", &server.uri(), "--start", START, "--end", &end, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let mut spans = Vec::new();
    for request in &requests {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let attributes = &body["data"]["attributes"];
        let (from, to) = (attributes["from"].as_i64().unwrap() / 1000, attributes["to"].as_i64().unwrap() / 1000);
        assert!((to - from) / 60 <= 1440, "{} buckets in one request", (to - from) / 60);
        assert_eq!(queries_of(&request.body).len(), 8);
        spans.push((from, to));
    }
    spans.sort_unstable();
    // Back to back, covering the window and the bucket starting at its end.
    assert_eq!(
        spans,
        vec![(START_SECONDS, START_SECONDS + 1440 * 60), (START_SECONDS + 1440 * 60, START_SECONDS + 1501 * 60)]
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p99 = report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "p99_latency").unwrap();
    assert_eq!(p99["canary"]["samples"], 1500);
}

/// A proxy in front of `upstream` that counts the requests it forwards and keeps their bodies.
struct CountingProxy {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl CountingProxy {
    fn start(upstream: &str) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (upstream, seen) = (upstream.to_string(), Arc::clone(&bodies));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, seen) = (upstream.clone(), Arc::clone(&seen));
                std::thread::spawn(move || serve(stream, &upstream, &seen));
            }
        });
        CountingProxy { url, bodies }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Forwards every request of one keep-alive connection.
fn serve(stream: TcpStream, upstream: &str, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut head = String::new();
        if reader.read_line(&mut head).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = head.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("/").to_string());
        let (mut length, mut content_type) = (0usize, String::from("application/x-www-form-urlencoded"));
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
        let answer = servers::http(&method, upstream, &target, Some((&content_type, &body))).unwrap();
        let reply = format!(
            "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            answer.status,
            answer.body.len(),
            answer.body
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn prometheus_fetches_a_shared_denominator_once_per_side() {
    let proxy = CountingProxy::start(&servers::prometheus().url);
    let args = ["judge", PROMETHEUS, "--source-url", &proxy.url, "--start", WINDOW_START, "--end", WINDOW_END];
    let out = canary(&[&args[..], &["--var", "canary=checkout-healthy", "--format", "json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let queries: Vec<String> = proxy
        .bodies()
        .iter()
        .map(|body| {
            let pairs = crate::support::form_pairs(body.as_bytes());
            pairs.into_iter().find(|(k, _)| k == "query").map(|(_, v)| v).unwrap_or_default()
        })
        .collect();
    // 2 metrics × 2 sides × 2 roles = 8 queries, 6 of them distinct: 6 requests.
    assert_eq!(queries.len(), 6, "{queries:?}");
    let mut distinct = queries.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "a query was fetched twice: {queries:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let metric = |name: &str| report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap().clone();
    let (errors, successes) = (metric("error_rate"), metric("success_rate"));
    assert_eq!(errors["canary"]["totals"]["denominator"], successes["canary"]["totals"]["denominator"]);
    assert_eq!(errors["classification"], "pass", "{errors}");
    assert_eq!(successes["classification"], "pass", "{successes}");
}
