//! Fuzz target: Prometheus `query_range` answers (`source::prometheus::parse_response_bytes`),
//! any status and body. Never a panic; an error message always renders.
#![no_main]

#[path = "http_input.rs"]
mod http_input;

use canary::parse_prometheus_response as parse_response_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = http_input::status_and_body(data) else { return };
    if let Err(error) = parse_response_bytes(status, body) {
        let _ = error.to_string();
    }
});
