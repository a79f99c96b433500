//! `canary schema [report|recording|compare|watch]`: the JSON Schemas of the documents canary writes
//! and reads, generated from the same types that produce them.

use crate::cli::{SchemaArgs, SchemaDocument};
use crate::comparison::ComparisonReport;
use crate::error::CanaryError;
use crate::judge::report::JudgmentReport;
use crate::model::Verdict;
use crate::report::watch::WatchEvent;
use crate::source::recorded::Recording;
use std::io::Write;

/// The schema of one document.
pub fn schema(document: SchemaDocument) -> serde_json::Value {
    let schema = match document {
        SchemaDocument::Report => schemars::schema_for!(JudgmentReport),
        SchemaDocument::Recording => schemars::schema_for!(Recording),
        SchemaDocument::Compare => schemars::schema_for!(ComparisonReport),
        SchemaDocument::Watch => schemars::schema_for!(WatchEvent<'static>),
        SchemaDocument::Fleet => schemars::schema_for!(crate::report::fleet::FleetReport),
    };
    serde_json::to_value(schema).expect("schemas serialise")
}

pub fn run(args: &SchemaArgs) -> Result<Verdict, CanaryError> {
    let value = match args.document {
        Some(document) => schema(document),
        None => serde_json::json!({
            "report": schema(SchemaDocument::Report),
            "recording": schema(SchemaDocument::Recording),
            "compare": schema(SchemaDocument::Compare),
            "watch": schema(SchemaDocument::Watch),
            "fleet": schema(SchemaDocument::Fleet),
        }),
    };
    let mut out = std::io::stdout().lock();
    CanaryError::stdout(
        serde_json::to_writer_pretty(&mut out, &value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush()),
    )?;
    Ok(Verdict::Pass)
}
