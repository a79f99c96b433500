//! The judgment report: what `canary judge --format json` prints, what the other renderers show,
//! and the body of the rollback webhook. Its JSON Schema is printed by `canary schema report`.

use crate::config::MetricKind;
use crate::model::{Direction, QueryRole, Side, SourceDescription, Verdict, Window};
use crate::stats::Summary;
use serde::Serialize;
use std::collections::BTreeMap;

mod kayenta;
pub use kayenta::{KayentaGroupScore, KayentaMetricResult, KayentaStats, KayentaVerdict};

/// Version of the report document.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The whole judgment.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct JudgmentReport {
    pub schema_version: u32,
    /// Name of the analysis.
    pub analysis: String,
    pub verdict: Verdict,
    /// Why: the critical metric that failed, the score against its thresholds, or what was missing.
    pub reason: String,
    /// Weighted score 0 to 100 over the judged metrics; null when no metric could be scored.
    pub score: Option<f64>,
    pub pass_score: f64,
    pub marginal_score: f64,
    /// Family-wise false-alarm level of the gating tests (Holm-corrected across all of them).
    pub alpha: f64,
    pub window: Window,
    /// A live run's `--last` (or `window.last`) in seconds: the window ends a minute before the
    /// run. Shown in the headers people read; not part of the JSON report.
    #[serde(skip)]
    #[schemars(skip)]
    pub last_seconds: Option<u64>,
    pub source: SourceDescription,
    pub baseline: SideDescription,
    pub canary: SideDescription,
    pub groups: Vec<GroupResult>,
    pub metrics: Vec<MetricResult>,
    /// The rollback webhook's delivery, when it was called (absent from the webhook's own body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<WebhookOutcome>,
    /// Feature-scoped groups (analyses that declare them): which features failed and what their
    /// actions did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<FeatureResult>,
    /// Which judge decided, when not the default one: `kayenta` (the verdict, score, groups and
    /// classifications are the Kayenta-compatible judge's) or `both` (the default judge's, with
    /// Kayenta's beside them in `kayenta_verdict` and each metric's `kayenta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<crate::config::JudgeChoice>,
    /// The Kayenta-compatible judge's score and verdict (with `judge: kayenta` or `both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kayenta_verdict: Option<KayentaVerdict>,
    /// The cron watchdog's run (`canary judge --state-dir`): what it continued from the last run
    /// and what it fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<WatchdogRun>,
}

/// What a cron watchdog run continued and fetched.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WatchdogRun {
    /// `window` (each run judges its window) or `sequential` (one always-valid sequence carried
    /// across runs).
    pub looks: String,
    /// The start of the sequence (sequential) or of the judged window (RFC 3339).
    pub since: String,
    /// Runs that judged this sequence (or reused fetched points), this one included.
    pub runs: u64,
    /// Whether this run started afresh (a new sequence, or every point fetched again).
    pub new_sequence: bool,
    /// Why what the last run left was not continued (absent on a first run or when continued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_reason: Option<String>,
    /// Queries this run sent to the source (each over the part of its window not already held,
    /// and the last 5 steps held again, for late samples).
    pub fetched_queries: usize,
    /// Points they returned.
    pub fetched_points: usize,
    /// The earliest instant this run asked for (RFC 3339), when it asked for anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_from: Option<String>,
    /// Each metric's always-valid sequence (sequential).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<super::sequential::SequenceResult>,
    /// Whether every metric's sequence rules out a regression beyond its margin: what `canary
    /// watch --promote-early` promotes on (sequential).
    pub promotable: bool,
}

/// One feature-scoped group's judgment and its action's delivery.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FeatureResult {
    pub feature: String,
    pub group: String,
    /// Whether a metric of the group failed: the feature is to be turned off.
    pub failed: bool,
    /// The group's failed metrics.
    pub failed_metrics: Vec<String>,
    /// The action's delivery, when it was called (only for failed features).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<WebhookOutcome>,
}

/// How one side was selected.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SideDescription {
    /// Resolved template variables (selectors).
    pub variables: BTreeMap<String, String>,
    /// For a before/after baseline: how far back its series are taken from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct GroupResult {
    pub name: String,
    pub weight: f64,
    /// 100 × passed / (passed + failed); null when none of its metrics could be scored.
    pub score: Option<f64>,
    pub passed: usize,
    pub failed: usize,
    /// Metrics with no data or errors, not scored.
    pub unscored: usize,
}

/// Per-metric outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Pass,
    /// The canary is worse by being higher.
    FailHigh,
    /// The canary is worse by being lower.
    FailLow,
    /// Too little or no data to judge.
    NoData,
    /// The data cannot be judged as it is (identical sides, unexpected series).
    Error,
}

