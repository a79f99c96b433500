//! Kayenta's canary config as typed serde structs: the parts `canary import kayenta` reads (the
//! metric sets and their queries per metric store, groups and weights, each metric's
//! `analysisConfigurations.canary`), every other key kept so that it can be listed as having no
//! equivalent. Kayenta's configs are read as forgivingly as Kayenta reads them: a value of the
//! wrong type is a [`Field::Mistyped`], never a failure to read the file.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One key of a Kayenta object: absent, of the type the importer reads, or of another type (a
/// JSON `null` included), kept as it was written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub(crate) enum Field<T> {
    #[serde(skip)]
    #[default]
    Absent,
    Typed(T),
    Mistyped(Value),
}

impl<T> Field<T> {
    /// The value when it has the type read, as Kayenta's loose getters read it.
    pub(crate) fn typed(&self) -> Option<&T> {
        match self {
            Field::Typed(value) => Some(value),
            Field::Absent | Field::Mistyped(_) => None,
        }
    }

    /// Whether the key is written at all (with any value).
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }
}

impl Field<String> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        self.typed().map(String::as_str)
    }
}

impl Field<Vec<Field<String>>> {
    /// The strings of a list, anything else in it skipped.
    pub(crate) fn strings(&self) -> Vec<String> {
        self.typed()
            .map(|items| items.iter().filter_map(|item| item.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

/// The keys of an object that no field of its struct names: (key, value), in key order.
pub(crate) type OtherKeys = BTreeMap<String, Value>;

/// A Kayenta canary config (`CanaryConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct CanaryConfig {
    pub name: Field<String>,
    pub description: Field<String>,
    pub judge: Field<JudgeRef>,
    pub metrics: Field<Vec<Field<MetricSet>>>,
    pub templates: Field<BTreeMap<String, Field<String>>>,
    pub classifier: Field<Classifier>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

impl CanaryConfig {
    /// Keys Kayenta writes that have no bearing on the judgment.
    pub const IGNORED: &[&str] = &[
        "id",
        "configVersion",
        "createdTimestamp",
        "createdTimestampIso",
        "updatedTimestamp",
        "updatedTimestampIso",
        "applications",
    ];

    /// The template named `name` under `templates`, when it is a string.
    pub fn template(&self, name: &str) -> Option<&str> {
        self.templates.typed().and_then(|templates| templates.get(name)).and_then(Field::as_str)
    }
}

/// `judge`: which judge Kayenta runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JudgeRef {
    pub name: Field<String>,
    /// Read as a map only: a `judge` that is not an object names no judge.
    #[serde(flatten)]
    _other: OtherKeys,
}

/// `classifier`: the group weights (score thresholds come with Kayenta's execution request).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Classifier {
    pub group_weights: Field<BTreeMap<String, Field<f64>>>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

impl Classifier {
    pub const IGNORED: &[&str] = &["scoreThresholds"];
}

/// One entry of `metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct MetricSet {
    pub name: Field<String>,
    pub query: Field<Query>,
    pub groups: Field<Vec<Field<String>>>,
    pub analysis_configurations: Field<AnalysisConfigurations>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

impl MetricSet {
    pub const IGNORED: &[&str] = &["scopeName"];
}

/// A metric set's `query`: the keys of Kayenta's Prometheus and Datadog query configs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Query {
    #[serde(rename = "type")]
    pub kind: Field<String>,
    pub service_type: Field<String>,
    pub metric_name: Field<String>,
    pub resource_type: Field<String>,
    pub label_bindings: Field<Vec<Field<String>>>,
    pub group_by_fields: Field<Vec<Field<String>>>,
    pub custom_inline_template: Field<String>,
    pub custom_filter_template: Field<String>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

impl Query {
    /// The metric store: `type`, or `serviceType` when `type` is not written.
    pub fn store(&self) -> &str {
        let kind = if self.kind.is_present() { &self.kind } else { &self.service_type };
        kind.as_str().unwrap_or("")
    }

    /// A string property of the query by its JSON name (Kayenta substitutes same-named query
    /// properties into templates).
    pub fn property(&self, name: &str) -> Option<&str> {
        match name {
            "type" => self.kind.as_str(),
            "serviceType" => self.service_type.as_str(),
            "metricName" => self.metric_name.as_str(),
            "resourceType" => self.resource_type.as_str(),
            "customInlineTemplate" => self.custom_inline_template.as_str(),
            "customFilterTemplate" => self.custom_filter_template.as_str(),
            "labelBindings" | "groupByFields" => None,
            other => self.other.get(other).and_then(Value::as_str),
        }
    }

    /// The keys a Datadog query has no use for, with the keys no field names: in key order.
    pub fn keys_unknown_to_datadog(&self) -> Vec<&str> {
        let prometheus_only = [
            ("resourceType", self.resource_type.is_present()),
            ("labelBindings", self.label_bindings.is_present()),
            ("groupByFields", self.group_by_fields.is_present()),
        ];
        let mut keys: Vec<&str> = prometheus_only.iter().filter(|(_, present)| *present).map(|(key, _)| *key).collect();
        keys.extend(self.other.keys().map(String::as_str));
        keys.sort_unstable();
        keys
    }
}

/// A metric set's `analysisConfigurations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AnalysisConfigurations {
    pub canary: Field<CanaryOptions>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

/// `analysisConfigurations.canary`: what the NetflixACAJudge reads of one metric.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct CanaryOptions {
    pub direction: Field<String>,
    pub nan_strategy: Field<String>,
    pub critical: Field<bool>,
    pub must_have_data: Field<bool>,
    pub muted: Field<bool>,
    pub effect_size: Field<EffectSize>,
    pub outliers: Field<Outliers>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

/// `effectSize`: the measure and the thresholds a High or Low must also reach.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EffectSize {
    pub measure: Field<String>,
    pub allowed_increase: Field<f64>,
    pub allowed_decrease: Field<f64>,
    pub critical_increase: Field<f64>,
    pub critical_decrease: Field<f64>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

impl EffectSize {
    /// The measure as the analysis spells it: `cles`, or `mean_ratio` (Kayenta's default).
    pub fn measure(&self) -> &'static str {
        if self.measure.as_str() == Some("cles") { "cles" } else { "mean_ratio" }
    }
}

/// `outliers`: Tukey-fence removal before the test.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Outliers {
    pub strategy: Field<String>,
    pub outlier_factor: Field<f64>,
    #[serde(flatten)]
    pub other: OtherKeys,
}

impl Outliers {
    /// The strategy as the analysis spells it: `remove`, or `keep` (Kayenta's default).
    pub fn strategy(&self) -> &'static str {
        if self.strategy.as_str() == Some("remove") { "remove" } else { "keep" }
    }
}
