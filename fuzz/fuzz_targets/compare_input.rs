//! Fuzz target: `canary compare` input files (`input::parse_numbers`); the numbers read are then
//! compared with themselves split in half, as `canary compare A B` would. Never a panic.
#![no_main]

use canary::{CompareSettings, compare, parse_numbers};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match parse_numbers(data, Path::new("fuzz.txt")) {
        Err(error) => {
            let _ = error.to_string();
        }
        Ok(numbers) if numbers.len() <= 4096 => {
            let (baseline, canary) = numbers.split_at(numbers.len() / 2);
            let _ = compare(baseline.to_vec(), canary.to_vec(), &CompareSettings::default());
        }
        Ok(_) => {}
    }
});
