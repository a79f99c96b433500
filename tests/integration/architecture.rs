//! The layer rule, read from the sources: every `crate::…` path in `src/` must point down the
//! stack (model and stats import nothing of the crate; config only the model and input; the judge
//! no source, renderer, command line, command, action or error; …), and only the command line
//! knows clap. The re-exports left at the old homes of moved items, marked
//! `// re-export for the merge; removed after`, are allowed for now, and so are test modules kept
//! in their own `tests.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The marker on the line before a temporary re-export.
const REEXPORT_MARKER: &str = "// re-export for the merge; removed after";

/// Which top-level modules each module may import. A module absent here is not checked.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("stats", &[]),
    // To tighten: `input::read_numbers` returns `CanaryError`, an arrow up to `error`.
    ("input", &["error"]),
    ("config", &["model", "input"]),
    ("source", &["model", "config", "input"]),
    ("judge", &["model", "stats", "config"]),
    ("kayenta", &["model", "stats", "config", "judge", "input"]),
    // To tighten: `comparison` maps its statistics errors to `CanaryError`.
    ("comparison", &["model", "stats", "judge", "error"]),
    ("report", &["model", "stats", "config", "judge", "comparison", "input"]),
    ("error", &["model", "config", "source"]),
    ("actions", &["model", "stats", "config", "source", "judge", "input", "error"]),
    ("cli", &["model", "stats", "config", "source", "report"]),
    ("settings", &["model", "config", "source", "input", "actions", "cli", "error"]),
];

/// Modules that may name clap (the rest of the crate must not depend on the command line).
const CLAP_ALLOWED: &[&str] = &["cli", "commands", "main"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/judge/metric.rs` → `judge`, `src/cli.rs` → `cli`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a line, without its `//` comment (doc comments included).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(at) if !line[..at].contains('"') => &line[..at],
        _ if line.trim_start().starts_with("//") => "",
        _ => line,
    }
}

/// The top-level modules a line of code names as `crate::X`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let preceded_by_ident = rest[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !preceded_by_ident && !name.is_empty() {
            found.push(name);
        }
    }
    found
}

fn names_clap(code: &str) -> bool {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|word| word == "clap")
}

#[test]
fn every_import_points_down_the_stack_and_only_the_command_line_knows_clap() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found the sources ({} files)", files.len());
    // The crate's top-level modules (items of the crate root itself, such as `crate::exit_code`,
    // are not checked here).
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(&src, file)).collect();
    let mut violations = BTreeSet::new();
    for file in &files {
        // A module's tests in their own `tests.rs` may reach across layers (the judge's tests run
        // the Kayenta-compatible judge too); the code they test may not.
        if file.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let module = module_of(&src, file);
        let allowed = ALLOWED.iter().find(|(name, _)| *name == module).map(|(_, allowed)| *allowed);
        let text = std::fs::read_to_string(file).expect("a readable source");
        let mut previous = "";
        for (index, line) in text.lines().enumerate() {
            let place = format!("{}:{}", file.strip_prefix(&src).unwrap().display(), index + 1);
            let reexport = previous.trim() == REEXPORT_MARKER && line.trim_start().starts_with("pub use crate::");
            previous = line;
            let code = code_of(line);
            if names_clap(code) && !CLAP_ALLOWED.contains(&module.as_str()) {
                violations.insert(format!("{place}: `{module}` names clap: {}", line.trim()));
            }
            let Some(allowed) = allowed else { continue };
            if reexport {
                continue;
            }
            for target in crate_paths(code) {
                if target != module && modules.contains(&target) && !allowed.contains(&target.as_str()) {
                    violations.insert(format!("{place}: `{module}` imports `{target}`: {}", line.trim()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layer rule:\n{}", Vec::from_iter(violations).join("\n"));
}

#[test]
fn the_scanner_sees_paths_and_skips_comments() {
    assert_eq!(crate_paths("use crate::model::{Side, Window};"), ["model"]);
    assert_eq!(crate_paths("let x = crate::report::number::plain(crate::stats::f());"), ["report", "stats"]);
    assert!(crate_paths("let x = foocrate::judge::y;").is_empty());
    assert_eq!(code_of("/// see [`crate::judge`]"), "");
    assert_eq!(code_of("use crate::error::Verdict; // old"), "use crate::error::Verdict; ");
    assert!(names_clap("#[derive(clap::ValueEnum)]"));
    assert!(!names_clap("let clapping = 1;"));
}
