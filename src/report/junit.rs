//! Renders a [`JudgmentReport`] as JUnit XML for CI test views: one test suite for the analysis
//! with the verdict, score and window as properties, and one test case per metric whose failure,
//! error or skip carries the metric's reason and its evidence.

use crate::config::MetricKind;
use crate::judge::report::{
    Classification, JudgmentReport, MetricResult, SideData, TestKindResult, TestOutcome, TestResult,
};
use crate::model::{
    Duration,
    number::{p_value, plain},
    window::format_timestamp,
};
use crate::report::table::{
    effect_number, effect_text, finding_text, score_number, source_text, test_name, value_text, verdict_word,
};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::io::{self, Write};

/// Writes the XML document, declaration first, ending in a newline.
pub fn write_junit(report: &JudgmentReport, out: &mut impl Write) -> io::Result<()> {
    let mut suite = TestSuite::new(&report.analysis);
    suite.add_properties(suite_properties(report));
    suite.add_test_cases(report.metrics.iter().map(test_case));
    let mut junit = Report::new("canary");
    junit.add_test_suite(suite);
    let xml = junit.to_string().map_err(io::Error::other)?;
    out.write_all(xml.as_bytes())
}

fn suite_properties(report: &JudgmentReport) -> Vec<Property> {
    let window = &report.window;
    let mut properties = vec![
        Property::new("verdict", verdict_word(report.verdict).to_ascii_lowercase()),
        Property::new("reason", &report.reason),
    ];
    if let Some(score) = report.score {
        properties.push(Property::new("score", score_number(score)));
    }
    properties.extend([
        Property::new("pass_score", score_number(report.pass_score)),
        Property::new("marginal_score", score_number(report.marginal_score)),
        Property::new("alpha", plain(report.alpha)),
        Property::new("window.start", format_timestamp(window.start)),
        Property::new("window.end", format_timestamp(window.end)),
        Property::new("window.step", Duration::from_secs(window.step_seconds).to_string()),
        Property::new("window.warmup", Duration::from_secs(window.warmup_seconds).to_string()),
        Property::new("source", source_text(&report.source)),
    ]);
    for (side, description) in [("baseline", &report.baseline), ("canary", &report.canary)] {
        for (name, value) in &description.variables {
            properties.push(Property::new(format!("{side}.{name}"), value));
        }
        if let Some(offset) = description.offset_seconds {
            properties.push(Property::new(format!("{side}.offset"), Duration::from_secs(offset).to_string()));
        }
    }
    properties
}

fn test_case(metric: &MetricResult) -> TestCase {
    let evidence = evidence(metric);
    let mut status = match metric.classification {
        Classification::Pass => TestCaseStatus::success(),
        Classification::FailHigh | Classification::FailLow => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Classification::NoData => TestCaseStatus::skipped(),
        Classification::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
    };
    let passed = matches!(status, TestCaseStatus::Success { .. });
    if !passed {
        status.set_message(&metric.reason).set_type(classification_type(metric.classification));
        status.set_description(&evidence);
    }
    let mut case = TestCase::new(&metric.name, status);
    case.set_classname(&metric.group);
    if passed {
        case.set_system_out(&evidence);
    }
    if metric.critical {
        case.add_property(Property::new("critical", "true"));
    }
    case
}

/// The classification as the JSON report spells it.
fn classification_type(classification: Classification) -> &'static str {
    match classification {
        Classification::Pass => "pass",
        Classification::FailHigh => "fail_high",
        Classification::FailLow => "fail_low",
        Classification::NoData => "no_data",
        Classification::Error => "error",
    }
}

/// What the judgment of a metric rested on, one item a line: both sides, each test, each finding.
fn evidence(metric: &MetricResult) -> String {
    let mut lines = vec![
        format!("baseline: {}", side_evidence(metric.kind, &metric.baseline)),
        format!("canary: {}", side_evidence(metric.kind, &metric.canary)),
    ];
    lines.extend(metric.tests.iter().map(test_evidence));
    lines.extend(super::rules_out::rules_out_sentence(metric));
    lines.extend(metric.findings.iter().map(|finding| format!("data quality: {}", finding_text(metric, finding))));
    lines.join("\n")
}

fn side_evidence(kind: MetricKind, side: &SideData) -> String {
    match (kind, &side.totals, &side.summary) {
        (MetricKind::Count, Some(totals), _) => {
            let rate = totals.rate.map_or_else(|| "no exposure".to_owned(), value_text);
            format!("{} intervals, {} / {} = {rate}", side.samples, plain(totals.numerator), plain(totals.denominator))
        }
        (MetricKind::Gauge, _, Some(summary)) => format!(
            "{} samples, median {}, mean {}, p90 {}, p99 {}",
            side.samples,
            value_text(summary.p50),
            value_text(summary.mean),
            value_text(summary.p90),
            value_text(summary.p99)
        ),
        _ => format!("{} samples, no data", side.samples),
    }
}

