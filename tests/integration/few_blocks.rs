//! Few blocks (issue 12): a healthy canary's counters scraped live every second by a real
//! Prometheus and judged at a 10 s step over 2 minutes (`tests/data/live/few-blocks.yaml`): 12
//! extrapolated `increase()` intervals a side, so the long-run dispersion of the canary/baseline
//! split rests on 5 batches of 2–3 intervals. The count metrics must not fail, and the dispersion
//! the judge allows for must stay near 1 (the issue saw 1.5–3× on healthy data).

use crate::realtime::{Behaviour, Exporter, scraped_every_second};
use crate::support::{stderr, stdout};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ANALYSIS: &str = "tests/data/live/few-blocks.yaml";
const WINDOW_SECONDS: u64 = 120;

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn a_healthy_canary_at_a_10s_step_over_2_minutes_does_not_fail_its_counts() {
    let healthy = |deployment, seed| Behaviour { deployment, error_probability: 0.02, latency_median: 0.1, seed };
    let exporters = [healthy("fb-baseline", 11), healthy("fb-healthy", 12)].map(Exporter::start);
    let prometheus = scraped_every_second(&exporters);
    // Two minutes of data after the first full step, and a few seconds for the last scrapes.
    let first = unix_seconds().div_ceil(10) * 10;
    let end = first + WINDOW_SECONDS + 10;
    while unix_seconds() < end + 3 {
        std::thread::sleep(Duration::from_millis(500));
    }
    let timestamp = |s: u64| jiff::Timestamp::from_second(s as i64).unwrap().to_string();
    let (start, end) = (timestamp(end - WINDOW_SECONDS), timestamp(end));
    let output = std::process::Command::new(crate::support::canary_bin())
        .args(["judge", ANALYSIS, "--source-url", &prometheus.url, "--start", &start, "--end", &end])
        .args(["--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CANARY_SOURCE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("canary runs");
    drop(exporters);
    let explain = format!("exit {:?}\n{}\n{}", output.status.code(), stdout(&output), stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {explain}"));
    assert_ne!(output.status.code(), Some(1), "{explain}");
    assert_ne!(report["verdict"], "fail", "{explain}");
    for metric in report["metrics"].as_array().unwrap() {
        let (name, classification) = (&metric["name"], metric["classification"].as_str().unwrap());
        assert!(!classification.starts_with("fail"), "{name}: {classification}: {}", metric["reason"]);
        assert!(metric["canary"]["samples"].as_u64().unwrap() >= 11, "{name}: {metric}");
        let rate = metric["tests"].as_array().unwrap().iter().find(|t| t["test"] == "rate").expect("a rate test");
        assert!(rate["p_value"].is_number(), "{name}: the rate test ran: {rate}");
        // The dispersion allowed for: events of both sides over the effective events (1 when the
        // data show none and the exact binomial test applies).
        let events = metric["canary"]["totals"]["numerator"].as_f64().unwrap()
            + metric["baseline"]["totals"]["numerator"].as_f64().unwrap();
        let dispersion = rate["effective_samples"].as_f64().map_or(1.0, |effective| events / effective);
        eprintln!("few blocks: {name} {classification}, dispersion {dispersion:.2}: {}", metric["reason"]);
        assert!((1.0..4.0).contains(&dispersion), "{name}: dispersion {dispersion}: {metric}");
    }
}
