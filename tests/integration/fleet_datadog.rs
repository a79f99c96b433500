//! Many analyses in one run on Datadog (`canary judge --fleet`) against wiremock answering the v2
//! `POST /api/v2/query/timeseries` as Datadog does, a grouped query (`version IN (a, b)} by
//! {version}`) with one series per value tagged `version:value`:
//!
//! - 100 services of one shape cost one combined request (the shared baseline queries once, each
//!   canary query grouped), and every service's report equals its report judged alone;
//! - services whose value cannot be grouped (upper case) are queried alone in the same request,
//!   with the verdicts they have alone;
//! - a grouped answer holding a series nobody asked for fails the whole group (exit 4), never
//!   handing a service a series of another.

use crate::datadog::v2_body_and_window;
use crate::support::{TempDir, canary_bin, stderr, stdout};
use serde_json::{Value, json};
use std::process::Output;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const START: &str = "2026-11-20T10:00:00Z";
const END: &str = "2026-11-20T10:30:00Z";

const ANALYSIS: &str = r#"version: 1
name: fleet-datadog
source:
  kind: datadog
variables:
  canary: svc-000
baseline:
  variables:
    selector: 'version:baseline'
canary:
  variables:
    selector: 'version:{{ canary }}'
window:
  last: 30m
  step: 1m
  warmup: 0s
metrics:
  - name: error_rate
    numerator: 'sum:trace.http.request.errors{service:checkout,{{ selector }}}.as_count()'
    denominator: 'sum:trace.http.request.hits{service:checkout,{{ selector }}}.as_count()'
    direction: increase
    margin: 20%
  - name: p99_latency
    query: 'p99:trace.http.request.duration{service:checkout,{{ selector }}}'
    direction: increase
    margin: 10%
"#;

/// The bucket starting at `t` of `metric` for `version`; services whose name ends in 3 regressed
/// (three times the errors, half again the latency); no errors is no point, as on Datadog.
fn point(metric: &str, version: &str, t: i64) -> Option<f64> {
    let i = t / 60;
    let phase = version.bytes().map(i64::from).sum::<i64>() % 11;
    let regressed = version != "baseline" && version.ends_with('3');
    if metric.contains("duration") {
        let value = 0.25 + ((i * 7 + phase) % 11) as f64 * 0.002;
        Some(if regressed { value * 1.5 } else { value })
    } else if metric.contains("hits") {
        Some(2000.0 + (i % 5) as f64 * 10.0)
    } else {
        let errors = ((i * 7 + phase) % 11) as f64 * 4.0 * if regressed { 3.0 } else { 1.0 };
        (errors > 0.0).then_some(errors)
    }
}

/// The groups a query asks for: `(group_tags, version)`, one per listed value of a grouped query
/// (which must group by `version`), or the one untagged series of `version:v`.
fn groups(query: &str) -> Result<Vec<(Vec<String>, String)>, String> {
    if let Some(list) = query.split("version IN (").nth(1) {
        if !query.contains(" by {version}") {
            return Err(format!("a grouped query that does not group by version: {query}"));
        }
        let list = list.split(')').next().unwrap_or_default();
        return Ok(list.split(", ").map(|v| (vec![format!("version:{v}")], v.to_string())).collect());
    }
    let version = query.split("version:").nth(1).and_then(|rest| rest.split(['}', ',']).next());
    Ok(vec![(Vec::new(), version.ok_or(format!("no version in {query}"))?.to_string())])
}

/// Answers a v2 request with every group of every query that has points; `stray` adds to every
/// grouped query's answer a series for a version nobody asked for.
pub(crate) struct FleetTimeseries {
    pub(crate) stray: bool,
}

