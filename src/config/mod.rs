//! Analysis files: what to query for baseline and canary, over which window, and how to judge
//! each metric. Parsing is strict (unknown keys, wrong types and bad durations are errors naming
//! file, line, column and field, with the near miss suggested); [`Analysis::validate`] checks the
//! rules that span fields. No I/O beyond reading the file.

mod error;
pub mod template;
pub mod window;

// re-export for the merge; removed after
pub use crate::model::{Duration, QueryRole};
pub use error::ConfigError;

use crate::model::{Direction, Margin};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

/// A parsed analysis file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Format version of the analysis file; only 1 exists.
    #[serde(default = "version_one")]
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<SourceConfig>,
    /// Template variables shared by both sides (overridden by `--var`).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Variables meant to carry a query fragment (`--var filter='job="api"'`): their `--var`
    /// values are pasted as given, unchecked. Every other `--var` value must be a plain label
    /// value (see [`template::check_overrides`]).
    #[serde(default)]
    pub fragment_variables: Vec<String>,
    #[serde(default)]
    pub baseline: SideConfig,
    #[serde(default)]
    pub canary: SideConfig,
    #[serde(default)]
    pub window: WindowConfig,
    #[serde(default)]
    pub judgment: JudgmentConfig,
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    pub metrics: Vec<MetricConfig>,
    /// The rollback webhook called on a fail verdict.
    #[serde(default)]
    pub rollback: Option<RollbackConfig>,
}

/// The rollback webhook. The signing secret is read from an environment variable or a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackConfig {
    pub url: String,
    /// Environment variable holding the HMAC secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the HMAC secret.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Also call it when the verdict is inconclusive.
    #[serde(default)]
    pub on_inconclusive: bool,
    /// Time limit of one delivery attempt.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Duration,
    /// Retries on 5xx, 429 and connection errors.
    #[serde(default = "default_webhook_retries")]
    pub retries: u32,
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_webhook_retries() -> u32 {
    3
}

fn version_one() -> u32 {
    1
}

/// Where the metrics live. Credentials are given only by the name of an environment variable or
/// a file, never inline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Base URL of the API (Prometheus: `http://prometheus:9090`; Datadog: overrides `site`).
    #[serde(default)]
    pub url: Option<String>,
    /// Environment variable holding a bearer token (Prometheus).
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding a bearer token (Prometheus).
    #[serde(default)]
    pub token_file: Option<String>,
    /// User name for basic auth (Grafana Cloud: the instance ID); the password comes from
    /// `basic_auth_password_env` or `basic_auth_password_file`.
    #[serde(default)]
    pub basic_auth_user: Option<String>,
    #[serde(default)]
    pub basic_auth_password_env: Option<String>,
    #[serde(default)]
    pub basic_auth_password_file: Option<String>,
    /// PEM file of an extra certificate authority to trust (private CAs).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Extra request headers, e.g. `X-Scope-OrgID` for Mimir and Cortex (not for secrets).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Datadog site: datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ddog-gov.com.
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub app_key_env: Option<String>,
    #[serde(default)]
    pub api_key_file: Option<String>,
    #[serde(default)]
    pub app_key_file: Option<String>,
    /// Datadog metrics API: `v2` (`POST /api/v2/query/timeseries`, the default) or `v1`
    /// (`GET /api/v1/query`).
    #[serde(default)]
    pub api: Option<DatadogApi>,
}

/// Which Datadog metrics query API to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatadogApi {
    V1,
    #[default]
    V2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Prometheus,
    Datadog,
}

/// Template variables of one side; for the baseline, optionally the canary's own series shifted
/// back in time (`offset`: compare to before the deploy).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideConfig {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub offset: Option<Duration>,
}

/// The default window; `--last`, `--start`/`--end`, `--step` and `--warmup` override it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    #[serde(default = "default_last")]
    pub last: Duration,
    #[serde(default = "default_step")]
    pub step: Duration,
    #[serde(default)]
    pub warmup: Duration,
}

fn default_last() -> Duration {
    Duration::from_secs(1800)
}