impl Classification {
    pub fn is_fail(self) -> bool {
        matches!(self, Classification::FailHigh | Classification::FailLow)
    }

    pub fn label(self) -> &'static str {
        match self {
            Classification::Pass => "pass",
            Classification::FailHigh => "fail (high)",
            Classification::FailLow => "fail (low)",
            Classification::NoData => "no data",
            Classification::Error => "error",
        }
    }
}

/// One metric's judgment with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MetricResult {
    pub name: String,
    pub group: String,
    pub kind: MetricKind,
    pub direction: Direction,
    pub critical: bool,
    pub classification: Classification,
    /// The rule that decided, in one line.
    pub reason: String,
    /// Resolved queries per side and role.
    pub queries: BTreeMap<Side, BTreeMap<QueryRole, String>>,
    pub baseline: SideData,
    pub canary: SideData,
    pub tests: Vec<TestResult>,
    /// Data-quality findings (each is also reflected in the classification when it matters).
    pub findings: Vec<Finding>,
    /// The Kayenta-compatible judge's classification (with `judge: kayenta` or `both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kayenta: Option<KayentaMetricResult>,
    /// A passing (or too-little-data) metric with an interval: the largest regression its data
    /// could still hide. Absent for metrics judged only by thresholds or sustained rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_out: Option<RulesOut>,
    /// A metric classified `no_data`: which rule or bar made it inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive: Option<Inconclusive>,
}

/// The largest regression a metric's data could still hide: the bad end of its headline test's
/// interval (the shift test's for gauges, the rate test's for counts), i.e. the smallest effect
/// the data could not have missed at `level`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RulesOut {
    /// The test whose interval it is: `shift` or `rate`.
    pub test: TestKindResult,
    /// `ratio`: canary/baseline rate ratio; `shift`: canary − baseline in the metric's units.
    pub kind: EffectKind,
    /// Directions `increase` and `either`: the data rule out an effect above this.
    pub above: Option<f64>,
    /// Directions `decrease` and `either`: the data rule out an effect below this.
    pub below: Option<f64>,
    /// Shifts only: `above` as a fraction of the baseline median (0.04 = +4%); null when the
    /// median is 0 or unknown.
    pub above_relative: Option<f64>,
    /// Shifts only: `below` as a fraction of the baseline median.
    pub below_relative: Option<f64>,
    /// One-sided confidence of each end: (1 + interval confidence) / 2.
    pub level: f64,
}

/// How an effect is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// canary / baseline.
    Ratio,
    /// canary − baseline, in the metric's units.
    Shift,
}

/// Why a metric is inconclusive (`no_data`), with the bar that decided when one did.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Inconclusive {
    pub rule: InconclusiveRule,
    /// The analysis setting that set the bar: `too_little_data_bar`, `too_little_data_shift`,
    /// `inconclusive_beyond` (the metric's), or `judgment.too_little_data_bar` (the default);
    /// for the `drift` rule, `judgment.drift` when the drift allowed for was declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// The bar in the test's effect units: a ratio for `rate`, a shift in the metric's units for
    /// `shift` (a gauge's ratio bar turned into a shift of the baseline median).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// The end of the interval that reached beyond `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<f64>,
}

impl Inconclusive {
    /// Inconclusive by a rule without a bar (data quality, no evidence).
    pub fn by(rule: InconclusiveRule) -> Inconclusive {
        Inconclusive { rule, setting: None, limit: None, reached: None }
    }
}

/// The rule that made a metric inconclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InconclusiveRule {
    /// The interval reaches beyond the "too little data" bar (`too_little_data_bar`/`_shift`).
    TooLittleDataBar,
    /// The interval reaches beyond `inconclusive_beyond` margins.
    MarginMultiple,
    /// A data-quality rule: no data, no traffic, too few samples, gaps.
    DataQuality,
    /// No test or threshold gave evidence (one was skipped or could not be computed).
    NoEvidence,
    /// The data drift per side: the rate test's interval allowing for drift of the observed size
    /// does not confirm its fail (the data cannot separate a regression from drift).
    Drift,
    /// A rate test did not fail only because the data's dispersion widened its interval, while
    /// its estimate lies beyond the margin in the bad direction (`limit` the margin, `reached` the
    /// estimate): no evidence of health.
    EstimateBeyondMargin,
}

impl MetricResult {
    /// A metric before its judgment: no data, no tests, no evidence, so `no_data`: never a pass
    /// until the evidence says so.
    pub(crate) fn unjudged(name: String, group: String, kind: MetricKind, direction: Direction) -> MetricResult {
        MetricResult {
            name,
            group,
            kind,
            direction,
            critical: false,
            classification: Classification::NoData,
            reason: String::new(),
            queries: BTreeMap::new(),
            baseline: SideData::default(),
            canary: SideData::default(),
            tests: Vec::new(),
            findings: Vec::new(),
            kayenta: None,
            rules_out: None,
            inconclusive: None,
        }
    }

