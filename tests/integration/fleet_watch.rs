//! `canary watch` with several analyses (`canary watch --fleet fleet.yaml`, `canary watch a.yaml
//! b.yaml`) against the real Prometheus of `servers.rs`, with a fixed clock (`--now`) over its
//! backfilled data:
//!
//! - three services of one shape, one regressing: the bad one fails at its own look, its webhook
//!   fires once (at a local receiver), the healthy ones are watched to the end of their lifetime;
//!   every round of looks sends the backend the queries of one judgment (the shared baseline once,
//!   the canaries grouped), whatever the number of services; the output names each service and
//!   the exit code is the worst verdict;
//! - each service's looks and final report are those of a watch of its analysis alone;
//! - a service whose look cannot be judged ends there, the others go on;
//! - a round past `--timeout`, SIGTERM in a round and a rate-limited round (Datadog stand-in) keep
//!   the outcomes already decided, print the summary and fire no webhook twice;
//! - analyses of different steps sharing a query's text, and label values resembling another's,
//!   are each judged on their own data;
//! - flags that do not fit several analyses are refused (exit 2) before any query.

use crate::servers::{self, WINDOW_START};
use crate::support::{TempDir, canary_bin, stderr, stdout, watch_events};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const LIVE: &str = "tests/data/live/checkout-live.yaml";

fn live_analysis() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(LIVE)
}

/// A fleet file in `dir`: each (service name, deployment) judged with checkout-live.yaml.
fn fleet_file(dir: &TempDir, services: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("version: 1\nservices:\n");
    for (name, deployment) in services {
        text.push_str(&format!(
            "  - name: {name}\n    analysis: {}\n    vars: {{canary: {deployment}}}\n",
            live_analysis().display()
        ));
    }
    dir.file("fleet.yaml", &text)
}

