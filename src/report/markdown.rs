//! Renders a [`JudgmentReport`] as GitHub-flavoured Markdown for a CI job summary (appended to
//! `$GITHUB_STEP_SUMMARY`): the verdict as a heading, the metrics table, findings and group
//! scores. All report text is escaped, so metric names and reasons can never break the layout.

use crate::judge::report::JudgmentReport;
use crate::model::number::plain;
use crate::report::table::{
    MetricRow, finding_lines, legend, optional_score, report_window_text, score_number, selection_text, source_text,
    thresholds_text, verdict_word,
};
use comfy_table::CellAlignment;
use std::io::{self, Write};

/// Writes the summary. Every block, the last included, ends with a blank line, so whatever is
/// appended after it starts a block of its own.
pub fn write_markdown(report: &JudgmentReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "## canary: {} — {}\n", verdict_word(report.verdict), escape(&report.analysis))?;
    writeln!(out, "- **Reason:** {}", escape(&report.reason))?;
    if let Some(line) = super::table::rollback_text(report) {
        writeln!(out, "- **Rollback:** {}", escape(&line))?;
    }
    let score = report.score.map_or_else(|| "none".to_owned(), score_number);
    writeln!(out, "- **Score:** {score} ({})", thresholds_text(report))?;
    writeln!(out, "- **Window:** {}", escape(&report_window_text(report)))?;
    writeln!(out, "- **Source:** {}", escape(&source_text(&report.source)))?;
    writeln!(out, "- **Baseline:** {}", escape(&selection_text(&report.baseline)))?;
    writeln!(out, "- **Canary:** {}\n", escape(&selection_text(&report.canary)))?;

    if let Some(kayenta) = &report.kayenta_verdict {
        writeln!(
            out,
            "- **Kayenta's judge:** {} ({}): {}\n",
            verdict_word(kayenta.verdict),
            escape(&kayenta.classification),
            escape(&kayenta.summary_line())
        )?;
    }
    if !report.metrics.is_empty() {
        // With `--judge both`, a column with Kayenta's classification of each metric.
        let kayenta = report.metrics.iter().any(|metric| metric.kayenta.is_some());
        let extra_header: &[&str] = if kayenta { &["kayenta", "rule"] } else { &["rule"] };
        write_row(out, MetricRow::FIGURE_HEADERS.into_iter().chain(extra_header.iter().copied()))?;
        let extra_alignment: &[CellAlignment] =
            if kayenta { &[CellAlignment::Left, CellAlignment::Left] } else { &[CellAlignment::Left] };
        write_row(out, MetricRow::FIGURE_ALIGNMENT.into_iter().chain(extra_alignment.iter().copied()).map(delimiter))?;
        for metric in &report.metrics {
            let row = MetricRow::of(metric);
            let result = escape(&row.classification);
            let result = if metric.classification.is_fail() { format!("**{result}**") } else { result };
            let figures = [&row.metric, &row.group, &row.baseline, &row.canary, &row.change, &row.p_value]
                .map(|cell| escape(cell));
            let kayenta_cell = kayenta.then(|| escape(&super::table::kayenta_cell(metric)));
            let rules_out = escape(&row.rules_out);
            write_row(
                out,
                figures.into_iter().chain([result, rules_out]).chain(kayenta_cell).chain([escape(&row.rule)]),
            )?;
        }
        writeln!(out, "\n{}\n", escape(&legend(report.alpha)))?;
        writeln!(out, "{}\n", escape(super::rules_out::LEGEND))?;
    }

    let findings: Vec<String> = finding_lines(report).collect();
    if !findings.is_empty() {
        writeln!(out, "### Data quality\n")?;
        for finding in findings {
            writeln!(out, "- {}", escape(&finding))?;
        }
        writeln!(out)?;
    }

    if !report.groups.is_empty() {
        writeln!(out, "### Groups\n")?;
        write_row(out, ["group", "weight", "score", "passed", "failed", "unscored"])?;
        write_row(out, [CellAlignment::Left].into_iter().chain([CellAlignment::Right; 5]).map(delimiter))?;
        for group in &report.groups {
            let counts = [group.passed, group.failed, group.unscored].map(|count| count.to_string());
            let figures = [escape(&group.name), plain(group.weight), optional_score(group.score)];
            write_row(out, figures.into_iter().chain(counts))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_row(out: &mut impl Write, cells: impl IntoIterator<Item = impl AsRef<str>>) -> io::Result<()> {
    write!(out, "|")?;
    for cell in cells {
        write!(out, " {} |", cell.as_ref())?;
    }
    writeln!(out)
}

fn delimiter(alignment: CellAlignment) -> &'static str {
    match alignment {
        CellAlignment::Left => ":--",
        CellAlignment::Center => ":-:",
        CellAlignment::Right => "--:",
    }
}

/// Text as literal inline Markdown, safe inside a table cell: line breaks become spaces and
/// every character with a meaning (emphasis, links, HTML, entities, math, cell borders) is
/// backslash-escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\r' | '\n' => escaped.push(' '),
            // Terminal escapes and invisible characters never reach a job summary or a terminal.
            c if crate::input::is_hidden_char(c) => escaped.push('\u{fffd}'),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '$' | '!' => {
                escaped.push('\\');
                escaped.push(character);
            }
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::report::Classification;
    use crate::report::sample::failed_checkout;

    fn render(report: &JudgmentReport) -> String {
        let mut out = Vec::new();
        write_markdown(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn unescaped_pipes(line: &str) -> usize {
        line.replace("\\\\", "").replace("\\|", "").matches('|').count()
    }

    /// The whole Markdown document of the sample report: verdict, reason, score, the metric
    /// table, data quality, groups and the closing blank line (snapshot in
    /// `src/report/snapshots/`; see tests/integration/snapshots.rs to update).
    #[test]
    fn renders_the_verdict_metrics_findings_and_groups() {
        let text = render(&failed_checkout());
        assert!(text.ends_with("|\n\n"));
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!("markdown-failed-checkout", text);
        });
    }

    #[test]
    fn escapes_cell_text_so_every_row_has_the_header_columns() {
        let text = render(&failed_checkout());
        let table: Vec<&str> = text.lines().skip_while(|line| !line.starts_with("| metric")).take(6).collect();
        assert_eq!(table[1], "| :-- | :-- | --: | --: | :-- | --: | :-- | :-- | :-- |");
        for row in &table {
            assert_eq!(unescaped_pipes(row), 10, "{row}");
        }
        let latency = table.iter().find(|row| row.starts_with("| latency\\_p99 ")).unwrap();
        assert!(latency.contains(
            "| \\>+4.1 | \\|shift\\| +1.8 ms \\[-0.6, +4.1\\] stays within the 20 ms margin; rules out a shift above +4.1 \
             (+1.9%) (one-sided 99.5%) |"
        ));
        let error_rate = table.iter().find(|row| row.starts_with("| error\\_rate \\* ")).unwrap();
        assert!(error_rate.contains("| **fail (high)** |"));
        assert!(error_rate.contains("(Holm p = 4.8e-5 \\< 0.01) |"));
    }

    #[test]
    fn keeps_hostile_names_on_one_line_and_literal() {
        let mut report = failed_checkout();
        report.analysis = "check|out <b>".into();
        report.metrics[1].reason = "line one\nline two | $x$".into();
        report.metrics[1].classification = Classification::Error;
        let text = render(&report);
        assert!(text.starts_with("## canary: FAIL — check\\|out \\<b\\>\n"));
        assert!(text.contains("| line one line two \\| \\$x\\$ |"));
    }
}
