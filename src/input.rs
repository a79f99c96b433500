//! Reading samples from files of numbers (`canary compare`): whitespace or newline separated,
//! `#` starts a comment, `-` is standard input. Read line by line, so large files stream.

use crate::error::CanaryError;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Reads every number of the file at `path` (`-` for stdin). Rejects tokens that are not numbers,
/// and NaN or infinite values, naming the file, line and token.
pub fn read_numbers(path: &Path) -> Result<Vec<f64>, CanaryError> {
    if path == Path::new("-") {
        parse_numbers(std::io::stdin().lock(), Path::new("<stdin>"))
    } else {
        let file = File::open(path).map_err(|source| CanaryError::Unreadable { path: path.to_path_buf(), source })?;
        parse_numbers(file, path)
    }
}

/// Parses numbers from any reader; `path` names it in errors.
pub fn parse_numbers(reader: impl Read, path: &Path) -> Result<Vec<f64>, CanaryError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut values = Vec::new();
    let mut line = String::new();
    let mut line_number = 0;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|source| CanaryError::Unreadable { path: path.to_path_buf(), source })?;
        if read == 0 {
            return Ok(values);
        }
        line_number += 1;
        let content = line.split('#').next().unwrap_or_default();
        for token in content.split_whitespace() {
            values.push(parse_token(token, path, line_number)?);
        }
    }
}

fn parse_token(token: &str, path: &Path, line: usize) -> Result<f64, CanaryError> {
    let bad = |message: String| CanaryError::BadInput { path: PathBuf::from(path), line, message };
    match token.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(bad(format!("`{token}` is not a finite number (NaN and infinities cannot be ranked)"))),
        Err(_) => Err(bad(format!("`{token}` is not a number (expected a decimal such as 12.5 or 1e-3)"))),
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
}
