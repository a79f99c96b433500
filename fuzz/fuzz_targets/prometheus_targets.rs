//! Fuzz target: Prometheus `/api/v1/targets` answers (`source::targets::parse_targets_bytes`),
//! any body. Never a panic; an error message always renders.
#![no_main]

use canary::parse_prometheus_targets;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = parse_prometheus_targets(data) {
        let _ = error.to_string();
    }
});
