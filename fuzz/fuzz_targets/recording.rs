//! Fuzz target: recordings (`source::recorded::Recording::load`), then serving every recorded
//! query over the recorded window, as `--replay` does. Never a panic.
#![no_main]

#[path = "fuzz_file.rs"]
mod fuzz_file;

use canary::{
    MetricSource, QueryRequest, RecordedSource, Recording,
    model::{Duration, window::Window},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = fuzz_file::scratch_file("recording", data);
    let recording = match Recording::load(&path) {
        Ok(recording) => recording,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let (start, end) = recording.bounds();
    let step = Duration::from_secs(recording.window.step_seconds);
    let Ok(window) = Window::between(start, end, step, Duration::from_secs(0)) else { return };
    let source = RecordedSource::new(recording.clone(), &path);
    for (name, metric) in &recording.metrics {
        for (side, recorded) in
            [(canary::model::Side::Baseline, &metric.baseline), (canary::model::Side::Canary, &metric.canary)]
        {
            for (role, query) in &recorded.queries {
                let request = QueryRequest { metric: name, side, role: *role, query: &query.query, window };
                let _ = source.fetch(&request);
            }
        }
    }
});
