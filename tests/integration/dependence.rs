//! `canary judge --replay` on a healthy canary from issue 12's failure modes, written by
//! `scripts/make_dependence_fixtures.py` with the benchmark's simulator (bench/dependence_quality.py):
//! the first seed on which the judge before the dependence-robust tests (commit 0a65f49) falsely
//! failed the metric named.

use crate::support::{run, stderr, stdout};
use serde_json::Value;

fn judged(analysis: &str, recording: &str) -> Value {
    let out = run(&["judge", analysis, "--replay", recording, "--format", "json"], None);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}\n{}", stdout(&out), stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_ne!(report["verdict"], "fail", "{}", report["reason"]);
    report
}

fn metric<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()
}

/// `max_over_time(p99[1m])` points at a 1m step share their boundary scrape and drift with each
/// instance: the shift test counts fewer independent points and does not fail the healthy canary.
#[test]
fn a_healthy_canary_with_boundary_sharing_latency_windows_is_not_failed() {
    let report =
        judged("tests/data/dependence/quality-max-over-time.yaml", "tests/data/dependence/boundary-gauge.json");
    let latency = metric(&report, "p99_latency");
    assert!(!latency["classification"].as_str().unwrap().starts_with("fail"), "{}", latency["reason"]);
    let shift = &latency["tests"][0];
    let effective = shift["effective_samples"].as_f64().expect("an effective sample size");
    assert!(effective < 60.0, "{effective}");
}

/// A 20% conversion drop with a two-minute dip fails the rate test, and the drift rule leaves the
/// fail open (inconclusive: drift). `no_data: ignore` on that metric must not leave it out: the
/// run is inconclusive (exit 3), never a pass with "every metric passed".
#[test]
fn no_data_ignore_does_not_pass_a_fail_the_drift_rule_left_open() {
    let args = [
        "judge",
        "tests/data/dependence/drift-ignore.yaml",
        "--replay",
        "tests/data/dependence/drift-ignored.json",
        "--format",
        "json",
    ];
    let out = run(&args, None);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let conversion = metric(&report, "conversion");
    assert_eq!(conversion["inconclusive"]["rule"], "drift", "{}", conversion["reason"]);
    assert_eq!(conversion["tests"][0]["outcome"], "fail");
    assert!(report["reason"].as_str().unwrap().contains("conversion"), "{}", report["reason"]);
}
