//! The README's first run: `scripts/try-live.sh` starts a real Prometheus backfilled with
//! generated checkout metrics, runs `canary judge` live against it, and cleans up after itself.

use crate::support::canary_bin;
use std::path::Path;
use std::process::Command;

/// Runs the script with this build's binary and its own temporary directory; returns the exit
/// code, stdout and stderr, after checking that nothing is left behind.
fn try_live(scenario: &str) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("canary-first-run-{scenario}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let output = Command::new(root.join("scripts/try-live.sh"))
        .arg(scenario)
        .env("CANARY", canary_bin())
        .env("TMPDIR", &tmp)
        .env_remove("CANARY_SOURCE_URL")
        .output()
        .expect("cannot run scripts/try-live.sh");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "the script left files behind in {}: {left:?}\n{stderr}", tmp.display());
    std::fs::remove_dir_all(&tmp).unwrap();
    let pid = stderr
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no Prometheus pid in the script's output:\n{stderr}"));
    assert!(!crate::servers::process_alive(pid), "Prometheus (pid {pid}) still runs after the script");
    (output.status.code().unwrap_or(-1), stdout, stderr)
}

#[test]
fn a_healthy_canary_passes_live_and_prometheus_is_stopped() {
    let (code, stdout, stderr) = try_live("healthy");
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("source:   prometheus http://127.0.0.1:"), "{stdout}");
    // A `--last` window says in the header that it ends a minute before now.
    // The header is wrapped to the page: read it as one line.
    let header =
        stdout.split("\n  source:").next().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(header.contains("Z (the last 30m, ending a minute before now), step 1m, warm-up 5m"), "{header}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    for metric in ["error_rate", "p99_latency", "conversion"] {
        assert!(stdout.contains(metric), "{metric} missing:\n{stdout}");
    }
}

#[test]
fn a_slow_canary_fails_live_on_its_latency() {
    let (code, stdout, stderr) = try_live("slow");
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("verdict: FAIL") && stdout.contains("p99_latency failed"), "{stdout}");
}

#[test]
fn a_missing_prometheus_is_named_with_what_to_install() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(root.join("scripts/try-live.sh"))
        .env("CANARY", canary_bin())
        .env("PROMETHEUS", "prometheus-not-installed")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no `prometheus-not-installed` on PATH") && stderr.contains("apt-get install prometheus"),
        "{stderr}"
    );
}
