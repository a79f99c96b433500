//! Fuzz target: analysis files (`config::Analysis::parse`), then variable resolution and the
//! rendering of every query, as `canary judge` and `canary validate` do with a file they read.
//! Any input must end in an analysis or a `ConfigError` that renders; never a panic.
#![no_main]

use canary::{
    Analysis,
    model::{Duration, Side},
    render_metric, resolve_sides,
};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Analysis::parse(&text, Path::new("fuzz.yaml")) {
        Err(error) => {
            let _ = error.to_string();
        }
        Ok(analysis) => {
            let overrides = BTreeMap::new();
            let Ok(sides) = resolve_sides(&analysis, &overrides) else { return };
            for metric in &analysis.metrics {
                for side in [Side::Baseline, Side::Canary] {
                    let _ = render_metric(&analysis, metric, side, &sides, &overrides, Duration::from_secs(60));
                }
            }
        }
    }
});