fn default_step() -> Duration {
    Duration::from_secs(60)
}

impl Default for WindowConfig {
    fn default() -> WindowConfig {
        WindowConfig { last: default_last(), step: default_step(), warmup: Duration::default() }
    }
}

/// How the metrics roll up into one verdict.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgmentConfig {
    /// Family-wise false-alarm level across all gating tests (Holm-corrected).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Score (0 to 100) at or above which the canary passes.
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// Score at or above which a canary below `pass_score` is inconclusive (marginal) rather than failed.
    #[serde(default = "default_marginal_score")]
    pub marginal_score: f64,
    /// Which judge decides: `default`, `kayenta` (the Kayenta-compatible NetflixACAJudge) or
    /// `both` (both are reported; the default judge decides the verdict and exit code).
    #[serde(default)]
    pub judge: JudgeChoice,
    /// Under the Kayenta-compatible judge, a metric whose query returned several series (an
    /// `Error` that Kayenta leaves out of its score, so a regression there can pass):
    /// `inconclusive` (the default) keeps such a run from passing; `ignore` is Kayenta's behaviour.
    #[serde(default)]
    pub kayenta_multiple_series: KayentaMultipleSeries,
}

/// What a metric with several series does to the Kayenta-compatible judge's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaMultipleSeries {
    /// A run that would pass is inconclusive instead, naming the metric.
    #[default]
    Inconclusive,
    /// Kayenta's behaviour: the metric is an `Error` left out of the score.
    Ignore,
}

/// Which judge decides a judgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JudgeChoice {
    /// This project's judge.
    #[default]
    Default,
    /// The Kayenta-compatible judge (Spinnaker's NetflixACAJudge): its classifications and verdict.
    Kayenta,
    /// Both: the default judge's verdict, with Kayenta's classifications and verdict beside it.
    Both,
}

/// Settings only the Kayenta-compatible judge reads (`judgment.judge: kayenta` or `both`), named
/// after Kayenta's `analysisConfigurations.canary` keys. Direction, `critical` and the group come
/// from the metric itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KayentaMetricConfig {
    /// `remove` (Kayenta's default) drops NaN points; `replace` turns them into 0.
    #[serde(default)]
    pub nan_strategy: KayentaNanStrategy,
    /// With `nan_strategy: remove` and a non-critical metric, a side without data fails the metric
    /// (Kayenta's `NodataFailMetric`) instead of being `Nodata`.
    #[serde(default)]
    pub must_have_data: bool,
    /// Reported, but left out of Kayenta's score.
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub effect_size: Option<KayentaEffectSize>,
    #[serde(default)]
    pub outliers: Option<KayentaOutliers>,
    /// Fraction of |estimate| the interval must clear (Kayenta's fixed 0.25).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Confidence of the Mann-Whitney interval (Kayenta's fixed 0.98).
    #[serde(default)]
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaNanStrategy {
    #[default]
    Remove,
    Replace,
}

/// Kayenta's `effectSize`: thresholds on the mean ratio (multipliers, default 1.0) or on CLES
/// (probabilities, default 0.5) that a High or Low must also reach.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KayentaEffectSize {
    #[serde(default)]
    pub measure: KayentaEffectMeasure,
    #[serde(default)]
    pub allowed_increase: Option<f64>,
    #[serde(default)]
    pub allowed_decrease: Option<f64>,
    /// Critical metrics: a High is critical only at or above this.
    #[serde(default)]
    pub critical_increase: Option<f64>,
    #[serde(default)]
    pub critical_decrease: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KayentaEffectMeasure {
    #[default]
    MeanRatio,
    Cles,
}

/// Kayenta's `outliers`: Tukey-fence removal (widened by P1/P99) before the test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KayentaOutliers {
    pub strategy: KayentaOutlierStrategy,
    /// The IQR multiplier (`outlierFactor`).
    #[serde(default = "default_outlier_factor")]
    pub factor: f64,
}

