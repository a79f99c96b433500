//! Fuzz target: Datadog's answers to one v2 request carrying several queries
//! (`source::datadog::parse_combined_response_bytes`), any status and body, at a step and a number
//! of queries picked from the last byte. Never a panic; an answer is one list of series per query.
#![no_main]

#[path = "http_input.rs"]
mod http_input;

use canary::parse_datadog_combined_response;
use libfuzzer_sys::fuzz_target;

const STEPS: [u64; 4] = [60, 30, 300, 1];

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = http_input::status_and_body(data) else { return };
    let last = usize::from(data.last().copied().unwrap_or(0));
    let (step, queries) = (STEPS[last % STEPS.len()], 1 + last / STEPS.len() % 8);
    match parse_datadog_combined_response(status, body, step, queries) {
        Ok(answers) => assert_eq!(answers.len(), queries),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
