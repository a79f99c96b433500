//! The cron watchdog as one continuous monitor (`canary judge --state-dir DIR --looks
//! sequential`) and its incremental fetch: runs over a growing recording and against the real
//! Prometheus of `servers.rs` carry one always-valid sequence, fail at the same minute as `canary
//! watch --looks sequential`, call the rollback webhook once, fetch only the new minutes; a changed
//! analysis, a gap, a new start or a tampered state starts a new sequence, and the report says why.

use crate::servers::{self, Server};
use crate::support::{TempDir, canary_bin, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ANALYSIS: &str = "tests/data/sequential/errors.yaml";
const LIVE: &str = "tests/data/live/checkout-live.yaml";
const START: i64 = 1_795_168_800; // 2026-11-20T10:00:00Z

fn explain(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

fn time(t: i64) -> String {
    jiff::Timestamp::from_second(t).unwrap().to_string()
}

/// A recording of `minutes` one-minute intervals from `start`: 300 requests a minute per side,
/// errors at 0.4% on the baseline and `factor` times that on the canary, with a small wiggle.
fn recording(dir: &TempDir, name: &str, start: i64, minutes: i64, factor: f64) -> PathBuf {
    let wiggle = |i: i64, shift: i64| 1.0 + 0.1 * ((i + shift) as f64 * 2.4).sin();
    let side = |canary: bool| {
        let (mut numerator, mut denominator) = (Vec::new(), Vec::new());
        for i in 1..=minutes {
            let f = if canary { factor } else { 1.0 };
            let errors = (300.0 * 0.004 * f * wiggle(i, if canary { 3 } else { 0 })).round();
            numerator.push(serde_json::json!([start + 60 * i, errors]));
            denominator.push(serde_json::json!([start + 60 * i, 300.0]));
        }
        let selector = if canary { "canary" } else { "baseline" };
        let query = |code: &str| format!("sum(increase(http_requests_total{{ deployment=\"{selector}\"{code} }}[1m]))");
        serde_json::json!({"queries": {
            "numerator": {"query": query(", code=~\"5..\""), "series": [{"labels": {}, "points": numerator}]},
            "denominator": {"query": query(""), "series": [{"labels": {}, "points": denominator}]},
        }})
    };
    let recording = serde_json::json!({
        "format": "canary-recording", "version": 1, "analysis": "sequential-errors",
        "source": {"kind": "synthetic"},
        "window": {"start": time(start), "end": time(start + 60 * minutes), "step_seconds": 60},
        "metrics": {"error_rate": {"baseline": side(false), "canary": side(true)}},
    });
    dir.file(name, &recording.to_string())
}

fn canary(args: &[&str]) -> Output {
    Command::new(canary_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("CANARY_ROLLBACK_WEBHOOK")
        .env_remove("CANARY_STATE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("canary runs")
}

/// One sequential watchdog run over a recording; its exit code and JSON report.
fn run(analysis: &str, replay: &Path, state: &Path, extra: &[&str]) -> (Output, Value) {
    let (replay, state) = (replay.display().to_string(), state.display().to_string());
    let args = [
        &["judge", analysis, "--replay", &replay, "--state-dir", &state, "--looks", "sequential"][..],
        &["--format", "json"],
        extra,
    ]
    .concat();
    let output = canary(&args);
    let report =
        serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("no report ({e}): {}", explain(&output)));
    (output, report)
}

fn sequence(report: &Value) -> &Value {
    &report["watchdog"]["sequences"][0]
}

/// A 3× error rate: `canary watch --looks sequential` fails at minute 15. Watchdog runs minute
/// by minute over the growing recording carry one sequence (each run holds every interval since
/// the sequence's start), fail at the same minute with the same sequence,
/// and call the rollback webhook once however many runs follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_carry_one_sequence_and_fail_at_the_same_minute_as_watch() {
    let dir = TempDir::new("sequential-watchdog-carry");
    let full = recording(&dir, "full.json", START, 60, 3.0);
    let watch = canary(&[
        "watch",
        ANALYSIS,
        "--replay",
        &full.display().to_string(),
        "--lifetime",
        "60m",
        "--looks",
        "sequential",
        "--interval",
        "1m",
        "--format",
        "json",
    ]);
    assert_eq!(watch.status.code(), Some(1), "{}", explain(&watch));
    let looks: Vec<Value> = crate::support::watch_events(&watch).into_iter().filter(|e| e["event"] == "look").collect();
    let failing = looks.last().unwrap();
    assert_eq!(failing["verdict"], "fail");
    let fail_end = failing["window"]["end"].as_str().unwrap().to_string();

    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let webhook = format!("{}/rollback", receiver.uri());
    let state = dir.path().join("state");
    let mut failed_at = None;
    for minutes in 5..=20 {
        let replay = recording(&dir, "growing.json", START, minutes, 3.0);
        let (output, report) = run(ANALYSIS, &replay, &state, &["--rollback-webhook", &webhook]);
        let watchdog = &report["watchdog"];
        assert_eq!(watchdog["looks"], "sequential");
        assert_eq!(watchdog["since"], time(START), "{}", explain(&output));
        assert_eq!(watchdog["runs"], minutes - 4, "{}", explain(&output));
        assert_eq!(watchdog["new_sequence"], minutes == 5);
        assert_eq!(sequence(&report)["intervals"], minutes, "every interval since the start: {}", explain(&output));
        // A recording is read whole on every run (the live tests below fetch only new minutes).
        assert_eq!(watchdog["fetched_points"], 4 * minutes, "{}", explain(&output));
        if output.status.code() == Some(1) && failed_at.is_none() {
            failed_at = Some(minutes);
            assert_eq!(report["window"]["end"], fail_end.as_str(), "the same minute as watch: {}", explain(&output));
            let watch_sequence = &failing["sequences"][0];
            for field in ["intervals", "estimate", "low", "high", "p_value", "decision"] {
                assert_eq!(sequence(&report)[field], watch_sequence[field], "{field}: {}", explain(&output));
            }
            assert_eq!(report["rollback"]["delivered"], true, "{}", explain(&output));
        } else if failed_at.is_none() {
            assert_ne!(output.status.code(), Some(0), "no pass before the crossing: {}", explain(&output));
        } else {
            assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
            assert!(stderr(&output).contains("already rolled back"), "{}", explain(&output));
        }
    }
    assert!(failed_at.is_some_and(|m| m < 20), "never failed");
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1, "the rollback webhook is called once");
}

/// The carried sequence's entry in the state file.
fn carried(state: &Path) -> (PathBuf, Value) {
    let path = state.join("sequential-errors.state.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entry = file["canaries"].as_object().unwrap().values().next().unwrap().clone();
    (path, entry)
}

fn restart(report: &Value) -> String {
    assert_eq!(report["watchdog"]["new_sequence"], true, "{report}");
    let findings = report["metrics"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "new_sequence"), "a finding says so: {findings:?}");
    report["watchdog"]["restart_reason"].as_str().expect("a reason").to_string()
}

/// A changed analysis, a gap longer than the bound and a new start each start a new sequence,
/// with the reason in the report (a finding and `watchdog.restart_reason`) and on stderr.
#[test]
fn a_changed_analysis_a_gap_or_a_new_start_starts_a_new_sequence() {
    let dir = TempDir::new("sequential-watchdog-restart");
    let state = dir.path().join("state");
    for minutes in [10, 11] {
        let (_, report) = run(ANALYSIS, &recording(&dir, "r.json", START, minutes, 1.0), &state, &[]);
        assert_eq!(report["watchdog"]["runs"], minutes - 9);
    }
    let original = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(ANALYSIS)).unwrap();
    let changed = dir.file("changed.yaml", &original.replace("margin: 20%", "margin: 30%"));
    let changed = changed.display().to_string();
    let (output, report) = run(&changed, &recording(&dir, "r.json", START, 12, 1.0), &state, &[]);
    assert!(restart(&report).contains("the analysis changed"), "{}", explain(&output));
    assert!(stderr(&output).contains("a new always-valid sequence starts at this run"), "{}", explain(&output));
    let (_, report) = run(&changed, &recording(&dir, "r.json", START, 13, 1.0), &state, &[]);
    assert_eq!(
        (report["watchdog"]["runs"].as_u64(), report["watchdog"]["new_sequence"].as_bool()),
        (Some(2), Some(false))
    );
    // 37 minutes without a run: longer than the bound of 30 minutes.
    let (output, report) = run(&changed, &recording(&dir, "r.json", START, 50, 1.0), &state, &[]);
    assert!(restart(&report).contains("no run for 37m"), "{}", explain(&output));
    // A recording (a deployment) that starts later: the window's start changed.
    let (output, report) = run(&changed, &recording(&dir, "r.json", START + 3600, 20, 1.0), &state, &[]);
    assert!(restart(&report).contains("the window's start changed"), "{}", explain(&output));
    assert_eq!(report["watchdog"]["since"], time(START + 3600));
}

