//! Hostile webhook and flag-service receivers: redirects (301/302/303/307/308, to another host
//! that records every header and body), receivers that reflect the request's secrets, and huge,
//! slow or binary answers. Each run asserts the exit code, that the verdict is never pass or
//! `feature_off` when a delivery did not happen, and that no secret (the webhook URL's
//! userinfo, path and query, the HMAC secret, an action's secret header) reaches stdout, stderr,
//! the JSON report, `--output` files, `$GITHUB_STEP_SUMMARY` or the watchdog state file.

use crate::support::{TempDir, canary_bin, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const HMAC_SECRET: &str = "hmac-secret-5e1b";
const HOOK_USER: &str = "hookuser-a1";
const HOOK_PASSWORD: &str = "hookpass-b2";
const HOOK_PATH: &str = "/services/T0/B0/slackpath-c3";
const HOOK_QUERY: &str = "token=querysecret-d4";
const FLAG_TOKEN: &str = "flag-admin-token-e5";
const FEATURE_SECRET: &str = "feature-secret-f6";

/// One request a server saw: method and path, headers (`name: value` lines) and body.
#[derive(Clone, Debug)]
struct Seen {
    request_line: String,
    headers: String,
    body: Vec<u8>,
}

/// Records every request a server saw, and answers `answer` (200 when none).
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    requests: Arc<Mutex<Vec<Seen>>>,
    answer: Option<ResponseTemplate>,
}

impl Respond for Recorder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers: String =
            request.headers.iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("<binary>"))).collect();
        self.requests.lock().unwrap().push(Seen {
            request_line: format!("{} {}", request.method, request.url.path()),
            headers,
            body: request.body.clone(),
        });
        self.answer.clone().unwrap_or_else(|| ResponseTemplate::new(200))
    }
}

impl Recorder {
    pub(crate) async fn start(answer: Option<ResponseTemplate>) -> (MockServer, Recorder) {
        let server = MockServer::start().await;
        let recorder = Recorder { answer, ..Recorder::default() };
        Mock::given(wiremock::matchers::any()).respond_with(recorder.clone()).mount(&server).await;
        (server, recorder)
    }

    pub(crate) fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn seen(&self) -> Vec<Seen> {
        self.requests.lock().unwrap().clone()
    }
}

/// The webhook URL with every kind of secret a URL can carry.
pub(crate) fn secret_url(server: &MockServer) -> String {
    let address = server.address();
    format!("http://{HOOK_USER}:{HOOK_PASSWORD}@{address}{HOOK_PATH}?{HOOK_QUERY}")
}

/// Everything canary wrote: stdout, stderr, the --output files, the step summary, the state dir.
pub(crate) struct Written {
    pub(crate) output: Output,
    pub(crate) everything: String,
}

