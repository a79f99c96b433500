//! The layer rule, read from the sources: every `crate::…` path in `src/` (grouped imports such
//! as `use crate::{a, b}` included, across lines) must point to a module of a lower layer of
//! [`LAYERS`]; nothing below the crate root names a root item (`crate::exit_code`); a module's
//! tests, inline or in their own `tests.rs`, may import what the module may; and only the
//! command line knows clap.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The stack, bottom first. A module may import the modules of the layers below its own, never
/// one of its own layer or above. `lib.rs` and `main.rs` (the crate root and the binary) sit on
/// top and may import anything.
const LAYERS: &[&[&str]] = &[
    // The shared vocabulary and the statistics: they import nothing of the crate.
    &["model", "stats"],
    // Bounded reading of input files.
    &["input"],
    // The analysis file: parsing, templates, validation.
    &["config"],
    // Metric sources (I/O) and the pure judge, side by side and blind to each other.
    &["source", "judge"],
    // The Kayenta-compatible judge and the two-sample comparison, both built on the judge.
    &["kayenta", "comparison"],
    // Every failure of the layers below, mapped to one exit code.
    &["error"],
    // Renderers, and the actions (webhooks, feature flags, the cron watchdog) that may fail
    // with a `CanaryError`.
    &["report", "actions"],
    // The command line (the only module that knows clap).
    &["cli"],
    // Flags, environment and the analysis resolved once into typed settings.
    &["settings"],
    // The commands, which only orchestrate.
    &["commands"],
];

/// Arrows allowed against the stack, each with its reason; only from test code (a `tests.rs` or
/// a file under a `tests/` folder). To remove when the test moves.
const TEST_EXCEPTIONS: &[(&str, &str, &str)] = &[(
    "judge",
    "kayenta",
    "the judge's tests compare a few scenarios with the Kayenta-compatible judge; they belong in kayenta/",
)];

/// Modules that may name clap (the rest of the crate must not depend on the command line).
const CLAP_ALLOWED: &[&str] = &["cli", "commands", "main"];

/// The files of the crate root, which may import every module.
const ROOT_FILES: &[&str] = &["lib", "main"];

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

/// Whether a file holds only test code: a `tests.rs`, or anything under a `tests/` folder.
fn is_test_file(src: &Path, file: &Path) -> bool {
    let relative = file.strip_prefix(src).expect("under src");
    file.file_name().is_some_and(|name| name == "tests.rs")
        || relative.parent().is_some_and(|dir| dir.components().any(|part| part.as_os_str() == "tests"))
}

/// The layer of a module, if it is in the stack.
fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The code of a line, without its `//` comment (doc comments included).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(at) if !line[..at].contains('"') => &line[..at],
        _ if line.trim_start().starts_with("//") => "",
        _ => line,
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The first names after `crate::` in `code` (comments already removed), each with the 0-based
/// line it is on: `crate::model::Side` → `model`; `crate::{model::Side, stats}` → `model` and
/// `stats`, the group possibly spread over several lines.
fn crate_paths(code: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let line_at = |at: usize| chars[..at].iter().filter(|c| **c == '\n').count();
    let ident_at = |mut at: usize| {
        while at < chars.len() && chars[at].is_whitespace() {
            at += 1;
        }
        let name: String = chars[at..].iter().take_while(|c| is_ident(**c)).collect();
        (name, at)
    };
    let needle: Vec<char> = "crate::".chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at + needle.len() <= chars.len() {
        if chars[at..at + needle.len()] != needle[..] || (at > 0 && (is_ident(chars[at - 1]) || chars[at - 1] == '$')) {
            at += 1;
            continue;
        }
        let mut next = at + needle.len();
        while next < chars.len() && chars[next].is_whitespace() {
            next += 1;
        }
        if chars.get(next) == Some(&'{') {
            // A group: the first name of every element at its top level.
            let mut depth = 0;
            let mut element_start = true;
            for (offset, c) in chars[next..].iter().enumerate() {
                let here = next + offset;
                match c {
                    '{' => {
                        depth += 1;
                        if depth == 1 {
                            element_start = true;
                            continue;
                        }
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        element_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 1 && element_start && !c.is_whitespace() {
                    element_start = false;
                    let (name, name_at) = ident_at(here);
                    if !name.is_empty() {
                        found.push((name, line_at(name_at)));
                    }
                }
            }
        } else {
            let (name, name_at) = ident_at(next);
            if !name.is_empty() {
                found.push((name, line_at(name_at)));
            }
        }
        at = next;
    }
    found
}

fn names_clap(code: &str) -> bool {
    code.split(|c: char| !is_ident(c)).any(|word| word == "clap")
}

/// Every import against the rules in the files under `src`.
fn violations(src: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found the sources ({} files)", files.len());
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(src, file)).collect();
    let mut violations = BTreeSet::new();
    for module in &modules {
        if layer_of(module).is_none() && !ROOT_FILES.contains(&module.as_str()) {
            violations.insert(format!("`{module}` is in no layer: add it to LAYERS"));
        }
    }
    for file in &files {
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file).expect("a readable source");
        let lines: Vec<&str> = text.lines().collect();
        let code: Vec<&str> = lines.iter().map(|line| code_of(line)).collect();
        let place = |index: usize| format!("{}:{}", file.strip_prefix(src).unwrap().display(), index + 1);
        for (index, line) in code.iter().enumerate() {
            if names_clap(line) && !CLAP_ALLOWED.contains(&module.as_str()) {
                violations.insert(format!("{}: `{module}` names clap: {}", place(index), lines[index].trim()));
            }
        }
        if ROOT_FILES.contains(&module.as_str()) {
            continue;
        }
        let Some(layer) = layer_of(&module) else { continue };
        let test_file = is_test_file(src, file);
        for (target, index) in crate_paths(&code.join("\n")) {
            let shown = lines[index].trim();
            if target == module {
                continue;
            }
            match layer_of(&target) {
                Some(target_layer) if target_layer < layer => {}
                Some(_)
                    if test_file && TEST_EXCEPTIONS.iter().any(|(from, to, _)| *from == module && *to == target) => {}
                Some(_) => {
                    violations.insert(format!("{}: `{module}` imports `{target}`: {shown}", place(index)));
                }
                None => {
                    violations
                        .insert(format!("{}: `{module}` names the crate root's `{target}`: {shown}", place(index)));
                }
            }
        }
    }
    violations
}

