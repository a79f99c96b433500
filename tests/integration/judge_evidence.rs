//! A pass needs positive evidence, end to end on replayed recordings: a family level too small
//! for any test to reject, sustained rules whose canary points are off the baseline's grid or
//! step, counts beyond the rate test's bound. Each is never a pass.

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::{Value, json};

/// analyses/checkout.yaml with another judgment alpha.
fn checkout_with_alpha(dir: &TempDir, alpha: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/analyses/checkout.yaml")).unwrap();
    let changed = text.replace("  alpha: 0.01\n", &format!("  alpha: {alpha}\n"));
    assert_ne!(text, changed, "checkout.yaml sets alpha: 0.01");
    dir.file("checkout.yaml", &changed).display().to_string()
}

#[test]
fn a_tiny_alpha_never_turns_a_regression_into_a_pass() {
    let dir = TempDir::new("tiny-alpha");
    let analysis = checkout_with_alpha(&dir, "1.0e-20");
    for fixture in ["latency-regression", "error-spike-low-traffic", "conversion-drop", "healthy"] {
        let replay = format!("fixtures/{fixture}.json");
        let out = run(&["judge", &analysis, "--replay", &replay, "--format", "json"], None);
        assert_eq!(out.status.code(), Some(3), "{fixture}: {}\n{}", stdout(&out), stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        for metric in report["metrics"].as_array().unwrap() {
            assert!(!metric["reason"].as_str().unwrap().contains("no test ran"), "{fixture}: {metric}");
        }
    }
}

const BURSTY: &str = r#"version: 1
name: bursty
source:
  kind: prometheus
  url: http://127.0.0.1:9
baseline:
  variables:
    selector: 'deployment="b"'
canary:
  variables:
    selector: 'deployment="c"'
window:
  last: 30m
  step: 1m
metrics:
  - name: errors
    numerator: 'sum(increase(errors_total{ {{ selector }} }[1m]))'
    denominator: 'sum(increase(requests_total{ {{ selector }} }[1m]))'
    direction: increase
    margin: 50%
    sustained:
      - max: 0.05
        for: 5m
"#;

const START: i64 = 1_795_428_000;

/// A recording of `BURSTY`: baseline 1% errors every 60 s; the canary's points every `spacing`
/// seconds from `offset`, 40% errors over minutes 10 to 17; the recording says `step_seconds`.
fn bursty_recording(spacing: i64, offset: i64, step_seconds: i64) -> String {
    let side = |name: &str, points: Vec<(i64, f64, f64)>| {
        let series = |values: Vec<Value>| json!([{ "labels": {}, "points": values }]);
        json!({ "queries": {
            "numerator": {
                "query": format!("sum(increase(errors_total{{ deployment=\"{name}\" }}[1m]))"),
                "series": series(points.iter().map(|p| json!([p.0, p.1])).collect()),
            },
            "denominator": {
                "query": format!("sum(increase(requests_total{{ deployment=\"{name}\" }}[1m]))"),
                "series": series(points.iter().map(|p| json!([p.0, p.2])).collect()),
            },
        }})
    };
    let baseline = (1..=30).map(|i| (START + 60 * i, 10.0 + (i % 3) as f64, 1000.0)).collect();
    let canary = (0..1800 / spacing)
        .map(|i| {
            let t = spacing * (i + 1) + offset;
            let errors = if (600..1020).contains(&t) { 400.0 } else { 10.0 + (i % 4) as f64 };
            (START + t, errors * spacing as f64 / 60.0, 1000.0 * spacing as f64 / 60.0)
        })
        .collect();
    json!({
        "format": "canary-recording",
        "version": 1,
        "analysis": "bursty",
        "source": { "kind": "synthetic" },
        "window": { "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:30:00Z", "step_seconds": step_seconds },
        "point_time": "interval_end",
        "metrics": { "errors": { "baseline": side("b", baseline), "canary": side("c", canary) } },
    })
    .to_string()
}

#[test]
fn a_failing_burst_off_the_baseline_grid_or_step_is_never_a_pass() {
    let dir = TempDir::new("bursty");
    let analysis = dir.file("bursty.yaml", BURSTY).display().to_string();
    // On the grid: the burst fails the canary (exit 1), as a control.
    // 7 s off the baseline's timestamps, 30 s points at a 60 s step, 60 s points recorded with a
    // step of 120 s or 30 s: all used to say "no point breached" and exit 0.
    for (spacing, offset, step, codes) in [
        (60, 0, 60, &[1][..]),
        // The recording reader refuses sides sampled at different times (exit 2); the judge's own
        // pairing within half a step is covered by the unit tests of `sustained`.
        (60, 7, 60, &[1, 2][..]),
        (30, 0, 60, &[1, 2, 3, 4][..]),
        (60, 0, 120, &[1, 2, 3, 4][..]),
        (60, 0, 30, &[1, 2, 3, 4][..]),
    ] {
        let recording = dir.file("bursty.json", &bursty_recording(spacing, offset, step)).display().to_string();
        let out = run(&["judge", &analysis, "--replay", &recording], None);
        let code = out.status.code().unwrap_or(-1);
        assert!(
            codes.contains(&code),
            "points every {spacing}s, {offset}s off, step {step}s: exit {code}\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn counts_beyond_the_rate_tests_bound_are_refused_not_a_hang() {
    let dir = TempDir::new("huge-counts");
    let analysis = dir.file("bursty.yaml", &BURSTY.replace("    sustained:\n      - max: 0.05\n        for: 5m\n", ""));
    let text = bursty_recording(60, 0, 60);
    let mut recording: Value = serde_json::from_str(&text).unwrap();
    for side in ["baseline", "canary"] {
        for (role, scale) in [("numerator", 5.0e18), ("denominator", 1.0e302)] {
            let points = &mut recording["metrics"]["errors"][side]["queries"][role]["series"][0]["points"];
            for point in points.as_array_mut().unwrap() {
                point[1] = json!(point[1].as_f64().unwrap() * scale);
            }
        }
    }
    let recording = dir.file("huge.json", &recording.to_string());
    let out = run(&["judge", &analysis.display().to_string(), "--replay", &recording.display().to_string()], None);
    let code = out.status.code();
    assert!(matches!(code, Some(2..=4)), "exit {code:?}\n{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn huge_error_counts_in_a_healthy_recording_are_never_a_pass() {
    // The healthy fixture with its error counts near 5e18: used to pass (exit 0).
    let dir = TempDir::new("huge-errors");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/healthy.json")).unwrap();
    for scale in [4.0e17, 1.0e300] {
        let mut recording: Value = serde_json::from_str(&text).unwrap();
        for side in ["baseline", "canary"] {
            let points = &mut recording["metrics"]["error_rate"][side]["queries"]["numerator"]["series"][0]["points"];
            for point in points.as_array_mut().unwrap() {
                point[1] = json!(point[1].as_f64().unwrap() * scale);
            }
        }
        let path = dir.file("huge.json", &recording.to_string()).display().to_string();
        let out = run(&["judge", "analyses/checkout.yaml", "--replay", &path, "--format", "json"], None);
        // The sources' point check refuses such counts before judging (exit 4); the judge refuses
        // them too when they reach it (exit 3, the metric an error).
        let code = out.status.code();
        assert!(matches!(code, Some(3 | 4)), "×{scale}: exit {code:?}\n{}\n{}", stdout(&out), stderr(&out));
        if code == Some(3) {
            let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
            let metric = report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "error_rate").unwrap();
            assert_eq!(metric["classification"], "error", "×{scale}: {}", metric["reason"]);
        }
    }
}

/// The healthy fixture with `edit` applied to its JSON.
fn healthy_with(dir: &TempDir, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/healthy.json")).unwrap();
    let mut recording: Value = serde_json::from_str(&text).unwrap();
    edit(&mut recording);
    dir.file(name, &recording.to_string()).display().to_string()
}

/// Kayenta leaves a metric without data out of its score and knows nothing of canary's
/// data-quality findings; under `judge: kayenta` a crash-looping canary, a canary without a
/// metric's data, and the same pods behind both selectors all used to pass (exit 0).
#[test]
fn under_the_kayenta_judge_data_the_default_judge_refuses_never_passes() {
    let dir = TempDir::new("kayenta-quality");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/analyses/checkout.yaml")).unwrap();
    let kayenta = dir.file("checkout-kayenta.yaml", &text.replace("judgment:\n", "judgment:\n  judge: kayenta\n"));
    let crash_loop = healthy_with(&dir, "crash.json", |recording| {
        for metric in recording["metrics"].as_object_mut().unwrap().values_mut() {
            for query in metric["canary"]["queries"].as_object_mut().unwrap().values_mut() {
                for series in query["series"].as_array_mut().unwrap() {
                    series["points"].as_array_mut().unwrap().truncate(14);
                }
            }
        }
    });
    let no_canary_p99 = healthy_with(&dir, "no-p99.json", |recording| {
        recording["metrics"]["p99_latency"]["canary"]["queries"]["value"]["series"] = json!([]);
    });
    let same_pods = healthy_with(&dir, "same-pods.json", |recording| {
        let baseline = recording["metrics"]["p99_latency"]["baseline"]["queries"]["value"]["series"].clone();
        recording["metrics"]["p99_latency"]["canary"]["queries"]["value"]["series"] = baseline;
    });
    let healthy = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/healthy.json").to_string();
    let kayenta = kayenta.display().to_string();
    let out = run(&["judge", &kayenta, "--replay", &healthy], None);
    assert_eq!(out.status.code(), Some(0), "the healthy control passes\n{}\n{}", stdout(&out), stderr(&out));
    for recording in [crash_loop, no_canary_p99, same_pods] {
        let out = run(&["judge", &kayenta, "--replay", &recording, "--format", "json"], None);
        assert_eq!(out.status.code(), Some(3), "{recording}\n{}\n{}", stdout(&out), stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let reason = report["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("could not be judged on valid data"), "{recording}: {reason}");
    }
}

/// The canary's absolute threshold (p99 at most 1.5 s) holds whatever the baseline does: with no
/// baseline data and `no_data: ignore`, a canary at three times the healthy p99 used to pass.
#[test]
fn a_canary_breaching_an_absolute_threshold_fails_even_without_baseline_data() {
    let dir = TempDir::new("no-baseline");
    let recording = healthy_with(&dir, "no-baseline.json", |recording| {
        let p99 = &mut recording["metrics"]["p99_latency"];
        p99["baseline"]["queries"]["value"]["series"] = json!([]);
        for point in p99["canary"]["queries"]["value"]["series"][0]["points"].as_array_mut().unwrap() {
            point[1] = json!(point[1].as_f64().unwrap() * 3.0);
        }
    });
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/analyses/checkout.yaml")).unwrap();
    let ignoring = text.replace("    range: 2m\n", "    range: 2m\n    no_data: ignore\n");
    assert_ne!(text, ignoring);
    for (name, analysis) in [("checkout.yaml", text), ("ignoring.yaml", ignoring)] {
        let analysis = dir.file(name, &analysis).display().to_string();
        let out = run(&["judge", &analysis, "--replay", &recording, "--format", "json"], None);
        assert_eq!(out.status.code(), Some(1), "{name}\n{}\n{}", stdout(&out), stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let p99 = report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "p99_latency").unwrap();
        assert_eq!(p99["classification"], "fail_high", "{name}: {}", p99["reason"]);
    }
}
