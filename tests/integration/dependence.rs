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

/// A 20% conversion drop (margin 10%) with a two-minute baseline dip: the dip widens the rate
/// test's interval until it reaches the margin and the test does not fail, but the estimate and
/// the exact binomial interval lie beyond the margin. Written by `SPIKE=baseline:15:2:0.3 python3
/// scripts/dispersion_step.py 3 conversion 0.8 0 tests/data/dependence/estimate-beyond-margin.json`;
/// main before the rule passed it (exit 0).
#[test]
fn a_drop_whose_interval_only_dispersion_widened_is_not_a_pass() {
    let args = ["judge", "analyses/checkout.yaml", "--replay", "tests/data/dependence/estimate-beyond-margin.json"];
    let out = run(&[&args[..], &["--format", "json"]].concat(), None);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let conversion = metric(&report, "conversion");
    assert_eq!(conversion["classification"], "no_data", "{}", conversion["reason"]);
    let rule = &conversion["inconclusive"];
    assert_eq!(rule["rule"], "estimate_beyond_margin", "{}", conversion["reason"]);
    assert_eq!(rule["limit"], 0.9);
    assert!(rule["reached"].as_f64().unwrap() < 0.9, "{rule}");
    let rate = &conversion["tests"][0];
    assert_eq!(rate["outcome"], "pass", "the test itself did not fail: {}", rate["reason"]);
    assert!(rate["effective_samples"].is_number(), "widened by dispersion: {rate}");
    assert!(conversion["reason"].as_str().unwrap().starts_with("not shown healthy: the rate ×0."));
    // The table names the rule (the label wraps in its column) and gives the reason.
    let table = stdout(&run(&args, None));
    assert!(table.contains("| inconclusive: |") && table.contains("beyond margin |"), "{table}");
    assert!(table.contains("conversion   not shown healthy: the rate ×0.831"), "{table}");
    // `no_data: ignore` on conversion (tests/data/dependence/drift-ignore.yaml) does not leave
    // it out: the run stays inconclusive, never "every metric passed".
    let ignored = ["judge", "tests/data/dependence/drift-ignore.yaml", "--replay", args[3], "--format", "json"];
    let out = run(&ignored, None);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report["reason"].as_str().unwrap().contains("conversion"), "{}", report["reason"]);
}

/// `judgment.drift` on one look: a healthy canary whose conversion drifted on its own (±8% per
/// side, 30-minute memory; written by `scripts/make_declared_drift_fixtures.py`) fails on the
/// window's batches alone (exit 1); declaring `drift: 8%` re-checks the fail under that drift and
/// leaves it open (exit 3, rule `drift`, naming the setting), while a ×0.7 conversion still fails.
#[test]
fn a_declared_drift_leaves_a_drifting_conversion_open_and_still_fails_a_clear_drop() {
    let judge = |analysis: &str, recording: &str| {
        let path = format!("tests/data/dependence/{recording}.json");
        let out = run(
            &["judge", &format!("tests/data/dependence/{analysis}.yaml"), "--replay", &path, "--format", "json"],
            None,
        );
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out.status.code(), report)
    };
    let (code, report) = judge("quality", "declared-drift-healthy");
    assert_eq!(code, Some(1), "{}", report["reason"]);
    let conversion = metric(&report, "conversion");
    assert_eq!(conversion["classification"], "fail_low", "{}", conversion["reason"]);
    assert!(conversion["tests"][0].get("drift").is_none(), "the batches show no drift: {conversion}");

    let (code, report) = judge("quality-declared-drift", "declared-drift-healthy");
    assert_eq!((code, report["verdict"].as_str()), (Some(3), Some("inconclusive")), "{}", report["reason"]);
    let conversion = metric(&report, "conversion");
    assert_eq!(conversion["inconclusive"]["rule"], "drift", "{}", conversion["reason"]);
    assert_eq!(conversion["inconclusive"]["setting"], "judgment.drift");
    assert!(conversion["inconclusive"]["reached"].as_f64().unwrap() > 0.95, "{conversion}");
    let reason = conversion["reason"].as_str().unwrap();
    assert!(
        reason.contains("within what the declared drift (judgment.drift) could produce") && reason.contains("±8%"),
        "{reason}"
    );
    let rate = &conversion["tests"][0];
    assert_eq!(rate["outcome"], "fail", "only the metric is left open: {rate}");
    assert_eq!(rate["drift"]["drift"], 0.08);
    // The other metrics are judged as without the declaration.
    for name in ["error_rate", "p99_latency"] {
        assert_eq!(metric(&report, name)["classification"], "pass", "{name}");
    }

    let (code, report) = judge("quality-declared-drift", "declared-drift-regression");
    assert_eq!(code, Some(1), "{}", report["reason"]);
    let conversion = metric(&report, "conversion");
    assert_eq!(conversion["classification"], "fail_low", "{}", conversion["reason"]);
    assert!(conversion["tests"][0]["drift"]["ci_high"].as_f64().unwrap() < 0.95, "{conversion}");
}
