//! `canary watch` in real time and on recorded data: no look judges data it does not have, and
//! no look passes on evidence it does not have.
//!
//! * Replays: looks stop at the recording's end, and a recording shorter than the lifetime
//!   cannot pass; early looks (a tiny share of alpha) never pass on a regression, and a look whose
//!   tests were all skipped is not a pass.
//! * Live: small services in this process export real counters and a real histogram in the
//!   Prometheus text format, a real Prometheus scrapes them every second, and `canary watch`
//!   starts off the step's grid while they run (analysis: `tests/data/live/realtime.yaml`).

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::Value;

const ANALYSIS: &str = "analyses/checkout.yaml";
const REGRESSIONS: [&str; 3] = ["latency-regression", "error-spike-low-traffic", "conversion-drop"];

/// The JSON events of a `watch --format json` run.
fn events(output: &std::process::Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON event ({e}): {l}")))
        .collect()
}

fn looks(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "look").collect()
}

fn explain(output: &std::process::Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// `watch --replay` with a lifetime longer than the recording judged looks past its end on the
/// data it had and passed them.
#[test]
fn replay_stops_at_the_recordings_end_and_a_cut_lifetime_cannot_pass() {
    let out = run(
        &[
            "watch",
            ANALYSIS,
            "--replay",
            "fixtures/healthy.json",
            "--lifetime",
            "1h",
            "--interval",
            "5m",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", explain(&out));
    let events = events(&out);
    let recording: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy.json"))
            .unwrap(),
    )
    .unwrap();
    let recorded_end = recording["window"]["end"].as_str().unwrap();
    for look in looks(&events) {
        let end = look["window"]["end"].as_str().unwrap();
        assert!(end <= recorded_end, "a look past the recording's end {recorded_end}: {look}");
    }
    let last = events.last().unwrap();
    assert_eq!((last["event"].as_str(), last["verdict"].as_str()), (Some("final"), Some("inconclusive")), "{last}");
    assert!(last["report"]["reason"].as_str().unwrap().contains("the recording ends at"), "{last}");
    assert!(stderr(&out).contains("the recording ends at"), "{}", stderr(&out));
}

/// Early looks spend a tiny share of alpha (1e-19 at the first look here), at which the count
/// test used to be skipped and its metric passed: a regression's early looks never pass, and the
/// end is a fail.
#[test]
fn no_early_look_passes_on_a_regression_and_the_end_fails() {
    for fixture in REGRESSIONS {
        let replay = format!("fixtures/{fixture}.json");
        let args =
            ["watch", ANALYSIS, "--replay", &replay, "--lifetime", "30m", "--interval", "2m", "--format", "json"];
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(1), "{fixture}: {}", explain(&out));
        let events = events(&out);
        let looks = looks(&events);
        assert!(looks[0]["alpha"].as_f64().unwrap() < 1e-15, "{fixture}: the first look is not a tiny one");
        let (last, early) = looks.split_last().unwrap();
        for look in early {
            assert_ne!(look["verdict"], "pass", "{fixture}: an early look passed: {look}");
        }
        assert_eq!(last["verdict"], "fail", "{fixture}: {last}");
        assert_eq!(events.last().unwrap()["verdict"], "fail", "{fixture}");
    }
}

/// The error rate and conversion of `analyses/checkout.yaml` on their own: at a watch's first
/// look both count tests were skipped, both metrics were classified "pass, no test ran", and so
/// the look passed.
const COUNTS_ONLY: &str = r#"
version: 1
name: checkout
variables:
  canary: checkout-canary
baseline:
  variables:
    selector: 'deployment="checkout-baseline"'
canary:
  variables:
    selector: 'deployment="{{ canary }}"'
window:
  last: 30m
  step: 1m
  warmup: 5m
judgment:
  alpha: 0.01
  pass_score: 95
  marginal_score: 75
metrics:
  - name: error_rate
    numerator: 'sum(increase(http_requests_total{ {{ selector }}, code=~"5.." }[{{ step }}]))'
    denominator: 'sum(increase(http_requests_total{ {{ selector }} }[{{ step }}]))'
    direction: increase
    margin: 20%
    critical: true
  - name: conversion
    numerator: 'sum(increase(checkouts_completed_total{ {{ selector }} }[{{ step }}]))'
    denominator: 'sum(increase(checkout_sessions_started_total{ {{ selector }} }[{{ step }}]))'
    direction: decrease
    margin: 10%
"#;

#[test]
fn a_look_whose_tests_were_all_skipped_is_not_a_pass() {
    let dir = TempDir::new("watch-counts-only");
    let analysis = dir.file("counts.yaml", COUNTS_ONLY);
    let analysis = analysis.to_str().unwrap();
    for fixture in ["error-spike-low-traffic", "conversion-drop"] {
        let replay = format!("fixtures/{fixture}.json");
        let args =
            ["watch", analysis, "--replay", &replay, "--lifetime", "30m", "--interval", "2m", "--format", "json"];
        let out = run(&args, None);
        let events = events(&out);
        for look in looks(&events) {
            if look["verdict"] != "pass" {
                continue;
            }
            for metric in look["metrics"].as_array().unwrap() {
                assert_ne!(metric["reason"], "no test ran", "{fixture}: a look passed untested: {look}");
            }
        }
        assert_ne!(events.last().unwrap()["verdict"], "pass", "{fixture}: {}", explain(&out));
        assert_ne!(out.status.code(), Some(0), "{fixture}: {}", explain(&out));
    }
}
