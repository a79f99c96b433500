//! Faults a real Prometheus cannot produce on demand, injected with wiremock: a 503 then success,
//! a persistent 500, a hang, truncated JSON, an HTML 502 from a gateway, a 401, warnings, and
//! the 11,000-points-per-request limit; plus headers, path prefixes and credentials.

use crate::support::{canary_bin, form_pairs};
use std::process::Output;
use std::time::{Duration, Instant};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ANALYSIS: &str = "tests/data/faults/latency.yaml";
const START: &str = "2026-11-20T10:00:00Z";
const END: &str = "2026-11-20T10:30:00Z";
const START_SECONDS: i64 = 1_795_168_800;

/// A matrix answer with one series at every step of the request's range.
struct Matrix {
    level: f64,
}

impl Respond for Matrix {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = form_pairs(&request.body);
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.parse::<i64>().unwrap()).unwrap();
        let (start, end, step) = (field("start"), field("end"), field("step"));
        let values: Vec<String> = (0..)
            .map(|i| start + i * step)
            .take_while(|t| *t <= end)
            .map(|t| format!("[{t},\"{}\"]", self.level + ((t / step) % 7) as f64 * 0.001))
            .collect();
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
            values.join(",")
        );
        ResponseTemplate::new(200).set_body_raw(body, "application/json")
    }
}

/// Healthy answers for both sides (the canary slightly different, so the sides are not identical).
async fn mount_healthy(server: &MockServer, prefix: &str) {
    let route = format!("{prefix}/api/v1/query_range");
    Mock::given(method("POST"))
        .and(path(route.as_str()))
        .and(body_string_contains("checkout-canary"))
        .respond_with(Matrix { level: 0.2501 })
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(route.as_str()))
        .and(body_string_contains("checkout-baseline"))
        .respond_with(Matrix { level: 0.25 })
        .mount(server)
        .await;
}

fn judge(url: &str, extra: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let started = Instant::now();
    let mut command = std::process::Command::new(canary_bin());
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", ANALYSIS, "--source-url", url, "--start", START, "--end", END, "--format", "json"])
        .args(extra)
        .env_remove("CANARY_SOURCE_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (output, started.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_and_then_the_judgment_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).mount(&server).await;
    mount_healthy(&server, "").await;
    let (out, _) = judge(&server.uri(), &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_500_cannot_judge_after_the_bounded_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("storage error"))
        .mount(&server)
        .await;
    let (out, elapsed) = judge(&server.uri(), &["--retries", "2"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    // Two queries, each tried three times; backoff between 0.2 s and 5 s keeps this well bounded.
    assert_eq!(server.received_requests().await.unwrap().len(), 6);
    assert!(elapsed < Duration::from_secs(25), "took {elapsed:?}");
    assert!(stderr(&out).contains("HTTP 500"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_server_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let (out, elapsed) = judge(&server.uri(), &["--query-timeout", "1s", "--retries", "0"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    // The overall limit also holds when each request alone would be allowed longer.
    let (out, elapsed) = judge(&server.uri(), &["--query-timeout", "60s", "--timeout", "2s", "--retries", "0"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("overall timeout"), "{}", stderr(&out));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_json_and_gateway_html_are_readable_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"status":"success","data":{"resultType":"matr"#, "application/json"),
        )
        .mount(&server)
        .await;
    let (out, _) = judge(&server.uri(), &["--retries", "0"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("not Prometheus JSON"), "{}", stderr(&out));

    let gateway = MockServer::start().await;
    let page =
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(page, "text/html"))
        .mount(&gateway)
        .await;
    let (out, _) = judge(&gateway.uri(), &["--retries", "0"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP 502") && stderr(&out).contains("an HTML page: 502 Bad Gateway"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_names_the_credential_source_and_never_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer hunter2-secret"))
        .respond_with(ResponseTemplate::new(401).set_body_string("no org id"))
        .mount(&server)
        .await;
    let (out, _) = judge(&server.uri(), &[], &[("CANARY_SOURCE_TOKEN", "hunter2-secret")]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let (text, stdout) = (stderr(&out), String::from_utf8_lossy(&out.stdout).into_owned());
    assert!(text.contains("authentication refused") && text.contains("$CANARY_SOURCE_TOKEN"), "{text}");
    assert!(!text.contains("hunter2") && !stdout.contains("hunter2"), "{text}");
    // A 401 is not retried.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_path_prefixes_and_token_files_reach_the_server() {
    let server = MockServer::start().await;
    let dir = crate::support::TempDir::new("token-file");
    let token = dir.file("token", "file-token\n");
    Mock::given(method("POST"))
        .and(path("/prometheus/api/v1/query_range"))
        .and(header("x-scope-orgid", "team-a"))
        .and(header("authorization", "Bearer file-token"))
        .and(body_string_contains("partial_response=false"))
        .and(body_string_contains("checkout-canary"))
        .respond_with(Matrix { level: 0.2501 })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/prometheus/api/v1/query_range"))
        .and(header("x-scope-orgid", "team-a"))
        .and(header("authorization", "Bearer file-token"))
        .and(body_string_contains("checkout-baseline"))
        .respond_with(Matrix { level: 0.25 })
        .mount(&server)
        .await;
    let url = format!("{}/prometheus", server.uri());
    let token_flag = token.display().to_string();
    let (out, _) = judge(&url, &["--header", "X-Scope-OrgID: team-a", "--token-file", &token_flag], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_are_shown_and_truncation_is_an_error() {
    let server = MockServer::start().await;
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[]},"warnings":["results truncated due to limit"]}"#;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let (out, _) = judge(&server.uri(), &[], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("results truncated due to limit"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_windows_are_split_below_11000_points_per_request() {
    let server = MockServer::start().await;
    mount_healthy(&server, "").await;
    // 12,000 one-minute steps: each side needs two requests.
    let end = START_SECONDS + 12_000 * 60;
    let end = jiff::Timestamp::from_second(end).unwrap().to_string();
    let mut command = std::process::Command::new(canary_bin());
    let out = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", ANALYSIS, "--source-url", &server.uri(), "--start", START, "--end", &end, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        let form = form_pairs(&request.body);
        let field = |name: &str| form.iter().find(|(k, _)| k == name).unwrap().1.parse::<i64>().unwrap();
        assert!((field("end") - field("start")) / field("step") < 11_000);
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["metrics"][0]["canary"]["samples"], 12_001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let server = MockServer::start().await;
    mount_healthy(&server, "").await;
    let dir = crate::support::TempDir::new("token-file-mode");
    let token = dir.file("token", "file-token-0f3c\n");
    let token_flag = token.display().to_string();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _) = judge(&server.uri(), &["--token-file", &token_flag], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("is readable by group or others (mode 644)") && text.contains("chmod 600"), "{text}");
    assert!(!text.contains("file-token-0f3c"), "{text}");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (out, _) = judge(&server.uri(), &["--token-file", &token_flag], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("readable by group or others"), "{}", stderr(&out));
}