fn canary(args: &[String], env: &[(&str, &str)]) -> Output {
    Command::new(canary_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CANARY_SOURCE_URL")
        .env_remove("CANARY_ROLLBACK_WEBHOOK")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("canary runs")
}

/// The watch's clock and lifetime: 10:10 to 10:40 of the backfilled data, a look every 5 minutes.
fn watch_args(server: &servers::Server, format: &str) -> Vec<String> {
    ["--source-url", &server.url, "--now", WINDOW_START, "--lifetime", "30m", "--interval", "5m", "--format", format]
        .map(String::from)
        .to_vec()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The events of one service, without what names it or counts the run's shared fetches.
fn own_events(events: &[Value], service: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.get("service").and_then(Value::as_str).unwrap_or("") == service)
        .map(|e| {
            let mut e = e.clone();
            let object = e.as_object_mut().unwrap();
            object.remove("service");
            object.remove("points_fetched");
            if let Some(report) = object.get_mut("report") {
                report.as_object_mut().unwrap().remove("rollback");
            }
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_services_of_one_shape_one_regressing() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let server = servers::prometheus();
    let dir = TempDir::new("fleet-watch");
    // `same` watches the baseline's own deployment: a service that neither passes nor regresses.
    let services = [("healthy", "checkout-healthy"), ("errors", "checkout-errors"), ("same", "checkout-baseline")];
    let fleet = fleet_file(&dir, &services);
    let mut args = strings(&["watch", "--fleet", fleet.to_str().unwrap()]);
    args.extend(watch_args(server, "json"));
    args.extend(["--rollback-webhook".into(), receiver.uri()]);
    let run_args = args.clone();
    let output =
        tokio::task::spawn_blocking(move || canary(&run_args, &[("CANARY_ROLLBACK_SECRET", "watch-secret-17")]))
            .await
            .unwrap();
    assert_eq!(output.status.code(), Some(1), "the worst verdict is fail: {}", stderr(&output));
    let events = watch_events(&output);
    assert!(!stdout(&output).contains("watch-secret-17") && !stderr(&output).contains("watch-secret-17"));

    // Every event but the summary names its service.
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary", "{summary}");
    assert!(events[..events.len() - 1].iter().all(|e| e["service"].is_string()), "{}", stdout(&output));
    let looks = |name: &str| events.iter().filter(|e| e["event"] == "look" && e["service"] == name).count();
    let planned = events.iter().find(|e| e["event"] == "start").unwrap()["looks"].as_array().unwrap().len();
    assert!(looks("errors") < planned, "the regressing service stops at its look: {} of {planned}", looks("errors"));
    assert_eq!(looks("healthy"), planned, "the healthy services are watched to their end");
    assert_eq!(looks("same"), planned);

    // The webhook fired once, for the failing service, at its failing look.
    let received = receiver.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "one delivery, for the failing service only");
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["verdict"], "fail");
    assert_eq!(body["canary"]["variables"]["selector"], r#"deployment="checkout-errors""#, "{body}");
    let finals: Vec<&Value> = events.iter().filter(|e| e["event"] == "final").collect();
    assert_eq!(finals.len(), 3);
    for event in finals {
        let fired = event["report"].get("rollback").is_some();
        assert_eq!(fired, event["service"] == "errors", "{event}");
    }

    // The summary: each service's outcome and the look that decided it.
    let outcomes: Vec<(&str, &str, u64)> = summary["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["outcome"].as_str().unwrap(), s["look"].as_u64().unwrap()))
        .collect();
    let errors_look = looks("errors") as u64;
    assert_eq!(
        outcomes,
        [
            ("healthy", "pass", planned as u64),
            ("errors", "fail", errors_look),
            ("same", "inconclusive", planned as u64)
        ]
    );
    // The baseline watched against itself is no evidence either way (fail closed): inconclusive,
    // watched to its end, its webhook never called.
    let same = events.iter().rfind(|e| e["event"] == "final" && e["service"] == "same").unwrap();
    assert!(same["report"]["reason"].as_str().unwrap().contains("got the same data"), "{same}");
    assert_eq!(summary["outcome"], "fail");
    assert_eq!(summary["services"][1]["failing_metrics"], serde_json::json!(["error_rate"]));

    // Backend queries per round: one grouped query per query shape (5), whether three services
    // look or two. (Service `same` makes the baseline's deployment one more value of each group,
    // so the baseline's queries are answered by the same grouped queries; a watch of one of these
    // analyses alone sends 10 per look, 5 per side.)
    let rounds = summary["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), planned);
    for round in rounds {
        assert_eq!(round["backend_queries"], 5, "{round}");
    }
    assert_eq!(rounds[0]["services"], 3);
    assert_eq!(rounds.last().unwrap()["services"], 2);

    // Each service's looks and final report are those of its analysis watched alone.
    for (name, deployment) in services {
        let mut alone = strings(&["watch", LIVE, "--var", &format!("canary={deployment}")]);
        alone.extend(watch_args(server, "json"));
        let single = canary(&alone, &[]);
        let expected_code = match name {
            "errors" => 1,
            "same" => 3,
            _ => 0,
        };
        assert_eq!(single.status.code(), Some(expected_code), "{name}: {}", stderr(&single));
        assert_eq!(own_events(&events, name), own_events(&watch_events(&single), ""), "{name}");
    }
}

/// The events of a watch of one analysis name no service: they are unchanged by the many-analysis
/// watch (their snapshots are in `snapshots.rs`); here, `own_events` of "" picks them.
#[test]
fn one_analysis_names_no_service_and_ends_without_a_summary() {
    let server = servers::prometheus();
    let mut args = strings(&["watch", LIVE, "--var", "canary=checkout-healthy"]);
    args.extend(watch_args(server, "json"));
    let events = watch_events(&canary(&args, &[]));
    assert!(events.iter().all(|e| e.get("service").is_none()), "{events:?}");
    assert_eq!(events.last().unwrap()["event"], "final");
}

#[test]
fn the_table_names_each_service_and_ends_with_a_summary() {
    let server = servers::prometheus();
    let before_after = "tests/data/live/before-after.yaml";
    let mut args = strings(&["watch", LIVE, before_after, "--var", "canary=checkout-slow"]);
    args.extend(watch_args(server, "table"));
    let output = canary(&args, &[("NO_COLOR", "1"), ("COLUMNS", "120")]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}\n{}", stderr(&output));
    for name in ["checkout-live", "checkout-before-after"] {
        assert!(text.contains(&format!("{name}: watching `{name}`")), "{text}");
        assert!(text.lines().any(|line| line.starts_with(name) && line.contains(" 1/")), "{text}");
        assert!(text.contains(&format!("{name}: final verdict: ")), "{text}");
    }
    assert!(text.contains("=== summary: 2 services,"), "{text}");
    assert!(text.contains("| checkout-live"), "{text}");
    assert!(text.contains("verdict: fail (worst of 2"), "{text}");
    let url = regex::escape(&server.url);
    insta::with_settings!({
        description => "canary watch tests/data/live/checkout-live.yaml tests/data/live/before-after.yaml --var canary=checkout-slow --source-url [prometheus] --now 2026-11-20T10:10:00Z --lifetime 30m --interval 5m",
        omit_expression => true,
        filters => vec![(url.as_str(), "[prometheus]")],
    }, {
        insta::assert_snapshot!("fleet-watch-table", text);
    });
}

/// A service whose look cannot be judged (its query is refused by Prometheus) ends there; the
/// other is watched to its end, and a fail still wins the exit code.
#[test]
fn a_service_that_cannot_be_judged_never_ends_another() {
    let server = servers::prometheus();
    let dir = TempDir::new("fleet-watch-error");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/live");
    for (deployment, code) in [("checkout-healthy", 2), ("checkout-errors", 1)] {
        let fleet = dir.file(
            "fleet.yaml",
            &format!(
                "version: 1\nservices:\n  - {{name: judged, analysis: {live}, vars: {{canary: {deployment}}}}}\n  - {{name: broken, analysis: {broken}}}\n",
                live = data.join("checkout-live.yaml").display(),
                broken = data.join("syntax-error.yaml").display(),
            ),
        );
        let mut args = strings(&["watch", "--fleet", fleet.to_str().unwrap()]);
        args.extend(watch_args(server, "json"));
        let output = canary(&args, &[]);
        assert_eq!(output.status.code(), Some(code), "{deployment}: {}", stderr(&output));
        let events = watch_events(&output);
        let error = events.iter().find(|e| e["event"] == "error").expect("an error event");
        assert_eq!((&error["service"], &error["look"], &error["exit_code"]), (&"broken".into(), &1.into(), &2.into()));
        assert!(error["error"].as_str().unwrap().contains("request_rate"), "{error}");
        let summary = events.last().unwrap();
        assert_eq!(summary["services"][1]["outcome"], "usage_error");
        let judged = events.iter().filter(|e| e["event"] == "look" && e["service"] == "judged").count();
        let planned = events.iter().find(|e| e["event"] == "start").unwrap()["looks"].as_array().unwrap().len();
        // The healthy one is watched to its end; the failing one stops at its first look.
        assert_eq!(judged, if code == 2 { planned } else { 1 }, "{deployment}");
        assert_eq!(summary["services"][0]["outcome"], if code == 2 { "pass" } else { "fail" });
    }
}

#[test]
fn flags_that_do_not_fit_several_analyses_are_refused_before_any_query() {
    let dir = TempDir::new("fleet-watch-flags");
    let fleet = fleet_file(&dir, &[("a", "x")]);
    let fleet = fleet.to_str().unwrap();
    let cases: [&[&str]; 3] = [
        &["watch", LIVE, LIVE, "--replay", "fixtures/latency-regression.json"],
        &["watch", "--fleet", fleet, "--replay", "fixtures/latency-regression.json"],
        &["watch", "--fleet", fleet, LIVE],
    ];
    for case in cases {
        // Port 9 is never queried: the flags are checked first.
        let mut args = strings(case);
        args.extend(strings(&["--source-url", "http://127.0.0.1:9"]));
        let output = canary(&args, &[]);
        assert_eq!(output.status.code(), Some(2), "{case:?}: {}", stderr(&output));
        assert!(stdout(&output).is_empty(), "{case:?}");
    }
    let output = canary(&strings(&["watch", LIVE, LIVE, "--replay", "x.json"]), &[]);
    assert!(stderr(&output).contains("--replay watches one recording"), "{}", stderr(&output));
}

/// `canary watch ARGS` against the Datadog stand-in of `fleet_datadog.rs`, 10:00 to 10:30 with a
/// look every 10 minutes, as JSON events.
async fn watch_datadog(url: &str, fleet: &str) -> Output {
    let mut command = Command::new(canary_bin());
    command.args(["watch", "--fleet", fleet, "--source-url", url, "--now", "2026-11-20T10:00:00Z"]);
    command.args(["--lifetime", "30m", "--interval", "10m", "--format", "json"]);
    for name in ["DD_SITE", "CANARY_SOURCE_URL", "NO_COLOR"] {
        command.env_remove(name);
    }
    command.env("DD_API_KEY", "fleet-api-key").env("DD_APP_KEY", "fleet-app-key");
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

/// On Datadog, every round of looks is one combined request, however many services; a grouped
/// answer that cannot be attributed (a series for a value nobody asked for) ends every service
/// of the group "could not judge" at that look, none with another's data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_datadog_a_round_is_one_request_and_an_unattributable_answer_judges_no_one() {
    let versions: Vec<String> = (0..20).map(|i| format!("svc-{i:03}")).collect();
    let server = crate::fleet_datadog::datadog(false).await;
    let dir = TempDir::new("fleet-watch-datadog");
    let output = watch_datadog(&server.uri(), &crate::fleet_datadog::fleet(&dir, &versions)).await;
    assert_eq!(output.status.code(), Some(1), "the regressed services fail: {}", stderr(&output));
    let events = watch_events(&output);
    let summary = events.last().unwrap();
    let rounds = summary["rounds"].as_array().unwrap();
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!(requests, rounds.len(), "one combined request a round: {summary}");
    assert!(rounds.iter().all(|r| r["backend_queries"] == 6), "{summary}");
    let failed: Vec<&str> = summary["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "fail")
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["svc-003", "svc-013"], "the regressed services (names ending in 3): {summary}");

    let stray = crate::fleet_datadog::datadog(true).await;
    let output = watch_datadog(&stray.uri(), &crate::fleet_datadog::fleet(&dir, &versions[..3])).await;
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let events = watch_events(&output);
    let errors: Vec<&Value> = events.iter().filter(|e| e["event"] == "error").collect();
    assert_eq!(errors.len(), 3, "{events:?}");
    for error in errors {
        assert_eq!((&error["look"], &error["exit_code"]), (&1.into(), &4.into()), "{error}");
        assert!(error["error"].as_str().unwrap().contains("not asked for"), "{error}");
    }
    assert!(events.iter().all(|e| e["event"] != "look"), "no service is judged on the answer");
}

/// The Datadog stand-in of `fleet_datadog.rs`, which answers its first two requests and stalls
/// (a minute) from the third on; and a webhook receiver.
async fn stalling_datadog() -> (wiremock::MockServer, wiremock::MockServer) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
    struct Stalled;
    impl Respond for Stalled {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            crate::fleet_datadog::FleetTimeseries { stray: false }
                .respond(request)
                .set_delay(std::time::Duration::from_secs(60))
        }
    }
    let server = MockServer::start().await;
    let timeseries = || Mock::given(method("POST")).and(path("/api/v2/query/timeseries"));
    let answering = crate::fleet_datadog::FleetTimeseries { stray: false };
    timeseries().respond_with(answering).up_to_n_times(2).with_priority(1).mount(&server).await;
    timeseries().respond_with(Stalled).with_priority(2).mount(&server).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    (server, receiver)
}

/// `canary watch` of svc-000 and svc-003 (regressed) on `server`, 10:00 to 10:30, a look every
/// 10 minutes, the webhook at `receiver`.
fn stalled_watch(server: &str, receiver: &str, dir: &TempDir, extra: &[&str]) -> Command {
    let versions = ["svc-000".to_string(), "svc-003".to_string()];
    let fleet = crate::fleet_datadog::fleet(dir, &versions);
    let mut command = Command::new(canary_bin());
    command.args(["watch", "--fleet", &fleet, "--source-url", server, "--now", "2026-11-20T10:00:00Z"]);
    command.args(["--lifetime", "30m", "--interval", "10m", "--rollback-webhook", receiver]).args(extra);
    for name in ["DD_SITE", "CANARY_SOURCE_URL", "NO_COLOR", "CANARY_ROLLBACK_WEBHOOK"] {
        command.env_remove(name);
    }
    command.env("DD_API_KEY", "fleet-api-key").env("DD_APP_KEY", "fleet-app-key").env("COLUMNS", "120");
    command
}

/// The summary of a stopped run: svc-003 failed at look 2 (before the stop), svc-000 could not
/// be judged at look 3 (`why`), with an error event; the `rounds` that finished.
fn assert_stopped_summary(output: &Output, why: &str, rounds: usize) {
    let events = watch_events(output);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary", "{}", stdout(output));
    assert_eq!(summary["exit_code"], 1, "{summary}");
    let outcome = |i: usize| {
        let s = &summary["services"][i];
        (s["name"].as_str().unwrap(), s["outcome"].as_str().unwrap(), s["look"].as_u64().unwrap())
    };
    assert_eq!(outcome(0), ("svc-000", "could_not_judge", 3), "{summary}");
    assert_eq!(outcome(1), ("svc-003", "fail", 2), "{summary}");
    assert_eq!(summary["rounds"].as_array().unwrap().len(), rounds, "the rounds that finished: {summary}");
    assert!(summary["services"][0]["error"].as_str().unwrap().starts_with(why), "{summary}");
    let errors: Vec<&Value> = events.iter().filter(|e| e["event"] == "error").collect();
    assert_eq!(errors.len(), 1, "only the service still watched: {errors:?}");
    assert_eq!(
        (&errors[0]["service"], &errors[0]["look"], &errors[0]["exit_code"]),
        (&"svc-000".into(), &3.into(), &4.into())
    );
}

/// A round that passes `--timeout` (the Datadog stand-in stalls from its third request on)
/// leaves the services still watched "could not judge", while the one that had already failed
/// keeps its fail: the summary is printed, the exit code is the worst (fail), and the failed
/// service's webhook fired once, at its own look.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_past_the_timeout_keeps_the_outcomes_already_decided() {
    let dir = TempDir::new("fleet-watch-timeout");
    for format in ["json", "table"] {
        let (server, receiver) = stalling_datadog().await;
        let mut command = stalled_watch(&server.uri(), &receiver.uri(), &dir, &["--timeout", "3s", "--format", format]);
        let started = std::time::Instant::now();
        let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the round's deadline ended the run");
        let explain = format!("{}\n{}", stderr(&output), stdout(&output));
        assert_eq!(output.status.code(), Some(1), "fail beats could-not-judge: {explain}");
        assert!(stderr(&output).contains("timed out"), "{explain}");
        assert_eq!(receiver.received_requests().await.unwrap().len(), 1, "the failed service's webhook, once");
        if format == "table" {
            let text = stdout(&output);
            assert!(text.contains("=== summary: 2 services,"), "{text}");
            assert!(text.contains("svc-000: could not judge at look 3: timed out"), "{text}");
        } else {
            assert_stopped_summary(&output, "timed out", 2);
        }
    }
}

/// SIGTERM in the middle of a round (stalled): the run prints what it decided (the summary, the
/// service still watched "could not judge") and exits 143; the failed service's webhook fired
/// once, at its look, never again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_a_round_prints_the_summary_and_exits_143() {
    use std::io::BufRead;
    let dir = TempDir::new("fleet-watch-sigterm");
    let (server, receiver) = stalling_datadog().await;
    let mut command = stalled_watch(&server.uri(), &receiver.uri(), &dir, &["--format", "json"]);
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = String::new();
        // Until svc-003's final verdict (round 2): round 3 then stalls.
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(r#""event":"final""#) {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        // The shell's own `kill` (no procps needed).
        let killed = Command::new("sh").args(["-c", &format!("kill -TERM {}", child.id())]).status().unwrap();
        assert!(killed.success());
        for line in lines {
            seen.push_str(&line.unwrap());
            seen.push('\n');
        }
        let mut output = child.wait_with_output().unwrap();
        output.stdout = seen.into_bytes();
        output
    })
    .await
    .unwrap();
    let explain = format!("{}\n{}", stderr(&output), stdout(&output));
    assert_eq!(output.status.code(), Some(143), "{explain}");
    assert!(stderr(&output).contains("SIGTERM received"), "{explain}");
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1, "the failed service's webhook, once");
    assert_stopped_summary(&output, "interrupted", 2);
}

