//! `action.yml`, the GitHub composite Action: it parses as YAML with the inputs and outputs the
//! README documents, and its judge step, run by bash as a runner would (inputs in the
//! environment, `$GITHUB_OUTPUT` a file), judges a recording and outputs the verdict.

use crate::support::canary_bin;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn action() -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).expect("action.yml is not valid YAML")
}

/// Runs the judge step's script; returns its exit code, stdout and the `GITHUB_OUTPUT` lines (a
/// `report=PATH` line replaced by `report=` and the JSON report it names).
fn judge_step(vars: &str, args: &str, fail_on_verdict: &str) -> (i32, String, Vec<String>) {
    let action = action();
    let steps = action["runs"]["steps"].as_array().unwrap();
    let step = steps.iter().find(|s| s["id"] == "judge").expect("a step with id judge");
    assert_eq!(step["shell"], "bash");
    let script = step["run"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output_file = dir.path().join("github_output");
    std::fs::write(&output_file, "").unwrap();
    let output = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ACTION_CANARY_BIN", canary_bin())
        .env("ACTION_ANALYSIS", "analyses/checkout.yaml")
        .env("ACTION_VARS", vars)
        .env("ACTION_ARGS", args)
        .env("ACTION_FORMAT", "markdown")
        .env("ACTION_FAIL_ON_VERDICT", fail_on_verdict)
        .env("GITHUB_OUTPUT", &output_file)
        .env("RUNNER_TEMP", dir.path())
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let outputs = std::fs::read_to_string(&output_file)
        .unwrap()
        .lines()
        .map(|line| match line.strip_prefix("report=") {
            Some(path) => format!("report={}", std::fs::read_to_string(path).unwrap()),
            None => line.to_string(),
        })
        .collect();
    (output.status.code().unwrap(), String::from_utf8_lossy(&output.stdout).into_owned(), outputs)
}

#[test]
fn the_action_declares_its_inputs_and_outputs() {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    for input in ["analysis", "vars", "format", "args", "canary-path", "fail-on-verdict"] {
        assert!(action["inputs"][input]["description"].is_string(), "input {input}");
    }
    assert_eq!(action["inputs"]["analysis"]["required"], true);
    for output in ["verdict", "exit-code", "report"] {
        let value = action["outputs"][output]["value"].as_str().unwrap();
        assert_eq!(value, format!("${{{{ steps.judge.outputs.{output} }}}}"));
    }
    // Inputs reach the scripts only through `env:`, never expanded into the script text.
    for step in action["runs"]["steps"].as_array().unwrap() {
        assert!(!step["run"].as_str().unwrap().contains("${{"), "{step}");
    }
}

#[test]
fn a_regression_fails_the_step_and_outputs_the_verdict_and_report() {
    let (code, stdout, outputs) =
        judge_step("canary=checkout-7f9c\n", "--replay\nfixtures/latency-regression.json\n", "true");
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("canary: verdict fail (exit code 1)"), "{stdout}");
    assert!(stdout.contains("p99\\_latency"), "the Markdown report: {stdout}");
    assert_eq!(outputs[..2], ["verdict=fail".to_string(), "exit-code=1".to_string()]);
    let json: Value = serde_json::from_str(outputs[2].strip_prefix("report=").unwrap()).unwrap();
    assert_eq!(json["verdict"], "fail");
}

#[test]
fn a_verdict_need_not_fail_the_step_but_a_usage_error_does() {
    let (code, _, outputs) = judge_step("", "--replay\nfixtures/latency-regression.json", "false");
    assert_eq!((code, outputs[0].as_str()), (0, "verdict=fail"));
    let (code, _, outputs) = judge_step("", "--replay\nfixtures/healthy.json", "true");
    assert_eq!((code, outputs[0].as_str()), (0, "verdict=pass"));
    let (code, stdout, outputs) =
        judge_step("canary=x\"; touch injected; echo \"", "--replay\nfixtures/healthy.json", "false");
    assert_eq!((code, outputs[0].as_str()), (2, "verdict=usage-error"), "{stdout}");
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("injected").exists());
}
