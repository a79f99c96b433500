//! Reading the files canary is given, bounded: samples of numbers (`canary compare`: whitespace or
//! newline separated, `#` starts a comment, `-` is standard input), and whole text files
//! (analysis, recording, Kayenta config) up to a size limit, so that `/dev/zero` or an endless
//! stdin is refused early instead of growing until the process aborts. Echoed input text is cut
//! and stripped of control characters by [`excerpt`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Longest token `compare` accepts: no finite `f64` needs more characters to be written exactly
/// (17 significant digits, a sign, a point, an exponent, with room for leading zeros).
pub const MAX_NUMBER_TOKEN_BYTES: usize = 100;
/// Most values `compare` reads from one sample file.
pub const MAX_SAMPLE_VALUES: usize = 10_000_000;
/// Largest sample file `compare` reads (whitespace and comments included).
pub const MAX_SAMPLE_BYTES: u64 = 512 << 20;
/// Largest analysis file.
pub const MAX_ANALYSIS_BYTES: u64 = 4 << 20;
/// Largest recording (`--replay`).
pub const MAX_RECORDING_BYTES: u64 = 256 << 20;
/// Largest Kayenta config given to `canary import kayenta`.
pub const MAX_IMPORT_BYTES: u64 = 16 << 20;
/// Most characters of input text echoed in an error message.
pub const MAX_ECHO_CHARS: usize = 80;

/// Why a whole file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadLimitError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("larger than the limit of {} (it is read no further)", human_bytes(*limit))]
    TooLarge { limit: u64 },
    #[error("not UTF-8 text (invalid byte at offset {offset})")]
    NotText { offset: usize },
}

/// `4 MiB`, `512 MiB`, `100 bytes`.
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Reads the whole text file at `path` (`/dev/stdin` and pipes included), refusing it once it
/// exceeds `limit` bytes: at most `limit + 1` bytes are ever read.
pub fn read_text_limited(path: &Path, limit: u64) -> Result<String, ReadLimitError> {
    read_limited(File::open(path)?, limit)
}

/// Reads all of `reader` as UTF-8 text, refusing more than `limit` bytes.
pub fn read_limited(reader: impl Read, limit: u64) -> Result<String, ReadLimitError> {
    let mut bytes = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadLimitError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|e| ReadLimitError::NotText { offset: e.utf8_error().valid_up_to() })
}

/// Whether a character changes what a terminal shows rather than showing itself: control
/// characters (escape sequences, newlines, NUL), bidirectional overrides and zero-width characters.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Input text made safe to echo: at most [`MAX_ECHO_CHARS`] characters (then `…`), control
/// characters (ANSI/OSC escapes, NUL, newlines) shown as `\u{..}` escapes so that nothing from an
/// input reaches the terminal raw.
pub fn excerpt(text: &str) -> String {
    excerpt_of(text, MAX_ECHO_CHARS)
}

/// [`excerpt`] with a chosen length.
pub fn excerpt_of(text: &str, max_chars: usize) -> String {
    let mut shown = String::new();
    let mut count = 0;
    for c in text.chars() {
        let hidden = is_hidden_char(c);
        let piece: String = if hidden { c.escape_unicode().collect() } else { c.to_string() };
        count += piece.chars().count();
        if count > max_chars {
            shown.push('…');
            break;
        }
        shown.push_str(&piece);
    }
    shown
}

/// A whole message made safe for the terminal, keeping its line breaks: each line cut to 2,000
/// characters and stripped of control characters by [`excerpt_of`], at most 200 lines. The last
/// guard before stderr, whatever an error quotes from its inputs.
pub fn terminal_safe(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().take(200).map(|line| excerpt_of(line, 2000)).collect();
    if text.lines().nth(200).is_some() {
        lines.push("…".into());
    }
    lines.join("\n")
}

/// Why a file of numbers could not be read; the run's error (`CanaryError`) wraps it with the same
/// wording.
#[derive(Debug, thiserror::Error)]
pub enum NumbersError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// A token that is not a finite number, or a sample past a limit: which file, which line, why.
    #[error("{}:{line}: {message}", path.display())]
    BadInput { path: PathBuf, line: usize, message: String },
}

