//! Samples that reach the source late are seen by the next run: a mock Prometheus (a real one
//! cannot hold a sample back on demand) whose samples arrive four minutes after their time. The
//! canary's errors rise 20× from 10:23 (beyond its 2% error budget); the cron watchdog's first
//! run (to 10:26) reads those minutes as 0 and passes, its second run (to 10:30, from its state)
//! asks again for the last five minutes it knows, sees the errors that arrived meanwhile, says
//! so, and fails (before the overlap, it asked only for 10:27 to 10:30, none of them there yet,
//! and passed).

use crate::support::{TempDir, canary_bin, form_pairs, stderr, stdout};
use serde_json::Value;
use std::process::Output;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ANALYSIS: &str = "tests/data/late/errors.yaml";
const T0: i64 = 1_795_168_800; // 2026-11-20T10:00:00Z
/// How long after its time a count reaches the source.
const LAG: i64 = 240;
/// When the canary's errors rise, and to how many a minute (of 1,000 requests).
const REGRESSION_FROM: i64 = T0 + 23 * 60;
const REGRESSION: f64 = 200.0;

/// Per-minute request and error counts of both sides; a count within `LAG` of the request's end
/// has not arrived yet (remote-write lag) and reads as 0 (an `increase()` over samples not there).
struct LateErrors {
    regression_from: i64,
    regression: f64,
}

impl Respond for LateErrors {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form = form_pairs(&request.body);
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
        let number = |name: &str| field(name).parse::<i64>().unwrap();
        let (start, end, step, query) = (number("start"), number("end"), number("step"), field("query"));
        let canary = query.contains("checkout-canary");
        let errors = query.contains("code=\"500\"");
        let value = |t: i64| match (errors, canary) {
            _ if t > end - LAG => 0.0,
            (false, _) => 1000.0,
            (true, true) if t >= self.regression_from => self.regression,
            (true, true) => 10.0 + ((t / 60 + 1) % 3) as f64,
            (true, false) => 10.0 + ((t / 60) % 3) as f64,
        };
        let values: Vec<String> =
            (start..=end).step_by(step as usize).map(|t| format!("[{t},\"{}\"]", value(t))).collect();
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
            values.join(",")
        );
        ResponseTemplate::new(200).set_body_raw(body, "application/json")
    }
}

fn judge(url: &str, end: &str, state: &str) -> (Output, Value) {
    let output = std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", ANALYSIS, "--source-url", url, "--start", "2026-11-20T10:00:00Z", "--end", end])
        .args(["--state-dir", state, "--format", "json"])
        .env_remove("CANARY_SOURCE_TOKEN")
        .output()
        .unwrap();
    let report = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("no report ({e}): {}\n{}", stdout(&output), stderr(&output)));
    (output, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_that_arrive_late_fail_the_next_watchdog_run() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/query_range"))
        .respond_with(LateErrors { regression_from: REGRESSION_FROM, regression: REGRESSION })
        .mount(&server)
        .await;
    let dir = TempDir::new("late-samples");
    let state = dir.path().join("state").display().to_string();
    let (first, report) = judge(&server.uri(), "2026-11-20T10:26:00Z", &state);
    assert_eq!(first.status.code(), Some(0), "the errors from 10:23 on are not there yet: {report}");
    assert!(!stderr(&first).contains("asked for again"), "{}", stderr(&first));
    let (second, report) = judge(&server.uri(), "2026-11-20T10:30:00Z", &state);
    assert_eq!(second.status.code(), Some(1), "{report}\n{}", stderr(&second));
    assert_eq!(report["verdict"], "fail");
    // The last five minutes known (10:22 to 10:26) were asked for again, with the four new ones.
    assert_eq!(report["watchdog"]["fetched_from"], "2026-11-20T10:22:00Z");
    assert_eq!(report["watchdog"]["fetched_points"], 4 * 9);
    // 10:23 to 10:26 arrived meanwhile: both queries of each side, 4 points each.
    let note = stderr(&second);
    for side in ["baseline", "canary"] {
        let line = format!(
            "canary: note: metric `error_rate` ({side}): 8 point(s) already fetched changed when asked for again (late samples); judged with the new answer"
        );
        assert!(note.contains(&line), "{note}");
    }
}

/// `canary watch` with a look every 5 minutes, over a canary whose errors rise 5× from 10:13:
/// each look reads the last 4 minutes as 0, and only asking them again at the next look lets the
/// watch see the rise (before the overlap, 4 minutes in 5 stayed 0 for good, a 1.7% error rate
/// within the budget, and the watch passed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_fails_a_canary_whose_errors_arrive_late() {
    let server = MockServer::start().await;
    let late = LateErrors { regression_from: T0 + 13 * 60, regression: 50.0 };
    Mock::given(method("POST")).and(path("/api/v1/query_range")).respond_with(late).mount(&server).await;
    let output = std::process::Command::new(canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["watch", ANALYSIS, "--source-url", &server.uri(), "--now", "2026-11-20T10:00:00Z"])
        .args(["--lifetime", "30m", "--interval", "5m"])
        .env_remove("CANARY_SOURCE_TOKEN")
        .output()
        .unwrap();
    let note = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{}\n{note}", stdout(&output));
    assert!(note.contains("metric `error_rate` (canary): 8 point(s) already fetched changed"), "{note}");
}
