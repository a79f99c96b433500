//! `canary serve` end to end: the binary started as a process on a free loopback port (it reports
//! the port it got), called with reqwest using Flagger's webhook payload (`rollout`,
//! `confirm-promotion`, `rollback` hooks, basic auth from the URL's userinfo as Go's client sends
//! it) and Argo Rollouts' `web` request (bearer token, JSON body), judging the suite's real
//! Prometheus with healthy and regressed canaries; then the refusals (credentials, body size,
//! unknown analysis, bad variables), the concurrency bound and the deadline against a source that
//! never answers, SIGHUP reloads good and bad, and the refusals to start.

use crate::servers::{self, WINDOW_END};
use crate::support::{TempDir, canary_bin};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "s3rve-secret-0123456789abcdef";
const ANALYSIS: &str = include_str!("../data/live/checkout-live.yaml");
/// A minute after the data's window: `serve` judges the analysis's last 30m ending a minute earlier.
const NOW: &str = "2026-11-20T10:41:00Z";

/// A running `canary serve`; killed when dropped.
struct Serving {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serving {
    /// Starts `canary serve --analyses DIR --listen 127.0.0.1:0 ARGS` with the secret in
    /// `CANARY_SERVE_TOKEN` and waits for the line naming the address.
    fn start(dir: &std::path::Path, args: &[&str]) -> Serving {
        Serving::start_with_fd_limit(dir, args, None)
    }

