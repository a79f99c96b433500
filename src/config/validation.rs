//! The rules that span fields, checked after parsing: one shape per metric, tests and thresholds
//! that fit it, unique names, known groups, sources without misplaced or inline credentials,
//! well-formed actions and sustained rules.

use super::error::suggestion;
use super::{
    Analysis, ConfigError, GroupConfig, KayentaMetricConfig, MetricConfig, MetricKind, SourceConfig, SourceKind,
    SustainedConfig, TestKind, ThresholdConfig,
};
use crate::model::{Duration, Margin, window};
use serde_saphyr::Spanned;
use std::path::Path;

impl Analysis {
    /// Cross-field rules: one shape per metric, tests that fit it, unique names, known groups.
    pub(super) fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
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
        if !(judgment.too_little_data_bar > 1.0 && judgment.too_little_data_bar <= MAX_TOO_LITTLE_DATA_BAR) {
            return Err(top(format!(
                "judgment.too_little_data_bar must be a ratio above 1 and at most {MAX_TOO_LITTLE_DATA_BAR} (e.g. 2.5: \
                 inconclusive when the interval cannot rule out ×2.5), got {}",
                judgment.too_little_data_bar
            )));
        }
        if let Some(drift) = judgment.drift {
            let range = &super::judgment::DRIFT_PERCENT;
            if !matches!(drift, Margin::Percent(p) if range.contains(&p)) {
                return Err(top(format!(
                    "judgment.drift must be a percentage from {}% to {}% (the per-side drift of count \
                     rates the judge allows for, as a relative standard deviation), got `{drift}`",
                    range.start(),
                    range.end()
                )));
            }
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
            check_delivery(
                "rollback",
                rollback.secret_env.as_deref(),
                rollback.secret_file.as_deref(),
                rollback.retries,
            )
            .map_err(top)?;
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
                        serde_name(test),
                        serde_name(kind)
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
            check_too_little_data(metric).map_err(&fail)?;
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
                let hint = suggestion(group, group_names.iter().copied());
                return Err(fail(format!("group `{group}` is not declared under `groups`{hint}")));
            }
        }
        Ok(())
    }
}

/// The largest "too little data" ratio accepted: beyond ×1000 the bar would never decide.
const MAX_TOO_LITTLE_DATA_BAR: f64 = 1000.0;

/// A metric's own "too little data" bar: a ratio above 1, or (gauges) a shift above 0, not both.
fn check_too_little_data(metric: &MetricConfig) -> Result<(), String> {
    if let Some(ratio) = metric.too_little_data_bar
        && !(ratio > 1.0 && ratio <= MAX_TOO_LITTLE_DATA_BAR)
    {
        return Err(format!(
            "too_little_data_bar must be a ratio above 1 and at most {MAX_TOO_LITTLE_DATA_BAR} (e.g. 2.5), got {ratio}"
        ));
    }
    if let Some(shift) = metric.too_little_data_shift {
        if metric.kind() != MetricKind::Gauge {
            return Err("too_little_data_shift applies to gauges only (count metrics take too_little_data_bar, a \
                        ratio of the rate)"
                .into());
        }
        if !(shift > 0.0 && shift.is_finite()) {
            return Err(format!(
                "too_little_data_shift must be a finite shift above 0 in the metric's units, got {shift}"
            ));
        }
        if metric.too_little_data_bar.is_some() {
            return Err("set one of too_little_data_bar (a ratio) and too_little_data_shift (a shift), not both".into());
        }
    }
    Ok(())
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
        check_delivery("action", action.secret_env.as_deref(), action.secret_file.as_deref(), action.retries)?;
        for header in action.headers.keys() {
            if names_a_credential(header, &["api-key", "token"]) {
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
        use SourceKind::{Datadog, Prometheus};
        // The fields of one kind of source, each as (name, kind, whether it is set), in this order.
        macro_rules! kind_fields {
            ($source:ident; $($kind:ident: $($field:ident),+;)+) => {
                [$($((stringify!($field), $kind, $source.$field.is_some())),+),+]
            };
        }
        let specific = kind_fields!(self;
            Datadog: site, api_key_env, app_key_env, api_key_file, app_key_file, api;
            Prometheus: token_env, token_file, basic_auth_user, basic_auth_password_env, basic_auth_password_file, ca_file;
        );
        if let Some((field, ..)) = specific.iter().find(|(_, kind, set)| *set && *kind != self.kind) {
            return Err(format!("source.{field} does not apply to a {} source", serde_name(self.kind)));
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
            if names_a_credential(header, &["api-key", "application-key", "token"]) {
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
        if self.statistic.for_counts() != (kind == MetricKind::Count) {
            return Err(format!("threshold on `{}` does not apply to a {} metric", self.statistic, serde_name(kind)));
        }
        if self.max.is_none() && self.min.is_none() && self.max_ratio.is_none() && self.min_ratio.is_none() {
            return Err("a threshold needs at least one of max, min, max_ratio, min_ratio".into());
        }
        check_bound_numbers("threshold", [self.max, self.min, self.max_ratio, self.min_ratio], self.slack)?;
        Ok(())
    }
}

impl SustainedConfig {
    fn validate(&self, step: Duration) -> Result<(), String> {
        let bounds = [self.max, self.min, self.max_ratio, self.min_ratio].iter().filter(|b| b.is_some()).count();
        if bounds != 1 {
            return Err(format!(
                "a sustained rule takes exactly one of max, min, max_ratio, min_ratio (found {bounds}); write one rule per bound"
            ));
        }
        check_bound_numbers("sustained rule", [self.max, self.min, self.max_ratio, self.min_ratio], self.slack)?;
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

/// A signed delivery (the rollback webhook, a feature's action; `place` names it): its secret
/// comes one way only, and its retries are bounded.
fn check_delivery(
    place: &str,
    secret_env: Option<&str>,
    secret_file: Option<&str>,
    retries: u32,
) -> Result<(), String> {
    if secret_env.is_some() && secret_file.is_some() {
        return Err(format!("{place}: give secret_env or secret_file, not both"));
    }
    if retries > 10 {
        return Err(format!("{place}.retries must be at most 10"));
    }
    Ok(())
}

/// Whether a header name says it carries a credential: `Authorization` (any case), or a name
/// containing one of `fragments` (lower case).
fn names_a_credential(header: &str, fragments: &[&str]) -> bool {
    let lower = header.to_ascii_lowercase();
    lower == "authorization" || fragments.iter().any(|fragment| lower.contains(fragment))
}

/// The numbers of a threshold or sustained rule (`what`): its bounds and slack are finite, and
/// the slack is not negative.
fn check_bound_numbers(what: &str, bounds: [Option<f64>; 4], slack: f64) -> Result<(), String> {
    if bounds.into_iter().flatten().chain([slack]).any(|value| !value.is_finite()) {
        return Err(format!("{what} values must be finite numbers"));
    }
    if slack < 0.0 {
        return Err(format!("{what} slack must be at least 0"));
    }
    Ok(())
}

/// The name a value has in the analysis file (`shift`, `p99`, `gauge`).
fn serde_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).unwrap_or_default().as_str().unwrap_or("").to_owned()
}
