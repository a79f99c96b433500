//! `canary judge --replay` end to end on the recorded scenarios in `fixtures/`: verdicts and exit
//! codes, the JSON report against `canary schema report`, JUnit and Markdown outputs, bad input.

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::Value;

const ANALYSIS: &str = "analyses/checkout.yaml";

fn judge(fixture: &str, extra: &[&str]) -> std::process::Output {
    let replay = format!("fixtures/{fixture}.json");
    let mut args = vec!["judge", ANALYSIS, "--replay", replay.as_str()];
    args.extend_from_slice(extra);
    run(&args, None)
}

fn report_schema() -> Value {
    let out = run(&["schema", "report"], None);
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn every_fixture_gets_its_verdict_and_exit_code() {
    let validator = jsonschema::validator_for(&report_schema()).expect("the report schema compiles");
    for (fixture, code, verdict) in [
        ("healthy", 0, "pass"),
        ("latency-regression", 1, "fail"),
        ("error-spike-low-traffic", 1, "fail"),
        ("conversion-drop", 1, "fail"),
        ("improvement", 0, "pass"),
        ("no-canary-traffic", 3, "inconclusive"),
    ] {
        let out = judge(fixture, &["--format", "json"]);
        assert_eq!(out.status.code(), Some(code), "{fixture}: {}\n{}", stdout(&out), stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(report["verdict"], verdict, "{fixture}: {}", report["reason"]);
        let errors: Vec<String> =
            validator.iter_errors(&report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{fixture}: report does not match its schema: {errors:?}");
    }
}

#[test]
fn the_regressions_name_the_metric_that_failed() {
    for (fixture, metric, classification) in [
        ("latency-regression", "p99_latency", "fail_high"),
        ("error-spike-low-traffic", "error_rate", "fail_high"),
        ("conversion-drop", "conversion", "fail_low"),
    ] {
        let report: Value = serde_json::from_str(&stdout(&judge(fixture, &["--format", "json"]))).unwrap();
        let metrics = report["metrics"].as_array().unwrap();
        let judged = metrics.iter().find(|m| m["name"] == metric).unwrap();
        assert_eq!(judged["classification"], classification, "{fixture}: {}", judged["reason"]);
        for other in metrics.iter().filter(|m| m["name"] != metric) {
            assert!(
                !other["classification"].as_str().unwrap().starts_with("fail"),
                "{fixture}: {} failed: {}",
                other["name"],
                other["reason"]
            );
        }
    }
}

#[test]
fn readme_command_prints_the_table_and_exits_1() {
    let out = judge("latency-regression", &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("p99_latency") && text.contains("FAIL"), "{text}");
}

#[test]
fn several_outputs_at_once_and_the_github_step_summary() {
    let dir = TempDir::new("outputs");
    let json = dir.file("report.json", "");
    let junit = dir.file("junit.xml", "");
    let summary = dir.file("summary.md", "# earlier step\n");
    let out = std::process::Command::new(crate::support::canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", ANALYSIS, "--replay", "fixtures/latency-regression.json", "--format", "markdown"])
        .arg("--output")
        .arg(format!("json={}", json.display()))
        .arg("--output")
        .arg(format!("junit={}", junit.display()))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("p99\\_latency"), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "fail");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (0, 0);
    loop {
        match reader.read_event().expect("JUnit is well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => match e.name().as_ref() {
                "testcase" => cases += 1,
                "failure" => failures += 1,
                _ => {}
            },
            _ => {}
        }
    }
    assert_eq!((cases, failures), (3, 1), "{xml}");
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(markdown.starts_with("# earlier step\n") && markdown.contains("p99\\_latency"), "{markdown}");
}

#[test]
fn exit_codes_for_bad_input_name_the_problem() {
    let dir = TempDir::new("bad-analysis");
    let text = std::fs::read_to_string(ANALYSIS).unwrap().replacen("direction:", "directon:", 1);
    let bad = dir.file("bad.yaml", &text);
    let out = run(&["judge", bad.to_str().unwrap(), "--replay", "fixtures/healthy.json"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.yaml:") && err.contains("unknown field `directon`, did you mean `direction`?"), "{err}");

    // Without --replay the analysis's source is queried: an unreachable one cannot judge.
    let out = std::process::Command::new(crate::support::canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", ANALYSIS, "--source-url", "http://127.0.0.1:1", "--retries", "0"])
        .env("PROMETHEUS_TOKEN", "not-a-real-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not-a-real-token"));
    assert!(stderr(&out).contains("cannot query http://127.0.0.1:1/…"), "{}", stderr(&out));
    // The analysis names the token's variable; unset, that is a configuration error.
    let out = run(&["judge", ANALYSIS, "--source-url", "http://127.0.0.1:1"], None);
    assert_eq!(out.status.code(), Some(2));
    // The message says how to set it, and how to run against a Prometheus without authentication.
    let err = stderr(&out);
    assert!(
        err.contains("$PROMETHEUS_TOKEN (source.token_env), but it is not set: export PROMETHEUS_TOKEN=..."),
        "{err}"
    );
    assert!(err.contains("for a Prometheus without authentication") && err.contains("remove `token_env`"), "{err}");

    let out = run(&["judge", ANALYSIS, "--replay", "fixtures/missing.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("fixtures/missing.json"), "{}", stderr(&out));

    let broken = dir.file("broken.json", "{\"format\": \"canary-recording\", \"version\": 1,\n \"analysis\": 3}");
    let out = run(&["judge", ANALYSIS, "--replay", broken.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("broken.json:2:"), "{}", stderr(&out));
}

#[test]
fn validate_renders_every_query_and_catches_undefined_variables() {
    let out = run(&["validate", ANALYSIS, "--var", "canary=checkout-7f9c"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("valid analysis") && text.contains("deployment=\"checkout-7f9c\""), "{text}");

    let dir = TempDir::new("undefined");
    let text = std::fs::read_to_string(ANALYSIS).unwrap().replacen("{{ selector }}, code", "{{ selectr }}, code", 1);
    let bad = dir.file("undefined.yaml", &text);
    let out = run(&["validate", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("undefined variable `selectr`"), "{}", stderr(&out));
}

#[test]
fn schema_prints_all_documents() {
    let out = run(&["schema"], None);
    let all: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in ["report", "recording", "compare"] {
        assert!(all[key]["properties"].is_object(), "{key}");
    }
    // Every fixture is a valid recording.
    let validator = jsonschema::validator_for(&all["recording"]).unwrap();
    for entry in std::fs::read_dir("fixtures").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let recording: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert!(validator.is_valid(&recording), "{}", path.display());
        }
    }
}

#[test]
fn watch_stops_at_the_first_fail_and_spends_alpha_over_the_looks() {
    let args = ["watch", ANALYSIS, "--replay", "fixtures/latency-regression.json", "--lifetime", "30m"];
    let out = run(&[&args[..], &["--interval", "5m", "--looks", "fixed", "--format", "json"]].concat(), None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let events: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events[0]["event"], "start");
    let planned: Vec<f64> =
        events[0]["looks"].as_array().unwrap().iter().map(|l| l["alpha"].as_f64().unwrap()).collect();
    assert_eq!(planned.len(), 5);
    assert!((planned.iter().sum::<f64>() - 0.01).abs() < 1e-12, "{planned:?}");
    let looks: Vec<&Value> = events.iter().filter(|e| e["event"] == "look").collect();
    assert!(looks.len() < 5, "stops early");
    assert_eq!(looks.last().unwrap()["verdict"], "fail");
    // Later looks fetch only the new points.
    let fetched: Vec<u64> = looks.iter().map(|l| l["points_fetched"].as_u64().unwrap()).collect();
    assert!(fetched.windows(2).all(|w| w[1] > w[0]), "{fetched:?}");
    let last = events.last().unwrap();
    assert_eq!((last["event"].as_str(), last["verdict"].as_str()), (Some("final"), Some("fail")));

    let healthy = run(
        &[
            "watch",
            ANALYSIS,
            "--replay",
            "fixtures/healthy.json",
            "--lifetime",
            "30m",
            "--interval",
            "5m",
            "--looks",
            "fixed",
        ],
        None,
    );
    assert_eq!(healthy.status.code(), Some(0), "{}", stdout(&healthy));
    assert!(stdout(&healthy).contains("final verdict: PASS"), "{}", stdout(&healthy));
}

/// A recording of 30 one-minute points per side: the canary's p99 rises by half from minute
/// `burst.0` to `burst.1` (inclusive) and is like the baseline otherwise.
fn burst_recording(dir: &TempDir, burst: (i64, i64)) -> std::path::PathBuf {
    burst_recording_at(dir, 1_795_168_800, burst) // 2026-11-20T10:00:00Z
}

/// Like [`burst_recording`] for the 30 minutes after `start`.
fn burst_recording_at(dir: &TempDir, start: i64, burst: (i64, i64)) -> std::path::PathBuf {
    let wiggle = |i: i64| ((i as f64 * 2.4).sin() + (i as f64 * 0.7).cos()) / 2.0;
    let points = |canary: bool| -> Vec<Value> {
        (1..=30)
            .map(|i| {
                let base = 0.25 + 0.005 * wiggle(i + if canary { 3 } else { 0 });
                let value = if canary && (burst.0..=burst.1).contains(&i) { base * 1.5 } else { base };
                serde_json::json!([start + 60 * i, value])
            })
            .collect()
    };
    let side = |name: &str, canary: bool| {
        serde_json::json!({"queries": {"value": {"query": format!("p99_latency{{ side=\"{name}\" }}"),
            "series": [{"labels": {}, "points": points(canary)}]}}})
    };
    let recording = serde_json::json!({
        "format": "canary-recording", "version": 1, "analysis": "latency-burst",
        "source": {"kind": "synthetic"},
        "window": {"start": iso(start), "end": iso(start + 1800), "step_seconds": 60},
        "metrics": {"p99_latency": {"baseline": side("baseline", false), "canary": side("canary", true)}},
    });
    dir.file(&format!("burst-{start}-{}-{}.json", burst.0, burst.1), &recording.to_string())
}

fn iso(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).unwrap().to_string()
}

#[test]
fn the_watchdog_carries_a_breach_stretch_into_its_next_run() {
    let dir = TempDir::new("carry");
    let state = dir.file("placeholder", "");
    let state_dir = state.parent().unwrap().join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    // Run 1 ends with 3 bad minutes (10:28–10:30); run 2, the next half hour, starts with 3 more.
    let first = burst_recording_at(&dir, 1_795_168_800, (28, 30));
    let second = burst_recording_at(&dir, 1_795_168_800 + 1800, (1, 3));
    let judge = |recording: &std::path::Path, with_state: bool| {
        let mut args = vec![
            "judge".to_string(),
            "tests/data/sustained/latency-burst.yaml".into(),
            "--replay".into(),
            recording.display().to_string(),
            "--format".into(),
            "json".into(),
        ];
        if with_state {
            args.extend(["--state-dir".into(), state_dir.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, None)
    };
    // Alone, neither half hour holds 5 bad minutes.
    assert_eq!(judge(&first, false).status.code(), Some(0));
    assert_eq!(judge(&second, false).status.code(), Some(0));
    // As two watchdog runs, the stretch continues across them: 6 minutes, 10:28 to 10:33.
    assert_eq!(judge(&first, true).status.code(), Some(0));
    let out = judge(&second, true);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let stretch = &report["metrics"][0]["tests"].as_array().unwrap().iter().find(|t| t["test"] == "sustained").unwrap()
        ["sustained"]["stretch"];
    assert_eq!(stretch["duration_seconds"], 360, "{stretch}");
}

#[test]
fn watch_fires_a_sustained_breach_whose_stretch_spans_two_looks() {
    let dir = TempDir::new("burst");
    // Minutes 8 to 14: at the look of minute 10 the stretch is 3 minutes long (no fire), at the
    // look of minute 15 it is 7 minutes long and fires, although the whole window's shift passes.
    let recording = burst_recording(&dir, (8, 14));
    let args = [
        "watch",
        "tests/data/sustained/latency-burst.yaml",
        "--replay",
        recording.to_str().unwrap(),
        "--lifetime",
        "30m",
        "--interval",
        "5m",
        "--looks",
        "fixed",
        "--format",
        "json",
    ];
    let out = run(&args, None);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let events: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let looks: Vec<&Value> = events.iter().filter(|e| e["event"] == "look").collect();
    assert_eq!(looks.len(), 3, "fired at the third look (minute 15)");
    // At minute 10 the burst is 3 of 10 points in a row: serially dependent, so the shift test's
    // interval is widened and the look may be inconclusive; it must not fire.
    assert_ne!(looks[1]["verdict"], "fail", "{}", looks[1]);
    let reason = looks[2]["metrics"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("10:08") || reason.contains("7m"), "{reason}");

    // A single bad minute never fires.
    let spike = burst_recording(&dir, (12, 12));
    let out = run(&["judge", "tests/data/sustained/latency-burst.yaml", "--replay", spike.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn credentials_are_refused_in_flags_and_urls_and_never_echoed() {
    let out = run(&["judge", ANALYSIS, "--header", "Authorization: Bearer s3cr3t-flag"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--header Authorization") && !stderr(&out).contains("s3cr3t-flag"),
        "{}",
        stderr(&out)
    );
    let out = std::process::Command::new(crate::support::canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", ANALYSIS, "--source-url", "http://user:s3cr3t-url@127.0.0.1:1/prom?token=s3cr3t-query"])
        .env("PROMETHEUS_TOKEN", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("must not contain credentials") && !err.contains("s3cr3t"), "{err}");
}

#[test]
fn an_output_file_that_cannot_be_written_cannot_judge() {
    let out = judge("latency-regression", &["--output", "json=/nonexistent-dir/report.json"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("cannot write /nonexistent-dir/report.json"), "{}", stderr(&out));
}

#[test]
fn watch_calls_the_webhook_on_an_inconclusive_end_only_when_asked() {
    let base =
        ["watch", ANALYSIS, "--replay", "fixtures/no-canary-traffic.json", "--lifetime", "30m", "--interval", "10m"];
    let hook = ["--rollback-webhook", "http://127.0.0.1:9/hook", "--dry-run"];
    let quiet = run(&[&base[..], &hook[..]].concat(), None);
    assert_eq!(quiet.status.code(), Some(3));
    assert!(!stderr(&quiet).contains("would send"), "{}", stderr(&quiet));
    let asked = run(&[&base[..], &hook[..], &["--rollback-on-inconclusive"]].concat(), None);
    assert_eq!(asked.status.code(), Some(3));
    assert!(stderr(&asked).contains("would send the rollback webhook"), "{}", stderr(&asked));
}