/// Reads every number of the file at `path` (`-` for stdin). Rejects tokens that are not numbers,
/// and NaN or infinite values, naming the file, line and token. Stops at the first token longer
/// than [`MAX_NUMBER_TOKEN_BYTES`], past [`MAX_SAMPLE_VALUES`] values or [`MAX_SAMPLE_BYTES`].
pub fn read_numbers(path: &Path) -> Result<Vec<f64>, NumbersError> {
    if path == Path::new("-") {
        parse_numbers(std::io::stdin().lock(), Path::new("<stdin>"))
    } else {
        let file = File::open(path).map_err(|source| NumbersError::Unreadable { path: path.to_path_buf(), source })?;
        parse_numbers(file, path)
    }
}

/// Parses numbers from any reader; `path` names it in errors.
pub fn parse_numbers(reader: impl Read, path: &Path) -> Result<Vec<f64>, NumbersError> {
    parse_numbers_limited(reader, path, MAX_SAMPLE_BYTES, MAX_SAMPLE_VALUES)
}

/// [`parse_numbers`] with chosen limits. Reads byte by byte from a buffer, so that neither a
/// line without newline nor a token without end is ever held beyond its limit.
fn parse_numbers_limited(
    reader: impl Read,
    path: &Path,
    max_bytes: u64,
    max_values: usize,
) -> Result<Vec<f64>, NumbersError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut values = Vec::new();
    let mut token: Vec<u8> = Vec::with_capacity(MAX_NUMBER_TOKEN_BYTES);
    let mut line_number = 1;
    let mut in_comment = false;
    let mut total: u64 = 0;
    let bad = |line: usize, message: String| NumbersError::BadInput { path: PathBuf::from(path), line, message };
    loop {
        let buffer =
            reader.fill_buf().map_err(|source| NumbersError::Unreadable { path: path.to_path_buf(), source })?;
        if buffer.is_empty() {
            if !token.is_empty() {
                values.push(parse_token(&token, path, line_number)?);
            }
            return check_count(values, max_values, path, line_number);
        }
        let length = buffer.len();
        total += length as u64;
        if total > max_bytes {
            return Err(bad(
                line_number,
                format!(
                    "the sample is larger than the limit of {} (it is read no further); sample it down first, e.g. `shuf -n 1000000`",
                    human_bytes(max_bytes)
                ),
            ));
        }
        for &byte in buffer {
            match byte {
                b'\n' | b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' | b'#' => {
                    if !token.is_empty() {
                        values.push(parse_token(&token, path, line_number)?);
                        token.clear();
                        if values.len() > max_values {
                            return check_count(values, max_values, path, line_number);
                        }
                    }
                    match byte {
                        b'\n' => {
                            line_number += 1;
                            in_comment = false;
                        }
                        b'#' => in_comment = true,
                        _ => {}
                    }
                }
                _ if in_comment => {}
                _ => {
                    if token.len() == MAX_NUMBER_TOKEN_BYTES {
                        let shown = excerpt(&String::from_utf8_lossy(&token));
                        return Err(bad(
                            line_number,
                            format!(
                                "`{shown}` is longer than any number ({MAX_NUMBER_TOKEN_BYTES} bytes): not a file of numbers?"
                            ),
                        ));
                    }
                    token.push(byte);
                }
            }
        }
        reader.consume(length);
    }
}

fn check_count(values: Vec<f64>, max_values: usize, path: &Path, line: usize) -> Result<Vec<f64>, NumbersError> {
    if values.len() > max_values {
        return Err(NumbersError::BadInput {
            path: path.to_path_buf(),
            line,
            message: format!(
                "more than {max_values} values (the limit per sample); sample it down first, e.g. `shuf -n 1000000`"
            ),
        });
    }
    Ok(values)
}