/// Two analyses whose steps differ but that share a query's text (the baseline's p99 latency,
/// whose range does not follow the step), or whose warm-ups differ (their looks fall at other
/// times, in rounds of their own): each is still judged on points of its own step, at its own
/// looks, exactly as alone, never on the other's grid.
#[test]
fn analyses_of_different_steps_or_warmups_are_each_judged_as_alone() {
    let server = servers::prometheus();
    let dir = TempDir::new("fleet-watch-steps");
    let text = std::fs::read_to_string(live_analysis()).unwrap();
    let variants = [("step: 1m", "step: 2m"), ("warmup: 0s", "warmup: 7m")];
    for (index, (from, to)) in variants.into_iter().enumerate() {
        let other = text.replace("name: checkout-live", "name: checkout-other").replace(from, to);
        assert_ne!(other, text);
        let other = dir.file(&format!("other-{index}.yaml"), &other);
        let other = other.to_str().unwrap();
        let deployment = "canary=checkout-healthy";
        let mut args = strings(&["watch", LIVE, other, "--var", deployment]);
        args.extend(watch_args(server, "json"));
        let output = canary(&args, &[]);
        let events = watch_events(&output);
        assert_eq!(events.last().unwrap()["event"], "summary", "{}", stderr(&output));
        for (name, file) in [("checkout-live", LIVE), ("checkout-other", other)] {
            let mut alone = strings(&["watch", file, "--var", deployment]);
            alone.extend(watch_args(server, "json"));
            let single = watch_events(&canary(&alone, &[]));
            let (together, single) = (own_events(&events, name), own_events(&single, ""));
            assert_eq!(together.len(), single.len(), "{name} ({to})");
            for (together, single) in together.iter().zip(&single) {
                assert_eq!(together, single, "{name} ({to})");
            }
        }
    }
}

