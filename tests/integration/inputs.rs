//! Hostile inputs end to end (issue 11): endless and oversized files given to `compare`, `judge`
//! (the analysis), `--replay` (the recording) and `import` are refused with exit 2 naming the
//! file and the limit; recordings with implausible windows, steps or points are refused.

use crate::support::{TempDir, run, stderr};
use std::process::{Command, Stdio};

/// Runs canary with stdin fed from an endless stream of `byte`, returning (exit code, stderr).
fn run_with_endless_stdin(args: &[&str], byte: u8) -> (Option<i32>, String) {
    let mut child = Command::new(crate::support::canary_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![byte; 1 << 16];
        // Ends when canary closes its end of the pipe (exited, or stopped reading).
        while std::io::Write::write_all(&mut stdin, &chunk).is_ok() {}
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn dev_zero_is_refused_by_every_reader() {
    for (args, names) in [
        (vec!["compare", "/dev/zero", "fixtures/../analyses/checkout.yaml"], "/dev/zero:1:"),
        (vec!["judge", "/dev/zero", "--replay", "fixtures/healthy.json"], "/dev/zero"),
        (vec!["judge", "analyses/checkout.yaml", "--replay", "/dev/zero"], "/dev/zero"),
        (vec!["import", "kayenta", "/dev/zero"], "/dev/zero"),
    ] {
        let out = run(&args, None);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(err.len() < 1000 && !err.contains('\0'), "{args:?}: {err}");
    }
}

#[test]
fn a_newline_free_stdin_is_refused_with_the_limit() {
    let (code, err) = run_with_endless_stdin(&["compare", "-", "fixtures/../analyses/checkout.yaml"], b'7');
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("<stdin>:1:") && err.contains("longer than any number"), "{err}");
    let (code, err) = run_with_endless_stdin(&["judge", "/dev/stdin", "--replay", "fixtures/healthy.json"], b' ');
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/dev/stdin") && err.contains("larger than the limit of 4 MiB"), "{err}");
}

#[test]
fn an_oversized_token_is_refused_at_once_and_echoed_cut() {
    let dir = TempDir::new("long-token");
    let long = dir.file("long.txt", &format!("1 2\n3 {}\n", "9".repeat(5_000_000)));
    let out = run(&["compare", long.to_str().unwrap(), long.to_str().unwrap()], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("long.txt:2: `") && err.contains("longer than any number"), "{err}");
    assert!(err.len() < 500, "the token is echoed whole: {} bytes", err.len());
}

#[test]
fn a_yaml_error_past_column_65535_is_reported_not_a_panic() {
    let dir = TempDir::new("wide-yaml");
    let analysis = dir.file("wide.yaml", &format!("name: \"{}\" x: 1\nmetrics: []\n", "w".repeat(70_000)));
    let out = run(&["validate", analysis.to_str().unwrap()], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", &err[..err.len().min(2000)]);
    assert!(err.contains("wide.yaml:1:") && err.len() < 2000, "{}", &err[..err.len().min(2000)]);
}

#[test]
fn every_fixture_report_validates_against_the_schema_under_every_judge() {
    let schema_out = run(&["schema", "report"], None);
    let schema: serde_json::Value = serde_json::from_slice(&schema_out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the report schema compiles");
    let fixtures = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")).unwrap();
    let mut fixtures: Vec<String> = fixtures
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 8, "{fixtures:?}");
    for fixture in &fixtures {
        let analysis =
            if fixture.starts_with("grocery") { "analyses/grocery-features.yaml" } else { "analyses/checkout.yaml" };
        let replay = format!("fixtures/{fixture}");
        for judge in ["default", "kayenta", "both"] {
            let out =
                run(&["judge", analysis, "--replay", &replay, "--judge", judge, "--format", "json", "--dry-run"], None);
            let report: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{fixture} --judge {judge}: no JSON report ({e}): {}", stderr(&out)));
            let errors: Vec<String> =
                validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{fixture} --judge {judge}: the report does not match its schema: {errors:?}");
        }
    }
}

#[test]
fn a_recording_with_a_wrong_step_or_an_ancient_window_is_refused() {
    let dir = TempDir::new("bad-recordings");
    let healthy = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/healthy.json")).unwrap();
    for (name, from, to, expected) in [
        ("step-120", "\"step_seconds\": 60", "\"step_seconds\": 120", "off the 120s grid"),
        (
            "step-30",
            "\"step_seconds\": 60",
            "\"step_seconds\": 30",
            "the points are every 60s but window.step_seconds is 30",
        ),
        ("step-max", "\"step_seconds\": 60", "\"step_seconds\": 18446744073709551615", "between 1s and 24h"),
        ("year-1", "\"start\": \"2026-11-23T10:00:00Z\"", "\"start\": \"0001-01-01T00:00:00Z\"", "plausible range"),
    ] {
        let text = healthy.replace(from, to);
        assert_ne!(text, healthy, "{name}: the fixture changed shape");
        let path = dir.file(&format!("{name}.json"), &text);
        for judge in ["default", "kayenta"] {
            let out =
                run(&["judge", "analyses/checkout.yaml", "--replay", path.to_str().unwrap(), "--judge", judge], None);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} --judge {judge}: {err}");
            assert!(err.contains(&format!("{name}.json")) && err.contains(expected), "{name}: {err}");
            if name.starts_with("step-") && name != "step-max" {
                assert!(err.contains("metric `") && (err.contains("baseline") || err.contains("canary")), "{err}");
            }
        }
    }
}

#[test]
fn the_importer_names_duplicate_metrics_and_an_empty_partial_import() {
    let dir = TempDir::new("import-errors");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kayenta/prometheus-canary-config.json");
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
    config["metrics"][2]["name"] = config["metrics"][0]["name"].clone();
    let duplicate = dir.file("duplicate.json", &config.to_string());
    let out = run(&["import", "kayenta", duplicate.to_str().unwrap()], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("duplicate.json")
            && err.contains("$.metrics[2].name: `cpu_usage` is also the name of $.metrics[0]"),
        "{err}"
    );
    assert!(!err.contains("bug"), "{err}");

    config["metrics"][2]["name"] = "latency_p99".into();
    for metric in config["metrics"].as_array_mut().unwrap() {
        metric["query"]["type"] = "atlas".into();
    }
    let nothing = dir.file("nothing.json", &config.to_string());
    let out = run(&["import", "kayenta", nothing.to_str().unwrap(), "--partial"], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing.json") && err.contains("$.metrics: nothing is left to import"), "{err}");
    assert!(!err.contains("bug") && stdout_is_empty(&out), "{err}");
}

fn stdout_is_empty(out: &std::process::Output) -> bool {
    out.stdout.is_empty()
}

#[test]
fn echoed_yaml_is_cut_and_escapes_never_reach_the_terminal() {
    let dir = TempDir::new("echo-yaml");
    let analysis = dir.file(
        "echo.yaml",
        &format!("name: x\n\"\u{1b}]0;owned\u{7}\u{1b}[2J{}\": 1\nmetrics: []\n", "k".repeat(3_000_000)),
    );
    let out = run(&["validate", analysis.to_str().unwrap()], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", &err[..err.len().min(3000)]);
    assert!(err.contains("echo.yaml:2:"), "{}", &err[..err.len().min(3000)]);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{}", &err[..err.len().min(3000)]);
    assert!(err.len() < 8000, "{} bytes echoed", err.len());
}
