//! `canary watch` with always-valid tests (`--looks sequential`, the default): every look at the
//! full alpha, a fail as soon as the confidence sequence lies beyond the margin, an early
//! promotion with `--promote-early`, and the O'Brien-Fleming mode kept behind `--looks fixed`.
//! Recordings are generated here (one count metric, `tests/data/sequential/errors.yaml`).

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::Value;

const ANALYSIS: &str = "tests/data/sequential/errors.yaml";
/// The same metric with a 50% margin: one a count's sequence can rule out within the hour.
const WIDE_MARGIN: &str = "tests/data/sequential/errors-wide-margin.yaml";
const START: i64 = 1_795_168_800; // 2026-11-20T10:00:00Z

fn events(output: &std::process::Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON event ({e}): {l}")))
        .collect()
}

fn explain(output: &std::process::Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// 60 one-minute intervals: `requests` a minute on each side, the baseline's errors at `rate`
/// and the canary's at `rate × factor` from minute `from` on, with a small deterministic wiggle.
fn recording(dir: &TempDir, name: &str, requests: f64, rate: f64, factor: f64, from: i64) -> String {
    let wiggle = |i: i64, shift: i64| 1.0 + 0.1 * ((i + shift) as f64 * 2.4).sin();
    let rates = |i: i64, canary: bool| {
        let factor = if canary && i >= from { factor } else { 1.0 };
        rate * factor * wiggle(i, if canary { 3 } else { 0 })
    };
    recording_of(dir, name, requests, rates)
}

/// 60 one-minute intervals: `requests` a minute on each side, errors at `rate(minute, canary)`.
fn recording_of(dir: &TempDir, name: &str, requests: f64, rate: impl Fn(i64, bool) -> f64) -> String {
    let side = |canary: bool| {
        let mut numerator = Vec::new();
        let mut denominator = Vec::new();
        for i in 1..=60 {
            let errors = (requests * rate(i, canary)).round();
            numerator.push(serde_json::json!([START + 60 * i, errors]));
            denominator.push(serde_json::json!([START + 60 * i, requests]));
        }
        let selector = if canary { "canary" } else { "baseline" };
        serde_json::json!({"queries": {
            "numerator": {"query": format!("errors{{deployment=\"{selector}\"}}"), "series": [{"labels": {}, "points": numerator}]},
            "denominator": {"query": format!("requests{{deployment=\"{selector}\"}}"), "series": [{"labels": {}, "points": denominator}]},
        }})
    };
    let recording = serde_json::json!({
        "format": "canary-recording", "version": 1, "analysis": "sequential-errors",
        "source": {"kind": "synthetic"},
        "window": {"start": jiff::Timestamp::from_second(START).unwrap().to_string(),
                   "end": jiff::Timestamp::from_second(START + 3600).unwrap().to_string(), "step_seconds": 60},
        "metrics": {"error_rate": {"baseline": side(false), "canary": side(true)}},
    });
    dir.file(name, &recording.to_string()).display().to_string()
}

fn watch(replay: &str, extra: &[&str]) -> (std::process::Output, Vec<Value>) {
    watch_analysis(ANALYSIS, replay, extra)
}

fn watch_analysis(analysis: &str, replay: &str, extra: &[&str]) -> (std::process::Output, Vec<Value>) {
    // Sequential looks unless the test asks for a mode (the default is `fixed`).
    let mode: &[&str] = if extra.contains(&"--looks") { &[] } else { &["--looks", "sequential"] };
    let args =
        [&["watch", analysis, "--replay", replay, "--lifetime", "60m", "--format", "json"], mode, extra].concat();
    let output = run(&args, None);
    let events = events(&output);
    (output, events)
}

/// A 5× error rate fails within minutes, every look at the full alpha, and the failing look
/// carries its confidence sequence (wholly beyond the margin ×1.2) and the time of the decision.
#[test]
fn a_five_fold_error_rate_fails_within_minutes_at_the_full_alpha() {
    let dir = TempDir::new("sequential-spike");
    let replay = recording(&dir, "spike.json", 300.0, 0.004, 5.0, 1);
    let (output, events) = watch(&replay, &["--interval", "1m"]);
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    let looks: Vec<&Value> = events.iter().filter(|e| e["event"] == "look").collect();
    assert!(looks.len() <= 8, "took {} looks: {}", looks.len(), explain(&output));
    assert!(looks.iter().all(|l| l["alpha"] == 0.01), "{}", explain(&output));
    let failing = looks.last().unwrap();
    assert_eq!(failing["verdict"], "fail");
    let sequence = &failing["sequences"][0];
    assert_eq!((sequence["metric"].as_str(), sequence["decision"].as_str()), (Some("error_rate"), Some("fail")));
    assert!(sequence["low"].as_f64().unwrap() > 1.2, "{sequence}");
    assert!(sequence["adjusted_p_value"].as_f64().unwrap() <= 0.01, "{sequence}");
    assert_eq!(failing["decided_at"], failing["window"]["end"]);
    let last = events.last().unwrap();
    assert_eq!((last["event"].as_str(), last["verdict"].as_str()), (Some("final"), Some("fail")));
    let test = &last["report"]["metrics"][0]["tests"][0];
    assert!(test["reason"].as_str().unwrap().contains("always-valid"), "{test}");
}

/// A healthy canary with much traffic and a wide margin is promoted early with `--promote-early`
/// (its own event, exit 0), and watched to the end without it.
#[test]
fn a_healthy_canary_is_promoted_early_only_when_asked() {
    let dir = TempDir::new("sequential-healthy");
    let replay = recording(&dir, "healthy.json", 20_000.0, 0.01, 1.0, 1);
    let (output, events) = watch_analysis(WIDE_MARGIN, &replay, &["--interval", "1m", "--promote-early"]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let promote = events.iter().find(|e| e["event"] == "promote").unwrap_or_else(|| panic!("{}", explain(&output)));
    let looks: Vec<&Value> = events.iter().filter(|e| e["event"] == "look").collect();
    let planned = events[0]["looks"].as_array().unwrap().len();
    assert!(looks.len() < planned, "promoted at the last look: {}", explain(&output));
    assert_eq!(promote["look"].as_u64(), Some(looks.len() as u64));
    let sequence = &looks.last().unwrap()["sequences"][0];
    assert_eq!(sequence["decision"], "pass", "{sequence}");
    let (low, high) = (sequence["low"].as_f64().unwrap(), sequence["high"].as_f64().unwrap());
    // Within the analysis's 50% margin and around no change.
    assert!(low < 1.0 && high < 1.5 && high > 1.0, "{sequence}");
    assert_eq!(events.last().unwrap()["verdict"], "pass");

    let (output, events) = watch(&replay, &["--interval", "10m"]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert!(!events.iter().any(|e| e["event"] == "promote"), "{}", explain(&output));
    let looks = events.iter().filter(|e| e["event"] == "look").count();
    assert_eq!(looks, events[0]["looks"].as_array().unwrap().len());
}

/// Few events: the sequence cannot rule out a doubling, so the canary is never promoted and the
/// watch ends inconclusive (exit 3), never pass.
#[test]
fn too_little_data_is_never_promoted() {
    let dir = TempDir::new("sequential-sparse");
    let replay = recording(&dir, "sparse.json", 30.0, 0.004, 1.0, 1);
    let (output, events) = watch(&replay, &["--interval", "1m", "--promote-early"]);
    assert_eq!(output.status.code(), Some(3), "{}", explain(&output));
    assert!(!events.iter().any(|e| e["event"] == "promote"), "{}", explain(&output));
}

/// The O'Brien-Fleming mode stays reachable; the flags that only make sense in one mode are
/// refused in the other with exit 2.
#[test]
fn the_fixed_mode_is_kept_and_mismatched_flags_are_refused() {
    let dir = TempDir::new("sequential-modes");
    let replay = recording(&dir, "spike.json", 300.0, 0.004, 5.0, 1);
    let (output, events) = watch(&replay, &["--interval", "5m", "--looks", "fixed"]);
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    assert_eq!(events[0]["mode"], "fixed");
    let alphas: Vec<f64> =
        events[0]["looks"].as_array().unwrap().iter().map(|l| l["alpha"].as_f64().unwrap()).collect();
    assert!((alphas.iter().sum::<f64>() - 0.01).abs() < 1e-12, "{alphas:?}");
    assert!(events.iter().all(|e| e.get("sequences").is_none()));

    let (output, _) = watch(&replay, &["--looks", "fixed", "--promote-early"]);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(stderr(&output).contains("--promote-early needs --looks sequential"), "{}", explain(&output));
    let (output, _) = watch(&replay, &["--lookback", "10m"]);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(stderr(&output).contains("--lookback"), "{}", explain(&output));
}

/// No events on either side leave the count's always-valid test without a sequence (not gating):
/// a threshold may pass the look, but nothing rules out a regression, so nothing is promoted. The
/// first version promoted at the fifth look, `decision: pass` without an interval.
#[test]
fn a_count_without_events_is_never_promoted_on_a_threshold() {
    let dir = TempDir::new("sequential-no-events");
    let analysis =
        std::fs::read_to_string(WIDE_MARGIN).unwrap() + "    thresholds:\n      - statistic: rate\n        max: 0.05\n";
    let analysis = dir.file("threshold.yaml", &analysis).display().to_string();
    let replay = recording(&dir, "no-errors.json", 300.0, 0.0, 1.0, 1);
    let (output, events) = watch_analysis(&analysis, &replay, &["--interval", "1m", "--promote-early"]);
    assert!(events.iter().all(|e| e["event"] != "promote"), "{}", explain(&output));
    let looks: Vec<&Value> = events.iter().filter(|e| e["event"] == "look").collect();
    assert_eq!(looks.len(), 60, "{}", explain(&output));
    assert!(looks.iter().all(|l| l["sequences"][0]["decision"] == "open"), "{}", explain(&output));
}

/// A sustained rule breached at a look's last point stops an early promotion: the rest of the
/// lifetime could make it fire. Here the canary's error rate rises to 1.12% (the rule: above 1.1%
/// for 5m) at minute 34, just before its sequence rules out ×1.5: the first version promoted it at
/// minute 37, while the rule fires at minute 38.
#[test]
fn a_running_sustained_breach_is_never_promoted() {
    let dir = TempDir::new("sequential-running-breach");
    let analysis = std::fs::read_to_string(WIDE_MARGIN).unwrap() + "    sustained:\n      - {max: 0.011, for: 5m}\n";
    let analysis = dir.file("sustained.yaml", &analysis).display().to_string();
    let rate = |i: i64, canary: bool| match (canary, i >= 34) {
        (true, true) => 0.0112,
        _ => 0.01 * (1.0 + 0.02 * ((i + if canary { 3 } else { 0 }) as f64 * 2.4).sin()),
    };
    let replay = recording_of(&dir, "breach.json", 20_000.0, rate);
    let (output, events) = watch_analysis(&analysis, &replay, &["--interval", "1m", "--promote-early"]);
    assert!(events.iter().all(|e| e["event"] != "promote"), "{}", explain(&output));
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    let failing = events.iter().rfind(|e| e["event"] == "look").unwrap();
    assert_eq!(
        (failing["look"].as_u64(), failing["verdict"].as_str()),
        (Some(38), Some("fail")),
        "{}",
        explain(&output)
    );
    // Healthy all hour, the same analysis is promoted early.
    let healthy = recording_of(&dir, "healthy.json", 20_000.0, |i, canary| rate(i.min(33), canary));
    let (output, events) = watch_analysis(&analysis, &healthy, &["--interval", "1m", "--promote-early"]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert!(events.iter().any(|e| e["event"] == "promote"), "{}", explain(&output));
}

/// An analysis judged by Kayenta is refused by the sequential looks (exit 2), which would judge
/// it by the default judge's always-valid tests instead: a ×1.3 error rate within the 50%
/// margin that Kayenta fails (exit 1 with --looks fixed) was passed and could be promoted.
#[test]
fn an_analysis_judged_by_kayenta_is_not_watched_sequentially() {
    let dir = TempDir::new("sequential-kayenta");
    let analysis =
        std::fs::read_to_string(WIDE_MARGIN).unwrap().replace("window:", "judgment:\n  judge: kayenta\n\nwindow:");
    let analysis = dir.file("kayenta.yaml", &analysis).display().to_string();
    let replay = recording(&dir, "raised.json", 20_000.0, 0.01, 1.3, 1);
    let (output, _) = watch_analysis(&analysis, &replay, &["--interval", "1m", "--promote-early"]);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(stderr(&output).contains("judgment.judge: kayenta"), "{}", explain(&output));
    let (output, events) = watch_analysis(&analysis, &replay, &["--interval", "1m", "--looks", "fixed"]);
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    assert_eq!(events.last().unwrap()["verdict"], "fail", "{}", explain(&output));
}

/// A promotion is a decision that the canary is healthy: it needs each metric's sequence to rule
/// out a regression beyond its margin, not merely a doubling (the judge's "too little data" bar).
/// With 3 errors a minute a side the estimate sits at ×1 while the sequence still reaches ×1.98 at
/// minute 23 (a ×1.5 canary could look the same), where the first version promoted it: never
/// promoted now. With much traffic and a 20% margin the drift the sequence allows for keeps it
/// above ×1.2 all hour: not promoted either. With a 50% margin it is promoted at the first look
/// whose sequence ends below ×1.5, and no earlier.
#[test]
fn a_promotion_rules_out_a_regression_beyond_the_margin() {
    let dir = TempDir::new("sequential-promote-margin");
    for (name, requests) in [("moderate.json", 300.0), ("busy.json", 20_000.0)] {
        let replay = recording(&dir, name, requests, 0.01, 1.0, 1);
        let (output, events) = watch(&replay, &["--interval", "1m", "--promote-early"]);
        assert!(!events.iter().any(|e| e["event"] == "promote"), "{}", explain(&output));
        assert_ne!(output.status.code(), Some(1), "{}", explain(&output));
        for look in events.iter().filter(|e| e["event"] == "look") {
            let sequence = &look["sequences"][0];
            let shown = sequence["high"].as_f64().is_some_and(|h| h < 1.2);
            assert_eq!(sequence["decision"] == "pass", shown, "{sequence}");
        }
    }

    let replay = recording(&dir, "busy.json", 20_000.0, 0.01, 1.0, 1);
    let (output, events) = watch_analysis(WIDE_MARGIN, &replay, &["--interval", "1m", "--promote-early"]);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    assert!(events.iter().any(|e| e["event"] == "promote"), "{}", explain(&output));
    let looks: Vec<&Value> = events.iter().filter(|e| e["event"] == "look").collect();
    let sequence = &looks.last().unwrap()["sequences"][0];
    assert_eq!(sequence["decision"], "pass", "{sequence}");
    assert!(sequence["high"].as_f64().unwrap() < 1.5, "{sequence}");
    for earlier in &looks[..looks.len() - 1] {
        let sequence = &earlier["sequences"][0];
        assert_ne!(sequence["decision"], "pass", "{sequence}");
        assert!(sequence["high"].as_f64().is_none_or(|h| h >= 1.5), "not promoted although shown: {earlier}");
    }
}

/// `judgment.drift: 3%` (an analysis whose service drifts little says so): a 2.5×
/// error rate at 1,000 requests a minute fails at minute 8 instead of 17 under the default 15%
/// allowance, the looks (and the cron watchdog's report) show the allowance in force, the
/// test's reason names the setting, a healthy canary is not failed, and 80% is refused.
#[test]
fn a_smaller_drift_allowance_fails_a_regression_sooner() {
    let dir = TempDir::new("sequential-drift");
    let analysis = std::fs::read_to_string(ANALYSIS).unwrap() + "judgment:\n  drift: 3%\n";
    let calm = dir.file("calm.yaml", &analysis).display().to_string();
    let replay = recording(&dir, "errors.json", 1000.0, 0.004, 2.5, 1);
    let fail_look = |analysis: &str| {
        let (output, events) = watch_analysis(analysis, &replay, &["--interval", "1m"]);
        assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
        let looks: Vec<Value> = events.iter().filter(|e| e["event"] == "look").cloned().collect();
        let last = events.last().unwrap().clone();
        (looks, last)
    };
    let (default_looks, _) = fail_look(ANALYSIS);
    let (calm_looks, last) = fail_look(&calm);
    let (calm_at, default_at) = (calm_looks.len(), default_looks.len());
    assert!(calm_at <= 10 && default_at >= 15, "3%: look {calm_at}, 15%: look {default_at}");
    assert_eq!(default_looks[0]["sequences"][0]["drift_allowance"], 0.15);
    assert_eq!(calm_looks[0]["sequences"][0]["drift_allowance"], 0.03);
    let test = &last["report"]["metrics"][0]["tests"][0];
    assert!(test["reason"].as_str().unwrap().contains("allowing for 3% drift a side (judgment.drift)"), "{test}");

    let healthy = recording(&dir, "healthy.json", 1000.0, 0.004, 1.0, 1);
    let (output, events) = watch_analysis(&calm, &healthy, &["--interval", "1m"]);
    assert_ne!(output.status.code(), Some(1), "{}", explain(&output));
    assert_ne!(events.last().unwrap()["verdict"], "fail");

    // The cron watchdog's sequential looks carry the same allowance.
    for (analysis, allowance) in [(ANALYSIS, 0.15), (calm.as_str(), 0.03)] {
        let state = dir.path().join(format!("state-{allowance}"));
        let state = state.display().to_string();
        let args = [
            "judge",
            analysis,
            "--replay",
            &replay,
            "--state-dir",
            &state,
            "--looks",
            "sequential",
            "--format",
            "json",
        ];
        let output = run(&args, None);
        let report: Value =
            serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", explain(&output)));
        assert_eq!(report["watchdog"]["sequences"][0]["drift_allowance"], allowance, "{}", explain(&output));
    }

    // Out of range: the usage error names the field and the range.
    let wrong = dir.file("wrong.yaml", &analysis.replace("drift: 3%", "drift: 80%"));
    let (output, _) = watch_analysis(&wrong.display().to_string(), &replay, &["--interval", "1m"]);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(stderr(&output).contains("judgment.drift must be a percentage from 1% to 50%"), "{}", explain(&output));
}
