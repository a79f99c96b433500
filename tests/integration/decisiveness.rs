//! Issue 12, what a pass rules out and which bar decides "too little data": `canary judge
//! --replay` end to end on the recorded fixtures, JSON and table.

use crate::support::{TempDir, run, stdout};
use serde_json::Value;

const ANALYSIS: &str = "analyses/checkout.yaml";

fn judge_json(analysis: &str, fixture: &str) -> (Option<i32>, Value) {
    let replay = format!("fixtures/{fixture}.json");
    let out = run(&["judge", analysis, "--replay", &replay, "--format", "json"], None);
    (out.status.code(), serde_json::from_str(&stdout(&out)).expect("a JSON report"))
}

fn metric<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()
}

/// The checkout analysis with `replace` applied to its text, written to `dir`.
fn analysis_with(dir: &TempDir, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(ANALYSIS).unwrap();
    assert!(text.contains(from), "{from}");
    dir.file("checkout.yaml", &text.replacen(from, to, 1)).to_str().unwrap().to_string()
}

#[test]
fn a_passing_metric_states_what_it_rules_out_in_json_and_table() {
    let (code, report) = judge_json(ANALYSIS, "healthy");
    assert_eq!(code, Some(0));
    for name in ["error_rate", "p99_latency", "conversion"] {
        let metric = metric(&report, name);
        assert_eq!(metric["classification"], "pass", "{name}");
        let rules_out = &metric["rules_out"];
        let level = rules_out["level"].as_f64().unwrap();
        let confidence = metric["tests"].as_array().unwrap().iter().find_map(|t| t["confidence"].as_f64()).unwrap();
        assert!((level - (1.0 + confidence) / 2.0).abs() < 1e-12, "{name}: {rules_out}");
        // The bad end of the interval in the metric's direction.
        let test = metric["tests"].as_array().unwrap().iter().find(|t| t["ci_high"].is_f64()).unwrap();
        match metric["direction"].as_str().unwrap() {
            "increase" => assert_eq!(rules_out["above"], test["ci_high"], "{name}"),
            _ => assert_eq!(rules_out["below"], test["ci_low"], "{name}"),
        }
    }
    assert_eq!(metric(&report, "error_rate")["rules_out"]["kind"], "ratio");
    let latency = &metric(&report, "p99_latency")["rules_out"];
    assert_eq!(latency["kind"], "shift");
    let median = metric(&report, "p99_latency")["baseline"]["summary"]["p50"].as_f64().unwrap();
    let relative = latency["above_relative"].as_f64().unwrap();
    assert!((relative - latency["above"].as_f64().unwrap() / median).abs() < 1e-12);

    let above = metric(&report, "error_rate")["rules_out"]["above"].as_f64().unwrap();
    let out = run(&["judge", ANALYSIS, "--replay", "fixtures/healthy.json"], None);
    let table = stdout(&out);
    assert!(table.contains("| rules out "), "{table}");
    let figure = format!("×{}", canary::model::number::short(above));
    assert!(table.lines().any(|l| l.starts_with("| error_rate") && l.contains(&format!(">{figure}"))), "{table}");
    // The rule lines are wrapped to the page: read them as one text.
    let flat = table.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&format!("rules out a rate above {figure} of the baseline's (one-sided")), "{table}");
}

#[test]
fn an_inconclusive_metric_names_the_bar_that_decided_it() {
    // Low traffic: conversion's interval [×0.271, ×3.87] reaches below the default bar's ×1/2.25.
    let (_, report) = judge_json(ANALYSIS, "error-spike-low-traffic");
    let conversion = metric(&report, "conversion");
    assert_eq!(conversion["classification"], "no_data");
    let inconclusive = &conversion["inconclusive"];
    assert_eq!(inconclusive["rule"], "too_little_data_bar");
    assert_eq!(inconclusive["setting"], "judgment.too_little_data_bar");
    let limit = inconclusive["limit"].as_f64().unwrap();
    assert!((limit - 1.0 / 2.25).abs() < 1e-12, "{limit}");
    assert!(inconclusive["reached"].as_f64().unwrap() < limit);
    let reason = conversion["reason"].as_str().unwrap();
    assert!(reason.contains("(the too-little-data bar, `judgment.too_little_data_bar: 2.25`)"), "{reason}");
    // No series on the canary: a data-quality rule decided.
    let (_, report) = judge_json(ANALYSIS, "no-canary-traffic");
    assert_eq!(metric(&report, "conversion")["inconclusive"]["rule"], "data_quality");

    // The metric's own bar, ×4 (down to ×0.25), lets the same data pass, saying what it rules out.
    let dir = TempDir::new("decisiveness");
    let own = analysis_with(&dir, "    direction: decrease\n", "    direction: decrease\n    too_little_data_bar: 4\n");
    let (_, report) = judge_json(&own, "error-spike-low-traffic");
    let conversion = metric(&report, "conversion");
    assert_eq!(conversion["classification"], "pass", "{conversion}");
    assert!(conversion["rules_out"]["below"].as_f64().unwrap() > 0.25);
    assert!(conversion.get("inconclusive").is_none());

    // A strict default (×1.05) makes the healthy error rate inconclusive, naming the judgment's bar.
    let strict = analysis_with(&dir, "  marginal_score: 75\n", "  marginal_score: 75\n  too_little_data_bar: 1.05\n");
    let (code, report) = judge_json(&strict, "healthy");
    assert_eq!(code, Some(3));
    let error_rate = metric(&report, "error_rate");
    assert_eq!(error_rate["inconclusive"]["rule"], "too_little_data_bar");
    assert_eq!(error_rate["inconclusive"]["limit"].as_f64(), Some(1.05));
    // `inconclusive_beyond` is named when the margins decide.
    let margins = analysis_with(&dir, "    margin: 20%\n", "    margin: 20%\n    inconclusive_beyond: 1\n");
    let (_, report) = judge_json(&margins, "healthy");
    let error_rate = metric(&report, "error_rate");
    assert_eq!(error_rate["inconclusive"]["rule"], "margin_multiple", "{error_rate}");
    assert_eq!(error_rate["inconclusive"]["setting"], "inconclusive_beyond");
}