/// The always-valid tests are the default judge's: `--looks sequential` with the Kayenta-compatible
/// judge is a usage error, and `--looks` without `--state-dir` too.
#[test]
fn sequential_looks_need_the_default_judge_and_a_state_dir() {
    let dir = TempDir::new("sequential-watchdog-usage");
    let replay = recording(&dir, "r.json", START, 10, 1.0);
    let state = dir.path().join("state");
    let (replay, state) = (replay.display().to_string(), state.display().to_string());
    let output = canary(&[
        "judge",
        ANALYSIS,
        "--replay",
        &replay,
        "--state-dir",
        &state,
        "--looks",
        "sequential",
        "--judge",
        "kayenta",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(stderr(&output).contains("cannot be combined with the Kayenta-compatible judge"), "{}", explain(&output));
    let output = canary(&["judge", ANALYSIS, "--replay", &replay, "--looks", "sequential"]);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(stderr(&output).contains("--state-dir"), "{}", explain(&output));
}

/// A state entry that is tampered with or corrupt is never continued: the run warns, starts a new
/// sequence on the data it fetches itself, and says why.
#[test]
fn a_tampered_or_corrupt_sequence_is_never_continued() {
    let dir = TempDir::new("sequential-watchdog-tampered");
    let state = dir.path().join("state");
    type Tamper = Box<dyn Fn(&mut Value)>;
    let tamperings: Vec<(&str, Tamper)> = vec![
        ("the count -5", Box::new(|c| c["queries"][0]["series"][0]["points"][0][1] = (-5.0).into())),
        ("out of order", Box::new(|c| c["queries"][0]["series"][0]["points"][1][0] = START.into())),
        ("in the future", Box::new(|c| c["end"] = 4_000_000_000i64.into())),
        ("written by canary 0.0.1", Box::new(|c| c["written_by"] = "0.0.1".into())),
        ("is not valid", Box::new(|c| c["queries"] = "garbage".into())),
        ("format", Box::new(|c| *c = "garbage".into())),
    ];
    for (index, (expected, tamper)) in tamperings.iter().enumerate() {
        let minutes = 16 + 2 * index as i64;
        run(ANALYSIS, &recording(&dir, "r.json", START, minutes, 3.0), &state, &[]);
        let (path, entry) = carried(&state);
        let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let key = file["canaries"].as_object().unwrap().keys().next().unwrap().clone();
        let mut sequence = entry["carried"].clone();
        tamper(&mut sequence);
        file["canaries"][&key]["carried"] = sequence;
        std::fs::write(&path, file.to_string()).unwrap();
        let (output, report) = run(ANALYSIS, &recording(&dir, "r.json", START, minutes + 1, 3.0), &state, &[]);
        let why = restart(&report);
        assert!(
            why.contains("the stored state cannot be used") && why.contains(expected),
            "{why}\n{}",
            explain(&output)
        );
        // Judged on the data this run fetched itself: the whole recording, the 3× error rate.
        assert_eq!(report["watchdog"]["fetched_points"], 4 * (minutes + 1), "{}", explain(&output));
        assert_ne!(output.status.code(), Some(0), "{}", explain(&output));
        assert_eq!(report["verdict"], "fail", "{}", explain(&output));
    }
}

/// `canary judge` against the real Prometheus with `--state-dir` (window mode) over windows that
/// move on by two minutes: the second run asks only for the two new minutes of each query, and
/// its judgment is the one a run without state makes over the same window.
#[test]
fn prometheus_a_moving_window_fetches_only_the_new_minutes_and_judges_as_a_fresh_run() {
    let server = servers::prometheus();
    let dir = TempDir::new("watchdog-incremental-live");
    let state = dir.path().join("state").display().to_string();
    let judge = |start: &str, end: &str, extra: &[&str]| {
        let args = [
            &["judge", LIVE, "--source-url", &server.url, "--start", start, "--end", end][..],
            &["--var", "canary=checkout-errors", "--format", "json"],
            extra,
        ]
        .concat();
        let output = canary(&args);
        let report: Value =
            serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("no report ({e}): {}", explain(&output)));
        (output, report)
    };
    let (first, report) = judge("2026-11-20T10:10:00Z", "2026-11-20T10:30:00Z", &["--state-dir", &state]);
    assert_eq!(report["watchdog"]["looks"], "window", "{}", explain(&first));
    // Ten queries (two count metrics of four, one gauge of two), 21 minutes each.
    assert_eq!(report["watchdog"]["fetched_points"], 210, "{}", explain(&first));
    let (second, carried) = judge("2026-11-20T10:12:00Z", "2026-11-20T10:32:00Z", &["--state-dir", &state]);
    let watchdog = &carried["watchdog"];
    assert_eq!(watchdog["fetched_queries"], 10, "{}", explain(&second));
    // The two new minutes, and the last 5 minutes known asked for again (late samples).
    assert_eq!(watchdog["fetched_points"], 20 + 10 * 5, "{}", explain(&second));
    assert_eq!(watchdog["fetched_from"], "2026-11-20T10:26:00Z", "{}", explain(&second));
    let (fresh_output, fresh) = judge("2026-11-20T10:12:00Z", "2026-11-20T10:32:00Z", &[]);
    assert_eq!(second.status.code(), fresh_output.status.code());
    assert_eq!(carried["metrics"], fresh["metrics"], "the judgment of a run without state");
    assert_eq!(carried["verdict"], fresh["verdict"]);
    assert_eq!(carried["window"], fresh["window"]);
}

/// The sequential watchdog against the real Prometheus, a run per minute from 10:06 on (each judging since 10:05), over the
/// canary with 8× the errors: it fails within a few runs, at the same minute and with the same
/// sequence as `canary watch --looks sequential` started at 10:05; each run fetches only the new
/// minute and the overlap of late samples; a new start (another deployment) starts a new sequence.
#[test]
fn prometheus_sequential_runs_fail_at_the_same_minute_as_watch() {
    let server: &Server = servers::prometheus();
    let dir = TempDir::new("sequential-watchdog-live");
    let state = dir.path().join("state").display().to_string();
    let base = ["--source-url", &server.url, "--var", "canary=checkout-errors", "--format", "json"];
    let watch = canary(
        &[
            &["watch", LIVE, "--looks", "sequential", "--now", "2026-11-20T10:05:00Z", "--lifetime", "35m"][..],
            &["--interval", "1m"],
            &base,
        ]
        .concat(),
    );
    let looks: Vec<Value> = crate::support::watch_events(&watch).into_iter().filter(|e| e["event"] == "look").collect();
    let failing = looks.last().unwrap();
    assert_eq!((watch.status.code(), failing["verdict"].as_str()), (Some(1), Some("fail")), "{}", explain(&watch));
    let mut failed = None;
    for minute in 6..=40 {
        let end = format!("2026-11-20T10:{minute:02}:00Z");
        let args = [
            &["judge", LIVE, "--start", "2026-11-20T10:05:00Z", "--end", &end, "--state-dir", &state][..],
            &["--looks", "sequential"],
            &base,
        ]
        .concat();
        let output = canary(&args);
        let report: Value =
            serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", explain(&output)));
        assert_eq!(report["watchdog"]["runs"], minute - 5, "{}", explain(&output));
        if minute > 6 {
            // The new minute, and the last (up to 5) minutes known asked for again.
            let overlap = (minute - 5).min(5);
            let from = format!("2026-11-20T10:{:02}:00Z", minute - overlap);
            assert_eq!(
                report["watchdog"]["fetched_from"],
                from,
                "the new minute and the overlap: {}",
                explain(&output)
            );
            assert_eq!(report["watchdog"]["fetched_points"], 10 * (1 + overlap), "{}", explain(&output));
        }
        if output.status.code() == Some(1) {
            failed = Some(minute);
            assert_eq!(report["window"]["end"], failing["window"]["end"], "{}", explain(&output));
            assert_eq!(report["watchdog"]["sequences"], failing["sequences"], "{}", explain(&output));
            break;
        }
    }
    assert!(failed.is_some_and(|m| m <= 20), "failed at {failed:?}");
    let args = [
        &["judge", LIVE, "--start", "2026-11-20T10:06:00Z", "--end", "2026-11-20T10:25:00Z", "--state-dir", &state][..],
        &["--looks", "sequential"],
        &base,
    ]
    .concat();
    let output = canary(&args);
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(restart(&report).contains("the window's start changed"), "{}", explain(&output));
}
