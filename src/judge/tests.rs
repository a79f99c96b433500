//! Rules of the judge, one at a time, on small hand-made series: the shared fixtures here, the
//! tests by topic in `judge/tests/`.

use super::report::{Classification, FindingKind, TestKindResult, TestOutcome};
use super::*;
use crate::model::{Duration, Point, PointTime, QueryRole, Series, Side, Verdict, Window};
use std::collections::BTreeMap;
use std::path::Path;

const START: i64 = 1_700_000_000 - 1_700_000_000 % 60;

fn analysis(metrics: &str, extra: &str) -> Analysis {
    let text = format!("name: test\n{extra}metrics:\n{metrics}");
    Analysis::parse(&text, Path::new("test.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn window(minutes: i64) -> Window {
    Window::between(START, START + minutes * 60, Duration::from_secs(60), Duration::default()).unwrap()
}

fn series(values: &[f64]) -> Vec<Series> {
    vec![Series {
        labels: BTreeMap::new(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, &value)| Point { time: START + 60 * (i as i64 + 1), value })
            .collect(),
    }]
}

fn gauge<'a>(config: &'a crate::config::MetricConfig, baseline: &[f64], canary: &[f64]) -> MetricInput<'a> {
    MetricInput {
        baseline: [(QueryRole::Value, series(baseline))].into(),
        canary: [(QueryRole::Value, series(canary))].into(),
        ..MetricInput::new(config)
    }
}

fn count<'a>(
    config: &'a crate::config::MetricConfig,
    baseline: (&[f64], &[f64]),
    canary: (&[f64], &[f64]),
) -> MetricInput<'a> {
    MetricInput {
        baseline: [(QueryRole::Numerator, series(baseline.0)), (QueryRole::Denominator, series(baseline.1))].into(),
        canary: [(QueryRole::Numerator, series(canary.0)), (QueryRole::Denominator, series(canary.1))].into(),
        ..MetricInput::new(config)
    }
}

fn run(analysis: &Analysis, inputs: &[MetricInput<'_>], minutes: i64) -> JudgmentReport {
    let inputs = inputs.to_vec();
    let context = Context {
        window: window(minutes),
        point_time: PointTime::IntervalEnd,
        alpha: analysis.judgment.alpha,
        declared_drift: analysis.judgment.drift_fraction(),
    };
    let sides = crate::config::template::resolve_sides(analysis, &BTreeMap::new()).unwrap();
    let source = SourceDescription { kind: "synthetic".into(), url: None, replay: None };
    crate::kayenta::judge(Judgment { analysis, inputs, context, sides: &sides, source })
}

/// The first metric of `a`, a count, judged over 30 minutes with 1000 requests a minute a side.
fn judge_errors(a: &Analysis, baseline: &[f64], canary: &[f64]) -> JudgmentReport {
    let requests = vec![1000.0; 30];
    run(a, &[count(&a.metrics[0], (baseline, &requests), (canary, &requests))], 30)
}

/// The first metric of `a`, a gauge, judged over `minutes`.
fn judge_gauge(a: &Analysis, baseline: &[f64], canary: &[f64], minutes: i64) -> JudgmentReport {
    run(a, &[gauge(&a.metrics[0], baseline, canary)], minutes)
}

/// The first metric of `report`, after checking its classification (failures show its reason).
fn classified(report: &JudgmentReport, expected: Classification) -> &report::MetricResult {
    let metric = &report.metrics[0];
    assert_eq!(metric.classification, expected, "{}", metric.reason);
    metric
}

/// A deterministic wiggle in [-1, 1].
fn wiggle(i: usize) -> f64 {
    ((i as f64 * 2.399_963).sin() + (i as f64 * 0.7).cos()) / 2.0
}

/// `n` values around `level`, off it by `amplitude` times the wiggle from `phase` on.
fn wiggled(n: usize, level: f64, amplitude: f64, phase: usize) -> Vec<f64> {
    (0..n).map(|i| level + amplitude * wiggle(i + phase)).collect()
}

/// 30 per-minute counts cycling through `low`, `low + 1`, …, `low + period − 1`.
fn cycling(low: f64, period: usize) -> Vec<f64> {
    (0..30).map(|i| low + (i % period) as f64).collect()
}

const LATENCY: &str = "  - name: latency\n    query: q\n    direction: increase\n    margin: 5%\n";

const ERRORS: &str =
    "  - name: errors\n    numerator: e\n    denominator: r\n    direction: increase\n    margin: 20%\n";

fn other_values() -> Vec<f64> {
    wiggled(30, 100.0, 1.0, 2)
}

/// Counts at arbitrary timestamps: (time offset from START, numerator, denominator).
fn count_at<'a>(
    config: &'a crate::config::MetricConfig,
    baseline: &[(i64, f64, f64)],
    canary: &[(i64, f64, f64)],
) -> MetricInput<'a> {
    let side = |data: &[(i64, f64, f64)]| -> BTreeMap<QueryRole, Vec<Series>> {
        let of = |pick: fn(&(i64, f64, f64)) -> f64| {
            let points = data.iter().map(|p| Point { time: START + p.0, value: pick(p) }).collect();
            vec![Series { labels: BTreeMap::new(), points }]
        };
        [(QueryRole::Numerator, of(|p| p.1)), (QueryRole::Denominator, of(|p| p.2))].into()
    };
    MetricInput { baseline: side(baseline), canary: side(canary), ..MetricInput::new(config) }
}

const RULE: &str = "  - name: errors\n    numerator: e\n    denominator: r\n    direction: increase\n    margin: 50%\n    sustained:\n      - max_ratio: 3\n        for: 5m\n";

/// Baseline 1% errors every 60 s; the canary's points every `spacing` seconds from `offset`, with
/// a burst of 50% errors over minutes 10 to 16.
fn burst(spacing: i64, offset: i64) -> (Vec<quality::Interval>, Vec<quality::Interval>) {
    let baseline = (1..=30).map(|i| (60 * i, 10.0 + (i % 3) as f64, 1000.0)).collect();
    let canary = (1..=(1800 / spacing))
        .map(|i| {
            let t = spacing * i + offset;
            let errors = if (600..960).contains(&t) { 500.0 } else { 10.0 + (i % 4) as f64 };
            (t, errors, 1000.0)
        })
        .collect();
    (baseline, canary)
}

mod counts;
mod dependence;
mod features;
mod gauge;
mod never_passes_without_evidence;
mod run;
mod sustained;
