//! Fuzz target: the query-shape recognisers and rewriters of grouped queries, PromQL
//! (`canary::groupable_shape`) and Datadog (`canary::groupable_datadog_shape`), on any text, and
//! fleet files (`canary::FleetFile::parse`). A shape is either refused or rewritten into a query
//! whose value regex (PromQL) or `tag IN (…)` list (Datadog) holds exactly the values given; a
//! fleet file ends in a fleet or an error that renders; never a panic.
#![no_main]

use canary::{FleetFile, groupable_datadog_shape, groupable_shape};
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
    if let Some(shape) = groupable_datadog_shape(&text, PLACEHOLDER) {
        let values = ["a", "b.c", "d-1"];
        assert!(values.iter().all(|value| shape.accepts(value)));
        let query = shape.grouped_query(&values);
        assert!(!query.contains(PLACEHOLDER), "{query}");
        let list = format!("{} IN (a, b.c, d-1)", shape.label);
        assert_eq!(query.matches(&list).count(), 1, "{query}");
        assert!(query.contains(&format!("{}}}", shape.label)), "{query}: grouped by the tag");
    }
    match FleetFile::parse(&text, Path::new("fuzz-fleet.yaml")) {
        Ok(fleet) => assert!(!fleet.services.is_empty()),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