impl Respond for FleetTimeseries {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (body, from, to, interval) = v2_body_and_window(request);
        let attributes = &body["data"]["attributes"];
        let times: Vec<i64> = (from..to).step_by(interval as usize).collect();
        let (mut series, mut values) = (Vec::new(), Vec::new());
        for (index, query) in attributes["queries"].as_array().unwrap().iter().enumerate() {
            let query = query["query"].as_str().unwrap();
            let mut wanted = match groups(query) {
                Ok(wanted) => wanted,
                Err(message) => return ResponseTemplate::new(400).set_body_json(json!({"errors": [message]})),
            };
            if self.stray && query.contains(" IN (") {
                wanted.push((vec!["version:svc-nobody".into()], "svc-nobody".into()));
            }
            for (tags, version) in wanted {
                let points: Vec<Option<f64>> = times.iter().map(|&t| point(query, &version, t)).collect();
                if points.iter().any(Option::is_some) {
                    series.push(json!({"group_tags": tags, "query_index": index, "unit": null}));
                    values.push(points);
                }
            }
        }
        let times: Vec<i64> = times.iter().map(|t| t * 1000).collect();
        let answer = json!({"data": {"id": "0", "type": "timeseries_response", "attributes": {
            "series": series, "times": times, "values": values,
        }}});
        ResponseTemplate::new(200).set_body_raw(answer.to_string(), "application/vnd.api+json")
    }
}

pub(crate) async fn datadog(stray: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/query/timeseries"))
        .and(header("dd-api-key", "fleet-api-key"))
        .and(header("dd-application-key", "fleet-app-key"))
        .respond_with(FleetTimeseries { stray })
        .mount(&server)
        .await;
    server
}

/// `canary judge ARGS --source-url URL` over the test window as JSON, with the fake keys.
async fn judge(url: &str, args: &[String]) -> Output {
    let mut command = std::process::Command::new(canary_bin());
    command.args(["judge"]).args(args).args(["--source-url", url, "--start", START, "--end", END, "--format", "json"]);
    for name in ["DD_SITE", "CANARY_SOURCE_URL", "NO_COLOR", "GITHUB_STEP_SUMMARY"] {
        command.env_remove(name);
    }
    command.env("DD_API_KEY", "fleet-api-key").env("DD_APP_KEY", "fleet-app-key");
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| {
        panic!("no JSON ({e}): exit {:?}\n{}\n{}", output.status.code(), stdout(output), stderr(output))
    })
}

/// A fleet file of `versions` over the analysis, in `dir`.
pub(crate) fn fleet(dir: &TempDir, versions: &[String]) -> String {
    let analysis = dir.file("analysis.yaml", ANALYSIS);
    let mut text = String::from("version: 1\nservices:\n");
    for version in versions {
        text.push_str(&format!(
            "  - name: {version}\n    analysis: {}\n    vars: {{canary: {version}}}\n",
            analysis.display()
        ));
    }
    dir.file("fleet.yaml", &text).display().to_string()
}

/// A fleet of `versions` judged against a fresh mock (`stray`: see [`FleetTimeseries`]): the
/// mock, the fleet's directory, the run and its JSON document.
async fn run_fleet(stray: bool, name: &str, versions: &[String]) -> (MockServer, TempDir, Output, Value) {
    let server = datadog(stray).await;
    let dir = TempDir::new(name);
    let output = judge(&server.uri(), &["--fleet".into(), fleet(&dir, versions)]).await;
    let document = json_of(&output);
    (server, dir, output, document)
}

