//! `canary import kayenta CONFIG.json`: reads the config, runs the importer
//! ([`crate::kayenta::import`]), lists on stderr what has no equivalent (with the file and JSON
//! path), and writes the analysis, checked to validate, unless something had no equivalent and
//! `--partial` was not given.

use crate::cli::{ImportArgs, ImportFrom, KayentaImportArgs};
use crate::config::Analysis;
use crate::error::CanaryError;
use crate::kayenta::import::import_kayenta;
use crate::model::Verdict;
use serde_json::Value;

pub fn run(args: &ImportArgs) -> Result<Verdict, CanaryError> {
    match &args.from {
        ImportFrom::Kayenta(args) => run_kayenta(args),
    }
}

fn run_kayenta(args: &KayentaImportArgs) -> Result<Verdict, CanaryError> {
    if !(0.0..=100.0).contains(&args.marginal_score)
        || !(0.0..=100.0).contains(&args.pass_score)
        || args.marginal_score > args.pass_score
    {
        return Err(CanaryError::Usage(format!(
            "scores must satisfy 0 ≤ --marginal-score ≤ --pass-score ≤ 100, got {} and {}",
            args.marginal_score, args.pass_score
        )));
    }
    use crate::input::{MAX_IMPORT_BYTES, ReadLimitError, read_text_limited};
    let text = read_text_limited(&args.config, MAX_IMPORT_BYTES).map_err(|error| match error {
        ReadLimitError::Io(source) => CanaryError::Unreadable { path: args.config.clone(), source },
        other => CanaryError::BadInput {
            path: args.config.clone(),
            line: 0,
            message: format!("not a Kayenta canary config: {other}; export the canary config alone (one JSON object)"),
        },
    })?;
    let config: Value = serde_json::from_str(&text).map_err(|error| CanaryError::BadInput {
        path: args.config.clone(),
        line: error.line(),
        message: format!("not a JSON Kayenta canary config: {error}"),
    })?;
    let imported = import_kayenta(&config, &args.config, args.pass_score, args.marginal_score)
        .map_err(|message| CanaryError::BadInput { path: args.config.clone(), line: 0, message })?;
    let file = args.config.display();
    for item in &imported.unsupported {
        let kind = if args.partial { "skipped" } else { "unsupported" };
        eprintln!("canary: {kind}: {}", crate::input::terminal_safe(&format!("{file}: {}: {}", item.0, item.1)));
    }
    if imported.metrics == 0 && args.partial {
        return Err(CanaryError::BadInput {
            path: args.config.clone(),
            line: 0,
            message: "$.metrics: nothing is left to import: no metric of the config could be imported (listed above), so no analysis was written".into(),
        });
    }
    if !imported.unsupported.is_empty() && !args.partial {
        return Err(CanaryError::Usage(format!(
            "{file}: {} part(s) of the Kayenta config have no equivalent (listed above); nothing was written. Pass --partial to import the rest",
            imported.unsupported.len()
        )));
    }
    // The written file must be a valid analysis: check before writing.
    let place = args.out.clone().unwrap_or_else(|| "imported.yaml".into());
    Analysis::parse(&imported.yaml, &place).map_err(|error| {
        CanaryError::Usage(format!("the imported analysis does not validate (a bug in the importer): {error}"))
    })?;
    match &args.out {
        Some(path) => std::fs::write(path, &imported.yaml).map_err(CanaryError::Output)?,
        None => {
            use std::io::Write;
            CanaryError::stdout(std::io::stdout().write_all(imported.yaml.as_bytes()))?;
        }
    }
    Ok(Verdict::Pass)
}
