//! Fuzz target: the query-shape recogniser and rewriter of grouped queries
//! (`canary::groupable_shape`) on any text, and fleet files (`canary::FleetFile::parse`). A shape
//! is either refused or rewritten into a query whose value regex holds exactly the values given;
//! a fleet file ends in a fleet or an error that renders; never a panic.
#![no_main]

use canary::{FleetFile, groupable_shape};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const PLACEHOLDER: &str = "fuzzPlaceholder0";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(shape) = groupable_shape(&text, PLACEHOLDER) {
        let query = shape.grouped_query(&["a", "b.c", "d-1"]);
        assert!(!query.contains(PLACEHOLDER), "{query}");
        assert!(query.contains(r#"=~"a|b\\.c|d-1""#), "{query}");
    }
    match FleetFile::parse(&text, Path::new("fuzz-fleet.yaml")) {
        Ok(fleet) => assert!(!fleet.services.is_empty()),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
