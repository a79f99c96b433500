//! Fuzz target: `canary compare` input files (`input::parse_numbers`); the numbers read are then
//! compared with themselves split in half, as `canary compare A B` would. Never a panic.
#![no_main]

use canary::{
    CompareSettings, compare,
    model::{Direction, Margin},
    parse_numbers,
    stats::{Alternative, Method},
};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match parse_numbers(data, Path::new("fuzz.txt")) {
        Err(error) => {
            let _ = error.to_string();
        }
        Ok(numbers) if numbers.len() <= 4096 => {
            let (baseline, canary) = numbers.split_at(numbers.len() / 2);
            let _ = compare(baseline.to_vec(), canary.to_vec(), &settings());
        }
        Ok(_) => {}
    }
});

/// `canary compare`'s defaults: two-sided, automatic method, 95 %, increase is bad, no margin.
fn settings() -> CompareSettings {
    CompareSettings {
        alternative: Alternative::TwoSided,
        method: Method::Auto,
        confidence: 0.95,
        direction: Direction::Increase,
        margin: Margin::Absolute(0.0),
    }
}
