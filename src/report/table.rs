//! Renders a [`JudgmentReport`] as a table for people at a terminal; the wording the Markdown
//! and JUnit renderers share with it is in [`wording`], re-exported here.

use super::Page;
use super::layout::{fit, fitted_table, write_labelled, write_wrapped};
use crate::judge::report::{GroupResult, JudgmentReport, MetricResult};
use crate::model::{Verdict, number::plain};
use comfy_table::{Cell, Table};
use std::io::{self, Write};

mod wording;
pub(crate) use wording::*;

/// Writes the table, fitted to `page`: box-drawing borders and a coloured verdict when it is
/// styled (for terminals), plain ASCII otherwise. The table keeps one row per metric and wraps
/// its cells at word boundaries when the page is narrow; the rules that decided follow it, each
/// wrapped to the page.
pub fn write_table(report: &JudgmentReport, out: &mut impl Write, page: Page) -> io::Result<()> {
    let width = page.width;
    write_wrapped(out, "", "  ", &format!("{}: {}", shown(&report.analysis), report_window_text(report)), width)?;
    write_wrapped(out, "  source:   ", "            ", &source_text(&report.source), width)?;
    write_wrapped(out, "  baseline: ", "            ", &selection_text(&report.baseline), width)?;
    write_wrapped(out, "  canary:   ", "            ", &selection_text(&report.canary), width)?;

    if !report.metrics.is_empty() {
        writeln!(out)?;
        let mut table = figures_table(&report.metrics, page);
        if fit(&mut table, width) {
            writeln!(out, "{}", table.trim_fmt())?;
        } else {
            write_figures_list(out, &report.metrics, width)?;
        }
        write_wrapped(out, "", "  ", &legend(report.alpha), width)?;
        write_wrapped(out, "", "  ", super::rules_out::LEGEND, width)?;
        writeln!(out, "\nrules:")?;
        let name_width = report.metrics.iter().map(|metric| shown(&metric.name).chars().count()).max().unwrap_or(0);
        for metric in &report.metrics {
            let label = format!("  {:<name_width$}  ", shown(&metric.name));
            write_labelled(out, &label, &super::rules_out::rule_line(metric), width)?;
        }
    }

    let findings: Vec<String> = finding_lines(report).collect();
    if !findings.is_empty() {
        writeln!(out, "\ndata quality:")?;
        for finding in findings {
            write_wrapped(out, "  ", "    ", &finding, width)?;
        }
    }

    if !report.groups.is_empty() {
        writeln!(out, "\ngroups:")?;
        let name_width = report.groups.iter().map(|group| shown(&group.name).chars().count()).max().unwrap_or(0);
        for group in &report.groups {
            let score = optional_score(group.score);
            let label = format!("  {:<name_width$}  ", shown(&group.name));
            write_labelled(out, &label, &format!("{score:>5}  ({})", group_tally(group)), width)?;
        }
    }

    for line in features_text(report) {
        writeln!(out)?;
        write_wrapped(out, "", "  ", &shown_long(&line), width)?;
    }
    if let Some(line) = rollback_text(report) {
        writeln!(out)?;
        write_wrapped(out, "", "  ", &shown_long(&line), width)?;
    }
    if report.judge == Some(crate::config::JudgeChoice::Both)
        && let Some(kayenta) = &report.kayenta_verdict
    {
        // The default judge decides; Kayenta's verdict is shown for comparison.
        let line =
            format!("{} ({}): {}", verdict_word(kayenta.verdict), kayenta.classification, kayenta.summary_line());
        writeln!(out)?;
        write_wrapped(out, "kayenta:  ", "  ", &line, width)?;
    }
    // The verdict word is coloured after wrapping, so that its escapes take no columns.
    let word = verdict_word(report.verdict);
    let line = format!("{word} ({}): {}", score_text(report), shown_long(&report.reason));
    writeln!(out)?;
    let mut verdict = Vec::new();
    write_wrapped(&mut verdict, "verdict: ", "  ", &line, width)?;
    let verdict = String::from_utf8(verdict).map_err(io::Error::other)?;
    match verdict.strip_prefix("verdict: ").and_then(|rest| rest.strip_prefix(word)) {
        Some(rest) if page.styled => write!(out, "verdict: {}{rest}", coloured(word, report.verdict)),
        _ => write!(out, "{verdict}"),
    }
}

/// A name or value from the inputs as the reports show it: cut to 60 characters, control
/// characters escaped (so that no label or name can break the layout or reach the terminal raw).
pub(crate) fn shown(text: &str) -> String {
    crate::input::excerpt_of(text, 60)
}

/// A generated message that may quote inputs: cut to 1000 characters, control characters escaped.
pub(crate) fn shown_long(text: &str) -> String {
    crate::input::excerpt_of(text, 1000)
}

