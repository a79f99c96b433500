//! The other sample files of `canary compare`: one column of a CSV file (RFC 4180 quoting, a
//! header row told apart from data), and the `times` of one command in hyperfine's
//! `--export-json` results. Bounded like the files of numbers: file size, field length, values.

use super::{MAX_SAMPLE_BYTES, MAX_SAMPLE_VALUES, NumbersError, excerpt, human_bytes, parse_token};
use serde::Deserialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Longest CSV field read (a longer one is refused, naming its line).
pub const MAX_FIELD_BYTES: usize = 4096;
/// Largest hyperfine export read.
pub const MAX_HYPERFINE_BYTES: u64 = 64 << 20;

/// Which column of a CSV file, or which command of a hyperfine export: its name, or its position
/// counted from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Position(usize),
    Name(String),
}

impl std::str::FromStr for Selector {
    type Err = String;

    /// `3` is the third; anything else is a name. `0` is refused (positions count from 1).
    fn from_str(text: &str) -> Result<Selector, String> {
        match text.parse::<usize>() {
            Ok(0) => Err("positions count from 1".into()),
            Ok(position) => Ok(Selector::Position(position)),
            Err(_) if text.is_empty() => Err("an empty name".into()),
            Err(_) => Ok(Selector::Name(text.to_string())),
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Position(position) => write!(f, "{position}"),
            Selector::Name(name) => write!(f, "`{}`", excerpt(name)),
        }
    }
}

/// Reads the values of one column of the CSV text of `reader` (`path` names it in errors). A
/// column chosen by name is looked up in the first row; chosen by position, the first row is a
/// header when its field there is not a number. Empty lines are skipped; every other row must
/// have the column, holding a finite number.
pub fn parse_csv_column(reader: impl Read, path: &Path, column: &Selector) -> Result<Vec<f64>, NumbersError> {
    parse_csv_column_limited(reader, path, column, MAX_SAMPLE_BYTES, MAX_SAMPLE_VALUES)
}

