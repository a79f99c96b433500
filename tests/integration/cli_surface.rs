//! What users of good CLIs expect, end to end through the binary: shell completions, the man
//! page, `--version`, the `CANARY_*` environment variables, `--color` and `NO_COLOR`, and output
//! fitted to the width (`COLUMNS`, or the terminal). The colour tests that need a terminal run
//! the binary under `script` (util-linux's bsdutils, essential on Debian), which gives it a pty.

use crate::support::{TempDir, canary_bin, run, stderr, stdout};
use std::collections::BTreeSet;
use std::process::{Command, Output};

const ANALYSIS: &str = "analyses/checkout.yaml";
const FIXTURES: [&str; 6] =
    ["healthy", "latency-regression", "error-spike-low-traffic", "conversion-drop", "improvement", "no-canary-traffic"];
const SUBCOMMANDS: [&str; 9] =
    ["judge", "validate", "watch", "record", "compare", "schema", "import", "completions", "man"];

/// `canary args` with `env` set (and the variables that change output removed first).
fn run_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(canary_bin());
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in ["NO_COLOR", "COLUMNS", "CANARY_FORMAT", "CANARY_LAST", "CANARY_STEP", "CANARY_STATE_DIR", "TERM"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied()).output().expect("canary runs")
}

fn explain(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

#[test]
fn completions_for_every_shell_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell], None);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", explain(&out));
        let script = stdout(&out);
        assert!(script.len() > 1000, "{shell}: a short script");
        for subcommand in SUBCOMMANDS {
            assert!(script.contains(subcommand), "{shell}: no `{subcommand}` in the script");
        }
        assert!(script.contains("replay") && script.contains("color"), "{shell}: flags missing");
    }
    // The bash script parses, and registers a completion for `canary`.
    let dir = TempDir::new("completions");
    let script = dir.file("canary.bash", &stdout(&run(&["completions", "bash"], None)));
    let check = format!("source {} && complete -p canary", script.display());
    let out = Command::new("bash").args(["-c", &check]).output().expect("bash runs");
    assert!(out.status.success() && stdout(&out).contains("canary"), "{}", explain(&out));
    assert_eq!(run(&["completions", "tcsh"], None).status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn the_man_page_is_roff_with_a_section_per_subcommand() {
    let out = run(&["man"], None);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH canary 1"), "no roff title");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS"] {
        assert!(page.contains(section), "no {section}");
    }
    for subcommand in SUBCOMMANDS {
        let section = format!(".SH \"CANARY {}\"", subcommand.to_uppercase());
        assert!(page.contains(&section), "no section {section}");
    }
    assert!(page.contains(".SH \"CANARY IMPORT KAYENTA\""), "nested subcommands get their section");
    assert!(page.contains("CANARY_LAST"), "the environment variables are documented");
    assert!(page.contains("130, 143"), "the exit codes are documented");
}