fn figures_table(metrics: &[MetricResult], page: Page) -> Table {
    let mut table = fitted_table(page);
    // With the Kayenta-compatible judge beside the default one: its classification per metric.
    let kayenta = metrics.iter().any(|metric| metric.kayenta.is_some());
    let mut headers: Vec<&str> = MetricRow::FIGURE_HEADERS.to_vec();
    if kayenta {
        headers.push("kayenta");
    }
    table.set_header(headers);
    for metric in metrics {
        let row = MetricRow::of(metric);
        let mut cells: Vec<Cell> = row
            .figures()
            .into_iter()
            .zip(MetricRow::FIGURE_ALIGNMENT)
            .map(|(text, alignment)| Cell::new(text).set_alignment(alignment))
            .collect();
        if kayenta {
            cells.push(Cell::new(kayenta_cell(metric)));
        }
        table.add_row(cells);
    }
    table
}

/// The figures of each metric as a short paragraph, for a page too narrow for the table:
/// `error_rate * (errors): pass` then `baseline 0.0047, canary 0.0051, change …, p 1.0000`.
fn write_figures_list(out: &mut impl Write, metrics: &[MetricResult], width: usize) -> io::Result<()> {
    for metric in metrics {
        let row = MetricRow::of(metric);
        write_wrapped(out, "", "    ", &format!("{} ({}): {}", row.metric, row.group, row.classification), width)?;
        let mut figures =
            format!("baseline {}, canary {}, change {}, p {}", row.baseline, row.canary, row.change, row.p_value);
        if metric.kayenta.is_some() {
            figures.push_str(&format!(", kayenta {}", kayenta_cell(metric)));
        }
        write_wrapped(out, "    ", "    ", &figures, width)?;
    }
    Ok(())
}

/// The verdict as the reports spell it.
pub(crate) fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::FeatureOff => "FEATURE OFF",
    }
}

fn coloured(word: &str, verdict: Verdict) -> String {
    let colour = match verdict {
        Verdict::Pass => "32",
        Verdict::Fail => "31",
        Verdict::Inconclusive => "33",
        Verdict::FeatureOff => "36",
    };
    format!("\x1b[1;{colour}m{word}\x1b[0m")
}

