//! Many analyses in one run (`canary judge --fleet`, `canary judge a.yaml b.yaml`) against the
//! real Prometheus and VictoriaMetrics of `servers.rs`:
//!
//! - grouped queries give every deployment exactly the series its own query gives (the grouped
//!   PromQL run on the real servers and split, compared with each deployment's own query);
//! - a fleet run gives each service the same report as judging it alone, with backend queries
//!   that grow with query shapes, not services, and the worst verdict as exit code;
//! - only the failing service's rollback webhook fires, once;
//! - fleet files and flags are validated before anything is queried.

use crate::servers::{self, DATA_END, DATA_START, Server, WINDOW_END, WINDOW_START};
use crate::support::{TempDir, canary_bin, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const LIVE: &str = "tests/data/live/checkout-live.yaml";
const FLEET: &str = "tests/data/live/fleet.yaml";
const PLACEHOLDER: &str = "fleetTestValue9";

fn live_analysis() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(LIVE)
}

/// A fleet file in `dir` judging `tests/data/live/checkout-live.yaml` for each deployment.
fn fleet_file(dir: &TempDir, deployments: &[&str]) -> PathBuf {
    let mut text = String::from("version: 1\nservices:\n");
    for deployment in deployments {
        text.push_str(&format!(
            "  - name: {deployment}\n    analysis: {}\n    vars: {{canary: {deployment}}}\n",
            live_analysis().display()
        ));
    }
    dir.file("fleet.yaml", &text)
}