    /// The classification as people read it: `no data` is `inconclusive: drift` when the drift
    /// rule left a failed rate test open (plenty of data, which cannot separate a regression from
    /// drift), `inconclusive: estimate beyond margin` when a dispersion-widened rate test's estimate
    /// lies beyond its margin, and `too little data` when both sides have data (judged points, and for a count
    /// some exposure), only not enough of it (the JSON keeps `no_data`).
    pub fn label(&self) -> &'static str {
        let has_data =
            |side: &SideData| side.samples > 0 && side.totals.as_ref().is_none_or(|totals| totals.denominator > 0.0);
        let rule = self.inconclusive.as_ref().map(|i| i.rule);
        match self.classification {
            Classification::NoData if rule == Some(InconclusiveRule::Drift) => "inconclusive: drift",
            Classification::NoData if rule == Some(InconclusiveRule::EstimateBeyondMargin) => {
                "inconclusive: estimate beyond margin"
            }
            Classification::NoData if has_data(&self.baseline) && has_data(&self.canary) => "too little data",
            classification => classification.label(),
        }
    }

    pub fn side(&self, side: Side) -> &SideData {
        match side {
            Side::Baseline => &self.baseline,
            Side::Canary => &self.canary,
        }
    }

    pub fn side_mut(&mut self, side: Side) -> &mut SideData {
        match side {
            Side::Baseline => &mut self.baseline,
            Side::Canary => &mut self.canary,
        }
    }
}

/// What was judged on one side.
#[derive(Debug, Clone, PartialEq, Default, Serialize, schemars::JsonSchema)]
pub struct SideData {
    /// Points judged (after warm-up, cleaning and, for overlapping windows, blocking).
    pub samples: usize,
    /// Statistics of the judged values (gauges: the series; counts: the per-interval rates).
    pub summary: Option<Summary>,
    /// Count metrics: window totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Totals {
    pub numerator: f64,
    pub denominator: f64,
    /// numerator / denominator (null without exposure).
    pub rate: Option<f64>,
}

/// Which test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestKindResult {
    /// Mann-Whitney U with the Hodges-Lehmann shift (gauges).
    Shift,
    /// Mann-Whitney U on absolute deviations from each side's median (gauges).
    Spread,
    /// Conditional binomial test of the rate ratio, widened for overdispersion (counts).
    Rate,
    /// An absolute or relative threshold.
    Threshold,
    /// A sustained-breach rule: a bound breached over a continuous stretch of at least `for`.
    Sustained,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    Pass,
    Fail,
    /// Not run (no data, or an earlier data-quality error).
    Skipped,
}

/// One test's evidence.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TestResult {
    pub test: TestKindResult,
    /// Whether it can fail the metric (statistical tests are part of the Holm family).
    pub gating: bool,
    /// The test statistic (U of the canary; canary events; the canary's statistic for thresholds).
    pub statistic: Option<f64>,
    /// One-sided p-value in the bad direction (two one-sided tests for `either`), against the margin.
    pub p_value: Option<f64>,
    /// Holm-adjusted p-value; the test fails when it is at most `alpha`.
    pub adjusted_p_value: Option<f64>,
    /// Effect: shift canary − baseline (shift), spread ratio (spread), rate ratio (rate).
    pub estimate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Confidence of the interval.
    pub confidence: Option<f64>,
    /// The margin in the effect's units (shift: metric units; rate and spread: the null ratio).
    pub margin: Option<f64>,
    /// Threshold bound (thresholds only).
    pub threshold: Option<f64>,
    pub outcome: TestOutcome,
    /// One line a person reads.
    pub reason: String,
    /// Sustained-breach rules only: the rule and the stretch that fired (or the longest breach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustained: Option<SustainedEvidence>,
    /// Present when serial dependence or overdispersion reduced the evidence: the effective
    /// number of independent values (shift: both sides' points divided by their autocorrelation
    /// inflation) or events (rate: both sides' events divided by the long-run dispersion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_samples: Option<f64>,
    /// Rate tests on data that show dispersion, or under a declared `judgment.drift`: the
    /// interval under the judge's per-side drift model, which decides the `drift` rule (a fail it
    /// does not confirm is inconclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftEvidence>,
    /// Rate tests widened by dispersion: the interval of the exact binomial test (no dispersion)
    /// at 80% confidence, which decides the `estimate_beyond_margin` rule. Not in the
    /// JSON (the rule's reason states it).
    #[serde(skip)]
    #[schemars(skip)]
    pub unwidened: Option<(f64, f64)>,
}

