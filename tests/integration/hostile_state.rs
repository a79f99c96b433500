//! A hostile state directory for the watchdog (`--state-dir`): symbolic links at the lock and
//! state paths (pointing at a file of canary's user), FIFOs there (which blocked forever), a
//! corrupt state file, a directory others can write to, and a signing-secret file others can
//! read. Each run asserts the exit code, that the planted target is untouched, that the verdict
//! is never pass, and that no secret reaches any output or the state directory.

use crate::hostile_receiver::{Recorder, assert_no_secret, judge_with_webhook, report, secret_url};
use crate::support::{TempDir, stderr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PRECIOUS: &str = "a file of canary's user that must not change\n";

/// A test directory with a private `state` directory in it, and a file an attacker would like
/// canary to overwrite.
fn hostile_dir(name: &str) -> (TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = TempDir::new(name);
    let victim = dir.file("victim.txt", PRECIOUS);
    let root = victim.parent().unwrap().to_path_buf();
    let state = root.join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    (dir, root, state, victim)
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_files_at_the_lock_or_state_path_stop_the_run_with_exit_4_naming_the_path() {
    let (hook, receiver) = Recorder::start(None).await;
    for (case, file, kind) in [
        ("symlink-lock", "checkout.lock", "symbolic link"),
        ("symlink-state", "checkout.state.json", "symbolic link"),
        ("fifo-lock", "checkout.lock", "FIFO"),
        ("fifo-state", "checkout.state.json", "FIFO"),
        ("dir-state", "checkout.state.json", "directory"),
    ] {
        let (_dir, root, state, victim) = hostile_dir(&format!("hostile-state-{case}"));
        let planted = state.join(file);
        match kind {
            "symbolic link" => std::os::unix::fs::symlink(&victim, &planted).unwrap(),
            "FIFO" => mkfifo(&planted),
            _ => std::fs::create_dir(&planted).unwrap(),
        }
        let run = judge_with_webhook(&root, "latency-regression", &secret_url(&hook), &[]);
        let text = stderr(&run.output);
        assert_eq!(run.output.status.code(), Some(4), "{case}: {text}");
        assert!(text.contains(&planted.display().to_string()) && text.contains(kind), "{case}: {text}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), PRECIOUS, "{case}: the target was written");
        assert!(std::fs::symlink_metadata(&planted).is_ok(), "{case}: the planted file is left for people to see");
        if file.ends_with(".json") {
            assert!(!state.join("checkout.lock").exists(), "{case}: the run's own lock is removed");
        }
        assert_no_secret(&run.everything);
    }
    assert_eq!(receiver.count(), 0, "nothing was judged, so nothing was delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_others_can_write_to_is_refused() {
    let (hook, receiver) = Recorder::start(None).await;
    for mode in [0o777, 0o770, 0o1777] {
        let (_dir, root, state, _) = hostile_dir(&format!("hostile-state-mode-{mode:o}"));
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(mode)).unwrap();
        let run = judge_with_webhook(&root, "healthy", &secret_url(&hook), &[]);
        let text = stderr(&run.output);
        assert_eq!(run.output.status.code(), Some(4), "mode {mode:o}: {text}");
        assert!(text.contains(&state.display().to_string()) && text.contains("writable by other users"), "{text}");
        assert!(std::fs::read_dir(&state).unwrap().next().is_none(), "nothing is written there");
    }
    assert_eq!(receiver.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_of_another_user_is_refused() {
    let (hook, receiver) = Recorder::start(None).await;
    let (_dir, root, state, _) = hostile_dir("hostile-state-owner");
    let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
    // Planted by another user (`nobody`), with a forged "already rolled back" state inside.
    std::fs::write(state.join("checkout.state.json"), r#"{"version": 1, "analysis": "checkout", "canaries": {}}"#)
        .unwrap();
    let other = if me == 65534 { 65533 } else { 65534 };
    if std::os::unix::fs::chown(&state, Some(other), None).is_err() {
        // Only root can give a directory away; as another user, make one root's instead.
        assert_ne!(me, 0);
        return;
    }
    let run = judge_with_webhook(&root, "latency-regression", &secret_url(&hook), &[]);
    let text = stderr(&run.output);
    assert_eq!(run.output.status.code(), Some(4), "{text}");
    assert!(text.contains(&state.display().to_string()) && text.contains("belongs to another user"), "{text}");
    assert_eq!(receiver.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_state_directory_and_its_files_are_private() {
    let (hook, _receiver) = Recorder::start(None).await;
    let dir = TempDir::new("hostile-state-private");
    let root = dir.file("placeholder", "").parent().unwrap().to_path_buf();
    let run = judge_with_webhook(&root, "latency-regression", &secret_url(&hook), &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", stderr(&run.output));
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root.join("state")), 0o700);
    assert_eq!(mode(&root.join("state/checkout.state.json")), 0o600);
    let names: Vec<String> = std::fs::read_dir(root.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["checkout.state.json"], "no lock or temporary file is left behind");
    assert_no_secret(&run.everything);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_is_moved_aside_named_and_the_rollback_still_happens() {
    let (hook, receiver) = Recorder::start(None).await;
    let (_dir, root, state, _) = hostile_dir("hostile-state-corrupt");
    let corrupt = "{\"version\": 1, \"analysis\": \"checkout\", \"canaries\": {\u{0}\u{1b}[31m";
    std::fs::write(state.join("checkout.state.json"), corrupt).unwrap();
    let run = judge_with_webhook(&root, "latency-regression", &secret_url(&hook), &[]);
    let text = stderr(&run.output);
    assert_eq!(run.output.status.code(), Some(1), "{text}");
    let aside: Vec<PathBuf> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("checkout.state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{text}");
    assert_eq!(std::fs::read_to_string(&aside[0]).unwrap(), corrupt, "kept for inspection");
    assert!(text.contains("is not valid") && text.contains(&aside[0].display().to_string()), "{text}");
    assert!(text.contains("the watchdog state was lost"), "a repeated rollback is announced: {text}");
    assert_eq!(receiver.count(), 1, "the rollback is delivered");
    assert_eq!(report(&run.output)["rollback"]["delivered"], true);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("checkout.state.json")).unwrap()).unwrap();
    assert_eq!(written["version"], 1);
    assert_no_secret(&run.everything);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_file_others_can_read_is_warned_about_and_never_shown() {
    let (hook, _receiver) = Recorder::start(None).await;
    let dir = TempDir::new("hostile-secret-file");
    let secret = dir.file("rollback.secret", "hmac-secret-5e1b\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let root = secret.parent().unwrap().to_path_buf();
    let output = std::process::Command::new(crate::support::canary_bin())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["judge", "analyses/checkout.yaml", "--replay", "fixtures/latency-regression.json"])
        .args(["--format", "json", "--rollback-webhook", &secret_url(&hook), "--rollback-secret-file"])
        .arg(&secret)
        .env_remove("CANARY_ROLLBACK_SECRET")
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains(&secret.display().to_string()) && text.contains("can be read by other users"), "{text}");
    assert_eq!(report(&output)["rollback"]["signed"], true);
    assert_no_secret(&crate::hostile_receiver::everything_written(&output, &root).replace("hmac-secret-5e1b\n", ""));
}
