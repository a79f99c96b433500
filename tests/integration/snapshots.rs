//! Snapshot tests of everything `canary` prints: `judge --replay` of every fixture in every
//! `--format` (and `--judge both`), `watch --replay`, `compare`, `validate`, `schema` (its four
//! documents) and every `--help`. Each snapshot holds the exit code, stdout, stderr when it has
//! content, and an end marker (insta trims trailing newlines). They are checked in under
//! `tests/integration/snapshots/` and are the safety net of refactorings that must keep the
//! output byte-identical. The renderers' unit tests in `src/report/` keep theirs in
//! `src/report/snapshots/`; the same commands below apply to them (`cargo test --lib report::`).
//!
//! Reviewing and updating (`cargo insta` is not installed here):
//! - A mismatch fails the test and insta writes the new output next to the old one as
//!   `tests/integration/snapshots/*.snap.new`; compare with
//!   `diff tests/integration/snapshots/X.snap{,.new}`.
//! - When a change of output is intended, rewrite the snapshots in place, review them with
//!   `git diff tests/integration/snapshots/`, and commit them:
//!   `INSTA_UPDATE=always cargo test --test integration snapshots::`
//!   then delete any leftover `*.snap.new` (`find tests/integration/snapshots -name '*.snap.new' -delete`).
//! - Under CI (`CI` set) insta never writes: a mismatch or a missing snapshot fails the test.
//!   Do not set `INSTA_FORCE_PASS` there.
//!
//! Determinism: the binary runs with an empty environment plus `NO_COLOR=1`, `TERM=dumb`,
//! `COLUMNS=100` (so no `CI`, `GITHUB_STEP_SUMMARY`, `CANARY_*` or secrets leak in), in the
//! repository root with relative paths. One insta filter: the `X-Canary-Timestamp:` header of
//! the dry-run action and rollback requests (the grocery fixtures) is the current time and is
//! replaced by `[timestamp]`.

use crate::support::canary_bin;
use std::process::Command;

/// The recorded scenarios of `analyses/checkout.yaml`.
const CHECKOUT_FIXTURES: [&str; 6] =
    ["healthy", "latency-regression", "error-spike-low-traffic", "conversion-drop", "improvement", "no-canary-traffic"];

/// The recorded scenarios of `analyses/grocery-features.yaml`.
const GROCERY_FIXTURES: [&str; 2] = ["grocery-organic-regression", "grocery-organic-and-checkout-regression"];

const FORMATS: [&str; 4] = ["table", "json", "markdown", "junit"];

/// Runs `canary` with `args` in the repository root with a fixed environment (plus `env`) and
/// returns its exit code, stdout and stderr (when not empty) as one text.
fn transcript(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(canary_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .env("COLUMNS", "100")
        .envs(env.iter().copied())
        .output()
        .expect("canary runs");
    let code = output.status.code().map_or_else(|| "none (killed by a signal)".to_string(), |c| c.to_string());
    let mut text = format!("exit code: {code}\n--- stdout ---\n");
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    if !output.stderr.is_empty() {
        text.push_str("--- stderr ---\n");
        text.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    // insta trims the end of a snapshot: the marker keeps the final newlines of the output in it.
    text.push_str("--- end ---\n");
    text
}

/// Asserts the snapshot `name` of `canary args`, with the command line as its description.
fn assert_output(name: &str, args: &[&str], env: &[(&str, &str)]) {
    let text = transcript(args, env);
    insta::with_settings!({
        description => format!("canary {}", args.join(" ")),
        omit_expression => true,
        filters => vec![(r"(?m)^X-Canary-Timestamp: \d+$", "X-Canary-Timestamp: [timestamp]")],
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn judge_replay_of_every_checkout_fixture_in_every_format() {
    for fixture in CHECKOUT_FIXTURES {
        let replay = format!("fixtures/{fixture}.json");
        for format in FORMATS {
            let args = ["judge", "analyses/checkout.yaml", "--replay", &replay, "--format", format];
            assert_output(&format!("judge-{fixture}-{format}"), &args, &[]);
        }
    }
}

/// The grocery fixtures fail a feature: its action (and the rollback webhook, when checkout fails
/// too) is printed by `--dry-run` instead of sent; the token the action needs is a fixed dummy.
#[test]
fn judge_replay_of_every_grocery_fixture_in_every_format() {
    for fixture in GROCERY_FIXTURES {
        let replay = format!("fixtures/{fixture}.json");
        for format in FORMATS {
            let args =
                ["judge", "analyses/grocery-features.yaml", "--replay", &replay, "--format", format, "--dry-run"];
            assert_output(&format!("judge-{fixture}-{format}"), &args, &[("UNLEASH_ADMIN_TOKEN", "dummy-token")]);
        }
    }
}

#[test]
fn judge_both_shows_kayentas_verdict_beside() {
    for fixture in ["healthy", "latency-regression"] {
        let replay = format!("fixtures/{fixture}.json");
        for format in ["table", "markdown"] {
            let args = ["judge", "analyses/checkout.yaml", "--replay", &replay, "--judge", "both", "--format", format];
            assert_output(&format!("judge-both-{fixture}-{format}"), &args, &[]);
        }
    }
}

#[test]
fn watch_replay_of_a_pass_and_a_fail() {
    for fixture in ["healthy", "latency-regression"] {
        let replay = format!("fixtures/{fixture}.json");
        for format in ["table", "json"] {
            let args = [
                "watch",
                "analyses/checkout.yaml",
                "--replay",
                &replay,
                "--lifetime",
                "30m",
                "--interval",
                "5m",
                "--format",
                format,
            ];
            assert_output(&format!("watch-{fixture}-{format}"), &args, &[]);
            if format == "json" {
                // Every event matches `canary schema watch`.
                crate::support::watch_events(&crate::support::run(&args, None));
            }
        }
    }
}

#[test]
fn compare_of_the_sample_files() {
    let (v1, v2, rerun) =
        ("fixtures/samples/latency-v1.txt", "fixtures/samples/latency-v2.txt", "fixtures/samples/latency-v1-rerun.txt");
    for format in ["table", "json"] {
        assert_output(&format!("compare-v1-v2-{format}"), &["compare", v1, v2, "--format", format], &[]);
        assert_output(&format!("compare-v1-rerun-{format}"), &["compare", v1, rerun, "--format", format], &[]);
    }
}

#[test]
fn validate_and_schemas() {
    assert_output("validate-checkout", &["validate", "analyses/checkout.yaml"], &[]);
    for document in ["report", "recording", "compare", "watch"] {
        assert_output(&format!("schema-{document}"), &["schema", document], &[]);
    }
}

#[test]
fn help_of_every_command() {
    for command in [
        &[][..],
        &["judge"],
        &["validate"],
        &["watch"],
        &["record"],
        &["compare"],
        &["schema"],
        &["import"],
        &["import", "kayenta"],
        &["completions"],
        &["man"],
        &["serve"],
    ] {
        let name = if command.is_empty() { "help-canary".to_string() } else { format!("help-{}", command.join("-")) };
        assert_output(&name, &[command, &["--help"]].concat(), &[]);
    }
}