/// Label values that a careless split would confuse with a real one (a prefix of it, a regex
/// matching it unescaped, the same letters in upper case) are grouped with it yet never served its data:
/// each is judged on its own (empty) answer and none passes; the real one is judged as alone.
#[test]
fn values_that_resemble_another_are_never_served_its_data() {
    let server = servers::prometheus();
    let dir = TempDir::new("fleet-watch-lookalikes");
    let services = [
        ("real", "checkout-healthy"),
        ("prefix", "checkout-health"),
        // `.` is the one regex metacharacter a value may hold (others are refused as input).
        ("regex", "checkout.healthy"),
        ("upper", "CHECKOUT-HEALTHY"),
    ];
    let fleet = fleet_file(&dir, &services);
    let mut args = strings(&["watch", "--fleet", fleet.to_str().unwrap()]);
    args.extend(watch_args(server, "json"));
    let output = canary(&args, &[]);
    let events = watch_events(&output);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary", "{}", stderr(&output));
    // Grouped: the canaries' queries of one shape in one query (alone: 5 per service and side).
    for round in summary["rounds"].as_array().unwrap() {
        assert!(round["backend_queries"].as_u64().unwrap() <= 10, "{round}");
    }
    let outcomes = summary["services"].as_array().unwrap();
    assert_eq!(outcomes[0]["outcome"], "pass", "{summary}");
    for outcome in &outcomes[1..] {
        assert_ne!(outcome["outcome"], "pass", "{outcome}");
        assert_ne!(outcome["outcome"], "fail", "judged on another's data: {outcome}");
    }
    let mut alone = strings(&["watch", LIVE, "--var", "canary=checkout-healthy"]);
    alone.extend(watch_args(server, "json"));
    assert_eq!(own_events(&events, "real"), own_events(&watch_events(&canary(&alone, &[])), ""));
}

