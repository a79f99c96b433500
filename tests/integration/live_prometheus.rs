//! `canary judge`, `record` and `validate --live` end to end against real servers: Prometheus
//! (blocks made by promtool) and VictoriaMetrics (imported), both holding the deterministic
//! checkout data of `servers.rs`, queried through real PromQL (`increase`, ratios of counts,
//! `histogram_quantile` over a classic histogram). Analyses: `tests/data/live/`.

use crate::servers::{self, AFTER_END, AFTER_START, DATA_END, Server, WINDOW_END, WINDOW_START};
use crate::support::{TempDir, canary_bin, stderr, stdout};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};

const LIVE: &str = "tests/data/live/checkout-live.yaml";
const BEFORE_AFTER: &str = "tests/data/live/before-after.yaml";
const SYNTAX_ERROR: &str = "tests/data/live/syntax-error.yaml";

/// Runs `canary` in the repository root, with `CANARY_SOURCE_URL` set only if `env_url` says so.
fn canary(args: &[&str], env_url: Option<&str>) -> Output {
    let mut command = Command::new(canary_bin());
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CANARY_SOURCE_URL")
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null());
    if let Some(url) = env_url {
        command.env("CANARY_SOURCE_URL", url);
    }
    command.output().expect("canary runs")
}

fn explain(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// `canary judge ANALYSIS --source-url URL --start .. --end .. --var canary=.. --format json`.
fn judge(server: &Server, analysis: &str, canary_name: &str, window: (&str, &str), extra: &[&str]) -> (Output, Value) {
    let var = format!("canary={canary_name}");
    let mut args = vec!["judge", analysis, "--source-url", &server.url, "--start", window.0, "--end", window.1];
    args.extend(["--var", &var, "--format", "json"]);
    args.extend_from_slice(extra);
    let output = canary(&args, None);
    let report = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("{} {canary_name}: no JSON report ({e})\n{}", server.name, explain(&output)));
    (output, report)
}

