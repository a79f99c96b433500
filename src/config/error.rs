//! Configuration errors that point at the file, line and column, name the field and suggest the
//! near miss ("did you mean `direction`?").

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read analysis {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// An error at a known place in the file.
    #[error("{}", Located(self))]
    At { path: PathBuf, line: usize, column: usize, message: String, source_line: String },
    /// An error about the file as a whole.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

struct Located<'a>(&'a ConfigError);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ConfigError::At { path, line, column, message, source_line } = self.0 else { return Ok(()) };
        write!(f, "{}:{line}:{column}: {}", path.display(), crate::input::excerpt_of(message, 1000))?;
        if !source_line.is_empty() {
            let gutter = line.to_string().len();
            let (shown, caret) = line_excerpt(source_line, *column);
            write!(f, "\n{:gutter$} |\n{line} | {shown}\n{:gutter$} | {}^", "", "", " ".repeat(caret))?;
        }
        Ok(())
    }
}

/// Characters of a source line shown around the error's column.
const SHOWN_LINE_CHARS: usize = 80;

/// The part of `line` shown under an error: at most [`SHOWN_LINE_CHARS`] characters around the
/// 1-based `column` (with `…` where cut), control characters shown as `?` so that the caret stays
/// aligned and nothing reaches the terminal raw; and the caret's offset in the shown text.
fn line_excerpt(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let target = column.saturating_sub(1).min(chars.len());
    let start = if chars.len() <= SHOWN_LINE_CHARS { 0 } else { target.saturating_sub(SHOWN_LINE_CHARS / 2) };
    let end = (start + SHOWN_LINE_CHARS).min(chars.len());
    let mut shown = String::new();
    let mut caret = target - start;
    if start > 0 {
        shown.push('…');
        caret += 1;
    }
    shown.extend(chars[start..end].iter().map(|&c| if c.is_control() { '?' } else { c }));
    if end < chars.len() {
        shown.push('…');
    }
    (shown, caret)
}

impl ConfigError {
    /// An error at `line`:`column` (1-based) of `text`.
    pub fn at(path: &Path, text: &str, line: usize, column: usize, message: String) -> ConfigError {
        let source_line = text.lines().nth(line.saturating_sub(1)).unwrap_or_default().to_string();
        ConfigError::At { path: path.to_path_buf(), line, column, message, source_line }
    }

    /// Turns a YAML deserialisation error into one that names the field and the near miss.
    pub fn from_yaml(error: &serde_saphyr::Error, text: &str, path: &Path) -> ConfigError {
        let rendered = error.to_string();
        let first = rendered.lines().next().unwrap_or_default();
        // serde-saphyr renders "error: line L column C: message"; keep the message.
        let message = first.split_once(": ").map_or(first, |(_, rest)| rest);
        let message = match message.split_once(": ") {
            Some((place, rest)) if place.starts_with("line ") => rest,
            _ => message,
        };
        let Some(location) = error.location() else {
            return ConfigError::Invalid { path: path.to_path_buf(), message: message.to_string() };
        };
        let (line, column) = (location.line() as usize, location.column() as usize);
        let message = explain(message, text, line);
        ConfigError::at(path, text, line, column, message)
    }
}

/// Adds the field name (from the line the error points at) and a suggestion for unknown names.
fn explain(message: &str, text: &str, line: usize) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once("`, expected one of ")
    {
        let candidates: Vec<&str> = expected.split(", ").map(|c| c.trim_matches('`')).collect();
        let hint = suggestion(field, candidates.iter().copied());
        return format!("unknown field `{field}`{hint} (expected one of {})", candidates.join(", "));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((value, expected)) = rest.split_once("`, expected one of ")
    {
        let candidates: Vec<&str> = expected.split(", ").map(|c| c.trim_matches('`')).collect();
        let hint = suggestion(value, candidates.iter().copied());
        let field = key_on_line(text, line).map(|k| format!("field `{k}`: ")).unwrap_or_default();
        return format!("{field}unknown value `{value}`{hint} (expected one of {})", candidates.join(", "));
    }
    match key_on_line(text, line) {
        Some(key) if !message.contains(&format!("`{key}`")) => format!("field `{key}`: {message}"),
        _ => message.to_string(),
    }
}

/// The mapping key written on a line (`  - name: x` → `name`).
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let content = text.lines().nth(line.checked_sub(1)?)?.trim_start();
    let content = content.strip_prefix("- ").unwrap_or(content).trim_start();
    let (key, _) = content.split_once(':')?;
    let key = key.trim().trim_matches(['"', '\'']);
    (!key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')).then(|| key.to_string())
}

/// ", did you mean `x`?" for the closest candidate, or "".
pub fn suggestion<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(given, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!(", did you mean `{candidate}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_far_along_a_long_line_shows_a_cut_line_and_an_aligned_caret() {
        let text = format!("name: x\nmetrics: [{}\u{1b}[31m]\n", "a".repeat(70_000));
        let error = ConfigError::at(Path::new("a.yaml"), &text, 2, 70_011, "bad".into());
        let rendered = error.to_string();
        assert!(rendered.starts_with("a.yaml:2:70011: bad\n"), "{rendered}");
        assert!(!rendered.contains('\u{1b}') && rendered.len() < 600, "{rendered}");
        let lines: Vec<&str> = rendered.lines().collect();
        let (code, caret) = (lines[2], lines[3]);
        let caret_at = caret.chars().count() - 1;
        assert_eq!(code.chars().nth(caret_at), Some('?'), "{rendered}");
    }

    #[test]
    fn a_short_line_is_shown_whole_with_the_caret_under_the_column() {
        let error = ConfigError::at(Path::new("a.yaml"), "name: x\nwindw: 1\n", 2, 1, "unknown".into());
        assert_eq!(error.to_string(), "a.yaml:2:1: unknown\n  |\n2 | windw: 1\n  | ^");
    }
}