#[test]
fn version_names_the_package_version_the_commit_and_the_build_date() {
    let out = run(&["--version"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let line = text.trim_end();
    let rest =
        line.strip_prefix(&format!("canary {} (", env!("CARGO_PKG_VERSION"))).unwrap_or_else(|| panic!("{line}"));
    let inside = rest.strip_suffix(')').unwrap_or_else(|| panic!("{line}"));
    let date = inside.rsplit(' ').next().unwrap();
    let digits: Vec<&str> = date.split('-').collect();
    assert!(
        digits.len() == 3
            && digits.iter().zip([4, 2, 2]).all(|(d, n)| d.len() == n && d.bytes().all(|b| b.is_ascii_digit())),
        "not a YYYY-MM-DD date: {line}"
    );
    if let Some((commit, _)) = inside.split_once(' ') {
        assert!(commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit()), "not a commit: {line}");
    }
}

fn replay_args(fixture: &str) -> Vec<String> {
    ["judge", ANALYSIS, "--replay", &format!("fixtures/{fixture}.json")].map(String::from).to_vec()
}

fn args_of(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[test]
fn environment_variables_set_flags_and_the_command_line_wins() {
    let args = replay_args("healthy");
    let args = args_of(&args);
    // CANARY_FORMAT sets --format.
    let json = run_with(&args, &[("CANARY_FORMAT", "json")]);
    assert_eq!(json.status.code(), Some(0), "{}", explain(&json));
    assert!(serde_json::from_str::<serde_json::Value>(&stdout(&json)).is_ok(), "{}", explain(&json));
    // The flag wins over the variable.
    let markdown = run_with(&[&args[..], &["--format", "markdown"]].concat(), &[("CANARY_FORMAT", "json")]);
    assert!(stdout(&markdown).starts_with("## canary: PASS"), "{}", explain(&markdown));
    // CANARY_STEP reaches the window: a recording at 1m cannot be judged at 7m.
    let stepped = run_with(&args, &[("CANARY_STEP", "7m")]);
    assert_eq!(stepped.status.code(), Some(2), "{}", explain(&stepped));
    // CANARY_LAST gives way to --start/--end (with it, a replay is refused: "--last cannot be
    // combined with --replay"); both as flags are a conflict.
    let window = ["--start", "2026-11-23T10:00:00Z", "--end", "2026-11-23T10:30:00Z"];
    let last = run_with(&args, &[("CANARY_LAST", "30m")]);
    assert_eq!(last.status.code(), Some(2), "CANARY_LAST is read: {}", explain(&last));
    let from_env = run_with(&[&args[..], &window].concat(), &[("CANARY_LAST", "30m")]);
    assert_eq!(from_env.status.code(), Some(0), "{}", explain(&from_env));
    let both = run_with(&[&args[..], &window, &["--last", "30m"]].concat(), &[]);
    assert_eq!(both.status.code(), Some(2), "{}", explain(&both));
    assert!(stderr(&both).contains("'--last <DURATION>' cannot be used with '--start <TIME>'"), "{}", explain(&both));
}

#[test]
fn a_bad_value_in_an_environment_variable_names_the_variable() {
    let args = replay_args("healthy");
    for (variable, value, flag) in
        [("CANARY_FORMAT", "jsn", "--format"), ("CANARY_LAST", "30x", "--last"), ("CANARY_STEP", "-1m", "--step")]
    {
        let out = run_with(&args_of(&args), &[(variable, value)]);
        assert_eq!(out.status.code(), Some(2), "{variable}: {}", explain(&out));
        let message = stderr(&out);
        assert!(message.contains(&format!("invalid value '{value}' for '{flag}")), "{variable}: {message}");
        assert!(message.contains(&format!("the environment variable {variable}")), "{variable}: {message}");
    }
    // The same bad value on the command line does not blame the environment.
    let out = run_with(&[&args_of(&args)[..], &["--format", "jsn"]].concat(), &[("CANARY_FORMAT", "json")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("environment variable"), "{}", explain(&out));
}

#[test]
fn canary_state_dir_keeps_the_watchdog_state() {
    let dir = TempDir::new("env-state-dir");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let out = run_with(&args_of(&replay_args("healthy")), &[("CANARY_STATE_DIR", state.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let kept: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
    assert!(!kept.is_empty(), "nothing written in CANARY_STATE_DIR: {}", explain(&out));
}

/// Runs `command` (a shell command line) under a pseudo-terminal, with `env`.
fn on_a_terminal(command: &str, env: &[(&str, &str)]) -> String {
    let mut script = Command::new("script");
    script.args(["-qec", command, "/dev/null"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in ["NO_COLOR", "COLUMNS", "CANARY_FORMAT", "TERM"] {
        script.env_remove(name);
    }
    let out = script.envs(env.iter().copied()).output().expect("script (util-linux) runs");
    stdout(&out)
}

const RED_ERROR: &str = "\x1b[1m\x1b[31merror:\x1b[0m";

#[test]
fn color_follows_the_flag_then_no_color_then_the_terminal() {
    let judge = format!("{} judge {ANALYSIS} --replay fixtures/healthy.json", canary_bin());
    let coloured = |text: &str| text.contains("\x1b[1;32mPASS\x1b[0m");
    assert!(coloured(&on_a_terminal(&judge, &[("TERM", "xterm")])), "a terminal gets colour");
    assert!(coloured(&on_a_terminal(&judge, &[("TERM", "xterm"), ("NO_COLOR", "")])), "an empty NO_COLOR is ignored");
    assert!(!coloured(&on_a_terminal(&judge, &[("TERM", "xterm"), ("NO_COLOR", "1")])), "NO_COLOR=1 turns it off");
    let never = format!("{judge} --color never");
    assert!(!coloured(&on_a_terminal(&never, &[("TERM", "xterm")])), "--color never");
    // Not a terminal: no colour unless asked for, even with NO_COLOR set.
    let args = replay_args("healthy");
    let args = args_of(&args);
    assert!(!coloured(&stdout(&run_with(&args, &[]))));
    assert!(coloured(&stdout(&run_with(&[&args[..], &["--color", "always"]].concat(), &[("NO_COLOR", "1")]))));
    // clap's error prefix and canary's own are styled alike, under the same rules.
    let clap_error = run_with(&["--color", "always", "judge"], &[]);
    assert!(stderr(&clap_error).starts_with(RED_ERROR), "{}", explain(&clap_error));
    let own_error = run_with(&["judge", "missing.yaml", "--color=always"], &[]);
    assert!(stderr(&own_error).starts_with(&format!("canary: {RED_ERROR} ")), "{}", explain(&own_error));
    for args in [&["judge"][..], &["judge", "missing.yaml"], &["--color", "never", "judge", "missing.yaml"]] {
        let out = run_with(args, &[]);
        assert!(!stderr(&out).contains('\x1b'), "an escape on a plain stderr: {}", explain(&out));
    }
}

/// The words of a rendering, table borders and punctuation around words taken away.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || "|┆│".contains(c))
        .map(|word| word.trim_matches(|c: char| "(),:".contains(c)))
        .filter(|word| !word.is_empty() && !word.chars().all(|c| "-─═╌┄+:".contains(c)))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_judge_table_fits_60_80_and_120_columns_without_splitting_a_word() {
    let mut fixtures: Vec<(String, Vec<String>)> =
        FIXTURES.iter().map(|fixture| (fixture.to_string(), replay_args(fixture))).collect();
    for fixture in ["grocery-organic-regression", "grocery-organic-and-checkout-regression"] {
        let replay = format!("fixtures/{fixture}.json");
        let args = ["judge", "analyses/grocery-features.yaml", "--replay", &replay, "--dry-run"];
        fixtures.push((fixture.to_string(), args.map(String::from).to_vec()));
    }
    let compare = ["compare", "fixtures/samples/latency-v1.txt", "fixtures/samples/latency-v2.txt"];
    fixtures.push(("compare".to_string(), compare.map(String::from).to_vec()));
    for (name, args) in fixtures {
        let args = args_of(&args);
        let unsplit = words(&stdout(&run_with(&args, &[("COLUMNS", "1000")])));
        for width in [60, 80, 120] {
            let out = run_with(&args, &[("COLUMNS", &width.to_string())]);
            let text = stdout(&out);
            assert!(!text.is_empty(), "{name}: {}", explain(&out));
            for line in text.lines() {
                // Only a word longer than the page may pass its edge, on a line of its own.
                let alone = !line.trim().contains(' ');
                assert!(line.chars().count() <= width || alone, "{name} at {width}: too wide: {line}");
            }
            let mut split: Vec<String> = words(&text).difference(&unsplit).cloned().collect();
            // The per-metric paragraphs of a narrow page name the figures.
            split.retain(|word| !["baseline", "canary", "change", "p"].contains(&word.as_str()));
            assert!(split.is_empty(), "{name} at {width}: words split: {split:?}\n{text}");
        }
    }
}

/// `watch`'s rows need 69 columns before the failing metrics, which go below a row that
/// cannot hold them.
#[test]
fn watch_rows_fit_80_and_120_columns() {
    let args =
        ["watch", ANALYSIS, "--replay", "fixtures/latency-regression.json", "--lifetime", "30m", "--interval", "5m"];
    for width in [80, 120] {
        let out = run_with(&args, &[("COLUMNS", &width.to_string())]);
        assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
        for line in stdout(&out).lines() {
            assert!(line.chars().count() <= width, "watch at {width}: too wide: {line}");
        }
        assert!(stdout(&out).contains("p99_latency (fail (high))"), "{}", explain(&out));
    }
}

/// A file written with `--output table=FILE` does not depend on the terminal: 100 columns.
#[test]
fn an_output_file_is_laid_out_at_100_columns_whatever_the_terminal() {
    let dir = TempDir::new("output-width");
    let file = dir.path().join("report.txt");
    let output = format!("table={}", file.display());
    let args = replay_args("latency-regression");
    let out = run_with(&[&args_of(&args)[..], &["--output", &output]].concat(), &[("COLUMNS", "60")]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(stdout(&out).contains("p99_latency (latency): fail (high)"), "60 columns on stdout: {}", explain(&out));
    let written = std::fs::read_to_string(&file).unwrap();
    let at_100 = stdout(&run_with(&args_of(&args), &[("COLUMNS", "100")]));
    assert_eq!(written, at_100);
}

#[test]
fn help_wraps_to_columns() {
    for width in [60usize, 80, 120] {
        let out = run_with(&["judge", "--help"], &[("COLUMNS", &width.to_string())]);
        for line in stdout(&out).lines() {
            assert!(line.chars().count() <= width, "help at {width}: too wide: {line}");
        }
    }
}
