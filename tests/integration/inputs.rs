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