fn parse_token(token: &[u8], path: &Path, line: usize) -> Result<f64, NumbersError> {
    let bad = |message: String| NumbersError::BadInput { path: PathBuf::from(path), line, message };
    let text = String::from_utf8_lossy(token);
    let shown = excerpt(&text);
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(bad(format!("`{shown}` is not a finite number (NaN and infinities cannot be ranked)"))),
        Err(_) => Err(bad(format!("`{shown}` is not a number (expected a decimal such as 12.5 or 1e-3)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_with_comments_and_mixed_separators() {
        let text = "# latency in ms\n1 2\t3\n\n4.5e1   # a comment\n-0.25\n";
        let values = parse_numbers(text.as_bytes(), Path::new("x.txt")).unwrap();
        assert_eq!(values, vec![1.0, 2.0, 3.0, 45.0, -0.25]);
    }

    #[test]
    fn names_file_line_and_token() {
        let err = parse_numbers("1\n2 abc\n".as_bytes(), Path::new("a.txt")).unwrap_err();
        assert_eq!(err.to_string(), "a.txt:2: `abc` is not a number (expected a decimal such as 12.5 or 1e-3)");
        let err = parse_numbers("nan\n".as_bytes(), Path::new("b.txt")).unwrap_err();
        assert!(err.to_string().starts_with("b.txt:1: `nan` is not a finite number"));
        let err = parse_numbers("1 -inf".as_bytes(), Path::new("c.txt")).unwrap_err();
        assert!(err.to_string().starts_with("c.txt:1: `-inf`"));
    }

    #[test]
    fn an_endless_stream_of_zero_bytes_is_refused_at_the_first_token() {
        let err = parse_numbers(std::io::repeat(0), Path::new("/dev/zero")).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("/dev/zero:1: `"), "{message}");
        assert!(message.contains("longer than any number (100 bytes)"), "{message}");
        assert!(!message.contains('\0') && message.chars().count() < 300, "{message}");
    }

    #[test]
    fn an_endless_line_of_numbers_is_refused_by_size_and_count() {
        let endless = std::io::repeat(b'1').take(10).chain(std::io::repeat(b' '));
        let err = parse_numbers_limited(endless, Path::new("<stdin>"), 1 << 20, 10).unwrap_err();
        assert!(err.to_string().contains("larger than the limit of 1 MiB"), "{err}");
        let many = "1 ".repeat(20);
        let err = parse_numbers_limited(many.as_bytes(), Path::new("x"), 1 << 20, 10).unwrap_err();
        assert!(err.to_string().starts_with("x:1: more than 10 values"), "{err}");
        assert_eq!(parse_numbers_limited("1 ".repeat(10).as_bytes(), Path::new("x"), 1 << 20, 10).unwrap().len(), 10);
    }

    #[test]
    fn a_million_values_fit_within_the_default_limits() {
        let text: String =
            (0..1_000_000).map(|i| format!("{}\n", 1.0e-3 * i as f64 + 0.123_456_789_012_345_6)).collect();
        assert_eq!(parse_numbers(text.as_bytes(), Path::new("big")).unwrap().len(), 1_000_000);
    }

    #[test]
    fn echoed_tokens_are_cut_and_have_no_raw_control_characters() {
        let token = format!("\u{1b}]0;pwned\u{7}{}", "9".repeat(90));
        let err = parse_numbers(token.as_bytes(), Path::new("t")).unwrap_err().to_string();
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err}");
        assert!(err.contains('…'), "{err}");
        assert_eq!(excerpt("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(excerpt(&"x".repeat(200)).chars().count(), MAX_ECHO_CHARS + 1);
    }

    #[test]
    fn whole_files_are_read_up_to_their_limit_only() {
        let err = read_limited(std::io::repeat(b'a'), 4 << 20).unwrap_err();
        assert_eq!(err.to_string(), "larger than the limit of 4 MiB (it is read no further)");
        assert_eq!(read_limited("abc".as_bytes(), 3).unwrap(), "abc");
        assert!(matches!(read_limited(&[0xff, 0][..], 10), Err(ReadLimitError::NotText { offset: 0 })));
    }

    #[test]
    fn terminal_safe_keeps_lines_and_escapes_the_rest() {
        assert_eq!(
            terminal_safe("a.yaml:1:1: x\n  |\n1 | \u{1b}]0;t\u{7}"),
            "a.yaml:1:1: x\n  |\n1 | \\u{1b}]0;t\\u{7}"
        );
        let long = terminal_safe(&"y".repeat(20 << 20));
        assert!(long.chars().count() <= 2001 && long.ends_with('…'));
        assert_eq!(terminal_safe(&"l\n".repeat(1000)).lines().count(), 201);
    }
}
