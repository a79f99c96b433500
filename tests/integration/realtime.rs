//! `canary watch` in real time and on recorded data: no look judges data it does not have, and
//! no look passes on evidence it does not have.
//!
//! * Replays: looks stop at the recording's end, and a recording shorter than the lifetime
//!   cannot pass; early looks (a tiny share of alpha) never pass on a regression, and a look whose
//!   tests were all skipped is not a pass.
//! * Live: small services in this process export real counters and a real histogram in the
//!   Prometheus text format, a real Prometheus scrapes them every second, and `canary watch`
//!   starts off the step's grid while they run (analysis: `tests/data/live/realtime.yaml`).

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::Value;

const ANALYSIS: &str = "analyses/checkout.yaml";
const REGRESSIONS: [&str; 3] = ["latency-regression", "error-spike-low-traffic", "conversion-drop"];

/// The JSON events of a `watch --format json` run.
/// The JSON events of a watch, each checked against `canary schema watch`.
fn events(output: &std::process::Output) -> Vec<Value> {
    crate::support::watch_events(output)
}

fn looks(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "look").collect()
}

fn explain(output: &std::process::Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// `watch --replay` with a lifetime longer than the recording judged looks past its end on the
/// data it had and passed them.
#[test]
fn replay_stops_at_the_recordings_end_and_a_cut_lifetime_cannot_pass() {
    let out = run(
        &[
            "watch",
            ANALYSIS,
            "--replay",
            "fixtures/healthy.json",
            "--lifetime",
            "1h",
            "--interval",
            "5m",
            "--looks",
            "fixed",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", explain(&out));
    let events = events(&out);
    let recording: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy.json"))
            .unwrap(),
    )
    .unwrap();
    let recorded_end = recording["window"]["end"].as_str().unwrap();
    for look in looks(&events) {
        let end = look["window"]["end"].as_str().unwrap();
        assert!(end <= recorded_end, "a look past the recording's end {recorded_end}: {look}");
    }
    let last = events.last().unwrap();
    assert_eq!((last["event"].as_str(), last["verdict"].as_str()), (Some("final"), Some("inconclusive")), "{last}");
    assert!(last["report"]["reason"].as_str().unwrap().contains("the recording ends at"), "{last}");
    assert!(stderr(&out).contains("the recording ends at"), "{}", stderr(&out));
}

/// Early looks spend a tiny share of alpha (1e-19 at the first look here), at which the count
/// test used to be skipped and its metric passed: a regression's early looks never pass, and the
/// end is a fail.
#[test]
fn no_early_look_passes_on_a_regression_and_the_end_fails() {
    for fixture in REGRESSIONS {
        let replay = format!("fixtures/{fixture}.json");
        let args =
            ["watch", ANALYSIS, "--replay", &replay, "--lifetime", "30m", "--interval", "2m", "--looks", "fixed"];
        let out = run(&[&args[..], &["--format", "json"]].concat(), None);
        assert_eq!(out.status.code(), Some(1), "{fixture}: {}", explain(&out));
        let events = events(&out);
        let looks = looks(&events);
        assert!(looks[0]["alpha"].as_f64().unwrap() < 1e-15, "{fixture}: the first look is not a tiny one");
        let (last, early) = looks.split_last().unwrap();
        for look in early {
            assert_ne!(look["verdict"], "pass", "{fixture}: an early look passed: {look}");
        }
        assert_eq!(last["verdict"], "fail", "{fixture}: {last}");
        assert_eq!(events.last().unwrap()["verdict"], "fail", "{fixture}");
    }
}

/// The error rate and conversion of `analyses/checkout.yaml` on their own: at a watch's first
/// look both count tests were skipped, both metrics were classified "pass, no test ran", and so
/// the look passed.
const COUNTS_ONLY: &str = r#"
version: 1
name: checkout
variables:
  canary: checkout-canary
baseline:
  variables:
    selector: 'deployment="checkout-baseline"'
canary:
  variables:
    selector: 'deployment="{{ canary }}"'
window:
  last: 30m
  step: 1m
  warmup: 5m
judgment:
  alpha: 0.01
  pass_score: 95
  marginal_score: 75
metrics:
  - name: error_rate
    numerator: 'sum(increase(http_requests_total{ {{ selector }}, code=~"5.." }[{{ step }}]))'
    denominator: 'sum(increase(http_requests_total{ {{ selector }} }[{{ step }}]))'
    direction: increase
    margin: 20%
    critical: true
  - name: conversion
    numerator: 'sum(increase(checkouts_completed_total{ {{ selector }} }[{{ step }}]))'
    denominator: 'sum(increase(checkout_sessions_started_total{ {{ selector }} }[{{ step }}]))'
    direction: decrease
    margin: 10%
"#;

#[test]
fn a_look_whose_tests_were_all_skipped_is_not_a_pass() {
    let dir = TempDir::new("watch-counts-only");
    let analysis = dir.file("counts.yaml", COUNTS_ONLY);
    let analysis = analysis.to_str().unwrap();
    for fixture in ["error-spike-low-traffic", "conversion-drop"] {
        let replay = format!("fixtures/{fixture}.json");
        let args =
            ["watch", analysis, "--replay", &replay, "--lifetime", "30m", "--interval", "2m", "--format", "json"];
        let out = run(&args, None);
        let events = events(&out);
        for look in looks(&events) {
            if look["verdict"] != "pass" {
                continue;
            }
            for metric in look["metrics"].as_array().unwrap() {
                assert_ne!(metric["reason"], "no test ran", "{fixture}: a look passed untested: {look}");
            }
        }
        assert_ne!(events.last().unwrap()["verdict"], "pass", "{fixture}: {}", explain(&out));
        assert_ne!(out.status.code(), Some(0), "{fixture}: {}", explain(&out));
    }
}

// ---------------------------------------------------------------------------------------------
// Live: services scraped by a real Prometheus while `canary watch` runs

/// How one exporting service behaves.
#[derive(Clone, Copy)]
pub(crate) struct Behaviour {
    pub(crate) deployment: &'static str,
    pub(crate) error_probability: f64,
    /// Median request duration in seconds (lognormal, sigma 0.5).
    pub(crate) latency_median: f64,
    pub(crate) seed: u64,
}

const BUCKETS: [f64; 12] = [0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, f64::INFINITY];
/// Requests per 100 ms tick (about 200 a second).
const REQUESTS_PER_TICK: f64 = 20.0;

/// The counters of one service: requests by code, and the latency histogram.
#[derive(Default)]
struct Counters {
    ok: u64,
    errors: u64,
    buckets: [u64; BUCKETS.len()],
    duration_sum: f64,
}

impl Counters {
    fn exposition(&self, deployment: &str) -> String {
        use std::fmt::Write as _;
        let mut text = String::from("# TYPE http_requests_total counter\n");
        let _ = writeln!(text, "http_requests_total{{deployment=\"{deployment}\",code=\"200\"}} {}", self.ok);
        let _ = writeln!(text, "http_requests_total{{deployment=\"{deployment}\",code=\"500\"}} {}", self.errors);
        text.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (bound, count) in BUCKETS.iter().zip(self.buckets) {
            let le = if bound.is_infinite() { "+Inf".to_string() } else { bound.to_string() };
            let _ = writeln!(
                text,
                "http_request_duration_seconds_bucket{{deployment=\"{deployment}\",le=\"{le}\"}} {count}"
            );
        }
        let _ =
            writeln!(text, "http_request_duration_seconds_sum{{deployment=\"{deployment}\"}} {}", self.duration_sum);
        let _ = writeln!(
            text,
            "http_request_duration_seconds_count{{deployment=\"{deployment}\"}} {}",
            self.ok + self.errors
        );
        text
    }
}

/// A service in this process: a thread that serves traffic (counting requests every 100 ms) and
/// a thread that answers `GET /metrics`. Both stop when it is dropped.
pub(crate) struct Exporter {
    pub(crate) address: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter {
    pub(crate) fn start(behaviour: Behaviour) -> Exporter {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Mutex::new(Counters::default()));
        {
            let (counters, stop) = (counters.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rng = crate::servers::SplitMix64::new(behaviour.seed);
                while !stop.load(Ordering::Relaxed) {
                    let requests = rng.poisson(REQUESTS_PER_TICK);
                    let mut c = counters.lock().unwrap();
                    for _ in 0..requests {
                        if rng.uniform() < behaviour.error_probability {
                            c.errors += 1;
                        } else {
                            c.ok += 1;
                        }
                        let duration = behaviour.latency_median * (0.5 * rng.normal()).exp();
                        c.duration_sum += duration;
                        for (bound, count) in BUCKETS.iter().zip(c.buckets.iter_mut()) {
                            if duration <= *bound {
                                *count += 1;
                            }
                        }
                    }
                    drop(c);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
        }
        {
            let stop = stop.clone();
            std::thread::spawn(move || {
                use std::io::{BufRead, BufReader, Write};
                while !stop.load(Ordering::Relaxed) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    };
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    // The request line and headers, up to the blank line.
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                        line.clear();
                    }
                    let body = counters.lock().unwrap().exposition(behaviour.deployment);
                    let _ = write!(
                        &stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
        Exporter { address, stop }
    }
}

/// A Prometheus of its own scraping `exporters` every second, once it has scraped each of them for
/// a few seconds.
pub(crate) fn scraped_every_second(exporters: &[Exporter]) -> crate::servers::Server {
    let targets: Vec<String> = exporters.iter().map(|e| e.address.clone()).collect();
    let prometheus = crate::servers::Server::prometheus_scraping(&targets, 1);
    wait_for_scrapes(&prometheus.url, targets.len());
    prometheus
}

/// Waits until the Prometheus at `url` has scraped each of its `targets` for a few seconds.
fn wait_for_scrapes(url: &str, targets: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let query = crate::servers::form(&[("query", "count(count_over_time(up[10s]) >= 4)")]);
        let answer = crate::servers::http("GET", url, &format!("/api/v1/query?{query}"), None).unwrap();
        let scraped = answer.json()["data"]["result"][0]["value"][1].as_str().map(str::to_string);
        if scraped.as_deref() == Some(targets.to_string().as_str()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "prometheus never scraped the services: {}", answer.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

const REALTIME: &str = "tests/data/live/realtime.yaml";
const STEP_SECONDS: u64 = 3;

fn unix_now() -> std::time::Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap()
}

/// Starts `canary watch` on the live services (without waiting for it).
fn watch_live(url: &str, canary_name: &str) -> std::process::Child {
    let var = format!("canary={canary_name}");
    std::process::Command::new(crate::support::canary_bin())
        .args(["watch", REALTIME, "--source-url", url, "--var", &var])
        // The first look covers about half of the lifetime, so that a first look off the grid
        // shows in the final judgment.
        .args(["--lifetime", "45s", "--interval", "21s", "--warmup", "3s", "--settle", "4s"])
        .args(["--looks", "sequential", "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CANARY_SOURCE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("canary starts")
}

/// The judged points of `metric` on `side` in a final report.
fn samples(report: &Value, metric: &str, side: &str) -> u64 {
    let metric = report["metrics"].as_array().unwrap().iter().find(|m| m["name"] == metric).unwrap();
    metric[side]["samples"].as_u64().unwrap_or_else(|| panic!("no {side} samples: {metric}"))
}

/// Points on the step's grid in a report's window.
fn grid_points(report: &Value) -> u64 {
    let time = |field: &str| {
        let text = report["window"][field].as_str().unwrap();
        text.parse::<jiff::Timestamp>().unwrap().as_second() as u64
    };
    (time("end") - time("start")) / STEP_SECONDS + 1
}

/// Started off the step's grid (the usual case in real time), `canary watch` judged only about
/// half of its points: its first window started off the grid, the later incremental fetches were
/// on it, and thinning kept only the last point's grid. Now every point counts, and a canary with
/// 5x the errors and twice the latency fails.
#[test]
fn watch_in_real_time_judges_every_point_and_fails_a_regression() {
    let exporters: Vec<Exporter> = [
        Behaviour { deployment: "rt-baseline", error_probability: 0.02, latency_median: 0.1, seed: 1 },
        Behaviour { deployment: "rt-healthy", error_probability: 0.02, latency_median: 0.1, seed: 2 },
        Behaviour { deployment: "rt-bad", error_probability: 0.10, latency_median: 0.2, seed: 3 },
    ]
    .into_iter()
    .map(Exporter::start)
    .collect();
    let prometheus = scraped_every_second(&exporters);
    // Start 1.5 s past a grid instant: off the step's grid.
    let now = unix_now();
    let into_step = now.as_millis() as u64 % (STEP_SECONDS * 1000);
    std::thread::sleep(std::time::Duration::from_millis(
        (STEP_SECONDS * 1000 + 1500 - into_step) % (STEP_SECONDS * 1000),
    ));
    let healthy = watch_live(&prometheus.url, "rt-healthy");
    let bad = watch_live(&prometheus.url, "rt-bad");
    let (healthy, bad) = (healthy.wait_with_output().unwrap(), bad.wait_with_output().unwrap());

    // The healthy canary's last look (the end of its lifetime, unless noise failed it early)
    // judges every point of its window, the first look's included.
    let healthy_events = events(&healthy);
    let final_event = healthy_events.last().unwrap_or_else(|| panic!("no events: {}", explain(&healthy)));
    assert_eq!(final_event["event"], "final", "{}", explain(&healthy));
    let report = &final_event["report"];
    let expected = grid_points(report);
    for side in ["baseline", "canary"] {
        let judged = samples(report, "error_rate", side);
        assert!(
            judged + 2 >= expected,
            "error_rate {side}: {judged} of {expected} points judged\n{}",
            explain(&healthy)
        );
        let thinned = samples(report, "p99_latency", side);
        assert!(
            thinned + 2 >= expected / 2,
            "p99_latency {side}: {thinned} of {} non-overlapping points judged\n{}",
            expected / 2,
            explain(&healthy)
        );
    }

    // The regression fails.
    assert_eq!(bad.status.code(), Some(1), "{}", explain(&bad));
    let bad_events = events(&bad);
    let last = bad_events.last().unwrap();
    assert_eq!((last["event"].as_str(), last["verdict"].as_str()), (Some("final"), Some("fail")), "{}", explain(&bad));
    // Always-valid looks: each at the full alpha, the failing one with its decision and time.
    let bad_looks = looks(&bad_events);
    assert!(bad_looks.iter().all(|l| l["alpha"] == 0.01), "{}", explain(&bad));
    let failing = bad_looks.last().unwrap();
    assert!(failing["decided_at"].is_string(), "{failing}");
    let decisions: Vec<&str> =
        failing["sequences"].as_array().unwrap().iter().filter_map(|s| s["decision"].as_str()).collect();
    assert!(decisions.contains(&"fail"), "{failing}");
    drop(exporters);
}

/// The same with the fixed data of the shared Prometheus and a fixed clock off the grid
/// (`--now` 37 s past a minute): the slow canary (p99 x1.5) fails and the healthy one passes, each
/// judging every point of its window (on the grid, the same run always did).
#[test]
fn watch_started_off_the_grid_judges_every_point_against_prometheus() {
    let server = crate::servers::prometheus();
    let watch = |canary_name: &str| {
        let var = format!("canary={canary_name}");
        let args = [
            "watch",
            "tests/data/live/checkout-live.yaml",
            "--source-url",
            &server.url,
            "--var",
            &var,
            "--now",
            "2026-11-20T10:05:37Z",
            "--lifetime",
            "34m",
            "--interval",
            "13m",
            "--format",
            "json",
        ];
        let output = crate::support::run(&args, None);
        let events = events(&output);
        (output, events)
    };
    for (canary_name, code, verdict) in [("checkout-slow", 1, "fail"), ("checkout-healthy", 0, "pass")] {
        let (output, events) = watch(canary_name);
        assert_eq!(output.status.code(), Some(code), "{canary_name}: {}", explain(&output));
        let last = events.last().unwrap();
        assert_eq!(last["verdict"], verdict, "{canary_name}: {}", explain(&output));
        let report = &last["report"];
        let points = {
            let time = |field: &str| report["window"][field].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
            (time("end").as_second() - time("start").as_second()) / 60 + 1
        } as u64;
        for side in ["baseline", "canary"] {
            assert_eq!(samples(report, "error_rate", side), points, "{canary_name} {side}: {}", explain(&output));
            // p99 over 2m ranges at a 1m step: every second point.
            assert_eq!(samples(report, "p99_latency", side), points.div_ceil(2), "{canary_name} {side}");
        }
    }
}
