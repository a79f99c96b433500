//! Fuzz target: `canary compare`'s CSV column and hyperfine export readers
//! (`input::parse_csv_column`, `input::parse_hyperfine`), by name and by position. Never a panic;
//! every value read is finite.
#![no_main]

use canary::{Selector, parse_csv_column, parse_hyperfine};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.csv");
    for selector in [Selector::Position(1), Selector::Position(3), Selector::Name("latency".into())] {
        match parse_csv_column(data, path, &selector) {
            Ok(values) => assert!(values.iter().all(|v| v.is_finite())),
            Err(error) => {
                let _ = error.to_string();
            }
        }
        if let Ok(text) = std::str::from_utf8(data) {
            for command in [None, Some(&selector)] {
                match parse_hyperfine(text, path, command) {
                    Ok(values) => assert!(values.iter().all(|v| v.is_finite())),
                    Err(error) => {
                        let _ = error.to_string();
                    }
                }
            }
        }
    }
});
