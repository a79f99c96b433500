//! A realistic hand-built [`JudgmentReport`] the renderers' tests share: a failed checkout canary
//! with a passing count metric, a critical count metric that failed its rate test, a gauge
//! without enough data, and a gauge that passed its shift test.

use crate::config::MetricKind;
use crate::judge::report::{
    Classification, EffectKind, Finding, FindingKind, GroupResult, Inconclusive, InconclusiveRule, JudgmentReport,
    MetricResult, REPORT_SCHEMA_VERSION, RulesOut, SideData, SideDescription, TestKindResult, TestOutcome, TestResult,
    Totals,
};
use crate::model::{
    Direction, QueryRole, Side, SourceDescription, Verdict,
    window::{Window, parse_timestamp},
};
use crate::stats::Summary;
use std::collections::BTreeMap;

/// The reason of the failing critical metric; it contains `<` so that XML escaping is exercised.
pub const ERROR_RATE_REASON: &str =
    "error rate ×1.64 [×1.31, ×2.05] of the baseline's exceeds the ×1.1 margin (Holm p = 4.8e-5 < 0.01)";

/// The reason of the gauge; it contains `|` so that Markdown table escaping is exercised.
pub const LATENCY_REASON: &str = "|shift| +1.8 ms [-0.6, +4.1] stays within the 20 ms margin";

pub fn failed_checkout() -> JudgmentReport {
    let start = parse_timestamp("2026-11-23T10:00:00Z").expect("a valid timestamp");
    JudgmentReport {
        schema_version: REPORT_SCHEMA_VERSION,
        analysis: "checkout".into(),
        verdict: Verdict::Fail,
        reason: "critical metric error_rate failed".into(),
        score: Some(200.0 / 3.0),
        pass_score: 95.0,
        marginal_score: 75.0,
        alpha: 0.01,
        window: Window { start, end: start + 1800, step_seconds: 30, warmup_seconds: 300 },
        last_seconds: None,
        source: SourceDescription {
            kind: "prometheus".into(),
            url: Some("http://prometheus.monitoring:9090".into()),
            replay: None,
        },
        baseline: side(&[("namespace", "shop"), ("version", "checkout-6d2a")]),
        canary: side(&[("namespace", "shop"), ("version", "checkout-7f9c")]),
        groups: vec![
            group("business", 1, 0, 0),
            group("errors", 0, 1, 0),
            group("latency", 1, 0, 0),
            group("saturation", 0, 0, 1),
        ],
        metrics: vec![conversion(), error_rate(), queue_depth(), latency_p99()],
        rollback: None,
        features: Vec::new(),
        judge: None,
        kayenta_verdict: None,
        watchdog: None,
    }
}

fn side(variables: &[(&str, &str)]) -> SideDescription {
    SideDescription {
        variables: variables.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
        offset_seconds: None,
    }
}

fn group(name: &str, passed: usize, failed: usize, unscored: usize) -> GroupResult {
    let scored = passed + failed;
    GroupResult {
        name: name.into(),
        weight: 25.0,
        score: (scored > 0).then(|| 100.0 * passed as f64 / scored as f64),
        passed,
        failed,
        unscored,
    }
}

fn metric(name: &str, group: &str, kind: MetricKind, direction: Direction) -> MetricResult {
    MetricResult {
        classification: Classification::Pass,
        ..MetricResult::unjudged(name.into(), group.into(), kind, direction)
    }
}

