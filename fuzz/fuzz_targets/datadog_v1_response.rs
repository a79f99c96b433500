//! Fuzz target: Datadog v1 metric query answers (`source::datadog::parse_response_bytes`),
//! any status and body, at a step picked from the last byte. Never a panic.
#![no_main]

#[path = "http_input.rs"]
mod http_input;

use canary::{DatadogApi, parse_datadog_response as parse_response_bytes};
use libfuzzer_sys::fuzz_target;

const STEPS: [u64; 4] = [60, 30, 300, 1];

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = http_input::status_and_body(data) else { return };
    let step = STEPS[usize::from(data.last().copied().unwrap_or(0)) % STEPS.len()];
    if let Err(error) = parse_response_bytes(DatadogApi::V1, status, body, step) {
        let _ = error.to_string();
    }
});