/// Datadog's rate limit hitting one round (429 from the third request on, after the waits for
/// its reset): the services due at it end "could not judge" there, never pass; the one that failed before keeps its fail (exit 1) and
/// its one webhook; the keys appear in no output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_round_ends_its_services_could_not_judge() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let (server, receiver) = stalling_datadog().await;
    server.reset().await;
    let timeseries = || Mock::given(method("POST")).and(path("/api/v2/query/timeseries"));
    let answering = crate::fleet_datadog::FleetTimeseries { stray: false };
    timeseries().respond_with(answering).up_to_n_times(2).with_priority(1).mount(&server).await;
    let limited = ResponseTemplate::new(429).insert_header("x-ratelimit-reset", "1");
    timeseries().respond_with(limited).with_priority(2).mount(&server).await;
    let dir = TempDir::new("fleet-watch-429");
    let mut command = stalled_watch(&server.uri(), &receiver.uri(), &dir, &["--format", "json"]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    let explain = format!("{}\n{}", stderr(&output), stdout(&output));
    assert_eq!(output.status.code(), Some(1), "{explain}");
    assert!(!explain.contains("fleet-api-key") && !explain.contains("fleet-app-key"), "{explain}");
    assert_eq!(receiver.received_requests().await.unwrap().len(), 1, "the failed service's webhook, once");
    // The limited round finished (with an error for its one service).
    assert_stopped_summary(&output, "metric `error_rate`", 3);
    assert!(stdout(&output).contains("rate limited"), "{explain}");
}

