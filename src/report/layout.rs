//! Fitting text and tables to the page's width: word wrap that never splits a word, and column
//! widths for comfy-table that wrap cells only between words.

use super::Page;
use comfy_table::{ColumnConstraint, ContentArrangement, Table, presets};
use std::io::{self, Write};

/// An empty table in the page's style that wraps its cells to fit the page's width (see [`fit`]).
pub(crate) fn fitted_table(page: Page) -> Table {
    let mut table = Table::new();
    table.load_style(if page.styled { presets::UTF8_FULL_CONDENSED } else { presets::ASCII_MARKDOWN });
    table.set_content_arrangement(ContentArrangement::Dynamic);
    table.set_width(u16::try_from(page.width).unwrap_or(u16::MAX));
    table
}

/// Fits a filled table to `width` columns, wrapping cells only between words: a table that fits
/// is left as it is; otherwise every column gets at least its longest word, and the columns that
/// need the least more to show their cells whole get it first. `false` when even the longest
/// words do not fit (the caller then lays the rows out another way).
pub(crate) fn fit(table: &mut Table, width: usize) -> bool {
    let mut natural: Vec<usize> = Vec::new();
    let mut least: Vec<usize> = Vec::new();
    for row in table.header().into_iter().chain(table.row_iter()) {
        for (index, cell) in row.cell_iter().enumerate() {
            let content = cell.content();
            if natural.len() <= index {
                natural.resize(index + 1, 0);
                least.resize(index + 1, 0);
            }
            natural[index] = natural[index].max(content.lines().map(|line| line.chars().count()).max().unwrap_or(0));
            least[index] = least[index].max(content.split_whitespace().map(|w| w.chars().count()).max().unwrap_or(0));
        }
    }
    // Each column has a space either side of its content and a border on its left; one more
    // border closes the row.
    let available = width.saturating_sub(3 * natural.len() + 1);
    if natural.iter().sum::<usize>() <= available {
        return true;
    }
    let Some(mut spare) = available.checked_sub(least.iter().sum()) else { return false };
    let mut widths = least.clone();
    let mut by_need: Vec<usize> = (0..natural.len()).collect();
    by_need.sort_by_key(|&index| natural[index] - least[index]);
    for index in by_need {
        let more = (natural[index] - least[index]).min(spare);
        widths[index] += more;
        spare -= more;
    }
    for (index, content_width) in widths.into_iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            let with_padding = u16::try_from(content_width + 2).unwrap_or(u16::MAX);
            column.set_constraint(ColumnConstraint::Absolute(comfy_table::Width::Fixed(with_padding)));
        }
    }
    true
}

/// Writes `text` after a column-aligned `label`; when the label takes more than half the page,
/// the text starts on the next line, indented, so that it keeps room to wrap.
pub(crate) fn write_labelled(out: &mut impl Write, label: &str, text: &str, width: usize) -> io::Result<()> {
    if label.chars().count() * 2 > width {
        write_wrapped(out, "  ", "  ", label.trim(), width)?;
        write_wrapped(out, "      ", "      ", text, width)
    } else {
        write_wrapped(out, label, &" ".repeat(label.chars().count()), text, width)
    }
}

/// Writes `text` after `first_prefix`, word-wrapped to `width` columns, continuing after
/// `continuation_prefix`; a text that fits on one line is written as it is.
pub(crate) fn write_wrapped(
    out: &mut impl Write,
    first_prefix: &str,
    continuation_prefix: &str,
    text: &str,
    width: usize,
) -> io::Result<()> {
    let text = crate::input::excerpt_of(text, 4000);
    if first_prefix.chars().count() + text.chars().count() <= width {
        return writeln!(out, "{first_prefix}{text}");
    }
    let prefix_width = first_prefix.chars().count().max(continuation_prefix.chars().count());
    for (index, line) in wrap(&text, width.saturating_sub(prefix_width).max(1)).iter().enumerate() {
        let prefix = if index == 0 { first_prefix } else { continuation_prefix };
        writeln!(out, "{prefix}{line}")?;
    }
    Ok(())
}

/// Greedy word wrap; a word longer than `width` gets a line of its own.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_to_the_width() {
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(wrap("unbreakable-word x", 5), ["unbreakable-word", "x"]);
        assert_eq!(wrap("", 10), [""]);
    }

    fn wrapped(first: &str, next: &str, text: &str, width: usize) -> String {
        let mut out = Vec::new();
        write_wrapped(&mut out, first, next, text, width).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keeps_a_line_that_fits_as_it_is_and_indents_the_rest() {
        assert_eq!(wrapped("> ", "  ", "a  b", 10), "> a  b\n");
        assert_eq!(wrapped("> ", "  ", "one two three", 10), "> one two\n  three\n");
    }

    #[test]
    fn a_table_too_wide_gets_columns_as_wide_as_their_longest_words() {
        let mut table = fitted_table(Page::plain(40));
        table.set_header(["name", "description"]);
        table.add_row(["short", "a description much too long for one line of forty columns"]);
        assert!(fit(&mut table, 40));
        let text = table.to_string();
        for line in text.lines() {
            assert!(line.chars().count() <= 40, "too wide: {line}");
        }
        assert!(text.contains("| short |"), "{text}");
        let mut table = fitted_table(Page::plain(40));
        table.set_header(["a-very-long-unbreakable-header-word", "another-long-unbreakable-word"]);
        assert!(!fit(&mut table, 40), "its words cannot fit 40 columns");
    }
}
