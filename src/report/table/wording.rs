//! The wording the table, Markdown and JUnit renderers share: the verdict, the window, the
//! selections, the scores and the cells of a metric's row.

use super::{shown, shown_long};
use crate::config::MetricKind;
use crate::judge::report::{
    Finding, JudgmentReport, MetricResult, SideData, SideDescription, TestKindResult, TestResult,
};
use crate::model::{
    Duration, SourceDescription,
    number::{p_value, plain, signed},
    window::{Window, format_timestamp},
};
use comfy_table::CellAlignment;

/// Kayenta's classification of a metric, `*` when it is critical (zeroes Kayenta's score).
pub(crate) fn kayenta_cell(metric: &MetricResult) -> String {
    metric
        .kayenta
        .as_ref()
        .map_or_else(String::new, |k| format!("{}{}", k.classification, if k.critical { " *" } else { "" }))
}

/// The text of one metric's row, as the table and the Markdown renderer show it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricRow {
    /// The name, with ` *` for a critical metric.
    pub metric: String,
    pub group: String,
    /// The baseline's median (gauges) or window rate (counts).
    pub baseline: String,
    pub canary: String,
    /// The headline test's effect with its confidence interval.
    pub change: String,
    /// The headline test's p-value, Holm-adjusted when it has one.
    pub p_value: String,
    pub classification: String,
    /// A pass: the largest regression its data could still hide (the interval's bad end).
    pub rules_out: String,
    /// The rule that decided (for a pass, with what it rules out).
    pub rule: String,
}

impl MetricRow {
    /// Headers of the columns before the rule.
    pub const FIGURE_HEADERS: [&str; 8] =
        ["metric", "group", "baseline", "canary", "change [CI]", "p", "result", "rules out"];
    pub const FIGURE_ALIGNMENT: [CellAlignment; 8] = [
        CellAlignment::Left,
        CellAlignment::Left,
        CellAlignment::Right,
        CellAlignment::Right,
        CellAlignment::Left,
        CellAlignment::Right,
        CellAlignment::Left,
        CellAlignment::Left,
    ];

    pub fn of(metric: &MetricResult) -> MetricRow {
        let headline = headline_test(metric);
        MetricRow {
            metric: if metric.critical { format!("{} *", shown(&metric.name)) } else { shown(&metric.name) },
            group: shown(&metric.group),
            baseline: side_value(metric.kind, &metric.baseline).map_or_else(missing, value_text),
            canary: side_value(metric.kind, &metric.canary).map_or_else(missing, value_text),
            change: headline.and_then(effect_text).unwrap_or_else(missing),
            p_value: headline.and_then(|test| test.adjusted_p_value.or(test.p_value)).map_or_else(missing, p_value),
            classification: metric.label().to_owned(),
            rules_out: crate::report::rules_out::rules_out_cell(metric).unwrap_or_else(missing),
            rule: crate::report::rules_out::rule_line(metric),
        }
    }

    /// The cells before the rule.
    pub fn figures(&self) -> [&str; 8] {
        [
            &self.metric,
            &self.group,
            &self.baseline,
            &self.canary,
            &self.change,
            &self.p_value,
            &self.classification,
            &self.rules_out,
        ]
    }
}

/// What the row's legend explains: the marker, the values, the interval and the p-value.
pub(crate) fn legend(alpha: f64) -> String {
    format!(
        "* critical; values: gauge median, count window rate; change [CI], Holm-adjusted p: first gating test \
         (alpha {})",
        plain(alpha)
    )
}

/// The test whose effect a row shows: the first gating test with an estimate.
fn headline_test(metric: &MetricResult) -> Option<&TestResult> {
    metric.tests.iter().find(|test| test.gating && test.estimate.is_some())
}

/// The value a row shows for one side: the median of a gauge, the window rate of a count.
fn side_value(kind: MetricKind, side: &SideData) -> Option<f64> {
    match kind {
        MetricKind::Gauge => side.summary.as_ref().map(|summary| summary.p50),
        MetricKind::Count => side.totals.as_ref().and_then(|totals| totals.rate),
    }
}

/// A test's effect with its interval when it has both bounds: `+1.8 [-0.6, +4.1]`, `×1.64 [×1.31, ×2.05]`.
pub(crate) fn effect_text(test: &TestResult) -> Option<String> {
    let estimate = effect_number(test.test, test.estimate?);
    Some(match (test.ci_low, test.ci_high) {
        (Some(low), Some(high)) => {
            format!("{estimate} [{}, {}]", effect_number(test.test, low), effect_number(test.test, high))
        }
        _ => estimate,
    })
}

/// A number in a test's effect units: a signed shift, a `×` ratio, or a plain threshold statistic.
pub(crate) fn effect_number(test: TestKindResult, value: f64) -> String {
    let value = round_significant(value, 3);
    match test {
        TestKindResult::Shift => signed(value),
        TestKindResult::Rate | TestKindResult::Spread => format!("×{}", plain(value)),
        TestKindResult::Threshold | TestKindResult::Sustained => plain(value),
    }
}

pub(crate) fn test_name(test: TestKindResult) -> &'static str {
    match test {
        TestKindResult::Shift => "shift",
        TestKindResult::Spread => "spread",
        TestKindResult::Rate => "rate",
        TestKindResult::Threshold => "threshold",
        TestKindResult::Sustained => "sustained",
    }
}

/// A measured value, to four significant digits.
pub(crate) fn value_text(value: f64) -> String {
    plain(round_significant(value, 4))
}