fn default_outlier_factor() -> f64 {
    3.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KayentaOutlierStrategy {
    Keep,
    Remove,
}

fn default_alpha() -> f64 {
    0.01
}

fn default_pass_score() -> f64 {
    95.0
}

fn default_marginal_score() -> f64 {
    75.0
}

impl Default for JudgmentConfig {
    fn default() -> JudgmentConfig {
        JudgmentConfig {
            alpha: default_alpha(),
            pass_score: default_pass_score(),
            marginal_score: default_marginal_score(),
            judge: JudgeChoice::default(),
            kayenta_multiple_series: KayentaMultipleSeries::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub name: Spanned<String>,
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default)]
    pub description: Option<String>,
    /// The feature (flag) this group measures. When only feature-scoped groups fail and their
    /// actions succeed, the features are turned off instead of rolling the deployment back.
    #[serde(default)]
    pub feature: Option<String>,
    /// The call that turns the feature off (required with `feature`).
    #[serde(default)]
    pub action: Option<ActionConfig>,
}

/// A feature's action: an HTTP request with a templated URL, header values and JSON body (the
/// flag service's "turn this flag off" call), signed and idempotent like the rollback webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Template of the URL; must render to an http:// or https:// URL.
    pub url: String,
    #[serde(default)]
    pub method: ActionMethod,
    /// Header values are templates. No credentials here: use `secret_headers`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Header name → environment variable holding the header's whole value (e.g. an API token).
    #[serde(default)]
    pub secret_headers: BTreeMap<String, String>,
    /// JSON body; every string in it is a template. Without it, no body is sent.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Environment variable holding the HMAC secret that signs the request.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the HMAC secret.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Time limit of one attempt.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Duration,
    /// Retries on 5xx, 429 and connection errors.
    #[serde(default = "default_webhook_retries")]
    pub retries: u32,
}

/// The HTTP method of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ActionMethod {
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

impl ActionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionMethod::Post => "POST",
            ActionMethod::Put => "PUT",
            ActionMethod::Patch => "PATCH",
            ActionMethod::Delete => "DELETE",
        }
    }
}

fn default_weight() -> f64 {
    1.0
}

/// One metric: a gauge (one query, e.g. p99 latency) or a count (numerator and denominator
/// queries, e.g. errors of requests), and how to judge it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Group for scoring; metrics without one form the group `default`.
    #[serde(default)]
    pub group: Option<String>,
    /// Gauge metrics: the query.
    #[serde(default)]
    pub query: Option<String>,
    /// Count metrics: the events query (errors, checkouts).
    #[serde(default)]
    pub numerator: Option<String>,
    /// Count metrics: the exposure query (requests, sessions).
    #[serde(default)]
    pub denominator: Option<String>,
    /// Which change is bad.
    pub direction: Direction,
    /// Practical margin a change must exceed to fail: `20` (units) or `5%` (of the baseline
    /// median for gauges; of the rate for counts, which take only relative margins).
    #[serde(default)]
    pub margin: Option<Margin>,
    /// Statistical tests: `shift` (Mann-Whitney with Hodges-Lehmann) and `spread` for gauges,
    /// `rate` for counts. Default: `[shift]` for gauges, `[rate]` for counts.
    #[serde(default)]
    pub tests: Option<Vec<TestKind>>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdConfig>,
    /// Sustained-breach rules: a bound on the canary's per-point values that fails the metric
    /// when breached over a continuous stretch of at least `for` (see `judge::sustained`).
    #[serde(default)]
    pub sustained: Vec<SustainedConfig>,
    /// A failure of a critical metric fails the whole canary.
    #[serde(default)]
    pub critical: bool,
    /// Fewer (non-overlapping) points than this on either side makes the metric "no data".
    #[serde(default)]
    pub min_samples: Option<usize>,
    /// What no data means: `fail`, `inconclusive` (default) or `ignore`.
    #[serde(default)]
    pub no_data: NoDataPolicy,
    /// A metric with no significant regression is "too little data" (not a pass) when its interval
    /// cannot rule out a doubling in the bad direction; with this set (e.g. 3), also when the
    /// interval's bad-direction end lies beyond this many margins. Default 0: off.
    #[serde(default)]
    pub inconclusive_beyond: Option<f64>,
    /// Labels whose values split the metric: the query returns one series per combination (e.g.
    /// `sum by (route) (...)`), and each is judged and reported on its own, all of them in the
    /// multiplicity correction. Without it, more than one series is an error.
    #[serde(default)]
    pub breakdown: Vec<String>,
    /// The range window of `rate()`/`increase()` inside the query. Points closer than this overlap
    /// and are not independent; they are judged in non-overlapping blocks.
    #[serde(default)]
    pub range: Option<Duration>,
    /// Settings of the Kayenta-compatible judge (see `judgment.judge`).
    #[serde(default)]
    pub kayenta: Option<KayentaMetricConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    Shift,
    Spread,
    Rate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NoDataPolicy {
    Fail,
    #[default]
    Inconclusive,
    Ignore,
}

