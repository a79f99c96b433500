//! The wording of what a passing metric's data rule out (the bad end of its interval, see
//! [`RulesOut`]), shared by the table, Markdown and JUnit renderers.

use crate::judge::report::{Classification, EffectKind, MetricResult, RulesOut};
use crate::model::number::{plain, short, short_signed};

/// The legend of the `rules out` column.
pub(crate) const LEGEND: &str =
    "rules out: for a pass, the bad end of its interval: the largest regression its data could still hide";

/// One end: `×1.22` for a ratio, `+4.1 (+1.9%)` for a shift (with its share of the baseline median
/// when known).
fn end_text(kind: EffectKind, end: f64, relative: Option<f64>) -> String {
    match kind {
        EffectKind::Ratio => format!("×{}", short(end)),
        EffectKind::Shift => match relative {
            Some(share) => format!("{} ({}%)", short_signed(end), short_signed((share * 1000.0).round() / 10.0)),
            None => short_signed(end),
        },
    }
}

/// The cell of the table's `rules out` column for a passing metric: `>×1.22`, `<×0.85`,
/// `<×0.8, >×1.25`, `>+4.1`; none otherwise.
pub(crate) fn rules_out_cell(metric: &MetricResult) -> Option<String> {
    let rules_out = passing(metric)?;
    // In the effect's units, like the `change [CI]` column; the rule line adds the share.
    let below = rules_out.below.map(|end| format!("<{}", end_text(rules_out.kind, end, None)));
    let above = rules_out.above.map(|end| format!(">{}", end_text(rules_out.kind, end, None)));
    let parts: Vec<String> = below.into_iter().chain(above).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The sentence for a passing metric: `rules out a rate above ×1.22 of the baseline's (one-sided
/// 99.7%)`, `rules out a shift above +4.1 (+1.9%) (one-sided 99.7%)`.
pub(crate) fn rules_out_sentence(metric: &MetricResult) -> Option<String> {
    let rules_out = passing(metric)?;
    let what = match rules_out.kind {
        EffectKind::Ratio => "a rate",
        EffectKind::Shift => "a shift",
    };
    let of = if rules_out.kind == EffectKind::Ratio { " of the baseline's" } else { "" };
    let below = rules_out.below.map(|end| format!("below {}", end_text(rules_out.kind, end, rules_out.below_relative)));
    let above = rules_out.above.map(|end| format!("above {}", end_text(rules_out.kind, end, rules_out.above_relative)));
    let ends: Vec<String> = below.into_iter().chain(above).collect();
    if ends.is_empty() {
        return None;
    }
    Some(format!(
        "rules out {what} {}{of} (one-sided {}%)",
        ends.join(" or "),
        plain((rules_out.level * 10_000.0).floor() / 100.0)
    ))
}

/// The rule line of a metric: its reason, and for a pass what its data rule out.
pub(crate) fn rule_line(metric: &MetricResult) -> String {
    match rules_out_sentence(metric) {
        Some(sentence) => format!("{}; {sentence}", metric.reason),
        None => metric.reason.clone(),
    }
}

/// A passing metric's figure, when it has finite ends.
fn passing(metric: &MetricResult) -> Option<&RulesOut> {
    let rules_out = metric.rules_out.as_ref().filter(|_| metric.classification == Classification::Pass)?;
    let finite = |end: Option<f64>| end.is_none_or(f64::is_finite);
    (finite(rules_out.above) && finite(rules_out.below) && rules_out.level.is_finite()).then_some(rules_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::report::TestKindResult;

    fn passing_metric(rules_out: RulesOut) -> MetricResult {
        let mut metric = crate::report::sample::failed_checkout().metrics[0].clone();
        metric.classification = Classification::Pass;
        metric.reason = "no change".into();
        metric.rules_out = Some(rules_out);
        metric
    }

    #[test]
    fn a_ratio_names_its_bad_end_and_level() {
        let metric = passing_metric(RulesOut {
            test: TestKindResult::Rate,
            kind: EffectKind::Ratio,
            above: Some(1.2194),
            below: None,
            above_relative: None,
            below_relative: None,
            level: 0.99667,
        });
        assert_eq!(rules_out_cell(&metric).as_deref(), Some(">×1.22"));
        assert_eq!(rule_line(&metric), "no change; rules out a rate above ×1.22 of the baseline's (one-sided 99.66%)");
    }

    #[test]
    fn a_shift_shows_its_share_of_the_baseline_and_both_ends_for_either() {
        let metric = passing_metric(RulesOut {
            test: TestKindResult::Shift,
            kind: EffectKind::Shift,
            above: Some(23.0),
            below: Some(-12.0),
            above_relative: Some(0.04),
            below_relative: Some(-0.021),
            level: 0.995,
        });
        assert_eq!(rules_out_cell(&metric).as_deref(), Some("<-12, >+23"));
        assert_eq!(
            rules_out_sentence(&metric).as_deref(),
            Some("rules out a shift below -12 (-2.1%) or above +23 (+4%) (one-sided 99.5%)")
        );
    }

    #[test]
    fn only_a_pass_states_it() {
        let mut metric = passing_metric(RulesOut {
            test: TestKindResult::Rate,
            kind: EffectKind::Ratio,
            above: Some(2.7),
            below: None,
            above_relative: None,
            below_relative: None,
            level: 0.99,
        });
        metric.classification = Classification::NoData;
        assert_eq!(rules_out_cell(&metric), None);
        assert_eq!(rule_line(&metric), "no change");
    }
}
