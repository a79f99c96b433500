//! The cron watchdog (`canary judge --state-dir`) end to end: the rollback webhook on the
//! transition to fail only (pass → fail → fail delivers once, fail → pass → fail twice), a failed
//! delivery retried on the next run with the same idempotency key, lock contention (a lock held
//! by this test, and two overlapping processes), a stale lock taken over, `--quiet`, the heartbeat
//! ping, and SIGTERM/SIGINT during a run against a Prometheus that is slow to answer.
//!
//! Both fixtures were recorded over the same window (2026-11-23T10:00Z to 10:30Z) with the same
//! variables, so they are the same canary to the watchdog, and even the webhook's idempotency
//! key (which includes the window) is the same on every run.

use crate::support::{TempDir, canary_bin, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ANALYSIS: &str = "analyses/checkout.yaml";

/// A rollback receiver that records each request's idempotency key and answers with `statuses`
/// in turn, then 200.
#[derive(Clone, Default)]
struct Receiver {
    statuses: Arc<Mutex<Vec<u16>>>,
    keys: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn keys(&self) -> Vec<String> {
        self.keys.lock().unwrap().clone()
    }
}

impl Respond for Receiver {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
        self.keys.lock().unwrap().push(key.to_string());
        let mut statuses = self.statuses.lock().unwrap();
        ResponseTemplate::new(if statuses.is_empty() { 200 } else { statuses.remove(0) })
    }
}

async fn start_receiver(statuses: &[u16]) -> (MockServer, Receiver) {
    let server = MockServer::start().await;
    let receiver = Receiver { statuses: Arc::new(Mutex::new(statuses.to_vec())), ..Receiver::default() };
    Mock::given(method("POST")).respond_with(receiver.clone()).mount(&server).await;
    (server, receiver)
}

fn command(state: &Path, fixture: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(canary_bin());
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", ANALYSIS, "--replay", &format!("fixtures/{fixture}.json"), "--state-dir"])
        .arg(state)
        .args(extra)
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("CANARY_PING_URL")
        .env_remove("CANARY_ROLLBACK_WEBHOOK");
    command
}

/// One watchdog run on a recorded fixture.
fn tick(state: &Path, fixture: &str, extra: &[&str]) -> Output {
    command(state, fixture, extra).output().unwrap()
}

fn state_dir(name: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(name);
    let path = dir.file("placeholder", "").parent().unwrap().join("state");
    (dir, path)
}

fn state(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("checkout.state.json")).unwrap()).unwrap()
}