/// `rate test: fail, ×1.64 [×1.31, ×2.05] (99% CI), margin ×1.1, statistic 68, p 1.20e-5, Holm p 4.80e-5: reason`.
fn test_evidence(test: &TestResult) -> String {
    let outcome = match test.outcome {
        TestOutcome::Pass => "pass",
        TestOutcome::Fail => "fail",
        TestOutcome::Skipped => "skipped",
    };
    let gating = if test.gating { "" } else { " (not gating)" };
    let mut parts = vec![format!("{} test{gating}: {outcome}", test_name(test.test))];
    if let Some(effect) = effect_text(test) {
        match test.confidence {
            Some(confidence) => parts.push(format!("{effect} ({}% CI)", plain(confidence * 100.0))),
            None => parts.push(effect),
        }
    }
    if let Some(margin) = test.margin {
        let margin = match test.test {
            TestKindResult::Rate | TestKindResult::Spread => effect_number(test.test, margin),
            TestKindResult::Shift | TestKindResult::Threshold | TestKindResult::Sustained => plain(margin),
        };
        parts.push(format!("margin {margin}"));
    }
    if let Some(threshold) = test.threshold {
        parts.push(format!("threshold {}", plain(threshold)));
    }
    if let Some(statistic) = test.statistic {
        parts.push(format!("statistic {}", plain(statistic)));
    }
    if let Some(p) = test.p_value {
        parts.push(format!("p {}", p_value(p)));
    }
    if let Some(p) = test.adjusted_p_value {
        parts.push(format!("Holm p {}", p_value(p)));
    }
    format!("{}: {}", parts.join(", "), test.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{ERROR_RATE_REASON, failed_checkout};
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::{Reader, XmlVersion};
    use std::collections::BTreeMap;

    /// An element of the document: its name and unescaped attributes.
    #[derive(Debug)]
    struct Element {
        name: String,
        attributes: BTreeMap<String, String>,
    }

    impl Element {
        fn attribute(&self, name: &str) -> &str {
            self.attributes.get(name).map_or("", String::as_str)
        }
    }

    fn render(report: &JudgmentReport) -> String {
        let mut out = Vec::new();
        write_junit(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Parses the whole document, failing on any well-formedness error, and lists its elements.
    fn elements(xml: &str) -> Vec<Element> {
        let element = |start: &BytesStart| Element {
            name: start.name().as_ref().to_owned(),
            attributes: start
                .attributes()
                .map(|attribute| {
                    let attribute = attribute.unwrap();
                    let name = attribute.key.as_ref().to_owned();
                    (name, attribute.normalized_value(XmlVersion::Explicit1_0).unwrap().into_owned())
                })
                .collect(),
        };
        let mut reader = Reader::from_str(xml);
        let mut elements = Vec::new();
        let mut depth = 0usize;
        loop {
            match reader.read_event().unwrap_or_else(|error| panic!("malformed XML: {error}\n{xml}")) {
                Event::Start(start) => {
                    depth += 1;
                    elements.push(element(&start));
                }
                Event::Empty(start) => elements.push(element(&start)),
                Event::End(_) => depth -= 1,
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0, "unclosed elements");
        elements
    }

    fn named<'a>(elements: &'a [Element], name: &str) -> Vec<&'a Element> {
        elements.iter().filter(|element| element.name == name).collect()
    }

    /// The one element called `name`; fails the test when there are none or several.
    fn only<'a>(elements: &'a [Element], name: &str) -> &'a Element {
        let found = named(elements, name);
        assert_eq!(found.len(), 1, "one <{name}>");
        found[0]
    }

    #[test]
    fn one_suite_with_one_case_per_metric_and_the_counts() {
        let xml = render(&failed_checkout());
        let elements = elements(&xml);
        let suite = only(&elements, "testsuite");
        assert_eq!(suite.attribute("name"), "checkout");
        assert_eq!(["tests", "failures", "errors", "skipped"].map(|name| suite.attribute(name)), ["4", "1", "0", "1"]);
        let cases: Vec<(&str, &str)> = named(&elements, "testcase")
            .iter()
            .map(|case| (case.attribute("classname"), case.attribute("name")))
            .collect();
        assert_eq!(
            cases,
            [
                ("business", "checkout_conversion"),
                ("errors", "error_rate"),
                ("saturation", "queue_depth"),
                ("latency", "latency_p99")
            ]
        );
    }

    #[test]
    fn a_failed_metric_is_a_failure_with_its_reason_and_evidence() {
        let xml = render(&failed_checkout());
        let elements = elements(&xml);
        let failure = only(&elements, "failure");
        assert_eq!(failure.attribute("message"), ERROR_RATE_REASON);
        assert_eq!(failure.attribute("type"), "fail_high");
        // The whole document, evidence included (snapshot in `src/report/snapshots/`; see
        // tests/integration/snapshots.rs to update).
        insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!("junit-failed-checkout", xml);
        });
    }

    #[test]
    fn a_metric_without_data_is_skipped_and_an_error_is_an_error() {
        let mut report = failed_checkout();
        let xml = render(&report);
        let skipped = elements(&xml).into_iter().filter(|element| element.name == "skipped").collect::<Vec<_>>();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].attribute("message"), report.metrics[2].reason);

        report.metrics[3].classification = Classification::Error;
        report.metrics[3].reason = "baseline and canary series are identical".into();
        let elements = elements(&render(&report));
        let errors = named(&elements, "error");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].attribute("message"), "baseline and canary series are identical");
        assert_eq!(named(&elements, "testsuite")[0].attribute("errors"), "1");
    }

    #[test]
    fn the_suite_carries_verdict_score_and_window() {
        let elements = elements(&render(&failed_checkout()));
        let properties: BTreeMap<&str, &str> = named(&elements, "property")
            .iter()
            .map(|property| (property.attribute("name"), property.attribute("value")))
            .collect();
        assert_eq!(properties["verdict"], "fail");
        assert_eq!(properties["score"], "66.7");
        assert_eq!(properties["pass_score"], "95");
        assert_eq!(properties["window.start"], "2026-11-23T10:00:00Z");
        assert_eq!(properties["window.end"], "2026-11-23T10:30:00Z");
        assert_eq!(properties["window.step"], "30s");
        assert_eq!(properties["canary.version"], "checkout-7f9c");
        assert_eq!(properties["critical"], "true");
    }
}