fn round_significant(value: f64, digits: i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(digits - 1 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

fn missing() -> String {
    "-".to_owned()
}

/// One line on the rollback webhook, if it was called.
/// One line per failed feature: what failed and what its action did.
pub(crate) fn features_text(report: &JudgmentReport) -> Vec<String> {
    report
        .features
        .iter()
        .filter(|f| f.failed)
        .map(|f| {
            let action = match &f.action {
                None => "no action called".to_string(),
                Some(o) if o.dry_run => format!("dry run, not sent to {} (key {})", o.url, o.idempotency_key),
                Some(o) if o.delivered => {
                    format!(
                        "turned off: {} answered HTTP {} (key {})",
                        o.url,
                        o.status.unwrap_or_default(),
                        o.idempotency_key
                    )
                }
                Some(o) => format!("NOT turned off: {}: {}", o.url, o.error.as_deref().unwrap_or("unknown error")),
            };
            format!("feature `{}` failed ({}): {action}", f.feature, f.failed_metrics.join(", "))
        })
        .collect()
}

pub(crate) fn rollback_text(report: &JudgmentReport) -> Option<String> {
    let outcome = report.rollback.as_ref()?;
    let signed = if outcome.signed { "signed, " } else { "" };
    Some(match (outcome.dry_run, outcome.delivered) {
        (true, _) => {
            format!("rollback webhook: dry run, not sent to {} ({signed}key {})", outcome.url, outcome.idempotency_key)
        }
        (false, true) => format!(
            "rollback webhook: delivered to {} (HTTP {}, {signed}key {})",
            outcome.url,
            outcome.status.unwrap_or_default(),
            outcome.idempotency_key
        ),
        (false, false) => format!(
            "rollback webhook: NOT delivered to {}: {}",
            outcome.url,
            outcome.error.as_deref().unwrap_or("unknown error")
        ),
    })
}

/// `score 66.7, pass ≥ 95, marginal ≥ 75`.
pub(crate) fn score_text(report: &JudgmentReport) -> String {
    match report.score {
        Some(score) => format!("score {}, {}", score_number(score), thresholds_text(report)),
        None => format!("no score, {}", thresholds_text(report)),
    }
}

/// `pass ≥ 95, marginal ≥ 75`.
pub(crate) fn thresholds_text(report: &JudgmentReport) -> String {
    format!("pass ≥ {}, marginal ≥ {}", score_number(report.pass_score), score_number(report.marginal_score))
}

/// A 0 to 100 score to one decimal.
pub(crate) fn score_number(score: f64) -> String {
    plain((score * 10.0).round() / 10.0)
}

pub(crate) fn optional_score(score: Option<f64>) -> String {
    score.map_or_else(missing, score_number)
}

/// The report's window as its header shows it: [`window_text`], and for a `--last` window
/// `(the last 30m, ending a minute before now)` after its end.
pub(crate) fn report_window_text(report: &JudgmentReport) -> String {
    let text = window_text(&report.window);
    match report.last_seconds {
        Some(last) => text.replacen(
            ", step",
            &format!(" (the last {}, ending a minute before now), step", Duration::from_secs(last)),
            1,
        ),
        None => text,
    }
}

/// `2026-11-23T10:00:00Z to 2026-11-23T10:30:00Z, step 30s, warm-up 5m`.
pub(crate) fn window_text(window: &Window) -> String {
    format!(
        "{} to {}, step {}, warm-up {}",
        format_timestamp(window.start),
        format_timestamp(window.end),
        Duration::from_secs(window.step_seconds),
        Duration::from_secs(window.warmup_seconds)
    )
}

/// `prometheus http://prometheus:9090`, with the recording when one was replayed.
pub(crate) fn source_text(source: &SourceDescription) -> String {
    let mut text = source.kind.clone();
    if let Some(url) = &source.url {
        text.push_str(&format!(" {url}"));
    }
    if let Some(replay) = &source.replay {
        text.push_str(&format!(" (replay of {replay})"));
    }
    text
}

/// The resolved variables of one side, `name=value, …`, and its offset for a before/after baseline.
pub(crate) fn selection_text(side: &SideDescription) -> String {
    let mut text = if side.variables.is_empty() {
        "(no variables)".to_owned()
    } else {
        side.variables
            .iter()
            .map(|(name, value)| format!("{}={}", shown(name), shown(value)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(offset) = side.offset_seconds {
        text.push_str(&format!(", {} earlier", Duration::from_secs(offset)));
    }
    text
}

/// One line per data-quality finding of the report.
pub(crate) fn finding_lines(report: &JudgmentReport) -> impl Iterator<Item = String> + '_ {
    report.metrics.iter().flat_map(|metric| metric.findings.iter().map(move |finding| finding_text(metric, finding)))
}

/// `metric (side): message`.
pub(crate) fn finding_text(metric: &MetricResult, finding: &Finding) -> String {
    match finding.side {
        Some(side) => format!("{} ({}): {}", shown(&metric.name), side.name(), shown_long(&finding.message)),
        None => format!("{}: {}", shown(&metric.name), shown_long(&finding.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_effects_in_their_units() {
        assert_eq!(effect_number(TestKindResult::Shift, 12.3456), "+12.3");
        assert_eq!(effect_number(TestKindResult::Shift, -0.0004567), "-0.000457");
        assert_eq!(effect_number(TestKindResult::Rate, 1.23456), "×1.23");
        assert_eq!(effect_number(TestKindResult::Spread, 0.5), "×0.5");
        assert_eq!(value_text(41.0 / 40210.0), "0.00102");
        assert_eq!(value_text(1234567.0), "1235000");
        assert_eq!(score_number(200.0 / 3.0), "66.7");
        assert_eq!(score_number(100.0), "100");
    }
}
