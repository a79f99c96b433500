//! Reading the files canary is given, bounded: samples of numbers (`canary compare`: whitespace or
//! newline separated, `#` starts a comment, `-` is standard input), and whole text files
//! (analysis, recording, Kayenta config) up to a size limit, so that `/dev/zero` or an endless
//! stdin is refused early instead of growing until the process aborts; `samples`: a CSV column and
//! hyperfine exports for `canary compare`. Echoed input text is cut
//! and stripped of control characters by [`excerpt`].

mod samples;

pub use samples::{SampleFormat, Selector, parse_csv_column, parse_hyperfine, read_sample};

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

/// Parses numbers from any reader; `path` names it in errors.
pub fn parse_numbers(reader: impl Read, path: &Path) -> Result<Vec<f64>, NumbersError> {
    parse_numbers_limited(reader, path, MAX_SAMPLE_BYTES, MAX_SAMPLE_VALUES)
}

/// [`parse_numbers`] with chosen limits. Tokens are parsed in place in the read buffer (no copy,
/// no allocation per value; a number that `fast-float2` reads whole up to a separator is taken in
/// one step, anything else goes through [`parse_token`]); only a token cut by the buffer's end is
/// carried over, and never
/// beyond [`MAX_NUMBER_TOKEN_BYTES`], so neither a line without newline nor a token without end
/// is ever held beyond its limit.
fn parse_numbers_limited(
    reader: impl Read,
    path: &Path,
    max_bytes: u64,
    max_values: usize,
) -> Result<Vec<f64>, NumbersError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut values = Vec::new();
    // The start of a token that the previous buffer ended in the middle of.
    let mut carried: Vec<u8> = Vec::with_capacity(MAX_NUMBER_TOKEN_BYTES + 1);
    let mut line_number = 1;
    let mut in_comment = false;
    let mut total: u64 = 0;
    let bad = |line: usize, message: String| NumbersError::BadInput { path: PathBuf::from(path), line, message };
    loop {
        let buffer =
            reader.fill_buf().map_err(|source| NumbersError::Unreadable { path: path.to_path_buf(), source })?;
        if buffer.is_empty() {
            if !carried.is_empty() {
                values.push(parse_token(&carried, path, line_number)?);
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
        let mut at = 0;
        while at < length {
            if in_comment {
                match buffer[at..].iter().position(|&byte| byte == b'\n') {
                    Some(offset) => {
                        at += offset + 1;
                        line_number += 1;
                        in_comment = false;
                    }
                    None => at = length,
                }
                continue;
            }
            let byte = buffer[at];
            if is_separator(byte) {
                if !carried.is_empty() {
                    values.push(parse_token(&carried, path, line_number)?);
                    carried.clear();
                    if values.len() > max_values {
                        return check_count(values, max_values, path, line_number);
                    }
                }
                match byte {
                    b'\n' => line_number += 1,
                    b'#' => in_comment = true,
                    _ => {}
                }
                at += 1;
                continue;
            }
            // A token: most are a whole number followed by a separator, read in one step.
            if carried.is_empty()
                && let Ok((value, used)) = fast_float2::parse_partial::<f64, _>(&buffer[at..])
                && used <= MAX_NUMBER_TOKEN_BYTES
                && value.is_finite()
                && buffer.get(at + used).is_some_and(|&byte| is_separator(byte))
            {
                values.push(value);
                at += used;
                if values.len() > max_values {
                    return check_count(values, max_values, path, line_number);
                }
                continue;
            }
            // Otherwise look for its end no further than the longest allowed token.
            let room = MAX_NUMBER_TOKEN_BYTES + 1 - carried.len();
            let window = &buffer[at..length.min(at + room)];
            let end = window.iter().position(|&byte| is_separator(byte));
            let piece = &window[..end.unwrap_or(window.len())];
            if carried.len() + piece.len() > MAX_NUMBER_TOKEN_BYTES {
                carried.extend_from_slice(piece);
                let shown = excerpt(&String::from_utf8_lossy(&carried[..MAX_NUMBER_TOKEN_BYTES]));
                return Err(bad(
                    line_number,
                    format!(
                        "`{shown}` is longer than any number ({MAX_NUMBER_TOKEN_BYTES} bytes): not a file of numbers?"
                    ),
                ));
            }
            at += piece.len();
            if end.is_none() {
                // Cut by the end of the buffer: the rest comes with the next one.
                carried.extend_from_slice(piece);
                continue;
            }
            let value = if carried.is_empty() {
                parse_token(piece, path, line_number)?
            } else {
                carried.extend_from_slice(piece);
                let value = parse_token(&carried, path, line_number)?;
                carried.clear();
                value
            };
            values.push(value);
            if values.len() > max_values {
                return check_count(values, max_values, path, line_number);
            }
        }
        reader.consume(length);
    }
}

/// Whitespace and the start of a comment end a token.
fn is_separator(byte: u8) -> bool {
    matches!(byte, b'\n' | b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' | b'#')
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

/// One number, parsed straight from the bytes (no allocation unless it is refused: only then is
/// the excerpt for the message made). `fast-float2` reads it (Eisel-Lemire with a big-decimal
/// fallback: correctly rounded, the same value and the same accepted syntax as `str::parse::<f64>`,
/// checked by `tests::fast_parse_equals_the_standard_library`); a token it refuses goes to the
/// standard library, whose verdict and message stand.
fn parse_token(token: &[u8], path: &Path, line: usize) -> Result<f64, NumbersError> {
    if let Ok(value) = fast_float2::parse::<f64, _>(token)
        && value.is_finite()
    {
        return Ok(value);
    }
    let parsed = std::str::from_utf8(token).ok().map(str::parse::<f64>);
    match parsed {
        Some(Ok(value)) if value.is_finite() => Ok(value),
        refused => {
            let shown = excerpt(&String::from_utf8_lossy(token));
            let message = match refused {
                Some(Ok(_)) => format!("`{shown}` is not a finite number (NaN and infinities cannot be ranked)"),
                _ => format!("`{shown}` is not a number (expected a decimal such as 12.5 or 1e-3)"),
            };
            Err(NumbersError::BadInput { path: PathBuf::from(path), line, message })
        }
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

    /// A reader that hands out its text a few bytes at a time, so tokens are cut by buffer ends.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn tokens_cut_by_the_buffer_end_are_read_whole() {
        let text = "# head 1\n12.5 3e2\t-0.125\n\n7 # tail 9\n1000000.25 42";
        let whole = parse_numbers(text.as_bytes(), Path::new("x")).unwrap();
        assert_eq!(whole, vec![12.5, 300.0, -0.125, 7.0, 1_000_000.25, 42.0]);
        for chunk in 1..8 {
            assert_eq!(parse_numbers(Trickle(text.as_bytes(), chunk), Path::new("x")).unwrap(), whole, "chunk {chunk}");
        }
        let err = parse_numbers(Trickle(b"1\n2\n3x\n", 1), Path::new("t")).unwrap_err();
        assert_eq!(err.to_string(), "t:3: `3x` is not a number (expected a decimal such as 12.5 or 1e-3)");
        let long = format!("1 {}", "9".repeat(150));
        let err = parse_numbers(Trickle(long.as_bytes(), 7), Path::new("t")).unwrap_err();
        assert!(err.to_string().contains("longer than any number (100 bytes)"), "{err}");
        let exactly = "9".repeat(MAX_NUMBER_TOKEN_BYTES);
        assert_eq!(parse_numbers(Trickle(exactly.as_bytes(), 3), Path::new("t")).unwrap().len(), 1);
    }

    #[test]
    fn a_million_values_fit_within_the_default_limits() {
        let text: String =
            (0..1_000_000).map(|i| format!("{}\n", 1.0e-3 * i as f64 + 0.123_456_789_012_345_6)).collect();
        assert_eq!(parse_numbers(text.as_bytes(), Path::new("big")).unwrap().len(), 1_000_000);
    }

    mod fast_parse {
        use super::super::{MAX_NUMBER_TOKEN_BYTES, excerpt, parse_numbers, parse_token};
        use super::Trickle;
        use proptest::prelude::*;
        use std::path::Path;

        /// `fast-float2` against the standard library: the same value bit for bit, or both refuse.
        fn agree(token: &str) -> Result<(), TestCaseError> {
            // Bit for bit, any NaN being the same NaN.
            let bits = |value: f64| if value.is_nan() { f64::NAN.to_bits() } else { value.to_bits() };
            let standard = token.parse::<f64>().ok().map(bits);
            let fast = fast_float2::parse::<f64, _>(token.as_bytes()).ok().map(bits);
            prop_assert_eq!(fast, standard, "token {:?}", token);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]

            #[test]
            fn on_random_doubles_printed_every_way(bits in any::<u64>(), digits in 1usize..25) {
                let value = f64::from_bits(bits);
                for token in [format!("{value}"), format!("{value:e}"), format!("{value:.digits$e}"), format!("{value:.digits$}")] {
                    agree(&token)?;
                }
            }

            #[test]
            fn on_number_like_strings(token in "[-+]?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][-+]?[0-9]{0,5})?") {
                agree(&token)?;
            }

            #[test]
            fn on_any_short_string_of_number_characters(token in "[-+.eE0-9infatyINFATY_x ]{0,12}") {
                agree(&token)?;
            }
        }

        /// A token, or a separator.
        fn piece() -> impl Strategy<Value = (String, &'static str)> {
            let token = prop_oneof![
                any::<f64>().prop_map(|value| format!("{value}")),
                any::<f64>().prop_map(|value| format!("{value:e}")),
                "[-+]?[0-9]{1,25}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{0,3})?",
                "[0-9a-z.+-]{1,6}",
            ];
            (token, prop::sample::select(vec![" ", "\n", "\t", "\r\n", "  \n "]))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// The one-step reading of whole numbers gives exactly what reading each token
            /// through `parse_token` gives: the same values, or the same first error.
            #[test]
            fn whole_numbers_read_in_one_step_as_token_by_token(pieces in prop::collection::vec(piece(), 0..40), chunk in 1usize..48) {
                let path = Path::new("x");
                let mut text = String::new();
                let mut expected = Ok(Vec::new());
                let mut line = 1;
                for (token, separator) in &pieces {
                    text.push_str(token);
                    text.push_str(separator);
                    if let Ok(values) = &mut expected {
                        if token.len() > MAX_NUMBER_TOKEN_BYTES {
                            let shown = excerpt(&token[..MAX_NUMBER_TOKEN_BYTES]);
                            expected = Err(format!(
                                "x:{line}: `{shown}` is longer than any number ({MAX_NUMBER_TOKEN_BYTES} bytes): not a file of numbers?"
                            ));
                            continue;
                        }
                        match parse_token(token.as_bytes(), path, line) {
                            Ok(value) => values.push(value),
                            Err(error) => expected = Err(error.to_string()),
                        }
                    }
                    line += separator.matches('\n').count();
                }
                let got = parse_numbers(Trickle(text.as_bytes(), chunk), path).map_err(|error| error.to_string());
                prop_assert_eq!(&got, &expected);
                let whole = parse_numbers(text.as_bytes(), path).map_err(|error| error.to_string());
                prop_assert_eq!(whole, expected);
            }
        }

        #[test]
        fn on_edge_cases() {
            for token in [
                "",
                ".",
                "+.",
                "-",
                "e5",
                "1e",
                "1e+",
                "1.",
                ".5",
                "1.e5",
                "inf",
                "-Infinity",
                "infin",
                "nan",
                "-nan",
                "nan(1)",
                "0x10",
                "1_000",
                " 1",
                "1 ",
                "00001",
                "1e400",
                "1e-400",
                "4.9e-324",
                "2.4703282292062327e-324",
                "2.4703282292062328e-324",
                "1.7976931348623157e308",
                "1.7976931348623158e308",
                "1.7976931348623159e308",
                "9007199254740993",
                "2.2250738585072011e-308",
                "2.2250738585072012e-308",
                "0.1000000000000000055511151231257827021181583404541015625",
                "7.3177701707893310e+15",
                "1e+9999999999999999999999",
                "--1",
                "+-1",
                "1ee5",
                "1.2.3",
                "\u{663}",
            ] {
                agree(token).unwrap();
            }
        }
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
