//! Fuzz target: the Kayenta importer (`kayenta::import::import_kayenta`) on any JSON document,
//! and the analysis it writes parsed back, as `canary import kayenta` does. Never a panic.
#![no_main]

use canary::{Analysis, kayenta::import::import_kayenta};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(imported) = import_kayenta(&config, Path::new("kayenta.json"), 95.0, 75.0) else { return };
    if let Err(error) = Analysis::parse(&imported.yaml, Path::new("imported.yaml")) {
        let _ = error.to_string();
    }
});
