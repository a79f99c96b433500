//! Fuzz target: a recording judged end to end by both judges (`canary judge
//! analyses/checkout.yaml --judge both --replay`), and the report rendered in every format. Whatever the recording holds, the judgment must
//! return (libFuzzer's `-timeout` catches a hang) without a panic.
#![no_main]

#[path = "fuzz_file.rs"]
mod fuzz_file;

use canary::{
    Analysis, JudgeChoice, JudgeFormat, RecordedSource, Recording, judge_source,
    model::{Duration, window::Window},
    render_judgment as render, resolve_sides,
};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

static ANALYSIS: LazyLock<Analysis> = LazyLock::new(|| {
    let mut analysis =
        Analysis::parse(include_str!("../../analyses/checkout.yaml"), Path::new("analyses/checkout.yaml"))
            .expect("the checkout analysis is valid");
    analysis.judgment.judge = JudgeChoice::Both;
    analysis
});

fuzz_target!(|data: &[u8]| {
    let path = fuzz_file::scratch_file("replay", data);
    let Ok(recording) = Recording::load(&path) else { return };
    let analysis = &*ANALYSIS;
    let (start, end) = recording.bounds();
    let step = Duration::from_secs(recording.window.step_seconds);
    let Ok(window) = Window::between(start, end, step, analysis.window.warmup) else { return };
    let overrides = BTreeMap::new();
    let sides = resolve_sides(analysis, &overrides).expect("the checkout analysis resolves");
    let source = RecordedSource::new(recording, &path);
    let Ok(report) =
        judge_source(analysis, &source, window, &sides, &overrides, analysis.judgment.alpha, &BTreeMap::new())
    else {
        return;
    };
    for format in [JudgeFormat::Table, JudgeFormat::Json, JudgeFormat::Markdown, JudgeFormat::Junit] {
        let _ = render(&report, format, &mut std::io::sink(), canary::Page::plain(80));
    }
});
