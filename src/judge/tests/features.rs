//! Feature-scoped groups: a feature metric the judge could not judge (no data under the default
//! `no_data: inconclusive`, a query or test error) is no evidence that the feature is healthy, so
//! it keeps a passing deployment from passing, as a deployment metric would.

use super::report::MetricResult;
use super::*;
use crate::config::MetricKind;
use crate::model::Direction;

const CONVERSION: &str =
    "  - name: conversion\n    numerator: c\n    denominator: s\n    direction: decrease\n    margin: 5%\n";
const FEATURE_GROUP: &str =
    "groups:\n  - name: search\n    feature: search\n    action:\n      url: 'http://127.0.0.1:9/off'\n";

fn feature_metric(classification: Classification) -> MetricResult {
    let mut metric =
        MetricResult::unjudged("conversion".into(), "search".into(), MetricKind::Count, Direction::Decrease);
    metric.classification = classification;
    metric.reason = "the query failed".into();
    metric
}

#[test]
fn an_unjudged_feature_metric_never_lets_the_run_pass() {
    let metric = format!("{CONVERSION}    group: search\n");
    let a = analysis(&metric, FEATURE_GROUP);
    for classification in [Classification::NoData, Classification::Error] {
        let (roll_up, features) = super::super::features::roll_up(&a, &[feature_metric(classification)]);
        assert_eq!(roll_up.verdict, Verdict::Inconclusive, "{classification:?}: {}", roll_up.reason);
        assert!(roll_up.reason.contains("conversion"), "{}", roll_up.reason);
        assert!(features.iter().all(|f| !f.failed), "nothing is turned off: {features:?}");
    }
    // `no_data: ignore` leaves a feature metric without data out, as it does a deployment metric.
    let ignored = analysis(&format!("{CONVERSION}    group: search\n    no_data: ignore\n"), FEATURE_GROUP);
    let (roll_up, _) = super::super::features::roll_up(&ignored, &[feature_metric(Classification::NoData)]);
    assert_eq!(roll_up.verdict, Verdict::Pass, "{}", roll_up.reason);
}