fn canary(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(canary_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CANARY_SOURCE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("canary runs")
}

fn window_args(server: &Server) -> Vec<String> {
    ["--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END, "--format", "json"]
        .map(String::from)
        .to_vec()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| {
        panic!("no JSON ({e}): exit {:?}\n{}\n{}", output.status.code(), stdout(output), stderr(output))
    })
}

/// Labels (without the grouping label) and points of each series, sorted.
fn normalised(series: Vec<(Value, Vec<(i64, f64)>)>, drop: &str) -> Vec<(String, Vec<(i64, u64)>)> {
    let mut out: Vec<(String, Vec<(i64, u64)>)> = series
        .into_iter()
        .map(|(mut labels, points)| {
            labels.as_object_mut().unwrap().remove(drop);
            (labels.to_string(), points.into_iter().map(|(t, v)| (t, v.to_bits())).collect())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_grouped_query_gives_each_deployment_exactly_its_own_series() {
    let deployments = ["checkout-healthy", "checkout-slow", "checkout-errors", "checkout-deploy", "absent-1.0"];
    let shapes = [
        r#"sum(increase(http_requests_total{ deployment="PH", code="500" }[1m]))"#,
        r#"sum(increase(http_requests_total{deployment="PH"}[1m]))"#,
        r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{ deployment="PH" }[2m])))"#,
        r#"sum by (code) (rate(http_requests_total{deployment="PH"}[5m]))"#,
        r#"sum(increase(checkouts_total{ deployment="PH" }[1m]))"#,
    ];
    for server in [servers::prometheus(), servers::victoria_metrics()] {
        for shape in shapes {
            let grouped = canary::groupable_shape(&shape.replace("PH", PLACEHOLDER), PLACEHOLDER)
                .unwrap_or_else(|| panic!("{shape} is groupable"));
            assert_eq!(grouped.label, "deployment");
            let query = grouped.grouped_query(&deployments);
            let answer = server.query_range(&query, DATA_START + 600, DATA_END, "60");
            for deployment in deployments {
                let own = server.query_range(&shape.replace("PH", deployment), DATA_START + 600, DATA_END, "60");
                let mine: Vec<_> =
                    answer.iter().filter(|(labels, _)| labels["deployment"] == deployment).cloned().collect();
                assert_eq!(
                    normalised(mine, "deployment"),
                    normalised(own.clone(), "deployment"),
                    "{}: {shape} for {deployment}",
                    server.name
                );
                if deployment.starts_with("absent") {
                    assert!(own.is_empty(), "no data for a deployment that does not exist");
                }
            }
        }
    }
}

#[test]
fn a_fleet_judges_each_service_as_alone_with_queries_per_shape() {
    let server = servers::prometheus();
    let dir = TempDir::new("fleet-judge");
    let deployments = ["checkout-healthy", "checkout-slow", "checkout-errors"];
    let fleet = fleet_file(&dir, &deployments);
    let mut args = vec!["judge".to_string(), "--fleet".into(), fleet.display().to_string()];
    args.extend(window_args(server));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = canary(&refs, &[]);
    let document = json(&output);
    assert_eq!(output.status.code(), Some(1), "the worst verdict is fail: {}", stderr(&output));
    assert_eq!(document["outcome"], "fail");
    // One judgment alone: 5 queries per side. The fleet: the 5 baseline queries once, the 5
    // canary queries grouped, whatever the number of services.
    assert_eq!(document["backend_queries"], 10, "{}", stderr(&output));
    let services = document["services"].as_array().unwrap();
    assert_eq!(services.len(), 3);
    for (service, deployment) in services.iter().zip(deployments) {
        assert_eq!(service["name"], deployment);
        let mut alone = vec!["judge", LIVE, "--var"];
        let var = format!("canary={deployment}");
        alone.push(&var);
        let window = window_args(server);
        alone.extend(window.iter().map(String::as_str));
        let single = canary(&alone, &[]);
        let single_report = json(&single);
        assert_eq!(service["exit_code"], single.status.code().unwrap(), "{deployment}");
        assert_eq!(service["report"], single_report, "{deployment}: the fleet's report is the report alone");
    }
    // The document follows its published schema (`canary schema fleet`).
    let schema: Value = serde_json::from_str(&stdout(&canary(&["schema", "fleet"], &[]))).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the fleet schema compiles");
    let errors: Vec<String> = validator.iter_errors(&document).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(services[0]["outcome"], "pass");
    assert_eq!(services[1]["failing_metrics"], serde_json::json!(["p99_latency"]));
    assert_eq!(services[2]["failing_metrics"], serde_json::json!(["error_rate"]));

    // The table: one report per service, then the summary.
    let mut table_args = refs.clone();
    table_args.retain(|a| *a != "--format" && *a != "json");
    let table = stdout(&canary(&table_args, &[]));
    for deployment in deployments {
        assert!(table.contains(&format!("=== service {deployment}")), "{table}");
    }
    assert!(table.contains("=== summary: 3 services, 10 backend queries"), "{table}");
    assert!(table.contains("verdict: fail (worst of 3: 1 pass, 2 fail)"), "{table}");
}

#[test]
fn several_analysis_files_are_judged_in_one_run() {
    let server = servers::prometheus();
    let before_after = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/live/before-after.yaml");
    let mut args = vec!["judge".to_string(), LIVE.into(), before_after.display().to_string()];
    args.extend(window_args(server));
    args.extend(["--var".into(), "canary=checkout-healthy".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = canary(&refs, &[]);
    let document = json(&output);
    let names: Vec<&str> =
        document["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["checkout-live", "checkout-before-after"], "{}", stderr(&output));
    // Each judged as alone, the before/after baseline's offset included.
    for (index, file) in [LIVE.to_string(), before_after.display().to_string()].iter().enumerate() {
        let mut alone = vec!["judge".to_string(), file.clone()];
        alone.extend(args[3..].iter().cloned());
        let refs: Vec<&str> = alone.iter().map(String::as_str).collect();
        assert_eq!(document["services"][index]["report"], json(&canary(&refs, &[])), "{file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_failing_services_webhook_fires_once() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let server = servers::prometheus();
    let dir = TempDir::new("fleet-webhook");
    let fleet = fleet_file(&dir, &["checkout-healthy", "checkout-errors"]);
    let mut args = vec!["judge".to_string(), "--fleet".into(), fleet.display().to_string()];
    args.extend(window_args(server));
    args.extend(["--rollback-webhook".into(), receiver.uri()]);
    let output = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        canary(&refs, &[("CANARY_ROLLBACK_SECRET", "fleet-secret-41")])
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let received = receiver.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "one delivery, for the failing service only");
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["verdict"], "fail");
    assert_eq!(body["canary"]["variables"]["selector"], r#"deployment="checkout-errors""#, "{body}");
    let document = json(&output);
    assert_eq!(document["services"][1]["report"]["rollback"]["delivered"], true);
    assert!(document["services"][0]["report"].get("rollback").is_none());
    assert!(!stdout(&output).contains("fleet-secret-41") && !stderr(&output).contains("fleet-secret-41"));
}

#[test]
fn bad_fleets_and_flags_are_refused_before_any_query() {
    let dir = TempDir::new("fleet-bad");
    let analysis = live_analysis();
    let service =
        |name: &str, vars: &str| format!("  - name: {name}\n    analysis: {}\n    vars: {vars}\n", analysis.display());
    let cases = [
        (
            format!("version: 1\nservices:\n{}{}", service("a", "{canary: x}"), service("a", "{canary: y}")),
            "listed twice",
        ),
        (format!("version: 1\nservices:\n{}", service("a", "{canary: 'x\"}'}")), "service `a`"),
        (format!("version: 1\nservices:\n{}", service("a", "{canry: x}")), "did you mean `canary`"),
        (format!("version: 1\nservices:\n{}    extra: 1\n", service("a", "{canary: x}")), "extra"),
        ("version: 1\nservices:\n  - {name: a, analysis: missing.yaml}\n".to_string(), "missing.yaml"),
    ];
    for (text, expected) in cases {
        let fleet = dir.file("fleet.yaml", &text);
        // Port 9 is never queried: validation comes first.
        let output = canary(&["judge", "--fleet", fleet.to_str().unwrap(), "--source-url", "http://127.0.0.1:9"], &[]);
        assert_eq!(output.status.code(), Some(2), "{text}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{text}: {}", stderr(&output));
        assert!(stderr(&output).contains("fleet.yaml"), "{}", stderr(&output));
    }
    let fleet = dir.file("fleet.yaml", &format!("version: 1\nservices:\n{}", service("a", "{canary: x}")));
    for extra in [&["--replay", "x.json"][..], &["--state-dir", "/tmp"], &["--format", "junit"], &[LIVE]] {
        let mut args = vec!["judge", "--fleet", fleet.to_str().unwrap()];
        args.extend_from_slice(extra);
        let output = canary(&args, &[]);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {}", stderr(&output));
    }
}

#[test]
fn the_table_and_markdown_reports_of_a_fleet() {
    let server = servers::prometheus();
    let url = regex::escape(&server.url);
    for format in ["table", "markdown"] {
        let args =
            ["judge", "--fleet", FLEET, "--source-url", &server.url, "--start", WINDOW_START, "--end", WINDOW_END];
        let mut args = args.to_vec();
        args.extend(["--format", format]);
        let output = canary(&args, &[("NO_COLOR", "1"), ("COLUMNS", "100")]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        insta::with_settings!({
            description => format!("canary judge --fleet {FLEET} --source-url [prometheus] … --format {format}"),
            omit_expression => true,
            filters => vec![(url.as_str(), "[prometheus]")],
        }, {
            insta::assert_snapshot!(format!("fleet-{format}"), stdout(&output));
        });
    }
}

#[test]
fn a_service_that_cannot_be_judged_is_reported_and_never_hides_a_fail() {
    let server = servers::prometheus();
    let dir = TempDir::new("fleet-error");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/live");
    let fleet = |deployment: &str| {
        dir.file(
            "fleet.yaml",
            &format!(
                "version: 1\nservices:\n  - {{name: judged, analysis: {live}, vars: {{canary: {deployment}}}}}\n  - {{name: broken, analysis: {broken}}}\n",
                live = data.join("checkout-live.yaml").display(),
                broken = data.join("syntax-error.yaml").display(),
            ),
        )
    };
    for (deployment, code, outcome) in [("checkout-healthy", 2, "usage_error"), ("checkout-errors", 1, "fail")] {
        let path = fleet(deployment);
        let mut args = vec!["judge".to_string(), "--fleet".into(), path.display().to_string()];
        args.extend(window_args(server));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = canary(&refs, &[]);
        let document = json(&output);
        assert_eq!(output.status.code(), Some(code), "{deployment}: {}", stderr(&output));
        assert_eq!(document["outcome"], outcome);
        let broken = &document["services"][1];
        assert_eq!(broken["outcome"], "usage_error");
        assert!(broken["error"].as_str().unwrap().contains("request_rate"), "{broken}");
        assert!(broken.get("report").is_none());
        assert!(document["services"][0]["report"]["metrics"].is_array(), "the other service is still judged");
        if code == 2 {
            assert!(stderr(&output).contains("service `broken`"), "{}", stderr(&output));
        }
    }
}