pub(crate) fn judge_with_webhook(dir: &Path, fixture: &str, webhook: &str, extra: &[&str]) -> Written {
    let json_file = dir.join("report.json");
    let markdown_file = dir.join("report.md");
    let junit_file = dir.join("junit.xml");
    let summary = dir.join("summary.md");
    let state = dir.join("state");
    let output = std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", "analyses/checkout.yaml", "--replay", &format!("fixtures/{fixture}.json")])
        .args(["--format", "json", "--rollback-webhook", webhook])
        .arg("--output")
        .arg(format!("json={}", json_file.display()))
        .arg("--output")
        .arg(format!("markdown={}", markdown_file.display()))
        .arg("--output")
        .arg(format!("junit={}", junit_file.display()))
        .arg("--state-dir")
        .arg(&state)
        .args(extra)
        .env("CANARY_ROLLBACK_SECRET", HMAC_SECRET)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("CANARY_PING_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = finish_or_kill(output);
    let everything = everything_written(&output, dir);
    Written { output, everything }
}

/// Waits for `child`; one still running after a minute hangs (on a FIFO, say): it is killed and
/// the test fails.
pub(crate) fn finish_or_kill(mut child: Child) -> Output {
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!("canary hangs; stderr: {}", stderr(&output));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// stdout, stderr and every file under `dir` (the outputs, the summary, the state directory).
pub(crate) fn everything_written(output: &Output, dir: &Path) -> String {
    let mut text = format!("{}\n{}\n", stdout(output), stderr(output));
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    text
}

pub(crate) fn assert_no_secret(text: &str) {
    for secret in [HMAC_SECRET, HOOK_USER, HOOK_PASSWORD, "slackpath-c3", "querysecret-d4", FLAG_TOKEN, FEATURE_SECRET]
    {
        assert!(!text.contains(secret), "`{secret}` leaked:\n{text}");
    }
}

pub(crate) fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(output)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_rollback_webhook_is_a_failed_delivery_and_nothing_reaches_the_other_host() {
    let (elsewhere, stolen) = Recorder::start(None).await;
    for status in [301, 302, 303, 307, 308] {
        let location = format!("{}/collect?{HOOK_QUERY}", elsewhere.uri());
        let (hook, hook_recorder) =
            Recorder::start(Some(ResponseTemplate::new(status).insert_header("Location", location.as_str()))).await;
        let dir = TempDir::new(&format!("hostile-redirect-{status}"));
        let dir_path = dir.file("placeholder", "").parent().unwrap().to_path_buf();
        let run = judge_with_webhook(&dir_path, "latency-regression", &secret_url(&hook), &[]);
        assert_eq!(run.output.status.code(), Some(1), "HTTP {status}: {}", stderr(&run.output));
        assert_eq!(hook_recorder.count(), 1, "HTTP {status}: one attempt, no retry of a redirect");
        assert_eq!(stolen.count(), 0, "HTTP {status}: the redirect was followed: {:?}", stolen.seen());
        assert!(!hook_recorder.seen()[0].body.is_empty(), "the report was posted");
        let printed = report(&run.output);
        assert_eq!(printed["rollback"]["delivered"], false, "HTTP {status}");
        assert_eq!(printed["rollback"]["status"], status);
        let error = printed["rollback"]["error"].as_str().unwrap();
        assert!(error.contains(&format!("redirect ({status})")), "{error}");
        assert!(error.contains(&format!("{}/…", elsewhere.uri())), "names the new location, redacted: {error}");
        assert!(stderr(&run.output).contains("was NOT delivered"), "{}", stderr(&run.output));
        // The watchdog state records a failed delivery, so the next run calls it again.
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir_path.join("state/checkout.state.json")).unwrap())
                .unwrap();
        let entry = state["canaries"].as_object().unwrap().values().next().unwrap().clone();
        assert_eq!(entry["rollback"]["delivered"], false, "HTTP {status}: {entry}");
        assert_no_secret(&run.everything);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_to_https_redirect_says_which_url_to_set() {
    let address = {
        let (hook, _) = Recorder::start(None).await;
        hook.address().to_string()
    };
    let location = format!("https://{address}{HOOK_PATH}?{HOOK_QUERY}");
    let (hook, _) =
        Recorder::start(Some(ResponseTemplate::new(301).insert_header("Location", location.as_str()))).await;
    let dir = TempDir::new("hostile-https-redirect");
    let dir_path = dir.file("placeholder", "").parent().unwrap().to_path_buf();
    let run = judge_with_webhook(&dir_path, "latency-regression", &secret_url(&hook), &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", stderr(&run.output));
    let error = report(&run.output)["rollback"]["error"].as_str().unwrap().to_string();
    assert!(error.contains("https://"), "{error}");
    assert!(error.contains("set the rollback webhook URL"), "{error}");
    assert_no_secret(&run.everything);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_secrets_and_hostile_bodies_never_reach_the_output() {
    let reflecting = |status: u16, body: Vec<u8>| ResponseTemplate::new(status).set_body_bytes(body);
    let mut reflected = format!(
        "\x1b]8;;http://evil\x07\x1b[31m{HOOK_PATH}?{HOOK_QUERY} {HOOK_USER}:{HOOK_PASSWORD} {HMAC_SECRET}\x1b[0m "
    )
    .into_bytes();
    reflected.extend(std::iter::repeat_n(b'A', 3_000_000));
    let binary: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    for (name, answer) in [
        ("reflected-400", reflecting(400, reflected.clone())),
        ("reflected-500", reflecting(500, reflected.clone())),
        ("binary-403", reflecting(403, binary)),
        ("slow-body-404", reflecting(404, reflected).set_delay(std::time::Duration::from_millis(300))),
    ] {
        let (hook, _) = Recorder::start(Some(answer)).await;
        let dir = TempDir::new(&format!("hostile-{name}"));
        let dir_path = dir.file("placeholder", "").parent().unwrap().to_path_buf();
        let run = judge_with_webhook(&dir_path, "latency-regression", &secret_url(&hook), &[]);
        assert_eq!(run.output.status.code(), Some(1), "{name}: {}", stderr(&run.output));
        let printed = report(&run.output);
        assert_eq!(printed["rollback"]["delivered"], false, "{name}");
        assert_no_secret(&run.everything);
        let err = stderr(&run.output);
        assert!(!err.contains('\x1b') && err.len() < 20_000, "{name}: stderr is capped and clean: {}", err.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_feature_action_is_not_delivered_and_its_secret_headers_stay_home() {
    let (elsewhere, stolen) = Recorder::start(None).await;
    let (rollback, deployer) = Recorder::start(None).await;
    for status in [301, 302, 303, 307, 308] {
        let location = format!("{}/steal", elsewhere.uri());
        let (flags, flag_service) =
            Recorder::start(Some(ResponseTemplate::new(status).insert_header("Location", location.as_str()))).await;
        let dir = TempDir::new(&format!("hostile-feature-{status}"));
        let dir_path = dir.file("placeholder", "").parent().unwrap().to_path_buf();
        let summary = dir_path.join("summary.md");
        let output = std::process::Command::new(canary_bin())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["judge", "analyses/grocery-features.yaml", "--replay", "fixtures/grocery-organic-regression.json"])
            .args(["--format", "json", "--var", &format!("unleash={}", flags.uri())])
            .args(["--rollback-webhook", &rollback.uri()])
            .arg("--output")
            .arg(format!("json={}", dir_path.join("report.json").display()))
            .arg("--state-dir")
            .arg(dir_path.join("state"))
            .env("UNLEASH_ADMIN_TOKEN", FLAG_TOKEN)
            .env("CANARY_FEATURE_SECRET", FEATURE_SECRET)
            .env("CANARY_ROLLBACK_SECRET", HMAC_SECRET)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "HTTP {status}: not feature_off: {}", stderr(&output));
        let sent = flag_service.seen();
        assert_eq!(sent.len(), 1, "HTTP {status}");
        assert!(sent[0].request_line.starts_with("POST /api/admin/"), "{:?}", sent[0]);
        assert!(sent[0].headers.contains(FLAG_TOKEN), "the flag service itself gets the token");
        assert_eq!(stolen.count(), 0, "HTTP {status}: the action followed the redirect: {:?}", stolen.seen());
        let printed = report(&output);
        assert_eq!(printed["verdict"], "fail");
        let organic =
            printed["features"].as_array().unwrap().iter().find(|f| f["feature"] == "organic-search").unwrap();
        assert_eq!(organic["action"]["delivered"], false);
        assert!(organic["action"]["error"].as_str().unwrap().contains("set the action's `url`"), "{organic}");
        assert_no_secret(&everything_written(&output, &dir_path));
    }
    assert_eq!(deployer.count(), 5, "each run rolls the deployment back instead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_redirected_to_another_host_is_not_followed_and_sends_no_referer() {
    let (elsewhere, stolen) = Recorder::start(None).await;
    let location = format!("{}/collect", elsewhere.uri());
    let (ping, pinged) =
        Recorder::start(Some(ResponseTemplate::new(302).insert_header("Location", location.as_str()))).await;
    let dir = TempDir::new("hostile-ping");
    let dir_path = dir.file("placeholder", "").parent().unwrap().to_path_buf();
    let ping_url = format!("http://{}{HOOK_PATH}?{HOOK_QUERY}", ping.address());
    let run = judge_with_webhook(&dir_path, "healthy", &secret_url(&ping), &["--ping-url", &ping_url]);
    assert_eq!(run.output.status.code(), Some(0), "{}", stderr(&run.output));
    assert_eq!(pinged.count(), 1);
    assert_eq!(stolen.count(), 0, "the ping followed a redirect to another host: {:?}", stolen.seen());
    assert!(stderr(&run.output).contains("heartbeat ping"), "a failed ping is a warning: {}", stderr(&run.output));
    assert_no_secret(&run.everything);
}