fn parse_csv_column_limited(
    reader: impl Read,
    path: &Path,
    column: &Selector,
    max_bytes: u64,
    max_values: usize,
) -> Result<Vec<f64>, NumbersError> {
    let bad = |line: u64, message: String| NumbersError::BadInput {
        path: PathBuf::from(path),
        line: usize::try_from(line).unwrap_or(usize::MAX),
        message,
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut csv = csv_core::Reader::new();
    let mut field = vec![0u8; MAX_FIELD_BYTES];
    let mut field_length = 0;
    let (mut field_index, mut row) = (0usize, 0usize);
    let mut index = match column {
        Selector::Position(position) => Some(position - 1),
        Selector::Name(_) => None,
    };
    let mut header: Vec<String> = Vec::new();
    let mut found_in_row = false;
    let mut values = Vec::new();
    let mut total: u64 = 0;
    let mut row_line = 1;
    loop {
        let input =
            reader.fill_buf().map_err(|source| NumbersError::Unreadable { path: path.to_path_buf(), source })?;
        let at_end = input.is_empty();
        let (result, read, written) = csv.read_field(input, &mut field[field_length..]);
        total += read as u64;
        reader.consume(read);
        field_length += written;
        if total > max_bytes {
            return Err(bad(
                csv.line(),
                format!("the sample is larger than the limit of {} (it is read no further)", human_bytes(max_bytes)),
            ));
        }
        let record_end = match result {
            csv_core::ReadFieldResult::InputEmpty => continue,
            csv_core::ReadFieldResult::OutputFull => {
                return Err(bad(
                    csv.line(),
                    format!("a field is longer than {MAX_FIELD_BYTES} bytes: not a CSV file?"),
                ));
            }
            csv_core::ReadFieldResult::End => break,
            csv_core::ReadFieldResult::Field { record_end } => record_end,
        };
        if field_index == 0 {
            // The row's line: the reader has counted the newline that ended a one-field row.
            row_line = if record_end && !at_end { csv.line() - 1 } else { csv.line() };
        }
        let text = &field[..field_length];
        if row == 0 && matches!(column, Selector::Name(_)) {
            let name = String::from_utf8_lossy(text).trim().to_string();
            if Selector::Name(name.clone()) == *column {
                if let Some(first) = index {
                    return Err(bad(
                        row_line,
                        format!(
                            "the header names column {column} twice (columns {} and {}): choose one by position with --column",
                            first + 1,
                            field_index + 1
                        ),
                    ));
                }
                index = Some(field_index);
                found_in_row = true;
            }
            header.push(name);
        } else if Some(field_index) == index {
            found_in_row = true;
            let trimmed = text.trim_ascii();
            let column_name = || match column {
                Selector::Name(_) => format!("column {column}"),
                Selector::Position(position) => format!("column {position}"),
            };
            match parse_token(trimmed, path, row_line as usize) {
                Ok(value) => values.push(value),
                // A first row whose field there is not a number is the header.
                Err(_) if row == 0 => {}
                Err(_) if trimmed.is_empty() => {
                    return Err(bad(
                        row_line,
                        format!("{} is empty (a number is expected in every row)", column_name()),
                    ));
                }
                Err(NumbersError::BadInput { message, .. }) => {
                    return Err(bad(row_line, format!("{}: {message}", column_name())));
                }
                Err(other) => return Err(other),
            }
            if values.len() > max_values {
                return Err(bad(row_line, format!("more than {max_values} values (the limit per sample)")));
            }
        }
        field_length = 0;
        field_index += 1;
        if record_end {
            if !found_in_row {
                return Err(match (row, column) {
                    (0, Selector::Name(_)) => bad(
                        row_line,
                        format!(
                            "no column {column} in the header (its columns: {}); choose one by name or position with --column",
                            excerpt(&header.join(", "))
                        ),
                    ),
                    _ => bad(
                        row_line,
                        format!("this row has {field_index} field(s): no column {}", index.map_or(0, |i| i + 1)),
                    ),
                });
            }
            found_in_row = false;
            field_index = 0;
            row += 1;
        }
    }
    Ok(values)
}

/// hyperfine's `--export-json` document: only what is read of it.
#[derive(Deserialize)]
struct HyperfineExport {
    results: Vec<HyperfineResult>,
}

#[derive(Deserialize)]
struct HyperfineResult {
    command: String,
    /// Seconds per run; absent in exports of runs that were not timed.
    #[serde(default)]
    times: Option<Vec<f64>>,
    /// The exit code of each run (`null` for a run killed by a signal), in the order of `times`;
    /// `hyperfine -i` keeps the runs that failed, so a crash would otherwise count as a fast run.
    #[serde(default)]
    exit_codes: Option<Vec<Option<i64>>>,
}

/// The `times` (seconds) of one command of a hyperfine `--export-json` document: the one chosen
/// by `command` (its name, or its position from 1), or the only one.
pub fn parse_hyperfine(text: &str, path: &Path, command: Option<&Selector>) -> Result<Vec<f64>, NumbersError> {
    let bad = |line: usize, message: String| NumbersError::BadInput { path: PathBuf::from(path), line, message };
    let export: HyperfineExport = serde_json::from_str(text).map_err(|error| {
        bad(error.line(), format!("not a hyperfine --export-json document: {}", excerpt(&error.to_string())))
    })?;
    let listing = || {
        let names: Vec<String> =
            export.results.iter().enumerate().map(|(i, r)| format!("{} `{}`", i + 1, r.command)).collect();
        excerpt(&names.join(", "))
    };
    let chosen = match command {
        None if export.results.len() == 1 => 0,
        None => {
            return Err(bad(
                1,
                format!(
                    "{} commands in the results ({}): choose one with --command NAME|POSITION",
                    export.results.len(),
                    listing()
                ),
            ));
        }
        Some(Selector::Position(position)) if *position <= export.results.len() => position - 1,
        Some(Selector::Name(name)) if export.results.iter().any(|r| r.command == *name) => {
            let positions: Vec<String> = (export.results.iter().enumerate())
                .filter(|(_, r)| r.command == *name)
                .map(|(i, _)| (i + 1).to_string())
                .collect();
            if positions.len() > 1 {
                return Err(bad(
                    1,
                    format!(
                        "{} results have the command {} (positions {}): choose one by position with --command",
                        positions.len(),
                        Selector::Name(name.clone()),
                        positions.join(", ")
                    ),
                ));
            }
            export.results.iter().position(|r| r.command == *name).unwrap_or_default()
        }
        Some(selector) => {
            return Err(bad(1, format!("no command {selector} in the results (they are: {})", listing())));
        }
    };
    let result = &export.results[chosen];
    let Some(times) = &result.times else {
        return Err(bad(1, format!("results[{chosen}] (`{}`) has no `times`", excerpt(&result.command))));
    };
    if times.len() > MAX_SAMPLE_VALUES {
        return Err(bad(1, format!("more than {MAX_SAMPLE_VALUES} values (the limit per sample)")));
    }
    if let Some(codes) = &result.exit_codes {
        let command = excerpt(&result.command);
        if codes.len() != times.len() {
            return Err(bad(
                1,
                format!(
                    "results[{chosen}] (`{command}`) has {} `exit_codes` for {} `times` (one per run expected)",
                    codes.len(),
                    times.len()
                ),
            ));
        }
        let failed = codes.iter().filter(|code| **code != Some(0)).count();
        if failed > 0 {
            return Err(bad(
                1,
                format!(
                    "{failed} of {} runs of `{command}` failed (exit code non-zero or none): the times of failed runs \
                     say nothing of the command's speed; fix the command or rerun hyperfine without -i",
                    codes.len()
                ),
            ));
        }
    }
    Ok(times.clone())
}

/// [`parse_hyperfine`] of a file, read up to [`MAX_HYPERFINE_BYTES`].
pub fn read_hyperfine(reader: impl Read, path: &Path, command: Option<&Selector>) -> Result<Vec<f64>, NumbersError> {
    let text = super::read_limited(reader, MAX_HYPERFINE_BYTES).map_err(|error| NumbersError::BadInput {
        path: path.to_path_buf(),
        line: 1,
        message: error.to_string(),
    })?;
    parse_hyperfine(&text, path, command)
}

/// How a sample file of `canary compare` is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleFormat {
    /// Numbers separated by whitespace, `#` comments ([`super::parse_numbers`]).
    Numbers,
    /// One column of a CSV file.
    CsvColumn(Selector),
    /// One command's `times` in a hyperfine export (the only one when `None`).
    Hyperfine(Option<Selector>),
}