/// A threshold on one statistic of the canary: absolute (`max`, `min`) or relative to the same
/// statistic of the baseline (`max_ratio`: canary ≤ baseline × max_ratio + slack; `min_ratio`:
/// canary ≥ baseline × min_ratio − slack).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    pub statistic: Statistic,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    #[serde(default)]
    pub slack: f64,
}

/// A sustained-breach rule: exactly one bound, on the canary's per-point values (gauges: the
/// values; counts: the per-interval rate), absolute (`max`, `min`) or relative to the baseline's
/// value at the same timestamp (`max_ratio`: breach above baseline × max_ratio + slack;
/// `min_ratio`: below baseline × min_ratio − slack), breached without a break for at least `for`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SustainedConfig {
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max_ratio: Option<f64>,
    #[serde(default)]
    pub min_ratio: Option<f64>,
    /// Relative bounds only: an absolute allowance added to the limit (in the metric's units).
    #[serde(default)]
    pub slack: f64,
    /// How long the breach must last without a break (at least one step).
    #[serde(rename = "for")]
    pub duration: Duration,
}

impl SustainedConfig {
    /// The rule it states (after validation: exactly one bound).
    pub fn rule(&self) -> crate::model::Rule {
        use crate::model::{Bound, Rule};
        let slack = self.slack;
        let bound = match (self.max, self.min, self.max_ratio, self.min_ratio) {
            (Some(v), ..) => Bound::Max(v),
            (_, Some(v), ..) => Bound::Min(v),
            (_, _, Some(ratio), _) => Bound::MaxRatio { ratio, slack },
            (_, _, _, Some(ratio)) => Bound::MinRatio { ratio, slack },
            _ => Bound::Max(f64::INFINITY),
        };
        Rule { bound, for_seconds: self.duration.as_secs() }
    }

    /// `max 0.01 for 5m`, `max_ratio 1.5 (+ slack 2) for 10m`.
    pub fn describe(&self) -> String {
        use crate::model::number::plain;
        let slack = if self.slack != 0.0 { format!(" (slack {})", plain(self.slack)) } else { String::new() };
        let bound = match (self.max, self.min, self.max_ratio, self.min_ratio) {
            (Some(v), ..) => format!("max {}", plain(v)),
            (_, Some(v), ..) => format!("min {}", plain(v)),
            (_, _, Some(r), _) => format!("max_ratio {}{slack}", plain(r)),
            (_, _, _, Some(r)) => format!("min_ratio {}{slack}", plain(r)),
            _ => "no bound".into(),
        };
        format!("{bound} for {}", self.duration)
    }