#[test]
fn every_import_points_down_the_stack_and_only_the_command_line_knows_clap() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let violations = violations(&src);
    assert!(violations.is_empty(), "imports against the layer rule:\n{}", Vec::from_iter(violations).join("\n"));
}

#[test]
fn the_scanner_sees_paths_and_groups_and_skips_comments() {
    let names = |code: &str| crate_paths(code).into_iter().map(|(name, _)| name).collect::<Vec<_>>();
    assert_eq!(names("use crate::model::{Side, Window};"), ["model"]);
    assert_eq!(names("let x = crate::report::number::plain(crate::stats::f());"), ["report", "stats"]);
    assert_eq!(names("use crate::{model::{Side, Window}, stats, error::CanaryError};"), ["model", "stats", "error"]);
    assert_eq!(
        crate_paths("use crate::{\n    model::Side,\n    judge::{a, b},\n};"),
        [("model".to_string(), 1), ("judge".to_string(), 2)]
    );
    assert_eq!(names("std::process::exit(i32::from(crate::exit_code(x)));"), ["exit_code"]);
    assert!(names("let x = foocrate::judge::y;").is_empty());
    assert!(names("$crate::judge::y").is_empty());
    assert_eq!(code_of("/// see [`crate::judge`]"), "");
    assert_eq!(code_of("use crate::error::Verdict; // old"), "use crate::error::Verdict; ");
    assert!(names_clap("#[derive(clap::ValueEnum)]"));
    assert!(!names_clap("let clapping = 1;"));
    assert_eq!(layer_of("model"), Some(0));
    assert!(layer_of("stats") < layer_of("judge") && layer_of("judge") < layer_of("error"));
}

/// A copy of `src/` with one planted upward import (the judge naming a renderer, in a test file,
/// as a grouped import across lines) and one root item named from below must fail the rule.
#[test]
fn a_planted_upward_import_is_caught() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let copy = tempfile::tempdir().expect("a temporary directory");
    copy_dir(&src, copy.path());
    let planted = copy.path().join("judge").join("tests.rs");
    let text = std::fs::read_to_string(&planted).unwrap_or_default();
    std::fs::write(&planted, format!("use crate::{{\n    model::Side,\n    report::Format,\n}};\n{text}")).unwrap();
    let deadline = copy.path().join("stats").join("planted.rs");
    std::fs::write(&deadline, "fn f() -> u8 { crate::exit_code(Ok(x)) }\n").unwrap();
    let found = violations(copy.path());
    assert!(
        found.iter().any(|v| v.starts_with("judge/tests.rs:3: `judge` imports `report`")),
        "the planted import is caught: {found:?}"
    );
    assert!(found.iter().any(|v| v.contains("`stats` names the crate root's `exit_code`")), "{found:?}");
    assert_eq!(found.len(), 2, "only the planted imports: {found:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("a copied file");
        }
    }
}
