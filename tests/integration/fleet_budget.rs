//! The series budget of a fleet run against a real Prometheus: 100 services whose query returns
//! one series per instance are judged in one run with the `--max-series` each would be judged
//! with alone (the grouped query holds their budgets together), and the one service with more
//! series than that fails alone (could not judge, exit 4, its own metric and query named), as it
//! does when judged alone.

use crate::servers::{DATA_END, DATA_START, SCRAPE, Server, SplitMix64, WINDOW_END, WINDOW_START};
use crate::support::{TempDir, run, stderr, stdout};
use serde_json::Value;
use std::fmt::Write;
use std::process::Output;

const SERVICES: usize = 100;
/// Instances (one series each) of every service but the wide one, and of the wide one.
const INSTANCES: usize = 3;
const WIDE_INSTANCES: usize = 5;
const MAX_SERIES: &str = "4";
const WIDE: &str = "svc-099";

const ANALYSIS: &str = r#"version: 1
name: jobs
source:
  kind: prometheus
  url: http://127.0.0.1:9
variables:
  canary: svc-000
baseline:
  variables:
    selector: 'deployment="baseline"'
canary:
  variables:
    selector: 'deployment="{{ canary }}"'
window:
  last: 30m
  step: 1m
  warmup: 0s
metrics:
  - name: job_rate
    query: 'sum by (instance) (rate(jobs_total{ {{ selector }} }[1m]))'
    breakdown: [instance]
    direction: increase
    margin: 20%
"#;

/// `jobs_total{deployment, instance}` for the baseline and every service: about 100 jobs a
/// second per instance, independent noise per series, a sample every `SCRAPE` seconds.
fn openmetrics() -> String {
    let mut text = String::from("# TYPE jobs counter\n");
    let mut rng = SplitMix64::new(16_004);
    let deployments = std::iter::once("baseline".to_string()).chain((0..SERVICES).map(|i| format!("svc-{i:03}")));
    for deployment in deployments {
        let instances = if deployment == WIDE { WIDE_INSTANCES } else { INSTANCES };
        for instance in 0..instances {
            let mut total = 0.0;
            for time in (DATA_START..=DATA_END).step_by(SCRAPE as usize) {
                let mean = 100.0 * SCRAPE as f64;
                total += (mean + mean.sqrt() * rng.normal()).round().max(0.0);
                let _ =
                    writeln!(text, "jobs_total{{deployment=\"{deployment}\",instance=\"i{instance}\"}} {total} {time}");
            }
        }
    }
    text.push_str("# EOF\n");
    text
}

/// canary with `args` (every source flag given, so no `CANARY_*` variable of the shell matters).
fn canary(args: &[&str]) -> Output {
    run(args, None)
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| {
        panic!("no JSON ({e}): exit {:?}\n{}\n{}", output.status.code(), stdout(output), stderr(output))
    })
}

#[test]
fn each_service_keeps_its_own_max_series_in_a_fleet() {
    let server = Server::prometheus_from_openmetrics(&openmetrics());
    let dir = TempDir::new("fleet-budget");
    let analysis = dir.file("jobs.yaml", ANALYSIS);
    let mut fleet = String::from("version: 1\nservices:\n");
    for i in 0..SERVICES {
        let _ =
            writeln!(fleet, "  - {{name: svc-{i:03}, analysis: {}, vars: {{canary: svc-{i:03}}}}}", analysis.display());
    }
    let fleet = dir.file("fleet.yaml", &fleet);
    let common = ["--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END, "--format", "json"];
    let mut args = vec!["judge", "--fleet", fleet.to_str().unwrap(), "--max-series", MAX_SERIES];
    args.extend(common);
    let output = canary(&args);
    let document = json(&output);
    assert_eq!(output.status.code(), Some(4), "the wide service could not be judged: {}", stderr(&output));
    // The baseline query once, the canary queries of all 100 services as one grouped query whose
    // answer (99 × 3 + 5 series) is within their budgets together (100 × 4).
    assert_eq!(document["backend_queries"], 2, "{}", stderr(&output));
    let services = document["services"].as_array().unwrap();
    assert_eq!(services.len(), SERVICES);
    for service in services {
        let name = service["name"].as_str().unwrap();
        if name == WIDE {
            assert_eq!(service["exit_code"], 4, "{service}");
            let error = service["error"].as_str().unwrap();
            assert!(error.contains("metric `job_rate`, canary value"), "{error}");
            assert!(error.contains("returned 5 series") && error.contains("more than --max-series 4"), "{error}");
            assert!(error.contains(r#"deployment="svc-099""#), "its own query is named: {error}");
        } else {
            assert_eq!(service["exit_code"], 0, "{name} passes as it does alone: {service}");
            assert_eq!(service["report"]["metrics"].as_array().unwrap().len(), INSTANCES, "{name}");
        }
    }
    // Alone, with the same --max-series: a narrow service gives the same report, the wide one
    // fails the same way.
    for (name, code) in [("svc-000", 0), ("svc-042", 0), (WIDE, 4)] {
        let var = format!("canary={name}");
        let mut alone = vec!["judge", analysis.to_str().unwrap(), "--var", &var, "--max-series", MAX_SERIES];
        alone.extend(common);
        let single = canary(&alone);
        assert_eq!(single.status.code(), Some(code), "{name} alone: {}", stderr(&single));
        let index: usize = name[4..].parse().unwrap();
        if code == 0 {
            assert_eq!(services[index]["report"], json(&single), "{name}: the fleet's report is the report alone");
        } else {
            assert!(stderr(&single).contains("more than 4 series"), "{}", stderr(&single));
        }
    }
}