    /// [`Serving::start`] under `ulimit -n FD_LIMIT` when given.
    fn start_with_fd_limit(dir: &std::path::Path, args: &[&str], fd_limit: Option<u32>) -> Serving {
        let mut command = match fd_limit {
            None => Command::new(canary_bin()),
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\"")]).arg(canary_bin());
                shell
            }
        };
        command
            .args(["serve", "--analyses", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(args)
            // With the newline of a variable filled from a file: trimmed.
            .env("CANARY_SERVE_TOKEN", format!("{SECRET}\n"))
            .env_remove("CANARY_SOURCE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("canary serve starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("canary serve: listening on ") {
                    let _ = sender.send(rest.split(' ').next().unwrap_or_default().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let url = receiver.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("canary serve did not start: {:?}", log.lock().unwrap())
        });
        Serving { child, url, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until a log line contains `text`.
    fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(text) {
            assert!(Instant::now() < deadline, "no `{text}` in the log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn hangup(&self) {
        let status = Command::new("kill").args(["-HUP", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

/// A JSON body (reqwest's `json` feature is not built).
trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json").body(body.to_string())
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap()
}

/// The status, and the body as JSON (every answer but /metrics is JSON).
async fn send(request: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = request.send().await.expect("an answer");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    assert_eq!(headers.get("content-type").map(|v| v.to_str().unwrap()), Some("application/json"), "{status}");
    let text = response.text().await.unwrap();
    assert!(!text.contains(SECRET), "the secret in an answer: {text}");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
    (status, body, headers)
}

/// A Flagger webhook call as Flagger makes it: POST, JSON payload, basic auth from the URL.
async fn flagger(serving: &Serving, hook: &str, metadata: Value) -> (u16, Value) {
    let url = serving.url.replacen("http://", &format!("http://canary:{SECRET}@"), 1);
    let payload = json!({
        "name": "checkout", "namespace": "shop", "phase": "Progressing",
        "checksum": "6d4f8b", "metadata": metadata,
    });
    let (status, body, _) = send(client().post(format!("{url}/flagger/{hook}")).json_body(&payload)).await;
    (status, body)
}

/// An Argo Rollouts `web` metric call: POST with a bearer token and a JSON body.
async fn argo(serving: &Serving, body: Value) -> (u16, Value) {
    let request = client().post(format!("{}/argo", serving.url)).bearer_auth(SECRET).json_body(&body);
    let (status, body, _) = send(request).await;
    (status, body)
}

fn analyses_dir(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    dir.file("checkout-live.yaml", ANALYSIS);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flagger_and_argo_get_the_judgment_of_the_real_prometheus() {
    let prometheus = servers::prometheus();
    let dir = analyses_dir("serve-live");
    let serving = Serving::start(dir.path(), &["--source-url", &prometheus.url, "--now", NOW]);
    let canary = |name: &str| json!({"analysis": "checkout-live", "canary": name});

    // rollout, confirm-promotion: 2xx only on a pass (an inconclusive judgment waits);
    // rollback: 2xx (roll back now) only on a fail.
    for (hook, name, status, verdict, decision) in [
        ("rollout", "checkout-healthy", 200, "pass", "proceed"),
        ("rollout", "checkout-slow", 412, "fail", "hold"),
        ("confirm-promotion", "checkout-healthy", 200, "pass", "proceed"),
        ("confirm-promotion", "checkout-missing", 412, "inconclusive", "hold"),
        ("rollback", "checkout-errors", 200, "fail", "roll_back"),
        ("rollback", "checkout-healthy", 412, "pass", "keep"),
        ("rollback", "checkout-missing", 412, "inconclusive", "keep"),
    ] {
        let (answer, body) = flagger(&serving, hook, canary(name)).await;
        assert_eq!(
            (answer, &body["verdict"], &body["decision"]),
            (status, &json!(verdict), &json!(decision)),
            "{body}"
        );
        assert_eq!(body["report"]["verdict"], verdict);
        assert_eq!(body["report"]["window"]["end"], WINDOW_END, "{}", body["report"]["window"]);
    }

    // Argo: every judged verdict is a 200 with `verdict` at the top, for successCondition.
    for (name, verdict) in
        [("checkout-healthy", "pass"), ("checkout-errors", "fail"), ("checkout-missing", "inconclusive")]
    {
        let (status, body) = argo(&serving, json!({"analysis": "checkout-live", "variables": {"canary": name}})).await;
        assert_eq!((status, &body["verdict"]), (200, &json!(verdict)), "{name}: {body}");
        assert_eq!(body["report"]["verdict"], verdict);
    }
    let (_, body) =
        argo(&serving, json!({"analysis": "checkout-live", "variables": {"canary": "checkout-errors"}})).await;
    let error_rate = body["report"]["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "error_rate").unwrap();
    assert_eq!(error_rate["classification"], "fail_high", "{error_rate}");
    // The same judgment as `canary judge` with the same window.
    let judged = crate::support::run(
        &[
            "judge",
            "tests/data/live/checkout-live.yaml",
            "--source-url",
            &prometheus.url,
            "--start",
            servers::WINDOW_START,
            "--end",
            WINDOW_END,
            "--var",
            "canary=checkout-errors",
            "--format",
            "json",
        ],
        None,
    );
    let judged: Value = serde_json::from_slice(&judged.stdout).unwrap();
    assert_eq!(body["report"]["metrics"], judged["metrics"]);
    assert_eq!(body["report"]["score"], judged["score"]);

    // /metrics: the judgments by verdict, parsed by promtool.
    let text = client().get(format!("{}/metrics", serving.url)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("canary_serve_judgments_total{endpoint=\"argo\",verdict=\"fail\"} 2"), "{text}");
    assert!(text.contains("canary_serve_judgments_total{endpoint=\"flagger_rollout\",verdict=\"pass\"} 1"), "{text}");
    assert!(text.contains("canary_serve_judgment_duration_seconds_count{endpoint=\"argo\"} 4"), "{text}");
    promtool_accepts(&text);
    let (status, health, _) = send(client().get(format!("{}/healthz", serving.url))).await;
    assert_eq!((status, &health["status"]), (200, &json!("ok")));
    assert!(!serving.log().contains(SECRET));
}

/// `promtool check metrics` reads the exposition (it exits 0 when it parses, lint notes aside).
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (see .ci/run)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool: {said}\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_json_and_nothing_is_judged() {
    let dir = analyses_dir("serve-refusals");
    let no_default = ANALYSIS
        .replace("name: checkout-live", "name: no-default")
        .replace("variables:\n  canary: checkout-healthy\n", "");
    assert_ne!(no_default, ANALYSIS.replace("name: checkout-live", "name: no-default"));
    dir.file("no-default.yaml", &no_default);
    // The source is never reached: every request below is refused before.
    let serving = Serving::start(dir.path(), &["--source-url", "http://127.0.0.1:9", "--max-body-size", "2KiB"]);
    let url = &serving.url;
    // A caller that sends half its body and stalls: 408 after 10 s.
    let stalled = std::thread::spawn({
        let address = url.trim_start_matches("http://").to_string();
        move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            let head = format!(
                "POST /argo HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {SECRET}\r\nContent-Length: 100\r\n\r\n{{\"analysis\""
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut answer = vec![0; 4096];
            let read = stream.read(&mut answer).unwrap();
            String::from_utf8_lossy(&answer[..read]).into_owned()
        }
    });
    let good = json!({"analysis": "checkout-live", "variables": {"canary": "checkout-healthy"}});
    // Credentials: none, a wrong bearer, a wrong basic password, the secret as a user name.
    for request in [
        client().post(format!("{url}/argo")).json_body(&good),
        client().post(format!("{url}/argo")).bearer_auth("wrong-secret-0123456789").json_body(&good),
        client().post(format!("{url}/argo")).basic_auth("canary", Some("nope")).json_body(&good),
        client().post(format!("{url}/flagger/rollout")).basic_auth(SECRET, Some("x")).json_body(&good),
    ] {
        let (status, body, headers) = send(request).await;
        assert_eq!(status, 401, "{body}");
        assert!(headers.contains_key("www-authenticate"));
    }
    let large = json!({"analysis": "checkout-live", "variables": {"canary": "x".repeat(3000)}});
    assert_eq!(argo(&serving, large).await.0, 413);
    let (status, body) = argo(&serving, json!({"analysis": "nope"})).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("served: checkout-live, no-default"), "{body}");
    // Variables are checked as --var values are: unknown names and query-changing values.
    let (status, body) = flagger(&serving, "rollout", json!({"analysis": "checkout-live", "canry": "a"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("did you mean `canary`"), "{body}");
    let injection = json!({"analysis": "checkout-live", "variables": {"canary": "x\"} or vector(1) #"}});
    let (status, body) = argo(&serving, injection).await;
    assert_eq!(status, 400, "{body}");
    // An analysis without a default is served; a request that leaves the variable out is refused.
    let (status, body) = argo(&serving, json!({"analysis": "no-default"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("undefined variable `canary`"), "{body}");
    let (status, body) = flagger(&serving, "rollout", json!({"canary": "a"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("names no analysis"), "{body}");
    let (status, _) = flagger(&serving, "event", json!({"analysis": "checkout-live"})).await;
    assert_eq!(status, 404);
    let not_json = client().post(format!("{url}/argo")).bearer_auth(SECRET).body("analysis=checkout-live");
    assert_eq!(send(not_json).await.0, 400);
    assert_eq!(send(client().get(format!("{url}/argo")).bearer_auth(SECRET)).await.0, 405);
    assert_eq!(send(client().get(format!("{url}/nothing"))).await.0, 404);
    let metrics = client().get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("canary_serve_answers_total{endpoint=\"argo\",status=\"401\"} 3"), "{metrics}");
    assert!(!metrics.contains("canary_serve_judgments_total{"), "{metrics}");
    let stalled = stalled.join().unwrap();
    assert!(stalled.starts_with("HTTP/1.1 408") && stalled.contains("did not arrive within 10s"), "{stalled}");
    assert!(!serving.log().contains(SECRET), "{}", serving.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judgments_are_bounded_in_number_and_time() {
    // A source that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let source_url = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let dir = analyses_dir("serve-bounds");
    let args = ["--source-url", &source_url, "--max-judgments", "1", "--deadline", "2s", "--retries", "0"];
    let serving = Serving::start(dir.path(), &args);
    let body = json!({"analysis": "checkout-live", "variables": {"canary": "checkout-healthy"}});
    let started = Instant::now();
    let first = tokio::spawn({
        let request = client().post(format!("{}/argo", serving.url)).bearer_auth(SECRET).json_body(&body);
        async move { send(request).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, refused, headers) =
        send(client().post(format!("{}/argo", serving.url)).bearer_auth(SECRET).json_body(&body)).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(headers.get("retry-after").unwrap(), "5");
    let (status, timed_out, _) = first.await.unwrap();
    assert_eq!(status, 504, "{timed_out}");
    assert!(timed_out["error"].as_str().unwrap().contains("--deadline"), "{timed_out}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // The abandoned judgment still holds its slot until its source gives up (--timeout).
    let (status, _, _) =
        send(client().post(format!("{}/argo", serving.url)).bearer_auth(SECRET).json_body(&body)).await;
    assert_eq!(status, 503);
    let metrics = client().get(format!("{}/metrics", serving.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("canary_serve_backend_errors_total 1\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_all_or_nothing() {
    let dir = analyses_dir("serve-reload");
    let serving = Serving::start(dir.path(), &["--source-url", "http://127.0.0.1:9"]);
    let health = || async { send(client().get(format!("{}/healthz", serving.url))).await.1 };
    assert_eq!(health().await["analyses"], 1);
    let unknown = json!({"analysis": "checkout-two", "variables": {"canary": "zzz-unknown-deployment"}});
    assert_eq!(argo(&serving, unknown.clone()).await.0, 404);
    dir.file("two.yml", &ANALYSIS.replace("name: checkout-live", "name: checkout-two"));
    serving.hangup();
    serving.wait_for_log("reloaded 2 analyses (checkout-live, checkout-two)");
    assert_eq!(health().await["analyses"], 2);
    // Served now: the request reaches the (unreachable) source.
    assert_eq!(argo(&serving, unknown.clone()).await.0, 502);
    // A bad file: the reload fails, naming it, and the two analyses stay served.
    dir.file("broken.yaml", "version: 1\nname: [\n");
    serving.hangup();
    serving.wait_for_log("reload failed, still serving the 2 analyses loaded before");
    assert!(serving.log().contains("broken.yaml"), "{}", serving.log());
    assert_eq!(health().await["analyses"], 2);
    assert_eq!(argo(&serving, unknown).await.0, 502);
    let metrics = client().get(format!("{}/metrics", serving.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("canary_serve_reloads_total{result=\"failure\"} 1"), "{metrics}");
    assert!(metrics.contains("canary_serve_analyses 2\n"), "{metrics}");
}

/// `canary serve` with `args`, expected to refuse to start (exit 2); its stderr.
fn refused_start(dir: &std::path::Path, args: &[&str], secret: Option<&str>) -> String {
    let mut command = Command::new(canary_bin());
    command.args(["serve", "--analyses", dir.to_str().unwrap(), "--source-url", "http://127.0.0.1:9"]).args(args);
    command.env_remove("CANARY_SERVE_TOKEN").stdin(Stdio::null());
    if let Some(secret) = secret {
        command.env("CANARY_SERVE_TOKEN", secret);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn serve_refuses_to_start_without_auth_or_with_a_bad_analysis() {
    let dir = analyses_dir("serve-start");
    let stderr = refused_start(dir.path(), &[], None);
    assert!(stderr.contains("no secret for the callers: set $CANARY_SERVE_TOKEN"), "{stderr}");
    let stderr = refused_start(dir.path(), &[], Some("short"));
    assert!(stderr.contains("shorter than 16 characters") && !stderr.contains("short\n"), "{stderr}");
    let stderr = refused_start(dir.path(), &["--insecure-no-auth", "--listen", "0.0.0.0:0"], None);
    assert!(stderr.contains("only allowed on a loopback address"), "{stderr}");
    dir.file("copy.yaml", ANALYSIS);
    let stderr = refused_start(dir.path(), &[], Some(SECRET));
    assert!(stderr.contains("copy.yaml: the analysis name `checkout-live` is already served from"), "{stderr}");
    dir.file("copy.yaml", "version: 1\nname: broken\nmetrics: nope\n");
    let stderr = refused_start(dir.path(), &[], Some(SECRET));
    assert!(stderr.contains("copy.yaml"), "{stderr}");
    let empty = TempDir::new("serve-empty");
    let stderr = refused_start(empty.path(), &[], Some(SECRET));
    assert!(stderr.contains("no analysis files"), "{stderr}");
}

/// The analysis embedded in an example's ConfigMap under `key: |` (indented four spaces).
fn embedded_analysis(example: &str, key: &str) -> String {
    let text = std::fs::read_to_string(format!("{}/docs/examples/{example}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (_, rest) = text.split_once(&format!("  {key}: |\n")).unwrap_or_else(|| panic!("{example}: no {key}"));
    let lines: Vec<&str> = rest.lines().take_while(|l| l.is_empty() || l.starts_with("    ")).collect();
    lines.iter().map(|l| l.get(4..).unwrap_or("")).collect::<Vec<_>>().join("\n") + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flagger_and_argo_examples_are_served_as_written() {
    let prometheus = servers::prometheus();
    let dir = TempDir::new("serve-examples");
    dir.file("flagger-podinfo.yaml", &embedded_analysis("flagger-canary.yaml", "flagger-podinfo.yaml"));
    dir.file("checkout-rollout.yaml", &embedded_analysis("argo-rollouts-analysis.yaml", "checkout-rollout.yaml"));
    let serving = Serving::start(dir.path(), &["--source-url", &prometheus.url, "--now", NOW]);
    // The Canary's webhooks: their metadata as written in the example.
    let canary =
        std::fs::read_to_string(format!("{}/docs/examples/flagger-canary.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for line in ["analysis: flagger-podinfo", "namespace: shop", "target: podinfo", "/flagger/confirm-promotion"] {
        assert!(canary.contains(line), "{line}");
    }
    let metadata = json!({"analysis": "flagger-podinfo", "namespace": "shop", "target": "podinfo"});
    // The suite's Prometheus has no `app` label: judged, and inconclusive (no data), so no hook says yes.
    let (status, body) = flagger(&serving, "confirm-promotion", metadata.clone()).await;
    assert_eq!((status, &body["verdict"], &body["decision"]), (412, &json!("inconclusive"), &json!("hold")), "{body}");
    let (status, body) = flagger(&serving, "rollback", metadata).await;
    assert_eq!((status, &body["decision"]), (412, &json!("keep")), "{body}");
    // The AnalysisTemplate's jsonBody.
    let web = std::fs::read_to_string(format!("{}/docs/examples/argo-rollouts-web.yaml", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    for line in ["analysis: checkout-rollout", "stable_hash: ", "canary_hash: ", "jsonPath: \"{$.verdict}\""] {
        assert!(web.contains(line), "{line}");
    }
    let body =
        json!({"analysis": "checkout-rollout", "variables": {"stable_hash": "6d4f8b9c7", "canary_hash": "5c8d7f6b9"}});
    let (status, body) = argo(&serving, body).await;
    assert_eq!((status, &body["verdict"]), (200, &json!("inconclusive")), "{body}");
}

/// A raw connection that sent `POST /argo` and a first header, never finishing the request.
fn partial_request(address: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(b"POST /argo HTTP/1.1\r\nHost: x\r\n").unwrap();
    stream
}

/// Whether the server closed `stream` within `wait` (end of stream, a reset, or a 408 answer).
fn closed_by_server(stream: &mut std::net::TcpStream, wait: Duration) -> bool {
    use std::io::Read;
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = [0u8; 256];
    match stream.read(&mut buffer) {
        Ok(read) => read == 0 || buffer[..read].starts_with(b"HTTP/1.1 408"),
        Err(error) => !matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

#[test]
fn a_client_trickling_its_headers_is_cut_off_after_the_header_timeout() {
    use std::io::Write;
    let dir = analyses_dir("serve-trickle");
    let serving = Serving::start(dir.path(), &["--source-url", "http://127.0.0.1:9"]);
    let address = serving.url.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let mut stream = partial_request(&address);
    let mut line = 0;
    // One header line a second: each arrives in time, the whole never does.
    while !closed_by_server(&mut stream, Duration::from_secs(1)) {
        assert!(started.elapsed() < Duration::from_secs(13), "still open after {:?}", started.elapsed());
        line += 1;
        if stream.write_all(format!("X-Slow-{line}: y\r\n").as_bytes()).is_err() {
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(9), "closed after {elapsed:?}, before the 10 s timeout");
    assert!(elapsed < Duration::from_secs(13), "closed after {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_over_the_cap_cannot_exhaust_the_server() {
    // Under `ulimit -n 48`, 40 connections each holding a partial request would take every file
    // descriptor of an uncapped server; with --max-connections 24 the rest wait in the backlog,
    // the header timeout frees the slots, and /healthz is answered.
    let dir = analyses_dir("serve-cap");
    let serving = Serving::start_with_fd_limit(
        dir.path(),
        &["--source-url", "http://127.0.0.1:9", "--max-connections", "24"],
        Some(48),
    );
    let address = serving.url.trim_start_matches("http://").to_string();
    let slow: Vec<std::net::TcpStream> = (0..40).map(|_| partial_request(&address)).collect();
    let started = Instant::now();
    let health = client().get(format!("{}/healthz", serving.url)).timeout(Duration::from_secs(25)).send().await;
    let health = health.unwrap_or_else(|e| panic!("no /healthz with 40 slow connections open: {e}\n{}", serving.log()));
    assert_eq!(health.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(15), "/healthz after {:?}", started.elapsed());
    assert!(!serving.log().contains("cannot accept"), "{}", serving.log());
    drop(slow);
    // Stopping still works, slow connections or not.
    let _held: Vec<std::net::TcpStream> = (0..4).map(|_| partial_request(&address)).collect();
    let pid = serving.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    serving.wait_for_log("canary serve: stopped");
}
