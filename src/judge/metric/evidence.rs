//! Positive evidence of health: the only way the judge classifies a metric pass (see
//! [`Evidence`]).
use crate::judge::report::{Classification, MetricResult, TestKindResult, TestOutcome, TestResult};

/// Positive evidence that a metric is healthy: at least one gating test or threshold ran on valid
/// data and passed, and none was skipped or left without its p-value or interval. Only
/// [`positive_evidence`] builds one, and [`Evidence::classify`] is the only way the judge
/// classifies a metric pass: a metric no test evaluated cannot pass by construction.
pub(crate) struct Evidence {
    reasons: Vec<String>,
}

impl Evidence {
    /// Classifies the metric pass, with the passed tests' reasons as its reason.
    pub(crate) fn classify(self, result: &mut MetricResult) {
        result.classification = Classification::Pass;
        result.reason = self.reasons.join("; ");
    }
}

/// The name of a test in a reason line.
fn test_name(test: &TestResult) -> String {
    match test.test {
        TestKindResult::Shift => "shift test".into(),
        TestKindResult::Spread => "spread test".into(),
        TestKindResult::Rate => "rate test".into(),
        TestKindResult::Threshold => "threshold".into(),
        TestKindResult::Sustained => match &test.sustained {
            Some(rule) => format!("sustained rule `{}`", rule.rule),
            None => "sustained rule".into(),
        },
    }
}

/// Checks that the metric's tests (none of which failed) are positive evidence of health: every
/// gating test ran on valid data (a statistical test has its Holm-adjusted p-value, and the
/// shift and rate tests their interval; a threshold compared finite numbers; a sustained rule had
/// enough comparable points), and at least one did. Otherwise the classification (`error` for a
/// test that could not be computed, `no_data` when there was nothing to test) and why.
pub(crate) fn positive_evidence(tests: &[TestResult]) -> Result<Evidence, (Classification, String)> {
    let mut reasons = Vec::new();
    for test in tests.iter().filter(|t| t.gating) {
        let name = test_name(test);
        let why = if test.outcome == TestOutcome::Skipped {
            Some(if test.reason.is_empty() { "it did not run".to_string() } else { test.reason.clone() })
        } else {
            match test.test {
                TestKindResult::Shift | TestKindResult::Spread | TestKindResult::Rate => {
                    let probability = |p: Option<f64>| p.is_some_and(|p| (0.0..=1.0).contains(&p));
                    let interval = matches!(test.test, TestKindResult::Spread)
                        || test.ci_low.zip(test.ci_high).is_some_and(|(low, high)| low <= high);
                    if !probability(test.p_value) || !probability(test.adjusted_p_value) {
                        Some("its p-value could not be computed".to_string())
                    } else if !interval {
                        Some("its confidence interval could not be computed".to_string())
                    } else {
                        None
                    }
                }
                TestKindResult::Threshold => {
                    let finite = |v: Option<f64>| v.is_some_and(f64::is_finite);
                    (!finite(test.statistic) || !finite(test.threshold))
                        .then(|| format!("it compared no finite numbers ({})", test.reason))
                }
                TestKindResult::Sustained => test
                    .sustained
                    .as_ref()
                    .is_none_or(|s| s.compared == 0 || s.covered_seconds == 0)
                    .then(|| "too few comparable canary/baseline points".to_string()),
            }
        };
        if let Some(why) = why {
            let classification =
                if test.test == TestKindResult::Sustained { Classification::NoData } else { Classification::Error };
            return Err((classification, format!("cannot pass: the {name} gave no evidence: {why}")));
        }
        if test.outcome == TestOutcome::Pass && !test.reason.is_empty() {
            reasons.push(test.reason.clone());
        } else if test.outcome == TestOutcome::Pass {
            reasons.push(format!("the {name} passed"));
        }
    }
    if reasons.is_empty() {
        let skipped: Vec<String> =
            tests.iter().filter(|t| !t.reason.is_empty()).map(|t| format!("{}: {}", test_name(t), t.reason)).collect();
        let detail = if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join("; ")) };
        return Err((Classification::NoData, format!("no test ran, so nothing shows the canary healthy{detail}")));
    }
    Ok(Evidence { reasons })
}