/// Metric name -> classification.
fn classifications(report: &Value) -> BTreeMap<String, String> {
    report["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["classification"].as_str().unwrap().to_string()))
        .collect()
}

fn metric<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

/// Asserts the exit code, the verdict and every metric's classification (`pass` unless listed).
fn assert_judgment(
    server: &Server,
    scenario: &str,
    output: &Output,
    report: &Value,
    code: i32,
    failing: &[(&str, &str)],
) {
    let verdict = match code {
        0 => "pass",
        1 => "fail",
        _ => "inconclusive",
    };
    assert_eq!(output.status.code(), Some(code), "{} {scenario}: {}", server.name, explain(output));
    assert_eq!(report["verdict"], verdict, "{} {scenario}: {}", server.name, report["reason"]);
    for (name, classification) in classifications(report) {
        let expected = failing.iter().find(|(n, _)| *n == name).map_or("pass", |(_, c)| *c);
        assert_eq!(classification, expected, "{} {scenario}: {name}: {}", server.name, metric(report, &name)["reason"]);
    }
}

/// The rise of `deployment`'s request counters (all codes, or `code`) from `from` to `to`.
fn requests_rise(deployment: &str, code: Option<&str>, from: i64, to: i64) -> f64 {
    let data = servers::dataset();
    data.deployment(deployment)
        .requests
        .iter()
        .filter(|s| code.is_none_or(|c| s.label("code") == Some(c)))
        .map(|s| s.values[data.slot(to)] - s.values[data.slot(from)])
        .sum()
}

/// The window totals of `error_rate` are exactly the counters' rise from one step before the
/// window's start to its end: one `increase(x[1m])` a minute tiles the window, and with samples
/// on the minute neither backend extrapolates.
fn assert_error_totals(server: &Server, report: &Value, side: &str, deployment: &str, start: i64, end: i64) {
    let totals = &metric(report, "error_rate")[side]["totals"];
    let (errors, requests) =
        (requests_rise(deployment, Some("500"), start - 60, end), requests_rise(deployment, None, start - 60, end));
    assert_eq!(totals["denominator"].as_f64(), Some(requests), "{} {side} {deployment}: {totals}", server.name);
    assert_eq!(totals["numerator"].as_f64(), Some(errors), "{} {side} {deployment}: {totals}", server.name);
}

const WINDOW_START_UNIX: i64 = DATA_END - 30 * 60;

fn healthy_canary_passes(server: &Server) {
    let (output, report) = judge(server, LIVE, "checkout-healthy", (WINDOW_START, WINDOW_END), &[]);
    assert_judgment(server, "healthy", &output, &report, 0, &[]);
    assert_eq!(report["window"]["start"], WINDOW_START);
    assert_eq!(report["window"]["end"], WINDOW_END);
    assert_eq!(report["source"]["kind"], "prometheus");
    assert_error_totals(server, &report, "baseline", "checkout-baseline", WINDOW_START_UNIX, DATA_END);
    assert_error_totals(server, &report, "canary", "checkout-healthy", WINDOW_START_UNIX, DATA_END);
    // 31 points a minute, the p99's overlapping 2m windows thinned to every second one.
    let p99 = metric(&report, "p99_latency");
    assert_eq!((p99["baseline"]["samples"].as_u64(), p99["canary"]["samples"].as_u64()), (Some(16), Some(16)), "{p99}");
    let query = &p99["queries"]["canary"]["value"];
    assert!(query.as_str().is_some_and(|q| q.contains("deployment=\"checkout-healthy\"")), "{query}");
}

fn slow_canary_fails_on_p99(server: &Server) {
    let (output, report) = judge(server, LIVE, "checkout-slow", (WINDOW_START, WINDOW_END), &[]);
    assert_judgment(server, "slow", &output, &report, 1, &[("p99_latency", "fail_high")]);
    // The generated latency is x1.5: the shift of the p99 is around +50% of the baseline's.
    let p99 = metric(&report, "p99_latency");
    let (baseline, canary) =
        (p99["baseline"]["summary"]["p50"].as_f64().unwrap(), p99["canary"]["summary"]["p50"].as_f64().unwrap());
    assert!((1.35..1.65).contains(&(canary / baseline)), "{} p99 {canary} against {baseline}", server.name);
}

fn error_canary_fails_on_error_rate(server: &Server) {
    let (output, report) = judge(server, LIVE, "checkout-errors", (WINDOW_START, WINDOW_END), &[]);
    assert_judgment(server, "errors", &output, &report, 1, &[("error_rate", "fail_high")]);
    let rate = |side: &str| metric(&report, "error_rate")[side]["totals"]["rate"].as_f64().unwrap();
    let ratio = rate("canary") / rate("baseline");
    assert!((6.0..10.0).contains(&ratio), "{}: error rate x{ratio}", server.name);
}

// --- Prometheus ------------------------------------------------------------------------------

#[test]
fn prometheus_healthy_canary_passes() {
    healthy_canary_passes(servers::prometheus());
}

#[test]
fn prometheus_slow_canary_fails_on_p99_latency() {
    slow_canary_fails_on_p99(servers::prometheus());
}

#[test]
fn prometheus_error_canary_fails_on_error_rate() {
    error_canary_fails_on_error_rate(servers::prometheus());
}

#[test]
fn prometheus_before_after_offset_catches_the_deploy() {
    let server = servers::prometheus();
    let (output, report) = judge(server, BEFORE_AFTER, "checkout-deploy", (AFTER_START, AFTER_END), &[]);
    assert_judgment(server, "before/after deploy", &output, &report, 1, &[("p99_latency", "fail_high")]);
    assert_eq!(report["baseline"]["offset_seconds"], 900, "{}", report["baseline"]);
    // The baseline's counts come from 15 minutes earlier: 10:06 to 10:20.
    let after_start = DATA_END - 18 * 60;
    let after_end = DATA_END - 5 * 60;
    assert_error_totals(server, &report, "baseline", "checkout-deploy", after_start - 900, after_end - 900);
    assert_error_totals(server, &report, "canary", "checkout-deploy", after_start, after_end);
    // A deployment that did not change passes the same comparison.
    let (output, report) = judge(server, BEFORE_AFTER, "checkout-baseline", (AFTER_START, AFTER_END), &[]);
    assert_judgment(server, "before/after steady", &output, &report, 0, &[]);
}

#[test]
fn prometheus_syntax_error_is_a_configuration_error_showing_the_query() {
    let server = servers::prometheus();
    let output = canary(
        &["judge", SYNTAX_ERROR, "--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END],
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let err = stderr(&output);
    // The rendered query, and Prometheus's own message (`1:NN: parse error: ...`).
    assert!(err.contains(r#"sum(rate(http_requests_total{ deployment="checkout-"#), "{}", explain(&output));
    assert!(err.contains("parse error"), "{}", explain(&output));
}

#[test]
fn prometheus_empty_result_is_no_data_and_inconclusive() {
    let server = servers::prometheus();
    let (output, report) = judge(server, LIVE, "checkout-missing", (WINDOW_START, WINDOW_END), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", explain(&output));
    assert_eq!(report["verdict"], "inconclusive");
    for (name, classification) in classifications(&report) {
        assert_eq!(classification, "no_data", "{name}: {}", metric(&report, &name)["reason"]);
    }
    // Both selectors on the same pods: identical series are an error of each metric, never a pass.
    let (output, report) = judge(server, LIVE, "checkout-baseline", (WINDOW_START, WINDOW_END), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", explain(&output));
    for (name, classification) in classifications(&report) {
        assert_eq!(classification, "error", "{name}: {}", metric(&report, &name)["reason"]);
    }
}

#[test]
fn prometheus_source_url_from_the_environment_and_bounded_concurrency() {
    let server = servers::prometheus();
    let args = [
        "judge",
        LIVE,
        "--start",
        WINDOW_START,
        "--end",
        WINDOW_END,
        "--var",
        "canary=checkout-slow",
        "--concurrency",
        "1",
    ];
    let output = canary(&args, Some(&server.url));
    assert_eq!(output.status.code(), Some(1), "{}", explain(&output));
    let table = stdout(&output);
    assert!(table.contains("p99_latency") && table.contains("FAIL"), "{table}");
}

#[test]
fn prometheus_record_then_replay_gives_the_live_judgment() {
    let server = servers::prometheus();
    let dir = TempDir::new("live-record");
    for canary_name in ["checkout-slow", "checkout-errors", "checkout-healthy"] {
        let (live_output, live) = judge(server, LIVE, canary_name, (WINDOW_START, WINDOW_END), &[]);
        let recording = dir.file(&format!("{canary_name}.json"), "");
        let var = format!("canary={canary_name}");
        let out = recording.to_str().unwrap();
        let args = ["record", LIVE, "--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END];
        let output = canary(&[&args[..], &["--var", &var, "--out", out]].concat(), None);
        assert_eq!(output.status.code(), Some(0), "record {canary_name}: {}", explain(&output));
        let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&recording).unwrap()).unwrap();
        let schema: Value = serde_json::from_str(&stdout(&canary(&["schema", "recording"], None))).unwrap();
        let errors: Vec<String> = jsonschema::validator_for(&schema)
            .unwrap()
            .iter_errors(&recorded)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{canary_name}: the recording does not match its schema: {errors:?}");

        let output = canary(&["judge", LIVE, "--replay", out, "--var", &var, "--format", "json"], None);
        assert_eq!(output.status.code(), live_output.status.code(), "replay {canary_name}: {}", explain(&output));
        let replayed: Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert!(!stderr(&output).contains("differs"), "replay {canary_name}: {}", stderr(&output));
        assert_eq!(replayed["verdict"], live["verdict"], "{canary_name}");
        assert_eq!(replayed["window"], live["window"], "{canary_name}");
        assert_eq!(classifications(&replayed), classifications(&live), "{canary_name}");
        // The judge cannot tell live data from recorded data: every metric's evidence is the same.
        assert_eq!(replayed["metrics"], live["metrics"], "{canary_name}");
    }
}

#[test]
fn prometheus_validate_live_previews_every_query() {
    let server = servers::prometheus();
    let args = ["validate", LIVE, "--live", "--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END];
    let output = canary(&[&args[..], &["--var", "canary=checkout-slow"]].concat(), None);
    assert_eq!(output.status.code(), Some(0), "{}", explain(&output));
    let text = stdout(&output);
    assert!(text.contains("series"), "{text}");
    assert!(text.contains(r#"deployment="checkout-slow""#), "{text}");
    for line in text.lines().filter(|l| l.contains("matrix")) {
        assert!(line.contains("matrix, 1 series, points 31"), "{text}");
    }
    assert_eq!(text.lines().filter(|l| l.contains("matrix, 1 series")).count(), 10, "{text}");
    // A selector that matches nothing shows up before a rollout depends on it.
    let output = canary(&[&args[..], &["--var", "canary=checkout-missing"]].concat(), None);
    assert_eq!(output.status.code(), Some(3), "{}", explain(&output));
    let text = stdout(&output);
    assert!(text.contains("canary   denominator EMPTY: matrix, 0 series"), "{text}");
    assert!(text.contains("some queries returned no series"), "{text}");
    // No active target, so no known scrape interval: nothing is blamed on the ranges.
    assert!(!text.contains("scrape interval"), "{text}");
}

// --- VictoriaMetrics -------------------------------------------------------------------------
// The same data through VictoriaMetrics' own PromQL engine (MetricsQL): `increase` without
// extrapolation, NaN dropped from results, the newest 30 s hidden (`-search.latencyOffset`);
// the window lies days in the past, so the last quirk does not bite.

#[test]
fn victoria_metrics_healthy_canary_passes() {
    healthy_canary_passes(servers::victoria_metrics());
}

#[test]
fn victoria_metrics_slow_canary_fails_on_p99_latency() {
    slow_canary_fails_on_p99(servers::victoria_metrics());
}

#[test]
fn victoria_metrics_error_canary_fails_on_error_rate() {
    error_canary_fails_on_error_rate(servers::victoria_metrics());
}

#[test]
fn victoria_metrics_before_after_offset_catches_the_deploy() {
    let server = servers::victoria_metrics();
    let (output, report) = judge(server, BEFORE_AFTER, "checkout-deploy", (AFTER_START, AFTER_END), &[]);
    assert_judgment(server, "before/after deploy", &output, &report, 1, &[("p99_latency", "fail_high")]);
}

/// VictoriaMetrics answers a PromQL syntax error with HTTP 422 (`errorType: "422"`, its status
/// for every query error), not 400 bad_data as Prometheus does; canary recognises the parse error
/// in the message and reports a configuration error (2) showing the query and the server's words.
#[test]
fn victoria_metrics_syntax_error_shows_the_query_and_the_servers_message() {
    let server = servers::victoria_metrics();
    let args = ["judge", SYNTAX_ERROR, "--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END];
    let output = canary(&args, None);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    let err = stderr(&output);
    assert!(err.contains("sum(rate(http_requests_total{ deployment="), "{}", explain(&output));
    assert!(err.contains("unparsed data"), "{}", explain(&output));
}

/// With `breakdown: [code]` each status code's series is judged on its own: only the 5xx rate of
/// the error canary fails, and both parts are reported by name.
#[test]
fn a_breakdown_judges_each_status_code_on_its_own() {
    let server = servers::prometheus();
    let (output, report) =
        judge(server, "tests/data/live/breakdown.yaml", "checkout-errors", (WINDOW_START, WINDOW_END), &[]);
    assert_judgment(server, "breakdown by code", &output, &report, 1, &[("request_rate{code=\"500\"}", "fail_high")]);
    assert_eq!(classifications(&report).len(), 2, "{}", explain(&output));
}

/// `canary watch` against the real Prometheus with a fixed clock: the slow canary is caught before
/// the end of its lifetime, the healthy one runs to the end and passes.
#[test]
fn watch_stops_early_on_a_regression_against_prometheus() {
    let server = servers::prometheus();
    let watch = |canary_name: &str| {
        let var = format!("canary={canary_name}");
        canary(
            &[
                "watch",
                LIVE,
                "--source-url",
                &server.url,
                "--var",
                &var,
                "--now",
                WINDOW_START,
                "--lifetime",
                "30m",
                "--interval",
                "5m",
                "--format",
                "json",
            ],
            None,
        )
    };
    let events = |output: &Output| -> Vec<Value> { crate::support::watch_events(output) };
    let slow = watch("checkout-slow");
    assert_eq!(slow.status.code(), Some(1), "{}", explain(&slow));
    let looks = events(&slow).iter().filter(|e| e["event"] == "look").count();
    let planned = events(&slow)[0]["looks"].as_array().unwrap().len();
    assert!(looks < planned, "stopped at look {looks} of {planned}");
    let healthy = watch("checkout-healthy");
    assert_eq!(healthy.status.code(), Some(0), "{}", explain(&healthy));
    assert_eq!(events(&healthy).iter().filter(|e| e["event"] == "look").count(), planned);
}

/// A `--var` value that closes its PromQL string turned a 7x error-rate FAIL into a PASS against
/// a real Prometheus: it is refused (exit 2) before any query, unless the analysis declares the
/// variable a query fragment (then it is pasted as given, which is what made the attack work).
#[test]
fn prometheus_a_var_that_injects_promql_is_refused() {
    let server = servers::prometheus();
    let injection =
        r#"canary=checkout-errors"}[1m]) * 0 or 0.9 * increase(http_requests_total{deployment="checkout-baseline"#;
    let args = ["judge", LIVE, "--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END];
    let honest = canary(&[&args[..], &["--var", "canary=checkout-errors"]].concat(), None);
    assert_eq!(honest.status.code(), Some(1), "{}", explain(&honest));

    let injected = canary(&[&args[..], &["--var", injection]].concat(), None);
    assert_eq!(injected.status.code(), Some(2), "{}", explain(&injected));
    let err = stderr(&injected);
    assert!(err.contains("--var canary:") && err.contains("fragment_variables"), "{err}");
    assert!(stdout(&injected).is_empty(), "{}", explain(&injected));

    // The same run with the explicit opt-out: the fragment reaches Prometheus and the 7x error
    // rate passes, which is why the opt-out must be written in the analysis, never on the command line.
    let dir = TempDir::new("live-fragment");
    let text = std::fs::read_to_string(LIVE).unwrap();
    let opted_out = dir.file(
        "fragment.yaml",
        &text.replace("variables:\n  canary:", "fragment_variables: [canary]\nvariables:\n  canary:"),
    );
    let args = [
        "judge",
        opted_out.to_str().unwrap(),
        "--source-url",
        &server.url,
        "--start",
        WINDOW_START,
        "--end",
        WINDOW_END,
    ];
    let pasted = canary(&[&args[..], &["--var", injection, "--format", "json"]].concat(), None);
    let report: Value = serde_json::from_str(&stdout(&pasted)).unwrap_or_else(|_| panic!("{}", explain(&pasted)));
    assert_eq!(metric(&report, "error_rate")["classification"], "pass", "{}", explain(&pasted));
}

#[test]
fn prometheus_a_misspelt_var_is_refused_with_the_near_miss() {
    let server = servers::prometheus();
    let args = ["judge", LIVE, "--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END];
    let output = canary(&[&args[..], &["--var", "canry=checkout-errors"]].concat(), None);
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert!(stderr(&output).contains("did you mean `canary`?"), "{}", explain(&output));
}