    fn validate(&self, step: Duration) -> Result<(), String> {
        let bounds = [self.max, self.min, self.max_ratio, self.min_ratio].iter().filter(|b| b.is_some()).count();
        if bounds != 1 {
            return Err(format!(
                "a sustained rule takes exactly one of max, min, max_ratio, min_ratio (found {bounds}); write one rule per bound"
            ));
        }
        for value in [self.max, self.min, self.max_ratio, self.min_ratio, Some(self.slack)].into_iter().flatten() {
            if !value.is_finite() {
                return Err("sustained rule values must be finite numbers".into());
            }
        }
        if self.slack < 0.0 {
            return Err("sustained rule slack must be at least 0".into());
        }
        if self.slack != 0.0 && self.max_ratio.is_none() && self.min_ratio.is_none() {
            return Err("sustained rule slack applies only to max_ratio and min_ratio".into());
        }
        if self.max_ratio.is_some_and(|r| r <= 0.0) || self.min_ratio.is_some_and(|r| r <= 0.0) {
            return Err("sustained rule ratios must be positive".into());
        }
        if self.duration.as_secs() < step.as_secs() {
            return Err(format!(
                "sustained rule `for: {}` is shorter than the window's step {step}: one point lasts one step",
                self.duration
            ));
        }
        Ok(())
    }
}

/// A statistic of one side's data. `rate` (Σ numerator / Σ denominator) and `total`
/// (Σ numerator) apply to count metrics; the others to gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    Mean,
    Min,
    P50,
    P90,
    P99,
    Max,
    Rate,
    Total,
}

/// Gauge or count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Gauge,
    Count,
}

impl MetricConfig {
    pub fn name(&self) -> &str {
        &self.name.value
    }

    pub fn kind(&self) -> MetricKind {
        if self.query.is_some() { MetricKind::Gauge } else { MetricKind::Count }
    }

    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or("default")
    }

    /// The statistical tests to run, defaults applied.
    pub fn tests(&self) -> Vec<TestKind> {
        self.tests.clone().unwrap_or_else(|| match self.kind() {
            MetricKind::Gauge => vec![TestKind::Shift],
            MetricKind::Count => vec![TestKind::Rate],
        })
    }

    /// Minimum number of judged points per side (after blocking), defaults applied.
    pub fn min_samples(&self) -> usize {
        self.min_samples.unwrap_or(match self.kind() {
            MetricKind::Gauge => 10,
            MetricKind::Count => 3,
        })
    }

    /// How many margins the bad-direction end of an interval may reach before a metric without a
    /// significant regression counts as too little data (0: only the built-in "doubling" limit).
    pub fn inconclusive_beyond(&self) -> f64 {
        self.inconclusive_beyond.unwrap_or(0.0)
    }

    /// The query templates by role.
    pub fn queries(&self) -> Vec<(QueryRole, &str)> {
        match (&self.query, &self.numerator, &self.denominator) {
            (Some(query), _, _) => vec![(QueryRole::Value, query.as_str())],
            (None, Some(numerator), Some(denominator)) => {
                vec![(QueryRole::Numerator, numerator.as_str()), (QueryRole::Denominator, denominator.as_str())]
            }
            _ => Vec::new(),
        }
    }
}