/// Reads the sample at `path` (`-` for stdin) in `format`.
pub fn read_sample(path: &Path, format: &SampleFormat) -> Result<Vec<f64>, NumbersError> {
    let (name, reader): (&Path, Box<dyn Read>) = if path == Path::new("-") {
        (Path::new("<stdin>"), Box::new(std::io::stdin().lock()))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|source| NumbersError::Unreadable { path: path.to_path_buf(), source })?;
        (path, Box::new(file))
    };
    match format {
        SampleFormat::Numbers => super::parse_numbers(reader, name),
        SampleFormat::CsvColumn(column) => parse_csv_column(reader, name, column),
        SampleFormat::Hyperfine(command) => read_hyperfine(reader, name, command.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(text: &str, selector: &str) -> Result<Vec<f64>, String> {
        parse_csv_column(text.as_bytes(), Path::new("a.csv"), &selector.parse().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_column_by_name_or_position_with_or_without_header() {
        let text = "run,\"latency, ms\",ok\n1,12.5,true\n2,\"13\",true\n\n3, 14.25 ,false\n";
        assert_eq!(column(text, "latency, ms").unwrap(), vec![12.5, 13.0, 14.25]);
        assert_eq!(column(text, "2").unwrap(), vec![12.5, 13.0, 14.25]);
        assert_eq!(column("1,2\n3,4", "2").unwrap(), vec![2.0, 4.0], "no header");
        assert_eq!(column("x\r\n1\r\n2", "x").unwrap(), vec![1.0, 2.0], "CRLF");
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        assert_eq!(
            column("a,b\n1,2\n3,x\n", "b").unwrap_err(),
            "a.csv:3: column `b`: `x` is not a number (expected a decimal such as 12.5 or 1e-3)"
        );
        assert_eq!(column("a,b\n1,2\n3\n", "b").unwrap_err(), "a.csv:3: this row has 1 field(s): no column 2");
        assert_eq!(column("a,b\n\n\n1,2\n3", "b").unwrap_err(), "a.csv:5: this row has 1 field(s): no column 2");
        assert!(column("a\n1\n\nz\n", "a").unwrap_err().starts_with("a.csv:4: column `a`: `z`"));
        assert!(column("a\n1\n\nz", "a").unwrap_err().starts_with("a.csv:4: column `a`: `z`"));
        assert_eq!(
            column("a,b\n1,2\n", "c").unwrap_err(),
            "a.csv:1: no column `c` in the header (its columns: a, b); choose one by name or position with --column"
        );
        assert_eq!(
            column("a,b\n1,\n", "b").unwrap_err(),
            "a.csv:2: column `b` is empty (a number is expected in every row)"
        );
        assert!(column("a\n1\nnan\n", "1").unwrap_err().starts_with("a.csv:3: column 1: `nan` is not a finite"));
        let long = format!("a\n\"{}\n", "9".repeat(10_000));
        assert!(column(&long, "a").unwrap_err().contains("longer than 4096 bytes"));
        let endless = std::io::repeat(b'1').take(100).chain(std::io::repeat(b','));
        let err = parse_csv_column_limited(endless, Path::new("x"), &Selector::Position(1), 1 << 20, 10);
        assert!(err.unwrap_err().to_string().contains("larger than the limit of 1 MiB"));
        assert!("0".parse::<Selector>().is_err());
    }

    #[test]
    fn a_name_that_two_columns_or_commands_share_is_refused() {
        assert_eq!(
            column("p99,p99\n1,2\n", "p99").unwrap_err(),
            "a.csv:1: the header names column `p99` twice (columns 1 and 2): choose one by position with --column"
        );
        assert_eq!(column("p99,p99\n1,2\n", "2").unwrap(), vec![2.0], "by position it is unambiguous");
        assert_eq!(column("a,p99,b,a\n1,2,3,4\n", "p99").unwrap(), vec![2.0], "another name's repeat is harmless");
        let twice = r#"{"results": [{"command": "x", "times": [1.0]}, {"command": "y", "times": [2.0]},
            {"command": "x", "times": [3.0]}]}"#;
        let path = Path::new("h.json");
        assert_eq!(
            parse_hyperfine(twice, path, Some(&Selector::Name("x".into()))).unwrap_err().to_string(),
            "h.json:1: 2 results have the command `x` (positions 1, 3): choose one by position with --command"
        );
        assert_eq!(parse_hyperfine(twice, path, Some(&Selector::Position(3))).unwrap(), vec![3.0]);
    }

    const EXPORT: &str = r#"{"results": [
        {"command": "old", "mean": 0.1, "times": [0.1, 0.11, 0.09]},
        {"command": "new", "mean": 0.2, "times": [0.2, 0.21]}
    ]}"#;

    #[test]
    fn a_hyperfine_command_by_name_or_position() {
        let path = Path::new("h.json");
        let times = |selector: Option<&str>| {
            let selector = selector.map(|s| s.parse::<Selector>().unwrap());
            parse_hyperfine(EXPORT, path, selector.as_ref()).map_err(|e| e.to_string())
        };
        assert_eq!(times(Some("new")).unwrap(), vec![0.2, 0.21]);
        assert_eq!(times(Some("1")).unwrap(), vec![0.1, 0.11, 0.09]);
        assert_eq!(
            times(None).unwrap_err(),
            "h.json:1: 2 commands in the results (1 `old`, 2 `new`): choose one with --command NAME|POSITION"
        );
        assert_eq!(times(Some("3")).unwrap_err(), "h.json:1: no command 3 in the results (they are: 1 `old`, 2 `new`)");
        let one = r#"{"results": [{"command": "x", "times": [1.5]}]}"#;
        assert_eq!(parse_hyperfine(one, path, None).unwrap(), vec![1.5]);
        let err = parse_hyperfine("{\n\"results\": 3}", path, None).unwrap_err().to_string();
        assert!(err.starts_with("h.json:2: not a hyperfine --export-json document"), "{err}");
    }

    #[test]
    fn a_hyperfine_command_with_a_failed_run_is_refused() {
        let path = Path::new("h.json");
        let export = |codes: &str| {
            let text = format!(
                r#"{{"results": [{{"command": "./old", "times": [0.1, 0.1], "exit_codes": [0, 0]}},
                    {{"command": "./new", "times": [0.002, 0.1, 0.002], "exit_codes": {codes}}}]}}"#
            );
            parse_hyperfine(&text, path, Some(&Selector::Name("./new".into()))).map_err(|e| e.to_string())
        };
        assert_eq!(export("[0, 0, 0]").unwrap(), vec![0.002, 0.1, 0.002]);
        assert_eq!(
            export("[139, 0, 139]").unwrap_err(),
            "h.json:1: 2 of 3 runs of `./new` failed (exit code non-zero or none): the times of failed runs \
             say nothing of the command's speed; fix the command or rerun hyperfine without -i"
        );
        assert!(export("[0, null, 0]").unwrap_err().starts_with("h.json:1: 1 of 3 runs of `./new` failed"));
        assert_eq!(
            export("[0, 0]").unwrap_err(),
            "h.json:1: results[1] (`./new`) has 2 `exit_codes` for 3 `times` (one per run expected)"
        );
        assert!(export(r#"["x", 0, 0]"#).unwrap_err().contains("not a hyperfine --export-json document"));
        let old = r#"{"results": [{"command": "a", "times": [1.0], "exit_codes": [0]}, {"command": "b", "times": [1.0], "exit_codes": [1]}]}"#;
        assert_eq!(
            parse_hyperfine(old, path, Some(&Selector::Position(1))).unwrap(),
            vec![1.0],
            "only the chosen command counts"
        );
    }
}
