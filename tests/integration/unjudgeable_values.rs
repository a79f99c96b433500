//! Values the judge cannot use must not let a metric pass, end to end on replayed recordings:
//! a gauge's +Inf canary points (`histogram_quantile` above the top bucket) fail it, its NaN
//! points make it inconclusive, and a count's numerator events with no denominator point (errors
//! counted at the ingress while a crash-looping canary stops reporting requests) make it
//! inconclusive instead of vanishing.

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::{Value, json};

fn healthy() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/healthy.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn points<'v>(recording: &'v mut Value, metric: &str, side: &str, role: &str) -> &'v mut Vec<Value> {
    recording["metrics"][metric][side]["queries"][role]["series"][0]["points"].as_array_mut().unwrap()
}

/// The JSON report of judging `recording` (written to `dir`), its exit code and the metric's entry.
fn judge(dir: &TempDir, recording: &Value, metric: &str) -> (Option<i32>, Value) {
    let path = dir.file("recording.json", &recording.to_string()).display().to_string();
    let out = run(&["judge", "analyses/checkout.yaml", "--replay", &path, "--format", "json"], None);
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entry = report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == metric).unwrap().clone();
    (out.status.code(), entry)
}

/// fixtures/healthy.json with every other canary p99 point set to `value`.
fn p99_with_every_other(value: &str) -> Value {
    let mut recording = healthy();
    for (i, point) in points(&mut recording, "p99_latency", "canary", "value").iter_mut().enumerate() {
        if i % 2 == 1 {
            point[1] = json!(value);
        }
    }
    recording
}

#[test]
fn a_canary_p99_above_the_top_bucket_fails_the_metric_and_the_canary() {
    let dir = TempDir::new("inf-p99");
    let (code, healthy_entry) = judge(&dir, &healthy(), "p99_latency");
    assert_eq!((code, healthy_entry["classification"].as_str()), (Some(0), Some("pass")));
    let (code, entry) = judge(&dir, &p99_with_every_other("+Inf"), "p99_latency");
    assert_eq!(code, Some(1), "{entry}");
    assert_eq!(entry["classification"], "fail_high", "{entry}");
    let reason = entry["reason"].as_str().unwrap();
    assert!(reason.contains("canary value(s) are +Inf: above every bucket / beyond any threshold"), "{reason}");
}

#[test]
fn nan_canary_or_baseline_points_make_a_gauge_inconclusive() {
    let dir = TempDir::new("nan-p99");
    let (code, entry) = judge(&dir, &p99_with_every_other("NaN"), "p99_latency");
    assert_eq!(code, Some(3), "{entry}");
    assert_eq!(entry["classification"], "no_data", "{entry}");
    assert!(entry["reason"].as_str().unwrap().contains("canary value(s) are NaN or infinite"), "{entry}");
    // -Inf on an `increase` metric is on its good side: no breach, but nothing to pass on either.
    let (code, entry) = judge(&dir, &p99_with_every_other("-Inf"), "p99_latency");
    assert_eq!((code, entry["classification"].as_str()), (Some(3), Some("no_data")), "{entry}");
    let mut baseline = healthy();
    points(&mut baseline, "p99_latency", "baseline", "value")[20][1] = json!("+Inf");
    let (code, entry) = judge(&dir, &baseline, "p99_latency");
    assert_eq!((code, entry["classification"].as_str()), (Some(3), Some("no_data")), "{entry}");
    assert!(entry["reason"].as_str().unwrap().contains("1 baseline value(s) are NaN or infinite"), "{entry}");
}

#[test]
fn canary_errors_with_no_request_point_make_the_error_rate_inconclusive() {
    let dir = TempDir::new("orphaned-errors");
    let mut recording = healthy();
    let denominator = points(&mut recording, "error_rate", "canary", "denominator");
    let mut dropped = Vec::new();
    let mut i = 0;
    denominator.retain(|point| {
        i += 1;
        let drop = i % 3 == 0;
        if drop {
            dropped.push(point[0].as_i64().unwrap());
        }
        !drop
    });
    for point in points(&mut recording, "error_rate", "canary", "numerator") {
        if dropped.contains(&point[0].as_i64().unwrap()) {
            point[1] = json!(500.0);
        }
    }
    let (code, entry) = judge(&dir, &recording, "error_rate");
    assert_eq!(code, Some(3), "{entry}");
    assert_eq!(entry["classification"], "no_data", "{entry}");
    let reason = entry["reason"].as_str().unwrap();
    assert!(
        reason.contains("numerator event(s) in") && reason.contains("on the canary have no denominator point"),
        "{reason}"
    );
    let finding = entry["findings"].as_array().unwrap().iter().find(|f| f["message"] == reason).unwrap();
    assert_eq!((finding["kind"].as_str(), finding["side"].as_str()), (Some("unexpected_series"), Some("canary")));
    // Far more errors where the requests are counted: the rate test fails on the intervals it
    // has, and the dropped canary errors could only make it worse, so the fail stands.
    let mut failing = recording.clone();
    for point in points(&mut failing, "error_rate", "canary", "numerator") {
        if !dropped.contains(&point[0].as_i64().unwrap()) {
            point[1] = json!(point[1].as_f64().unwrap() * 10.0 + 5.0);
        }
    }
    let (code, entry) = judge(&dir, &failing, "error_rate");
    assert_eq!((code, entry["classification"].as_str()), (Some(1), Some("fail_high")), "{entry}");
    let messages: Vec<&str> =
        entry["findings"].as_array().unwrap().iter().filter_map(|f| f["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("on the canary have no denominator point")), "{messages:?}");
    // Without events the orphaned points stay a warning: zeros hide nothing.
    for point in points(&mut recording, "error_rate", "canary", "numerator") {
        if dropped.contains(&point[0].as_i64().unwrap()) {
            point[1] = json!(0.0);
        }
    }
    let (code, entry) = judge(&dir, &recording, "error_rate");
    assert_eq!((code, entry["classification"].as_str()), (Some(0), Some("pass")), "{entry}");
    let messages: Vec<&str> =
        entry["findings"].as_array().unwrap().iter().filter_map(|f| f["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("without a denominator point (0 events) were dropped")), "{messages:?}");
}