/// A rate test's interval allowing for per-side drift of the size the data show, or the
/// analysis declares (`judgment.drift`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DriftEvidence {
    /// The per-side drift allowed for: relative standard deviation of each side's rate.
    pub drift: f64,
    /// The rate ratio's interval at the test's confidence under that drift.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Whether the drift is the analysis's `judgment.drift` rather than read from the batches.
    /// Not in the JSON (the `drift` rule's reason and setting say so).
    #[serde(skip)]
    #[schemars(skip)]
    pub declared: bool,
}

impl TestResult {
    /// A gating test that has not been decided yet: every figure empty, outcome pass.
    pub fn new(test: TestKindResult) -> TestResult {
        TestResult {
            test,
            gating: true,
            statistic: None,
            p_value: None,
            adjusted_p_value: None,
            estimate: None,
            ci_low: None,
            ci_high: None,
            confidence: None,
            margin: None,
            threshold: None,
            outcome: TestOutcome::Pass,
            reason: String::new(),
            sustained: None,
            effective_samples: None,
            drift: None,
            unwidened: None,
        }
    }
}

/// The evidence of a sustained-breach rule. For these tests `statistic` is the reported
/// stretch's duration in seconds and `threshold` the required duration (`for`) in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SustainedEvidence {
    /// The rule as written: `max 0.01 for 5m`.
    pub rule: String,
    pub bound: crate::model::Bound,
    pub for_seconds: u64,
    /// Whether a stretch lasted at least `for_seconds`.
    pub fired: bool,
    /// The first stretch that fired; when none did, the longest breach; absent when no point breached.
    pub stretch: Option<crate::judge::sustained::Stretch>,
    /// The breach still running at the last judged point: what the watchdog carries to its next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing: Option<crate::judge::sustained::Stretch>,
    /// Canary points the rule could judge (finite, with a limit; for relative rules, with a
    /// baseline point within half a step).
    pub compared: usize,
    /// The longest run of consecutive comparable points, in seconds: shorter than `for_seconds`
    /// (or than the judged window, when that is shorter), the rule could never have fired, and the
    /// metric cannot pass.
    pub covered_seconds: u64,
    /// The spacing of the canary's points the rule was judged at, in seconds (the window's step
    /// unless the points have another spacing).
    pub spacing_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Fewer samples than the metric's minimum.
    TooFewSamples,
    /// No traffic (zero exposure) or no series on one side.
    NoTraffic,
    /// The cron watchdog started a new always-valid sequence at this run (see `watchdog`): the
    /// analysis, the step or the window's start changed, runs stopped for too long, or the stored
    /// sequence could not be used.
    NewSequence,
    /// Baseline and canary series are identical: the selectors likely match the same pods.
    IdenticalSeries,
    /// NaN or infinite values were dropped.
    NonFiniteValues,
    /// The last bucket extends past the window and was dropped.
    PartialBucket,
    /// Points overlap (step finer than the range window) and were thinned to non-overlapping ones.
    OverlappingWindows,
    /// Counts vary more than Poisson noise; the rate test was widened accordingly.
    Overdispersion,
    /// More series than expected, or numerator and denominator points that do not line up.
    UnexpectedSeries,
    /// No significant regression, but the interval is too wide: it reaches beyond the
    /// too-little-data bar or `inconclusive_beyond` margins (see `metrics[].inconclusive`).
    Imprecise,
    /// Counts that are negative or not finite: no count at all.
    InvalidCounts,
    /// No test or threshold produced evidence (one was skipped, or its p-value or interval could
    /// not be computed), or a sustained rule found no comparable points: the metric cannot pass.
    NoEvidence,
    /// A side's series start or stop inside the judged window (a crash loop, a late start).
    Gap,
    /// The points are not spaced by the window's step.
    StepMismatch,
    /// The canary's traffic (a count's denominator above 0, a gauge's first point) starts well
    /// inside the judged window while the baseline's starts with it: a warning, not a verdict.
    LateTraffic,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub kind: FindingKind,
    /// The side concerned, if one.
    pub side: Option<Side>,
    pub message: String,
}

/// What happened to the rollback webhook's delivery.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WebhookOutcome {
    pub url: String,
    pub idempotency_key: String,
    /// Whether the receiver answered 2xx.
    pub delivered: bool,
    pub dry_run: bool,
    /// The final HTTP status, if the receiver answered.
    pub status: Option<u16>,
    /// Why it was not delivered.
    pub error: Option<String>,
    /// Whether the request carried an HMAC signature.
    pub signed: bool,
}
