//! Thresholds on any percentile (`p95`, `p99.9`, …), end to end through `canary judge --replay`:
//! the canary's percentile is numpy's, the bound decides the outcome, and a percentile out
//! of range is a usage error naming the file, line and field.

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::Value;

/// analyses/checkout.yaml with the p99_latency threshold replaced by `thresholds` (YAML lines).
fn checkout_with_thresholds(dir: &TempDir, name: &str, thresholds: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/analyses/checkout.yaml")).unwrap();
    let changed = text.replace("      - statistic: p99\n        max: 1.5\n", thresholds);
    assert_ne!(text, changed, "checkout.yaml has a p99 threshold");
    dir.file(name, &changed).display().to_string()
}

/// The threshold tests of p99_latency: (statistic, outcome, reason).
fn threshold_tests(report: &Value) -> Vec<(f64, String, String)> {
    let metric = report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "p99_latency").unwrap();
    let tests = metric["tests"].as_array().unwrap().iter().filter(|t| t["test"] == "threshold");
    tests
        .map(|t| {
            let text = |key: &str| t[key].as_str().unwrap().to_string();
            (t["statistic"].as_f64().unwrap(), text("outcome"), text("reason"))
        })
        .collect()
}

#[test]
fn a_threshold_on_any_percentile_uses_numpys_percentile_of_the_canary() {
    let dir = TempDir::new("percentile-thresholds");
    // numpy.percentile of the 26 canary p99_latency points of fixtures/healthy.json after the
    // 5m warm-up: p99.9 0.6501247499999999, p95 0.64541925, p99 0.6491865, p50 0.5882674999999999.
    let lines = "      - statistic: p99.9\n        max: 0.6501\n      - statistic: p95\n        max: 0.6455\n      \
                 - statistic: p99\n        max: 1.5\n      - statistic: p50.0\n        min: 0.5\n";
    let analysis = checkout_with_thresholds(&dir, "percentiles.yaml", lines);
    let out = run(&["judge", &analysis, "--replay", "fixtures/healthy.json", "--format", "json"], None);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let tests = threshold_tests(&report);
    let expected = [
        (0.6501247499999999, "fail", "canary p99.9 0.650125 exceeds the maximum 0.6501"),
        (0.64541925, "pass", "canary p95 0.645419 is within the maximum 0.6455"),
        (0.6491865, "pass", "canary p99 0.649186 is within the maximum 1.5"),
        (0.5882674999999999, "pass", "canary p50 0.588267 is at or above the minimum 0.5"),
    ];
    assert_eq!(tests.len(), expected.len(), "{tests:?}");
    for ((value, outcome, reason), (want_value, want_outcome, want_reason)) in tests.iter().zip(expected) {
        assert_eq!(*value, want_value, "{reason}");
        assert_eq!((outcome.as_str(), reason.as_str()), (want_outcome, want_reason));
    }
}

#[test]
fn a_percentile_out_of_range_is_a_usage_error_naming_the_line_and_field() {
    let dir = TempDir::new("percentile-out-of-range");
    for (statistic, shown) in [("p100", "p100"), ("p0", "p0"), ("p99.99999", "p99.99999"), ("p95.", "p95.")] {
        let lines = format!("      - statistic: {statistic}\n        max: 1.5\n");
        let analysis = checkout_with_thresholds(&dir, "bad.yaml", &lines);
        let out = run(&["judge", &analysis, "--replay", "fixtures/healthy.json"], None);
        assert_eq!(out.status.code(), Some(2), "{statistic}: {}", stderr(&out));
        let error = stderr(&out);
        assert!(error.contains("bad.yaml:98:20: field `statistic`"), "{error}");
        assert!(error.contains(&format!("unknown statistic `{shown}`")), "{error}");
        assert!(error.contains("a percentile pNN with 0 < NN < 100 and at most 4 decimals"), "{error}");
    }
}