impl Analysis {
    /// Reads and validates an analysis file.
    pub fn load(path: &Path) -> Result<Analysis, ConfigError> {
        use crate::input::{MAX_ANALYSIS_BYTES, ReadLimitError, read_text_limited};
        let text = read_text_limited(path, MAX_ANALYSIS_BYTES).map_err(|error| match error {
            ReadLimitError::Io(source) => ConfigError::Unreadable { path: path.to_path_buf(), source },
            other => ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("not an analysis file: {other} (an analysis is a short YAML file)"),
            },
        })?;
        Analysis::parse(&text, path)
    }

    /// Parses and validates analysis text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Analysis, ConfigError> {
        let analysis: Analysis =
            serde_saphyr::from_str(text).map_err(|error| ConfigError::from_yaml(&error, text, path))?;
        analysis.validate(text, path)?;
        Ok(analysis)
    }

    /// Cross-field rules: one shape per metric, tests that fit it, unique names, known groups.
    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let at = |name: &Spanned<String>, message: String| {
            ConfigError::at(path, text, name.referenced.line() as usize, name.referenced.column() as usize, message)
        };
        let top = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        if self.version != 1 {
            return Err(top(format!("version {} is not supported (expected 1)", self.version)));
        }
        if self.metrics.is_empty() {
            return Err(top("`metrics` is empty: an analysis needs at least one metric".into()));
        }
        let judgment = &self.judgment;
        if !(judgment.alpha > 0.0 && judgment.alpha < 0.5) {
            return Err(top(format!("judgment.alpha must lie between 0 and 0.5, got {}", judgment.alpha)));
        }
        if !(0.0..=100.0).contains(&judgment.marginal_score)
            || !(0.0..=100.0).contains(&judgment.pass_score)
            || judgment.marginal_score > judgment.pass_score
        {
            return Err(top(format!(
                "judgment scores must satisfy 0 ≤ marginal_score ≤ pass_score ≤ 100, got marginal {} and pass {}",
                judgment.marginal_score, judgment.pass_score
            )));
        }
        if self.canary.offset.is_some() {
            return Err(top("canary.offset is not allowed: only the baseline can be shifted back in time".into()));
        }
        if self.window.step.is_zero() {
            return Err(top("window.step must be longer than 0s".into()));
        }
        // The same check `judge` applies to the window it builds, so that `validate` agrees.
        window::check_lengths(self.window.last.as_secs(), self.window.step, self.window.warmup).map_err(|message| {
            top(format!(
                "window: {message} (window.last {}, step {}, warm-up {})",
                self.window.last, self.window.step, self.window.warmup
            ))
        })?;
        if let Some(source) = &self.source {
            source.validate().map_err(top)?;
        }
        if let Some(rollback) = &self.rollback {
            if !(rollback.url.starts_with("http://") || rollback.url.starts_with("https://")) {
                // Not quoted: webhook URLs are secrets (Slack-style paths).
                return Err(top("rollback.url must start with http:// or https:// (the value is not shown: webhook \
                                URLs often are secrets)"
                    .into()));
            }
            if rollback.secret_env.is_some() && rollback.secret_file.is_some() {
                return Err(top("rollback: give secret_env or secret_file, not both".into()));
            }
            if rollback.retries > 10 {
                return Err(top("rollback.retries must be at most 10".into()));
            }
        }
        let mut group_names = Vec::new();
        for group in &self.groups {
            if group_names.contains(&group.name.value.as_str()) {
                return Err(at(&group.name, format!("group `{}` is declared twice", group.name.value)));
            }
            if !(group.weight > 0.0 && group.weight.is_finite()) {
                return Err(at(&group.name, format!("group `{}`: weight must be positive", group.name.value)));
            }
            group
                .validate_feature(&self.groups)
                .map_err(|m| at(&group.name, format!("group `{}`: {m}", group.name.value)))?;
            group_names.push(group.name.value.as_str());
        }
        let mut metric_names: Vec<&str> = Vec::new();
        for metric in &self.metrics {
            let name = metric.name();
            let fail = |message: String| at(&metric.name, format!("metric `{name}`: {message}"));
            if metric_names.contains(&name) {
                return Err(fail("another metric has the same name".into()));
            }
            metric_names.push(name);
            match (&metric.query, &metric.numerator, &metric.denominator) {
                (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                (None, None, None) => {
                    return Err(fail(
                        "give either `query` (a gauge) or `numerator` and `denominator` (a count)".into(),
                    ));
                }
                (Some(_), _, _) => {
                    return Err(fail("`query` (a gauge) cannot be combined with `numerator`/`denominator`".into()));
                }
                _ => return Err(fail("a count metric needs both `numerator` and `denominator`".into())),
            }
            let kind = metric.kind();
            for test in metric.tests() {
                let fits = matches!(
                    (kind, test),
                    (MetricKind::Gauge, TestKind::Shift | TestKind::Spread) | (MetricKind::Count, TestKind::Rate)
                );
                if !fits {
                    let allowed = if kind == MetricKind::Gauge { "shift, spread" } else { "rate" };
                    return Err(fail(format!(
                        "test `{}` does not apply to a {} metric (allowed: {allowed})",
                        serde_json::to_value(test).unwrap_or_default().as_str().unwrap_or(""),
                        if kind == MetricKind::Gauge { "gauge" } else { "count" }
                    )));
                }
            }
            if kind == MetricKind::Count && matches!(metric.margin, Some(Margin::Absolute(m)) if m != 0.0) {
                return Err(fail(
                    "count metrics take a relative margin on the rate, such as 10% (use a threshold on `rate` for absolute limits)".into(),
                ));
            }
            for threshold in &metric.thresholds {
                threshold.validate(kind).map_err(&fail)?;
            }
            for rule in &metric.sustained {
                rule.validate(self.window.step).map_err(&fail)?;
            }
            if metric.tests().is_empty() && metric.thresholds.is_empty() && metric.sustained.is_empty() {
                return Err(fail("no tests and no thresholds: nothing would judge this metric".into()));
            }
            if metric.inconclusive_beyond.is_some_and(|f| !(f == 0.0 || (f >= 1.0 && f.is_finite()))) {
                return Err(fail("inconclusive_beyond must be 0 (off) or at least 1".into()));
            }
            if let Some(kayenta) = &metric.kayenta {
                kayenta.validate().map_err(&fail)?;
            }
            if metric.min_samples == Some(0) {
                return Err(fail("min_samples must be at least 1".into()));
            }
            if metric.group.is_none() && !self.groups.is_empty() {
                return Err(fail(format!(
                    "no `group`: when `groups` are declared every metric names one (declared: {})",
                    group_names.join(", ")
                )));
            }
            if let Some(group) = &metric.group
                && !self.groups.is_empty()
                && !group_names.contains(&group.as_str())
            {
                let hint = error::suggestion(group, group_names.iter().copied());
                return Err(fail(format!("group `{group}` is not declared under `groups`{hint}")));
            }
        }
        Ok(())
    }

    /// The weight of a group (declared weight, or 1 when no groups are declared).
    pub fn group_weight(&self, group: &str) -> f64 {
        self.groups.iter().find(|g| g.name.value == group).map_or(1.0, |g| g.weight)
    }
}

