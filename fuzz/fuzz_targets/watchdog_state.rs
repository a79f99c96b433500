//! Fuzz target: the watchdog state file (`actions::watchdog::StateFile`), then what a run does
//! with it: the rollback rule for every recorded canary and verdict, and the trailing
//! sustained-breach stretches carried into a judgment of a latency burst. Never a panic.
#![no_main]

use canary::model::{
    Duration,
    window::{Window, parse_timestamp},
};
use canary::{
    Analysis, RecordedSource, RecordedVerdict, Recording, StateFile, judge_source, resolve_sides, rollback_rule,
};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

static ANALYSIS: LazyLock<Analysis> = LazyLock::new(|| {
    let path = Path::new("tests/data/sustained/latency-burst.yaml");
    Analysis::parse(include_str!("../../tests/data/sustained/latency-burst.yaml"), path)
        .expect("the sustained analysis is valid")
});

static RECORDING: LazyLock<Recording> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../fixtures/latency-regression.json")).expect("the fixture is a recording")
});

fuzz_target!(|data: &[u8]| {
    let Ok(state) = serde_json::from_slice::<StateFile>(data) else { return };
    for entry in state.canaries.values() {
        for text in [&entry.judged_at, &entry.since, &entry.window_start, &entry.window_end] {
            let _ = parse_timestamp(text);
        }
        for verdict in [RecordedVerdict::Pass, RecordedVerdict::Fail, RecordedVerdict::Inconclusive] {
            let _ = rollback_rule(Some(entry), verdict, true);
        }
    }
    let Some(carries) = state.canaries.values().map(|entry| &entry.trailing).find(|t| !t.is_empty()) else { return };
    let analysis = &*ANALYSIS;
    let (start, end) = RECORDING.bounds();
    let step = Duration::from_secs(RECORDING.window.step_seconds);
    let window = Window::between(start, end, step, analysis.window.warmup).expect("the fixture's window is valid");
    let overrides = BTreeMap::new();
    let sides = resolve_sides(analysis, &overrides).expect("the sustained analysis resolves");
    let source = RecordedSource::new(RECORDING.clone(), Path::new("fixtures/latency-regression.json"));
    let _ = judge_source(analysis, &source, window, &sides, &overrides, analysis.judgment.alpha, carries);
});