fn count_queries(numerator: &str, denominator: &str) -> BTreeMap<Side, BTreeMap<QueryRole, String>> {
    Side::BOTH
        .into_iter()
        .map(|side| {
            let version = if side == Side::Baseline { "checkout-6d2a" } else { "checkout-7f9c" };
            let query = |metric: &str| format!(r#"sum(increase({metric}{{version="{version}"}}[30s]))"#);
            let roles = [(QueryRole::Numerator, query(numerator)), (QueryRole::Denominator, query(denominator))];
            (side, roles.into_iter().collect())
        })
        .collect()
}

fn gauge_queries(metric: &str) -> BTreeMap<Side, BTreeMap<QueryRole, String>> {
    Side::BOTH
        .into_iter()
        .map(|side| {
            let version = if side == Side::Baseline { "checkout-6d2a" } else { "checkout-7f9c" };
            let query = format!(r#"max({metric}{{version="{version}"}})"#);
            (side, [(QueryRole::Value, query)].into_iter().collect())
        })
        .collect()
}

fn count_side(numerator: f64, denominator: f64, samples: usize) -> SideData {
    let rate = numerator / denominator;
    SideData {
        samples,
        summary: Some(summary(samples, rate, rate * 0.3)),
        totals: Some(Totals { numerator, denominator, rate: Some(rate) }),
    }
}

fn gauge_side(samples: usize, median: f64, spread: f64) -> SideData {
    SideData { samples, summary: Some(summary(samples, median, spread)), totals: None }
}

/// Plausible statistics of a roughly symmetric sample around `median`.
fn summary(count: usize, median: f64, spread: f64) -> Summary {
    Summary {
        count,
        mean: median + 0.1 * spread,
        std: Some(spread),
        min: median - 2.0 * spread,
        p50: median,
        p90: median + 1.3 * spread,
        p99: median + 2.3 * spread,
        max: median + 2.6 * spread,
    }
}

fn rate_test(estimate: f64, ci: (f64, f64), p: f64, adjusted: f64, outcome: TestOutcome, reason: &str) -> TestResult {
    TestResult {
        p_value: Some(p),
        adjusted_p_value: Some(adjusted),
        estimate: Some(estimate),
        ci_low: Some(ci.0),
        ci_high: Some(ci.1),
        confidence: Some(0.99),
        margin: Some(1.1),
        outcome,
        reason: reason.into(),
        ..TestResult::new(TestKindResult::Rate)
    }
}

fn conversion() -> MetricResult {
    let mut test =
        rate_test(0.98, (0.93, 1.04), 0.31, 1.0, TestOutcome::Pass, "conversion ×0.98 is within the ×0.9 margin");
    test.statistic = Some(1212.0);
    test.margin = Some(0.9);
    MetricResult {
        reason: "conversion ×0.98 [×0.93, ×1.04] of the baseline's; no drop beyond the ×0.9 margin".into(),
        queries: count_queries("checkout_completed_total", "checkout_started_total"),
        baseline: count_side(1187.0, 4020.0, 50),
        canary: count_side(1212.0, 4188.0, 50),
        tests: vec![test],
        rules_out: Some(RulesOut {
            test: TestKindResult::Rate,
            kind: EffectKind::Ratio,
            above: None,
            below: Some(0.93),
            above_relative: None,
            below_relative: None,
            level: 0.995,
        }),
        ..metric("checkout_conversion", "business", MetricKind::Count, Direction::Decrease)
    }
}

fn error_rate() -> MetricResult {
    let mut test = rate_test(1.64, (1.31, 2.05), 1.2e-5, 4.8e-5, TestOutcome::Fail, ERROR_RATE_REASON);
    test.statistic = Some(68.0);
    MetricResult {
        critical: true,
        classification: Classification::FailHigh,
        reason: ERROR_RATE_REASON.into(),
        queries: count_queries("http_requests_errors_total", "http_requests_total"),
        baseline: count_side(41.0, 40210.0, 50),
        canary: count_side(68.0, 40785.0, 50),
        tests: vec![test],
        findings: vec![Finding {
            kind: FindingKind::Overdispersion,
            side: None,
            message: "per-interval rates vary 2.4× more than Poisson noise; the rate test was widened".into(),
        }],
        ..metric("error_rate", "errors", MetricKind::Count, Direction::Increase)
    }
}

fn queue_depth() -> MetricResult {
    let skipped = TestResult {
        margin: Some(5.0),
        outcome: TestOutcome::Skipped,
        reason: "not run: too few canary samples".into(),
        ..TestResult::new(TestKindResult::Shift)
    };
    MetricResult {
        classification: Classification::NoData,
        reason: "only 3 canary samples after the warm-up; at least 10 are needed".into(),
        queries: gauge_queries("checkout_queue_depth"),
        baseline: gauge_side(50, 12.0, 3.0),
        canary: gauge_side(3, 14.0, 2.0),
        tests: vec![skipped],
        inconclusive: Some(Inconclusive::by(InconclusiveRule::DataQuality)),
        findings: vec![Finding {
            kind: FindingKind::TooFewSamples,
            side: Some(Side::Canary),
            message: "3 samples after the warm-up, fewer than the 10 required".into(),
        }],
        ..metric("queue_depth", "saturation", MetricKind::Gauge, Direction::Increase)
    }
}

fn latency_p99() -> MetricResult {
    let shift = TestResult {
        statistic: Some(1398.0),
        p_value: Some(0.012),
        adjusted_p_value: Some(0.036),
        estimate: Some(1.8),
        ci_low: Some(-0.6),
        ci_high: Some(4.1),
        confidence: Some(0.99),
        margin: Some(20.0),
        reason: LATENCY_REASON.into(),
        ..TestResult::new(TestKindResult::Shift)
    };
    let spread = TestResult {
        gating: false,
        statistic: Some(1301.0),
        p_value: Some(0.21),
        estimate: Some(1.07),
        ci_low: Some(0.91),
        ci_high: Some(1.26),
        confidence: Some(0.99),
        margin: Some(1.2),
        reason: "spread ×1.07 of the baseline's".into(),
        ..TestResult::new(TestKindResult::Spread)
    };
    MetricResult {
        reason: LATENCY_REASON.into(),
        queries: gauge_queries("checkout_latency_p99_ms"),
        baseline: gauge_side(50, 212.4, 9.5),
        canary: gauge_side(50, 214.1, 10.2),
        tests: vec![shift, spread],
        rules_out: Some(RulesOut {
            test: TestKindResult::Shift,
            kind: EffectKind::Shift,
            above: Some(4.1),
            below: None,
            above_relative: Some(4.1 / 212.4),
            below_relative: None,
            level: 0.995,
        }),
        ..metric("latency_p99", "latency", MetricKind::Gauge, Direction::Increase)
    }
}