/// A second SIGTERM while the first waits for a stalled webhook delivery (the receiver answers
/// after 30 s) ends the run at once, with 143: a stuck shutdown never holds the watch hostage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_ends_a_stop_stuck_in_a_webhook_at_once() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let dir = TempDir::new("fleet-watch-second-signal");
    let (server, _) = stalling_datadog().await;
    let receiver = MockServer::start().await;
    let stalled = ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30));
    Mock::given(method("POST")).respond_with(stalled).mount(&receiver).await;
    let mut command = stalled_watch(&server.uri(), &receiver.uri(), &dir, &["--format", "json"]);
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let kill = |pid: u32| {
        let killed = Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status().unwrap();
        assert!(killed.success());
    };
    // svc-003 fails at round 2: its webhook delivery is under way.
    let waiting = std::time::Instant::now();
    while receiver.received_requests().await.unwrap().is_empty() {
        assert!(waiting.elapsed() < std::time::Duration::from_secs(60), "no webhook delivery");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    kill(child.id());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(child.try_wait().unwrap().is_none(), "the first signal waits for the delivery");
    kill(child.id());
    let signalled = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if signalled.elapsed() > std::time::Duration::from_secs(5) {
            break None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(status.and_then(|s| s.code()), Some(143), "the second signal ends the run at once");
}
