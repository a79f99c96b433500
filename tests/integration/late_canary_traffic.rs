//! The judge warns when the canary's traffic starts inside the judged window while the
//! baseline's starts with it, end to end on replayed recordings: a `late_traffic` finding in the
//! JSON, table and Markdown reports, and no change of verdict for it.

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::{Value, json};

/// 2026-11-23T10:00:00Z, the start of fixtures/healthy.json's window (warm-up 5m, step 1m).
const START: i64 = 1_795_428_000;

/// fixtures/healthy.json with the canary's `metric` `roles` emptied before `from` (seconds after
/// the window's start): `zero` sets their values to 0, otherwise the points are removed.
fn healthy_late(dir: &TempDir, name: &str, metric: &str, roles: &[&str], from: i64, zero: bool) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/healthy.json")).unwrap();
    let mut recording: Value = serde_json::from_str(&text).unwrap();
    for role in roles {
        let series = &mut recording["metrics"][metric]["canary"]["queries"][role]["series"][0]["points"];
        let points = series.as_array_mut().unwrap();
        if zero {
            points.iter_mut().filter(|p| p[0].as_i64().unwrap() < START + from).for_each(|p| p[1] = json!(0.0));
        } else {
            points.retain(|p| p[0].as_i64().unwrap() >= START + from);
        }
    }
    dir.file(name, &recording.to_string()).display().to_string()
}

fn judge(recording: &str, format: &str) -> (Option<i32>, String) {
    let out = run(&["judge", "analyses/checkout.yaml", "--replay", recording, "--format", format], None);
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    (out.status.code(), stdout(&out))
}

fn late_findings(report: &Value) -> Vec<(String, Value)> {
    let metrics = report["metrics"].as_array().unwrap();
    let findings = metrics.iter().flat_map(|m| {
        let name = m["name"].as_str().unwrap().to_string();
        m["findings"].as_array().unwrap().iter().map(move |f| (name.clone(), f.clone()))
    });
    findings.filter(|(_, f)| f["kind"] == "late_traffic").collect()
}

#[test]
fn a_canary_whose_requests_start_ten_minutes_late_is_warned_about_in_every_format() {
    let dir = TempDir::new("late-traffic");
    // The canary's request counter exists from the start but counts nothing until 10:15.
    let late = healthy_late(&dir, "late.json", "error_rate", &["numerator", "denominator"], 900, true);
    let message = "the canary's traffic starts at 2026-11-23T10:15:00Z, 10m after the judged window begins, \
                   while the baseline's starts with it";
    let (code, json_text) = judge(&late, "json");
    let report: Value = serde_json::from_str(&json_text).unwrap();
    let findings = late_findings(&report);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].0, "error_rate");
    assert_eq!(findings[0].1["side"], "canary");
    assert!(findings[0].1["message"].as_str().unwrap().starts_with(message), "{findings:?}");
    // A warning, not a verdict: the healthy canary still passes.
    assert_eq!(code, Some(0), "{json_text}");
    let (healthy_code, healthy_text) = judge("fixtures/healthy.json", "json");
    assert_eq!(healthy_code, Some(0));
    assert!(late_findings(&serde_json::from_str(&healthy_text).unwrap()).is_empty());
    for format in ["table", "markdown"] {
        let (code, text) = judge(&late, format);
        assert_eq!(code, Some(0), "{format}");
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ").replace('\\', "");
        assert!(flat.contains(&format!("error_rate (canary): {message}")), "{format}:\n{text}");
    }
}

#[test]
fn a_gauge_whose_canary_series_starts_late_is_warned_about_too() {
    let dir = TempDir::new("late-gauge");
    let late = healthy_late(&dir, "late-gauge.json", "p99_latency", &["value"], 1200, false);
    let (code, json_text) = judge(&late, "json");
    assert_ne!(code, Some(0), "a series that starts inside the window cannot pass: {json_text}");
    let report: Value = serde_json::from_str(&json_text).unwrap();
    let findings = late_findings(&report);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].0, "p99_latency");
    let message = findings[0].1["message"].as_str().unwrap();
    assert!(message.starts_with("the canary's data starts at 2026-11-23T10:20:00Z, 15m after"), "{message}");
}
