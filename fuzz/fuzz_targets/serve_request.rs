//! Fuzz target: the request bodies of `canary serve` (Flagger's webhook payload and Argo
//! Rollouts' `web` body). Any input must end in a request within the bounds (a visible analysis
//! name, at most `MAX_VARIABLES` variables of bounded size) or an error that renders; never a panic.
#![no_main]

use canary::{JudgeRequest, SERVE_MAX_VARIABLES, parse_argo_request, parse_flagger_request};
use libfuzzer_sys::fuzz_target;

fn check(parsed: Result<JudgeRequest, String>) {
    match parsed {
        Err(message) => assert!(!message.contains('\u{1b}'), "a raw escape in {message:?}"),
        Ok(request) => {
            assert!(!request.analysis.is_empty() && request.analysis.chars().count() <= 128);
            assert!(request.variables.len() <= SERVE_MAX_VARIABLES);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let flagger = parse_flagger_request(data);
    // The analysis's key never reaches the variables.
    assert!(flagger.as_ref().map_or(true, |request| !request.variables.contains_key("analysis")));
    check(flagger);
    check(parse_argo_request(data));
});