/// The one canary entry of the state file.
fn entry(dir: &Path) -> Value {
    let state = state(dir);
    let canaries = state["canaries"].as_object().unwrap();
    assert_eq!(canaries.len(), 1, "{state}");
    canaries.values().next().unwrap().clone()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_fail_fail_delivers_once_and_a_new_fail_after_a_pass_delivers_again() {
    let (_dir, state) = state_dir("watchdog-transitions");
    let (server, receiver) = start_receiver(&[]).await;
    let webhook = ["--rollback-webhook", &server.uri(), "--format", "json"];

    let out = tick(&state, "healthy", &webhook);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(entry(&state)["verdict"], "pass");
    assert!(receiver.keys().is_empty());

    let out = tick(&state, "latency-regression", &webhook);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(receiver.keys().len(), 1, "the transition to fail delivers");
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["rollback"]["delivered"], true);
    let first = entry(&state);
    assert_eq!(first["verdict"], "fail");
    assert_eq!(first["rollback"]["delivered"], true);
    assert_eq!(first["rollback"]["idempotency_key"], receiver.keys()[0].as_str());
    assert_eq!(first["canary"]["selector"], "deployment=\"checkout-canary\"");

    // The next tick, same canary, still failing: reported, not delivered again.
    let out = tick(&state, "latency-regression", &webhook);
    assert_eq!(out.status.code(), Some(1), "the exit code still says fail");
    assert_eq!(receiver.keys().len(), 1, "fail → fail does not deliver again");
    let text = stderr(&out);
    let at = first["rollback"]["at"].as_str().unwrap();
    assert!(text.contains(&format!("already rolled back at {at}")), "{text}");
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report.get("rollback").is_none(), "the webhook was not called on this run");
    let second = entry(&state);
    assert_eq!(second["since"], first["since"], "the fail streak goes on");
    assert_eq!(second["rollback"], first["rollback"], "the delivery that counts is kept");

    // Recovered, then failing again: a new event.
    assert_eq!(tick(&state, "healthy", &webhook).status.code(), Some(0));
    assert_eq!(entry(&state)["verdict"], "pass");
    assert!(entry(&state).get("rollback").is_none());
    assert_eq!(tick(&state, "latency-regression", &webhook).status.code(), Some(1));
    assert_eq!(receiver.keys().len(), 2, "fail → pass → fail delivers again");
    assert!(!state.join("checkout.lock").exists(), "every run removed its lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_retried_by_the_next_run_with_the_same_idempotency_key() {
    let (_dir, state) = state_dir("watchdog-retry");
    // Four 503s exhaust the first run's three retries.
    let (server, receiver) = start_receiver(&[503, 503, 503, 503]).await;
    let webhook = ["--rollback-webhook", &server.uri()];

    let out = tick(&state, "latency-regression", &webhook);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(receiver.keys().len(), 4);
    assert!(stderr(&out).contains("was NOT delivered"), "{}", stderr(&out));
    assert_eq!(entry(&state)["rollback"]["delivered"], false);
    assert_eq!(entry(&state)["rollback"]["status"], 503);

    let out = tick(&state, "latency-regression", &webhook);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("calling it again"), "{}", stderr(&out));
    let keys = receiver.keys();
    assert_eq!(keys.len(), 5, "the second run delivers once");
    assert!(keys.iter().all(|k| *k == keys[0]), "one key across both runs, for the receiver to deduplicate: {keys:?}");
    assert_eq!(entry(&state)["rollback"]["delivered"], true);

    let out = tick(&state, "latency-regression", &webhook);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(receiver.keys().len(), 5, "delivered: not again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reads_the_state_but_does_not_write_it() {
    let (_dir, state) = state_dir("watchdog-dry-run");
    let (server, receiver) = start_receiver(&[]).await;
    let out = tick(&state, "latency-regression", &["--rollback-webhook", &server.uri(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("dry run: would send"), "{}", stderr(&out));
    assert!(!state.join("checkout.state.json").exists());
    // So the real run that follows still delivers.
    assert_eq!(tick(&state, "latency-regression", &["--rollback-webhook", &server.uri()]).status.code(), Some(1));
    assert_eq!(receiver.keys().len(), 1);
}

#[test]
fn a_held_lock_stops_the_run_with_exit_4_and_names_the_file_and_the_holder() {
    let (_dir, state) = state_dir("watchdog-held");
    std::fs::create_dir_all(&state).unwrap();
    let lock_path = state.join("checkout.lock");
    let lock = std::fs::File::create_new(&lock_path).unwrap();
    let holder =
        format!(r#"{{"pid": {}, "host": "{}", "started": "2026-11-23T10:00:00Z"}}"#, std::process::id(), hostname());
    std::fs::write(&lock_path, holder).unwrap();
    lock.try_lock().expect("this test holds the lock");

    let out = tick(&state, "healthy", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains(&lock_path.display().to_string()), "{text}");
    assert!(text.contains(&format!("PID {}", std::process::id())) && text.contains("in progress"), "{text}");
    assert!(stdout(&out).is_empty(), "nothing was judged");
    assert!(lock_path.exists(), "another run's lock is left alone");
    assert!(!state.join("checkout.state.json").exists());
    drop(lock);
}

#[test]
fn a_stale_lock_is_taken_over_with_a_warning() {
    let (_dir, state) = state_dir("watchdog-stale");
    std::fs::create_dir_all(&state).unwrap();
    // A PID that has just ended.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let lock_path = state.join("checkout.lock");
    std::fs::write(
        &lock_path,
        format!(r#"{{"pid": {pid}, "host": "{}", "started": "2026-11-23T10:00:00Z"}}"#, hostname()),
    )
    .unwrap();

    let out = tick(&state, "healthy", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("taking over the stale lock file") && text.contains(&format!("PID {pid}")), "{text}");
    assert!(text.contains("no longer exists"), "{text}");
    assert!(!lock_path.exists(), "the run removed the lock it took over");
    assert_eq!(entry(&state)["verdict"], "pass");
}

#[test]
fn quiet_prints_nothing_on_a_pass_but_still_writes_the_outputs() {
    let (dir, state) = state_dir("watchdog-quiet");
    let json = dir.file("report.json", "");
    let output = format!("json={}", json.display());

    let out = tick(&state, "healthy", &["--quiet", "--output", &output]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "pass");

    let out = tick(&state, "latency-regression", &["--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("p99_latency"), "a fail is printed: {}", stdout(&out));
    let out = tick(&state, "no-canary-traffic", &["-q"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!stdout(&out).is_empty(), "an inconclusive run is printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_is_pinged_after_every_judged_run_and_a_failed_ping_is_only_a_warning() {
    let (_dir, state) = state_dir("watchdog-ping");
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path("/ping/7c1e")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let url = format!("{}/ping/7c1e", server.uri());

    let out = tick(&state, "healthy", &["--ping-url", &url, "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let out = command(&state, "latency-regression", &[]).env("CANARY_PING_URL", &url).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(server.received_requests().await.unwrap().len(), 2, "one ping per run, pass or fail");

    // A run that could not judge does not ping: the heartbeat service notices the silence.
    let lock_path = state.join("checkout.lock");
    let lock = std::fs::File::create_new(&lock_path).unwrap();
    lock.try_lock().unwrap();
    let out = tick(&state, "healthy", &["--ping-url", &url]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    drop(lock);
    std::fs::remove_file(&lock_path).unwrap();

    // A heartbeat service that is down or answers an error changes nothing but a warning.
    let broken = format!("{}/no-such-check", server.uri());
    let out = tick(&state, "healthy", &["--ping-url", &broken, "--quiet"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("heartbeat ping") && stderr(&out).contains("HTTP 404"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("no-such-check"), "the ping URL's path may hold a token");
    let out = tick(&state, "latency-regression", &["--ping-url", "http://127.0.0.1:9/ping"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("heartbeat ping"), "{}", stderr(&out));
}

/// `canary judge` against a Prometheus that takes a minute to answer, in the background.
fn slow_judgment(prometheus: &str, state: &Path) -> std::process::Child {
    Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", "tests/data/faults/latency.yaml", "--source-url", prometheus])
        .args(["--start", "2026-11-20T10:00:00Z", "--end", "2026-11-20T10:30:00Z"])
        .args(["--query-timeout", "120s", "--timeout", "120s", "--state-dir"])
        .arg(state)
        .env_remove("CANARY_SOURCE_TOKEN")
        .env_remove("CANARY_PING_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the mock Prometheus has received a query (so the run holds its lock and is
/// waiting for the answer).
async fn wait_for_query(server: &MockServer) {
    let started = Instant::now();
    while server.received_requests().await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "canary never queried the mock Prometheus");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn send(signal: &str, pid: u32) {
    let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_runs_and_signals_end_cleanly() {
    let (_dir, state) = state_dir("watchdog-signals");
    let server = MockServer::start().await;
    let lock_path = state.join("faults.lock");

    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
            .mount(&server)
            .await;
        let child = slow_judgment(&server.uri(), &state);
        wait_for_query(&server).await;
        assert!(lock_path.exists());

        // A second run while the first holds the lock stops at once, naming the holder.
        let started = Instant::now();
        let second = slow_judgment(&server.uri(), &state).wait_with_output().unwrap();
        assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
        assert!(started.elapsed() < Duration::from_secs(10));
        let text = stderr(&second);
        assert!(text.contains(&format!("PID {}", child.id())) && text.contains("faults.lock"), "{text}");

        let started = Instant::now();
        send(signal, child.id());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: {}", stderr(&out));
        assert!(started.elapsed() < Duration::from_secs(10), "SIG{signal} took {:?}", started.elapsed());
        assert!(stderr(&out).contains(&format!("SIG{signal} received")), "{}", stderr(&out));
        assert!(!lock_path.exists(), "SIG{signal}: the lock file is gone");
        assert!(!state.join("faults.state.json").exists(), "nothing was judged, so nothing is recorded");
    }
}

/// Waits until `server` has received `count` requests.
async fn wait_for_requests(server: &MockServer, count: usize) {
    let started = Instant::now();
    while server.received_requests().await.unwrap().len() < count {
        assert!(started.elapsed() < Duration::from_secs(30), "the receiver never got request {count}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_the_webhook_delivery_ends_with_130_or_143_after_recording_it() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let (_dir, state) = state_dir(&format!("watchdog-signal-delivery-{signal}"));
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .mount(&server)
            .await;
        let child = command(&state, "latency-regression", &["--rollback-webhook", &server.uri(), "--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_requests(&server, 1).await;
        send(signal, child.id());
        let out = child.wait_with_output().unwrap();
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "SIG{signal} during the delivery: {text}");
        assert!(text.contains(&format!("SIG{signal} received")), "{text}");
        assert!(!state.join("checkout.lock").exists(), "SIG{signal}: the lock is released");
        // The delivery finished and was recorded, so the next run does not deliver again.
        assert_eq!(entry(&state)["rollback"]["delivered"], true, "SIG{signal}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_is_given_up_on_within_the_delivery_budget() {
    let (_dir, state) = state_dir("watchdog-budget");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(300)))
        .mount(&server)
        .await;
    let out = tick(&state, "latency-regression", &["--rollback-webhook", &server.uri(), "--format", "json"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["rollback"]["delivered"], false);
    let error = report["rollback"]["error"].as_str().unwrap();
    assert!(error.contains("within the delivery budget of 20 s"), "{error}");
    // Default settings: 10 s per attempt, so two attempts at most fit in the budget.
    let attempts = server.received_requests().await.unwrap().len();
    assert!((1..=2).contains(&attempts), "{attempts} attempts");
    assert_eq!(entry(&state)["rollback"]["delivered"], false, "the next run tries again");
}
