//! A range shorter than twice the scrape interval (`increase(x[1s])` at a 15 s scrape returns
//! nothing) is named by `validate --live` and by the judge, against a real Prometheus whose
//! scrape interval (15 s, from its config) is read from `/api/v1/targets`.

use crate::servers::{Server, WINDOW_END, WINDOW_START};
use crate::support::{TempDir, canary_bin, stderr, stdout};
use serde_json::Value;
use std::process::{Command, Output, Stdio};

const ANALYSIS: &str = r#"version: 1
name: short-range
source:
  kind: prometheus
  url: http://127.0.0.1:9
baseline:
  variables:
    selector: 'deployment="baseline"'
canary:
  variables:
    selector: 'deployment="canary"'
window:
  last: 30m
  step: 1m
  warmup: 0s
metrics:
  - name: errors
    numerator: 'sum(increase(errors_total{ {{ selector }} }[1s]))'
    denominator: 'sum(increase(requests_total{ {{ selector }} }[1s]))'
    direction: increase
  - name: latency
    query: 'avg(rate(latency_seconds_sum{ {{ selector }} }[5m]))'
    direction: increase
"#;

const SHORT: &str = "the range [1s] of `sum(increase(requests_total{ deployment=\"canary\" }[1s]))` is shorter than twice the scrape interval 15s: rate() and increase() need two samples in the range; use at least [30s]";

fn canary(args: &[&str]) -> Output {
    Command::new(canary_bin())
        .args(args)
        .env_remove("CANARY_SOURCE_URL")
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .output()
        .expect("canary runs")
}

fn explain(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// Waits until Prometheus lists its (unreachable) target as active.
fn wait_for_targets(server: &Server) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let answer = crate::servers::http("GET", &server.url, "/api/v1/targets?state=active", None).expect("targets");
        if answer.body.contains("scrapeInterval") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "prometheus never listed its target: {}", answer.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_range_shorter_than_twice_the_scrape_interval_is_named_not_called_no_traffic() {
    // Nothing listens on port 9 (discard): the target is active but never scraped, so every
    // query comes back empty, as `increase(x[1s])` does at a 15 s scrape.
    let server = Server::prometheus_scraping(&["127.0.0.1:9".to_string()], 15);
    wait_for_targets(&server);
    let dir = TempDir::new("short-range");
    let analysis = dir.file("short-range.yaml", ANALYSIS);
    let analysis = analysis.to_str().unwrap();
    let window = ["--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END];

    let output = canary(&[&["validate", analysis, "--live"][..], &window].concat());
    assert_eq!(output.status.code(), Some(3), "{}", explain(&output));
    let text = stdout(&output);
    assert!(text.contains(&format!("  {SHORT}\n")), "{text}");
    // Each short range is named once per query; the [5m] gauge's empty answer is not blamed on it.
    assert_eq!(text.matches("shorter than twice the scrape interval").count(), 4, "{text}");
    assert!(!text.contains("[5m]` is shorter"), "{text}");

    let output = canary(&[&["judge", analysis, "--format", "json"][..], &window].concat());
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", explain(&output)));
    assert_ne!(output.status.code(), Some(0), "{}", explain(&output));
    let metric = |name: &str| report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap().clone();
    let errors = metric("errors");
    assert_eq!(errors["classification"], "no_data", "{errors}");
    let findings: Vec<&str> =
        errors["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(findings[0].contains("is shorter than twice the scrape interval 15s"), "{findings:?}");
    assert_eq!(findings.iter().filter(|f| f.contains("scrape interval")).count(), 1, "once per metric: {findings:?}");
    assert!(findings.iter().any(|f| f.contains("no traffic")), "the no-traffic finding stays after it: {findings:?}");
    let latency = metric("latency");
    assert_eq!(latency["classification"], "no_data", "{latency}");
    assert!(!latency.to_string().contains("scrape interval"), "{latency}");
}
