//! `canary compare` end to end: verdicts and exit codes, JSON shape, bad input.

use crate::support::{TempDir, run, stderr, stdout};
use serde_json::Value;

fn json(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

#[test]
fn readme_example_fails_on_the_latency_regression() {
    let out = run(&["compare", "fixtures/samples/latency-v1.txt", "fixtures/samples/latency-v2.txt"], None);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("p99") && text.contains("verdict: FAIL"), "{text}");
}

#[test]
fn json_report_has_the_documented_fields() {
    let out = run(
        &["compare", "fixtures/samples/latency-v1.txt", "fixtures/samples/latency-v2.txt", "--format", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["schema_version"], 1);
    for side in ["baseline", "canary"] {
        for field in ["count", "mean", "std", "min", "p50", "p90", "p99", "max"] {
            assert!(report[side][field].is_number(), "{side}.{field}");
        }
    }
    for field in ["u", "p_value"] {
        assert!(report["mann_whitney"][field].is_number(), "mann_whitney.{field}");
    }
    assert_eq!(report["mann_whitney"]["method"], "asymptotic");
    assert_eq!(report["mann_whitney"]["alternative"], "two-sided");
    for field in ["estimate", "ci_low", "ci_high", "confidence"] {
        assert!(report["hodges_lehmann"][field].is_number(), "hodges_lehmann.{field}");
    }
    assert_eq!(report["verdict"], "fail");
    assert!(report["hodges_lehmann"]["ci_low"].as_f64().unwrap() > 0.0);
}

#[test]
fn same_build_twice_passes() {
    let out = run(&["compare", "fixtures/samples/latency-v1.txt", "fixtures/samples/latency-v1-rerun.txt"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_margin_turns_a_small_regression_into_a_pass_and_direction_matters() {
    let files = ["compare", "fixtures/samples/latency-v1.txt", "fixtures/samples/latency-v2.txt"];
    let wide = run(&[&files[..], &["--margin", "50%"]].concat(), None);
    assert_eq!(wide.status.code(), Some(0), "{}", stdout(&wide));
    // The same rise is an improvement when a decrease is what would be bad.
    let decrease = run(&[&files[..], &["--direction", "decrease", "--format", "json"]].concat(), None);
    assert_eq!(decrease.status.code(), Some(0));
    assert!(json(&decrease)["reason"].as_str().unwrap().contains("improved"));
}

#[test]
fn stdin_exact_method_and_one_sided_alternative() {
    let dir = TempDir::new("stdin");
    let baseline = dir.file("b.txt", "20 11 17 12\n");
    let out = run(
        &[
            "compare",
            baseline.to_str().unwrap(),
            "-",
            "--format",
            "json",
            "--method",
            "exact",
            "--alternative",
            "greater",
        ],
        Some("# males\n19 22 16 29 24\n"),
    );
    let report = json(&out);
    assert_eq!(report["mann_whitney"]["u"], 17.0);
    assert_eq!(report["mann_whitney"]["method"], "exact");
    assert!((report["mann_whitney"]["p_value"].as_f64().unwrap() - 1.0 / 18.0).abs() < 1e-12);
}

#[test]
fn too_few_values_for_the_confidence_is_inconclusive() {
    let dir = TempDir::new("few");
    let (b, c) = (dir.file("b", "1 2 3"), dir.file("c", "4 5 6"));
    let out = run(&["compare", b.to_str().unwrap(), c.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("INCONCLUSIVE"));
}

#[test]
fn an_empty_sample_is_inconclusive_with_a_message() {
    let dir = TempDir::new("empty");
    let (b, c) = (dir.file("b", "# nothing yet\n"), dir.file("c", "4 5 6"));
    let out = run(&["compare", b.to_str().unwrap(), c.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("baseline sample is empty"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn bad_tokens_name_the_file_line_and_token() {
    let dir = TempDir::new("bad");
    let b = dir.file("b.txt", "1 2\n3 oops 4\n");
    let c = dir.file("c.txt", "1\nNaN\n");
    let good = dir.file("g.txt", "1 2 3");
    let out = run(&["compare", b.to_str().unwrap(), good.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("b.txt:2: `oops` is not a number"), "{err}");
    let out = run(&["compare", good.to_str().unwrap(), c.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("c.txt:2: `NaN` is not a finite number"), "{}", stderr(&out));
}

#[test]
fn a_missing_file_is_a_usage_error_naming_it() {
    let out = run(&["compare", "does/not/exist.txt", "fixtures/samples/latency-v1.txt"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read does/not/exist.txt"), "{}", stderr(&out));
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["compare", "a", "b", "--confidence", "1.5"][..],
        &["compare", "a", "b", "--margin", "lots"][..],
        &["compare", "a", "b", "--method", "magic"][..],
        &["compare", "a"][..],
    ] {
        let out = run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn exact_with_ties_is_refused_with_advice() {
    let dir = TempDir::new("ties");
    let (b, c) = (dir.file("b", "1 2 2 3"), dir.file("c", "2 3 4"));
    let out = run(&["compare", b.to_str().unwrap(), c.to_str().unwrap(), "--method", "exact"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("asymptotic"), "{}", stderr(&out));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for line in ["0  pass", "1  fail", "2  usage", "3  inconclusive", "4  could not judge"] {
        assert!(text.contains(line), "{line} missing from --help");
    }
}

/// The values of a fixture file of numbers.
fn fixture_values(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/fixtures/samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(|l| l.trim().to_string()).collect()
}

#[test]
fn a_csv_column_and_hyperfine_exports_give_the_same_report_as_the_numbers() {
    let dir = TempDir::new("compare-formats");
    let (v1, v2) = (fixture_values("latency-v1.txt"), fixture_values("latency-v2.txt"));
    let csv = |values: &[String]| {
        let rows: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("{i},\"{v}\",\"a, b\"")).collect();
        format!("run,latency,note\n{}\n", rows.join("\n"))
    };
    let baseline_csv = dir.file("baseline.csv", &csv(&v1));
    let canary_csv = dir.file("canary.csv", &csv(&v2));
    let export = serde_json::json!({"results": [
        {"command": "./v1", "mean": 0.0, "times": v1.iter().map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>()},
        {"command": "./v2", "mean": 0.0, "times": v2.iter().map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>()},
    ]});
    let hyperfine = dir.file("bench.json", &export.to_string());
    let (b, c, h) = (baseline_csv.to_str().unwrap(), canary_csv.to_str().unwrap(), hyperfine.to_str().unwrap());
    let numbers = run(
        &["compare", "fixtures/samples/latency-v1.txt", "fixtures/samples/latency-v2.txt", "--format", "json"],
        None,
    );
    assert_eq!(numbers.status.code(), Some(1), "{}", stderr(&numbers));
    for args in [
        vec!["compare", b, c, "--column", "latency", "--format", "json"],
        vec!["compare", b, c, "--column", "2", "--format", "json"],
        vec!["compare", h, h, "--command", "./v1", "--canary-command", "2", "--format", "json"],
    ] {
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(json(&out), json(&numbers), "{args:?}");
    }
    // A file of one column read as a CSV without header, and its errors naming file, line, column.
    let out = run(&["compare", h, h], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bench.json:1: 2 commands in the results (1 `./v1`, 2 `./v2`): choose one"),
        "{}",
        stderr(&out)
    );
    let bad = dir.file("bad.csv", "run,latency\n1,0.5\n2,slow\n");
    let out = run(&["compare", bad.to_str().unwrap(), c, "--column", "latency"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.csv:3: column `latency`: `slow` is not a number"), "{}", stderr(&out));
    let out = run(&["compare", b, c, "--column", "p99"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no column `p99` in the header (its columns: run, latency, note)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_hyperfine_export_with_crashed_runs_is_refused_not_judged_faster() {
    // `hyperfine -i` keeps runs that crashed: here ./new segfaulted (139) in 15 of 30 runs, each
    // taking 2 ms; counted as times, they would make the canary look faster.
    let dir = TempDir::new("compare-crashes");
    let old: Vec<f64> = (0..30).map(|i| 0.100 + f64::from(i % 5) * 0.001).collect();
    let new: Vec<f64> = (0..30).map(|i| if i % 2 == 0 { 0.002 } else { 0.101 + f64::from(i % 5) * 0.001 }).collect();
    let codes: Vec<i32> = (0..30).map(|i| if i % 2 == 0 { 139 } else { 0 }).collect();
    let export = serde_json::json!({"results": [
        {"command": "./old", "times": old, "exit_codes": vec![0; 30]},
        {"command": "./new", "times": new, "exit_codes": codes},
    ]});
    let hf = dir.file("hf.json", &export.to_string());
    let h = hf.to_str().unwrap();
    let args = ["compare", h, h, "--command", "./old", "--canary-command", "./new", "--direction", "increase"];
    let out = run(&args, None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("hf.json:1: 15 of 30 runs of `./new` failed"), "{}", stderr(&out));
    // The same runs all successful are judged.
    let export = serde_json::json!({"results": [
        {"command": "./old", "times": old, "exit_codes": vec![0; 30]},
        {"command": "./new", "times": old, "exit_codes": vec![0; 30]},
    ]});
    let ok = dir.file("ok.json", &export.to_string());
    let o = ok.to_str().unwrap();
    let out =
        run(&["compare", o, o, "--command", "./old", "--canary-command", "./new", "--direction", "increase"], None);
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
}