impl GroupConfig {
    /// `feature` and `action` come together; feature names are unique; actions are well formed.
    fn validate_feature(&self, groups: &[GroupConfig]) -> Result<(), String> {
        let action = match (&self.feature, &self.action) {
            (None, None) => return Ok(()),
            (Some(_), None) => return Err("`feature` needs an `action` (the call that turns the feature off)".into()),
            (None, Some(_)) => return Err("`action` needs a `feature` (the feature it turns off)".into()),
            (Some(feature), Some(action)) => {
                if feature.trim().is_empty() {
                    return Err("`feature` is empty".into());
                }
                if groups.iter().filter(|g| g.feature.as_ref() == Some(feature)).count() > 1 {
                    return Err(format!("feature `{feature}` is named by more than one group"));
                }
                action
            }
        };
        if action.secret_env.is_some() && action.secret_file.is_some() {
            return Err("action: give secret_env or secret_file, not both".into());
        }
        if action.retries > 10 {
            return Err("action.retries must be at most 10".into());
        }
        for header in action.headers.keys() {
            let lower = header.to_ascii_lowercase();
            if lower == "authorization" || lower.contains("api-key") || lower.contains("token") {
                return Err(format!(
                    "action.headers.{header}: credentials must not be written in the analysis; use secret_headers: {{{header}: ENV_VARIABLE}}"
                ));
            }
            if action.secret_headers.contains_key(header) {
                return Err(format!("action: header `{header}` is in both headers and secret_headers"));
            }
        }
        Ok(())
    }
}