/// The queries of the run's one request.
async fn sent_queries(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one combined request");
    let sent: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let queries = sent["data"]["attributes"]["queries"].as_array().unwrap();
    queries.iter().map(|q| q["query"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_services_cost_one_request_and_each_is_judged_as_alone() {
    let versions: Vec<String> = (0..100).map(|i| format!("svc-{i:03}")).collect();
    let (server, dir, output, document) = run_fleet(false, "fleet-datadog", &versions).await;
    // The 3 baseline queries once, the 3 canary queries grouped: 6 queries in one combined
    // request, as one judgment alone costs.
    assert_eq!(document["backend_queries"], 6, "{}", stderr(&output));
    let queries = sent_queries(&server).await;
    let listed = versions.join(", ");
    for metric in ["sum:trace.http.request.errors", "sum:trace.http.request.hits"] {
        let grouped = format!("{metric}{{service:checkout AND version IN ({listed})}} by {{version}}.as_count()");
        assert!(queries.contains(&grouped), "{queries:#?}");
    }
    let p99 = format!("p99:trace.http.request.duration{{service:checkout AND version IN ({listed})}} by {{version}}");
    assert!(queries.contains(&p99), "{queries:#?}");
    assert_eq!(output.status.code(), Some(1), "the worst verdict is fail: {}", stderr(&output));
    let services = document["services"].as_array().unwrap();
    assert_eq!(services.len(), 100);
    let analysis = dir.path().join("analysis.yaml").display().to_string();
    let mut outcomes = std::collections::BTreeMap::new();
    for (service, version) in services.iter().zip(&versions) {
        assert_eq!(service["name"], version.as_str());
        let single = judge(&server.uri(), &[analysis.clone(), "--var".into(), format!("canary={version}")]).await;
        assert_eq!(service["exit_code"], single.status.code().unwrap(), "{version}");
        assert_eq!(service["report"], json_of(&single), "{version}: the fleet's report is the report alone");
        *outcomes.entry(service["outcome"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    // Both verdicts occur: the regressed services (names ending in 3) fail.
    assert_eq!(outcomes.get("fail"), Some(&10), "{outcomes:?}");
    assert_eq!(services[3]["failing_metrics"], json!(["error_rate", "p99_latency"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_cannot_be_grouped_are_queried_alone_in_the_same_request() {
    let server = datadog(false).await;
    let dir = TempDir::new("fleet-datadog-mixed");
    // Upper case cannot be grouped (Datadog lowercases tags in its answer).
    let versions: Vec<String> =
        ["svc-001", "svc-003", "svc-004", "Svc-Upper3", "Svc-Upper4"].map(String::from).to_vec();
    let output = judge(&server.uri(), &["--fleet".into(), fleet(&dir, &versions)]).await;
    let document = json_of(&output);
    // 3 baseline, 3 grouped, 3 for each ungroupable service.
    assert_eq!(document["backend_queries"], 12, "{}", stderr(&output));
    let queries = sent_queries(&server).await;
    assert!(queries.contains(&"p99:trace.http.request.duration{service:checkout,version:Svc-Upper3}".to_string()));
    assert!(queries.contains(
        &"p99:trace.http.request.duration{service:checkout AND version IN (svc-001, svc-003, svc-004)} by {version}"
            .to_string()
    ));
    let analysis = dir.path().join("analysis.yaml").display().to_string();
    for (service, version) in document["services"].as_array().unwrap().iter().zip(&versions) {
        let single = judge(&server.uri(), &[analysis.clone(), "--var".into(), format!("canary={version}")]).await;
        let alone = json_of(&single);
        assert_eq!(service["exit_code"], single.status.code().unwrap(), "{version}");
        // Same verdicts and figures; the wording of how zero-error buckets were filled may differ
        // (several services' numerators in one batch are paired by the judge, not the source).
        for (mine, own) in
            service["report"]["metrics"].as_array().unwrap().iter().zip(alone["metrics"].as_array().unwrap())
        {
            for field in ["classification", "reason", "baseline", "canary"] {
                assert_eq!(mine[field], own[field], "{version}: {field}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouped_answer_with_a_series_nobody_asked_for_judges_no_one_of_the_group() {
    let versions: Vec<String> = (0..3).map(|i| format!("svc-{i:03}")).collect();
    let (_server, _dir, output, document) = run_fleet(true, "fleet-datadog-stray", &versions).await;
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    for service in document["services"].as_array().unwrap() {
        assert_eq!(service["exit_code"], 4, "{service}");
        assert!(service["report"].is_null(), "{service}");
        let error = service["error"].as_str().unwrap();
        assert!(error.contains("the grouped query by `version` for 3 services returned a series for a value of `version` that was not asked for"), "{error}");
    }
}
