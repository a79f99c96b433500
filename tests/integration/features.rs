//! Feature-scoped groups end to end (analyses/grocery-features.yaml and its fixtures from
//! scripts/make_feature_fixtures.py): a local receiver stands in for the flag service (Unleash's
//! admin API) and verifies each call's token, HMAC signature and idempotency key; another stands
//! in for the deployment rollback webhook.

use crate::support::canary_bin;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::process::Output;
use std::sync::{Arc, Mutex};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FEATURE_SECRET: &str = "feature-secret-51c2";
const ROLLBACK_SECRET: &str = "rollback-secret-9a0e";
const TOKEN: &str = "unleash-admin-token-3f7d";
const ORGANIC_OFF: &str = "/api/admin/projects/default/features/organic-search/environments/production/off";

/// Verifies the signature (and the token, when given) of each call and records its path and
/// idempotency key; answers `status` to every call.
#[derive(Clone)]
struct Receiver {
    secret: &'static str,
    token: Option<&'static str>,
    status: u16,
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl Respond for Receiver {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let header =
            |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret.as_bytes()).unwrap();
        mac.update(format!("{}.", header("x-canary-timestamp")).as_bytes());
        mac.update(&request.body);
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        if header("x-canary-signature") != format!("sha256={expected}") {
            return ResponseTemplate::new(401).set_body_string("bad signature");
        }
        if let Some(token) = self.token
            && header("authorization") != token
        {
            return ResponseTemplate::new(403).set_body_string("bad token");
        }
        self.calls.lock().unwrap().push((request.url.path().to_string(), header("idempotency-key")));
        ResponseTemplate::new(self.status)
    }
}

impl Receiver {
    async fn start(secret: &'static str, token: Option<&'static str>, status: u16) -> (MockServer, Receiver) {
        let server = MockServer::start().await;
        let receiver = Receiver { secret, token, status, calls: Arc::default() };
        Mock::given(method("POST")).respond_with(receiver.clone()).mount(&server).await;
        (server, receiver)
    }

    fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

fn judge(fixture: &str, flags: &MockServer, rollback: &MockServer) -> Output {
    std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", "analyses/grocery-features.yaml", "--replay", &format!("fixtures/{fixture}.json")])
        .args(["--format", "json", "--var", &format!("unleash={}", flags.uri())])
        .args(["--rollback-webhook", &rollback.uri()])
        .env("UNLEASH_ADMIN_TOKEN", TOKEN)
        .env("CANARY_FEATURE_SECRET", FEATURE_SECRET)
        .env("CANARY_ROLLBACK_SECRET", ROLLBACK_SECRET)
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
async fn only_the_regressed_feature_is_turned_off_and_the_deployment_stays() {
    let (flags, flag_service) = Receiver::start(FEATURE_SECRET, Some(TOKEN), 200).await;
    let (rollback, deployer) = Receiver::start(ROLLBACK_SECRET, None, 200).await;
    let out = judge("grocery-organic-regression", &flags, &rollback);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let calls = flag_service.calls();
    assert_eq!(calls.len(), 1, "exactly one call: {calls:?}");
    assert_eq!(calls[0].0, ORGANIC_OFF, "and none for locally-sourced-search");
    assert!(deployer.calls().is_empty(), "the deployment is not rolled back");
    let printed = report(&out);
    assert_eq!(printed["verdict"], "feature_off");
    assert!(printed.get("rollback").is_none());
    let features = printed["features"].as_array().unwrap();
    assert_eq!(features.len(), 2);
    let organic = features.iter().find(|f| f["feature"] == "organic-search").unwrap();
    assert_eq!(organic["failed"], true);
    assert_eq!(organic["action"]["delivered"], true);
    assert_eq!(organic["action"]["signed"], true);
    assert_eq!(organic["action"]["idempotency_key"], calls[0].1.as_str());
    let local = features.iter().find(|f| f["feature"] == "locally-sourced-search").unwrap();
    assert_eq!(local["failed"], false);
    assert!(local.get("action").is_none());
    // The sustained rule names the stretch that fired.
    let metric = printed["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "organic_search_errors").unwrap();
    let rule = metric["tests"].as_array().unwrap().iter().find(|t| t["test"] == "sustained").unwrap();
    assert_eq!(rule["sustained"]["fired"], true);
    assert!(rule["sustained"]["stretch"]["points"].as_array().unwrap().len() >= 5);
    for text in [String::from_utf8_lossy(&out.stdout).into_owned(), stderr(&out)] {
        assert!(!text.contains(TOKEN) && !text.contains(FEATURE_SECRET));
    }
    // The same judgment again: the same idempotency key.
    let again = judge("grocery-organic-regression", &flags, &rollback);
    assert_eq!(again.status.code(), Some(5));
    assert_eq!(flag_service.calls()[1], calls[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_level_failure_turns_the_feature_off_and_rolls_back() {
    let (flags, flag_service) = Receiver::start(FEATURE_SECRET, Some(TOKEN), 200).await;
    let (rollback, deployer) = Receiver::start(ROLLBACK_SECRET, None, 200).await;
    let out = judge("grocery-organic-and-checkout-regression", &flags, &rollback);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let calls = flag_service.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, ORGANIC_OFF);
    assert_eq!(deployer.calls().len(), 1);
    let printed = report(&out);
    assert_eq!(printed["verdict"], "fail");
    assert_eq!(printed["rollback"]["delivered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_flag_service_makes_the_deployment_rollback_fire() {
    let (flags, flag_service) = Receiver::start(FEATURE_SECRET, Some(TOKEN), 500).await;
    let (rollback, deployer) = Receiver::start(ROLLBACK_SECRET, None, 200).await;
    let out = judge("grocery-organic-regression", &flags, &rollback);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(flag_service.calls().len(), 4, "the first call and 3 retries");
    assert_eq!(deployer.calls().len(), 1, "the deployment is rolled back instead");
    let printed = report(&out);
    assert_eq!(printed["verdict"], "fail");
    assert!(printed["reason"].as_str().unwrap().starts_with("turning off feature(s) failed (organic-search: "));
    let organic = printed["features"].as_array().unwrap().iter().find(|f| f["feature"] == "organic-search").unwrap();
    assert_eq!(organic["action"]["delivered"], false);
    assert_eq!(organic["action"]["status"], 500);
    assert!(stderr(&out).contains("was NOT delivered"), "{}", stderr(&out));
}

#[test]
fn a_dry_run_prints_the_feature_action_and_sends_nothing() {
    let out = std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", "analyses/grocery-features.yaml", "--replay", "fixtures/grocery-organic-regression.json"])
        .args(["--var", "unleash=http://127.0.0.1:9", "--dry-run", "--format", "json"])
        .env("UNLEASH_ADMIN_TOKEN", TOKEN)
        .env("CANARY_FEATURE_SECRET", FEATURE_SECRET)
        .env("CANARY_ROLLBACK_SECRET", ROLLBACK_SECRET)
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    // Webhook paths are often secrets: the dry run shows the origin only.
    assert!(text.contains("POST http://127.0.0.1:9/… (path hidden)"), "{text}");
    assert!(!text.contains(ORGANIC_OFF), "{text}");
    assert!(text.contains("Authorization: <secret from $UNLEASH_ADMIN_TOKEN>"), "{text}");
    assert!(!text.contains(TOKEN));
    assert_eq!(report(&out)["features"][0]["action"]["dry_run"], true);
}