impl SourceConfig {
    fn validate(&self) -> Result<(), String> {
        let datadog_only = [
            ("site", self.site.is_some()),
            ("api_key_env", self.api_key_env.is_some()),
            ("app_key_env", self.app_key_env.is_some()),
            ("api_key_file", self.api_key_file.is_some()),
            ("app_key_file", self.app_key_file.is_some()),
            ("api", self.api.is_some()),
        ];
        let prometheus_only = [
            ("token_env", self.token_env.is_some()),
            ("token_file", self.token_file.is_some()),
            ("basic_auth_user", self.basic_auth_user.is_some()),
            ("basic_auth_password_env", self.basic_auth_password_env.is_some()),
            ("basic_auth_password_file", self.basic_auth_password_file.is_some()),
            ("ca_file", self.ca_file.is_some()),
        ];
        let (misplaced, kind) = match self.kind {
            SourceKind::Prometheus => (datadog_only.iter().find(|(_, set)| *set), "prometheus"),
            SourceKind::Datadog => (prometheus_only.iter().find(|(_, set)| *set), "datadog"),
        };
        if let Some((field, _)) = misplaced {
            return Err(format!("source.{field} does not apply to a {kind} source"));
        }
        if self.api_key_env.is_some() && self.api_key_file.is_some() {
            return Err("source: give the Datadog API key by api_key_env or api_key_file, not both".into());
        }
        if self.app_key_env.is_some() && self.app_key_file.is_some() {
            return Err("source: give the Datadog application key by app_key_env or app_key_file, not both".into());
        }
        let token = self.token_env.is_some() || self.token_file.is_some();
        let basic = self.basic_auth_password_env.is_some() || self.basic_auth_password_file.is_some();
        if token && (basic || self.basic_auth_user.is_some()) {
            return Err("source: use either a bearer token or basic auth, not both".into());
        }
        if basic != self.basic_auth_user.is_some() {
            return Err("source: basic auth needs basic_auth_user and one of basic_auth_password_env or basic_auth_password_file".into());
        }
        for header in self.headers.keys() {
            let lower = header.to_ascii_lowercase();
            if lower == "authorization"
                || lower.contains("api-key")
                || lower.contains("application-key")
                || lower.contains("token")
            {
                let instead = match self.kind {
                    SourceKind::Prometheus => "use token_env or token_file",
                    SourceKind::Datadog => "use api_key_env/api_key_file and app_key_env/app_key_file",
                };
                return Err(format!(
                    "source.headers.{header}: credentials must not be written in the analysis; {instead}"
                ));
            }
        }
        Ok(())
    }
}

impl KayentaMetricConfig {
    fn validate(&self) -> Result<(), String> {
        if self.tolerance.is_some_and(|t| !(t >= 0.0 && t.is_finite())) {
            return Err("kayenta.tolerance must be a number of at least 0".into());
        }
        if self.confidence.is_some_and(|c| !(c > 0.0 && c < 1.0)) {
            return Err("kayenta.confidence must lie between 0 and 1".into());
        }
        if let Some(outliers) = &self.outliers
            && !(outliers.factor > 0.0 && outliers.factor.is_finite())
        {
            return Err("kayenta.outliers.factor must be positive".into());
        }
        if let Some(effect) = &self.effect_size {
            let values =
                [effect.allowed_increase, effect.allowed_decrease, effect.critical_increase, effect.critical_decrease];
            if values.into_iter().flatten().any(|v| !v.is_finite()) {
                return Err("kayenta.effect_size thresholds must be finite numbers".into());
            }
        }
        Ok(())
    }
}

impl ThresholdConfig {
    fn validate(&self, kind: MetricKind) -> Result<(), String> {
        let for_counts = matches!(self.statistic, Statistic::Rate | Statistic::Total);
        if for_counts != (kind == MetricKind::Count) {
            return Err(format!(
                "threshold on `{}` does not apply to a {} metric",
                serde_json::to_value(self.statistic).unwrap_or_default().as_str().unwrap_or(""),
                if kind == MetricKind::Gauge { "gauge" } else { "count" }
            ));
        }
        if self.max.is_none() && self.min.is_none() && self.max_ratio.is_none() && self.min_ratio.is_none() {
            return Err("a threshold needs at least one of max, min, max_ratio, min_ratio".into());
        }
        for value in [self.max, self.min, self.max_ratio, self.min_ratio, Some(self.slack)].into_iter().flatten() {
            if !value.is_finite() {
                return Err("threshold values must be finite numbers".into());
            }
        }
        if self.slack < 0.0 {
            return Err("threshold slack must be at least 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