/// `weight 25: 1 passed, 0 failed, 1 unscored`.
fn group_tally(group: &GroupResult) -> String {
    let mut tally = format!("weight {}: {} passed, {} failed", plain(group.weight), group.passed, group.failed);
    if group.unscored > 0 {
        tally.push_str(&format!(", {} unscored", group.unscored));
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::failed_checkout;

    fn render(report: &JudgmentReport, styled: bool) -> String {
        render_at(report, Page { styled, width: 100 })
    }

    fn render_at(report: &JudgmentReport, page: Page) -> String {
        let mut out = Vec::new();
        write_table(report, &mut out, page).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ends_with_the_verdict_its_score_and_thresholds() {
        let text = render(&failed_checkout(), false);
        assert_eq!(
            text.lines().last().unwrap(),
            "verdict: FAIL (score 66.7, pass ≥ 95, marginal ≥ 75): critical metric error_rate failed"
        );
    }

    #[test]
    fn heads_with_the_analysis_window_source_and_selections() {
        let text = render(&failed_checkout(), false);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "checkout: 2026-11-23T10:00:00Z to 2026-11-23T10:30:00Z, step 30s, warm-up 5m"
        );
        assert_eq!(lines.next().unwrap(), "  source:   prometheus http://prometheus.monitoring:9090");
        assert_eq!(lines.next().unwrap(), "  baseline: namespace=shop, version=checkout-6d2a");
        assert_eq!(lines.next().unwrap(), "  canary:   namespace=shop, version=checkout-7f9c");
    }

    /// The whole plain table of the sample report: rows, rules, findings and group scores
    /// (snapshot in `src/report/snapshots/`; see tests/integration/snapshots.rs to update).
    #[test]
    fn renders_every_metric_rule_finding_and_group() {
        let text = render(&failed_checkout(), false);
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!("table-failed-checkout", text);
        });
    }

    /// The words of a rendering, without table borders and escapes.
    fn words(text: &str) -> std::collections::BTreeSet<String> {
        let border = |c: char| "|┆│─═╌┄┈╞╡╪├┤┼┬┴╭╮╰╯┌┐└┘-+:".contains(c);
        text.replace("\x1b[1;31m", " ")
            .replace("\x1b[0m", " ")
            .split(|c: char| c.is_whitespace() || c == '|' || c == '┆' || c == '│')
            .filter(|word| !word.is_empty() && !word.chars().all(border))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn fits_60_80_and_120_columns_without_splitting_a_word() {
        let report = failed_checkout();
        let mut unsplit = words(&render_at(&report, Page::plain(1000)));
        let mut list = Vec::new();
        write_figures_list(&mut list, &report.metrics, 1000).unwrap();
        unsplit.extend(words(&String::from_utf8(list).unwrap()));
        for width in [60, 80, 120] {
            for styled in [false, true] {
                let text = render_at(&report, Page { styled, width });
                for line in text.replace("\x1b[1;31m", "").replace("\x1b[0m", "").lines() {
                    assert!(line.chars().count() <= width, "wider than {width}: {line}");
                }
                let split: Vec<String> = words(&text).difference(&unsplit).cloned().collect();
                assert!(split.is_empty(), "words split at {width} columns: {split:?}\n{text}");
            }
        }
        // Wide enough for the longest words, the figures stay a table; narrower, they become a
        // paragraph per metric, at every width below the switch.
        let is_table = |width: usize| render_at(&report, Page::plain(width)).contains("| error_rate *");
        assert!(is_table(120));
        let switch = (60..=120).find(|&width| is_table(width)).unwrap();
        assert!((switch..=120).all(is_table), "the table comes back below 120 after {switch}");
        assert!(render_at(&report, Page::plain(switch - 1)).contains("error_rate * (errors): fail (high)"));
        assert!(render_at(&report, Page::plain(60)).contains("error_rate * (errors): fail (high)"));
    }

    #[test]
    fn colours_only_when_styled() {
        let plain_text = render(&failed_checkout(), false);
        assert!(!plain_text.contains('\x1b'));
        let styled_text = render(&failed_checkout(), true);
        assert!(styled_text.contains("verdict: \x1b[1;31mFAIL\x1b[0m ("));
        assert!(styled_text.contains('┆'));
    }

    #[test]
    fn huge_and_hostile_names_render_cut_without_panic() {
        let mut report = failed_checkout();
        let huge = format!("\u{1b}[2J{}", "n".repeat(70_000));
        report.metrics[0].name = huge.clone();
        report.metrics[0].group = huge.clone();
        if let Some(group) = report.groups.first_mut() {
            group.name = huge.clone();
        }
        report.canary.variables.insert("canary".into(), huge.clone());
        report.metrics[1].reason = format!("{huge} \u{1b}]0;title\u{7}");
        for styled in [false, true] {
            let text = render(&report, styled);
            assert!(!text.contains("\u{1b}[2J"), "a raw escape reached the table");
            assert!(text.lines().all(|line| line.chars().count() <= 4100), "a line is not cut");
        }
    }

    proptest::proptest! {
        /// Rendering never panics, whatever names, labels and messages the inputs carry, and the
        /// table never lets a control character through raw.
        #[test]
        fn rendering_never_panics(name in ".{0,300}", group in ".{0,80}", value in ".{0,300}", reason in ".{0,300}", wide in 0usize..3) {
            let mut report = failed_checkout();
            report.metrics[0].name = if wide == 2 { name.repeat(300) } else { name.clone() };
            report.metrics[0].group = group;
            report.metrics[0].reason = reason;
            report.canary.variables.insert(value.clone(), value);
            let plain = render(&report, false);
            let raw = plain.chars().any(|c| c.is_control() && c != '\n');
            proptest::prop_assert!(!raw, "a control character reached the table");
            render(&report, true);
            let mut out = Vec::new();
            crate::report::markdown::write_markdown(&report, &mut out).unwrap();
            crate::report::junit::write_junit(&report, &mut out).unwrap();
        }

        /// At any width canary lays out (40 to 120 columns), every line fits, but for a word
        /// too long for the page's text column, which is never split: it stands on a line of its
        /// own, after its label at most (a label takes at most half the page).
        #[test]
        fn every_line_fits_the_page_or_holds_one_long_word(
            name in "[a-z_]{1,30}( [a-z_]{1,30}){0,2}",
            group in "[a-z]{1,50}",
            reason in "([a-zA-Z0-9.,=×\\[\\]]{1,70} ){0,40}",
            value in "[a-z=\"]{1,90}",
            width in 40usize..=120,
            styled in proptest::bool::ANY,
        ) {
            let mut report = failed_checkout();
            report.metrics[0].name = name;
            report.metrics[1].group = group.clone();
            report.groups[0].name = group;
            report.metrics[2].reason = reason.clone();
            report.reason = reason;
            report.canary.variables.insert("selector".into(), value);
            let text = render_at(&report, Page { styled, width });
            for line in text.replace("\x1b[1;31m", "").replace("\x1b[0m", "").lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                let long_word = words.len() <= 2 && words.last().is_some_and(|w| w.chars().count() * 2 > width);
                proptest::prop_assert!(line.chars().count() <= width || long_word, "wider than {}: {}", width, line);
            }
        }
    }
}
