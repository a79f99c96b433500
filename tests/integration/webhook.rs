//! The rollback webhook end to end: a local receiver (wiremock) that verifies the HMAC signature
//! and idempotency key, counts deliveries, and answers 500 then 200 (retried) or 400 (not
//! retried); dry runs; the secret never shows.

use crate::support::canary_bin;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::process::Output;
use std::sync::{Arc, Mutex};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "webhook-secret-7d1f";

/// Verifies each delivery's signature and records it; answers with `statuses` in turn, then 200.
#[derive(Clone)]
struct Receiver {
    statuses: Arc<Mutex<Vec<u16>>>,
    deliveries: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
}

impl Receiver {
    fn new(statuses: &[u16]) -> Receiver {
        Receiver { statuses: Arc::new(Mutex::new(statuses.to_vec())), deliveries: Arc::default() }
    }

    fn deliveries(&self) -> Vec<(String, serde_json::Value)> {
        self.deliveries.lock().unwrap().clone()
    }
}

impl Respond for Receiver {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let header =
            |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let timestamp = header("x-canary-timestamp");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(&request.body);
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        if header("x-canary-signature") != format!("sha256={expected}") {
            return ResponseTemplate::new(401).set_body_string("bad signature");
        }
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        self.deliveries.lock().unwrap().push((header("idempotency-key"), body));
        let mut statuses = self.statuses.lock().unwrap();
        let status = if statuses.is_empty() { 200 } else { statuses.remove(0) };
        ResponseTemplate::new(status)
    }
}

async fn start_receiver(statuses: &[u16]) -> (MockServer, Receiver) {
    let server = MockServer::start().await;
    let receiver = Receiver::new(statuses);
    Mock::given(method("POST")).respond_with(receiver.clone()).mount(&server).await;
    (server, receiver)
}

fn judge(fixture: &str, webhook: &str, extra: &[&str]) -> Output {
    let replay = format!("fixtures/{fixture}.json");
    std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "judge",
            "analyses/checkout.yaml",
            "--replay",
            &replay,
            "--format",
            "json",
            "--rollback-webhook",
            webhook,
        ])
        .args(extra)
        .env("CANARY_ROLLBACK_SECRET", SECRET)
        .output()
        .unwrap()
}

fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_posts_the_signed_report_once_and_the_report_says_so() {
    let (server, receiver) = start_receiver(&[]).await;
    let out = judge("latency-regression", &server.uri(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 1);
    let (key, body) = &deliveries[0];
    assert_eq!(body["verdict"], "fail");
    assert!(body.get("rollback").is_none(), "the body is the report before delivery");
    let printed = report(&out);
    assert_eq!(printed["rollback"]["delivered"], true);
    assert_eq!(printed["rollback"]["idempotency_key"], key.as_str());
    assert_eq!(printed["rollback"]["signed"], true);
    for text in [String::from_utf8_lossy(&out.stdout).into_owned(), stderr(&out)] {
        assert!(!text.contains(SECRET));
    }
    // The same canary and window give the same key.
    let again = judge("latency-regression", &server.uri(), &[]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(receiver.deliveries()[1].0, *key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_and_a_400_is_not() {
    let (server, receiver) = start_receiver(&[500]).await;
    let out = judge("latency-regression", &server.uri(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(receiver.deliveries().len(), 2);
    assert_eq!(report(&out)["rollback"]["status"], 200);

    let (server, receiver) = start_receiver(&[400]).await;
    let out = judge("latency-regression", &server.uri(), &[]);
    assert_eq!(out.status.code(), Some(1), "the pipeline still sees the failure");
    assert_eq!(receiver.deliveries().len(), 1);
    assert_eq!(report(&out)["rollback"]["delivered"], false);
    assert!(stderr(&out).contains("was NOT delivered") && stderr(&out).contains("HTTP 400"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_calls_nothing_and_a_dry_run_sends_nothing() {
    let (server, receiver) = start_receiver(&[]).await;
    let out = judge("healthy", &server.uri(), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(receiver.deliveries().is_empty());
    assert!(report(&out).get("rollback").is_none());

    let out = judge("latency-regression", &server.uri(), &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(receiver.deliveries().is_empty());
    let text = stderr(&out);
    assert!(text.contains("X-Canary-Signature: sha256=") && text.contains("Idempotency-Key: "), "{text}");
    assert!(!text.contains(SECRET));
    assert_eq!(report(&out)["rollback"]["dry_run"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inconclusive_calls_only_when_asked() {
    let (server, receiver) = start_receiver(&[]).await;
    let out = judge("no-canary-traffic", &server.uri(), &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(receiver.deliveries().is_empty());
    let out = judge("no-canary-traffic", &server.uri(), &["--rollback-on-inconclusive"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(receiver.deliveries().len(), 1);
}
