//! `canary import kayenta CONFIG.json`: an analysis file from a Kayenta canary config.
//!
//! Prometheus and Datadog metric sets become gauge metrics (Kayenta judges one series per metric
//! and tag combination; `groupByFields` becomes `breakdown`), `${var}` template variables become
//! analysis variables `{{ var }}` (the scope per side), groups and their weights become `groups`
//! (the weights Kayenta gives unweighted groups written out), and each metric's
//! `analysisConfigurations.canary` becomes its `direction`, `critical` and `kayenta:` block. The
//! analysis selects `judgment.judge: kayenta`. Whatever has no equivalent (other metric stores,
//! unknown keys, badly typed options) is listed with the file and JSON path.
//!
//! The config is read into the typed structs of `config`; `query` converts the queries and
//! their template variables; `yaml` writes the analysis.

mod config;
mod query;
mod yaml;

use config::{CanaryConfig, CanaryOptions, Classifier, Field, MetricSet, OtherKeys, Query};
use query::{Variables, datadog_query, prometheus_query};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use yaml::{Metric, number};

/// The written analysis and what could not be imported: (JSON path, why).
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub yaml: String,
    pub unsupported: Vec<(String, String)>,
    /// How many metrics were imported.
    pub metrics: usize,
}

/// Collects what has no equivalent: (JSON path, why).
struct Findings(Vec<(String, String)>);

impl Findings {
    fn add(&mut self, path: &str, why: impl Into<String>) {
        self.0.push((path.to_string(), why.into()));
    }

    /// Lists `keys` of the object at `path` as unknown.
    fn unknown_keys<'k>(&mut self, keys: impl IntoIterator<Item = &'k str>, path: &str) {
        for key in keys {
            let hint = if key == "outlierStrategy" { " (Kayenta reads `outliers.strategy`, not this)" } else { "" };
            self.add(&format!("{path}.{key}"), format!("unknown key{hint}"));
        }
    }

    /// Lists the keys no field of an object's struct reads, but those in `ignored`, as unknown.
    fn other_keys(&mut self, other: &OtherKeys, ignored: &[&str], path: &str) {
        self.unknown_keys(other.keys().map(String::as_str).filter(|key| !ignored.contains(key)), path);
    }

    /// A JSON boolean option: false when absent; listed (and false) when of another type.
    fn flag(&mut self, field: &Field<bool>, path: &str) -> bool {
        match field {
            Field::Absent => false,
            Field::Typed(value) => *value,
            Field::Mistyped(other) => {
                self.add(path, format!("{other} is not a JSON boolean (Kayenta fails the whole judgment on it)"));
                false
            }
        }
    }
}

/// Imports a Kayenta canary config (already parsed) into analysis YAML.
pub fn import_kayenta(config: &Value, file: &Path, pass_score: f64, marginal_score: f64) -> Result<Imported, String> {
    let config: CanaryConfig = serde_json::from_value(config.clone())
        .ok()
        .filter(|_| config.is_object())
        .ok_or("the top level must be a JSON object (a Kayenta canary config)")?;
    let mut findings = Findings(Vec::new());
    findings.other_keys(&config.other, CanaryConfig::IGNORED, "$");
    let name = config.name.as_str().unwrap_or("imported-from-kayenta");
    if let Some(judge) = config.judge.typed().and_then(|judge| judge.name.as_str())
        && !judge.starts_with("NetflixACAJudge")
    {
        findings.add("$.judge.name", format!("judge `{judge}` is not NetflixACAJudge, the only one reproduced"));
    }
    let weights = read_weights(config.classifier.typed(), &mut findings);

    let mut variables = Variables::default();
    let mut metrics: Vec<Metric> = Vec::new();
    let mut stores: Vec<&'static str> = Vec::new();
    let mut first_index_of_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, metric) in config.metrics.typed().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
        let path = format!("$.metrics[{index}]");
        let Some(metric) = metric.typed() else {
            findings.add(&path, "not an object");
            continue;
        };
        findings.other_keys(&metric.other, MetricSet::IGNORED, &path);
        let metric_name = metric.name.as_str().unwrap_or("");
        if metric_name.is_empty() {
            findings.add(&format!("{path}.name"), "a metric needs a name");
            continue;
        }
        if let Some(first) = first_index_of_name.get(metric_name) {
            return Err(format!(
                "{path}.name: `{}` is also the name of $.metrics[{first}]: metric names must be unique in an analysis (rename one in the Kayenta config)",
                crate::input::excerpt(metric_name)
            ));
        }
        first_index_of_name.insert(metric_name, index);
        let imported = import_metric(metric, &config, &path, &mut variables, &mut stores, &mut findings);
        metrics.extend(imported);
    }
    if metrics.is_empty() {
        findings.add("$.metrics", "no Prometheus or Datadog metric to import");
    }
    stores.sort();
    stores.dedup();
    let source = match stores.as_slice() {
        ["datadog"] => "datadog",
        ["datadog", "prometheus"] => {
            findings.add(
                "$.metrics",
                "Prometheus and Datadog metric sets in one config: an analysis reads one source; split it",
            );
            "prometheus"
        }
        _ => "prometheus",
    };
    let groups = weigh_groups(&weights, &metrics, &mut findings);
    let analysis = yaml::Analysis {
        file,
        name,
        description: config.description.as_str(),
        source,
        variables: &variables,
        pass_score,
        marginal_score,
        groups: &groups,
        metrics: &metrics,
    };
    Ok(Imported { yaml: analysis.to_yaml(), unsupported: findings.0, metrics: metrics.len() })
}

/// `classifier.groupWeights`: the numeric weights, in key order.
fn read_weights(classifier: Option<&Classifier>, findings: &mut Findings) -> Vec<(String, f64)> {
    let Some(classifier) = classifier else {
        return Vec::new();
    };
    findings.other_keys(&classifier.other, Classifier::IGNORED, "$.classifier");
    let mut weights = Vec::new();
    for (group, weight) in classifier.group_weights.typed().into_iter().flatten() {
        match weight.typed() {
            Some(w) => weights.push((group.clone(), *w)),
            None => findings.add(&format!("$.classifier.groupWeights.{group}"), "the weight is not a number"),
        }
    }
    weights
}

/// The groups in order of first appearance (the weighted ones first), weighted as Kayenta's scorer
/// weights them (unweighted groups share what the configured weights leave of 100); a group whose
/// weight is not positive is listed and left out.
fn weigh_groups(weights: &[(String, f64)], metrics: &[Metric], findings: &mut Findings) -> Vec<(String, f64)> {
    let mut groups: Vec<&str> = weights.iter().map(|(group, _)| group.as_str()).collect();
    for metric in metrics {
        if !groups.contains(&metric.group.as_str()) {
            groups.push(&metric.group);
        }
    }
    let weight_of = |group: &str| weights.iter().find(|(g, _)| g == group).map(|(_, w)| *w);
    let configured: f64 = weights.iter().map(|(_, w)| w).sum();
    let unweighted = groups.iter().filter(|g| weight_of(g).is_none()).count();
    let share = if unweighted > 0 { (100.0 - configured) / unweighted as f64 } else { 0.0 };
    let mut weighed = Vec::new();
    for group in groups {
        let weight = weight_of(group).unwrap_or(share);
        if weight.is_nan() || weight <= 0.0 {
            findings.add(
                &format!("$.classifier.groupWeights.{group}"),
                format!("weight {} (a group here needs a positive weight)", number(weight)),
            );
            continue;
        }
        weighed.push((group.to_string(), weight));
    }
    weighed
}

/// One metric set (its name already checked): its query for its store, its group and its
/// options; `None` when it cannot be imported (listed).
fn import_metric(
    metric: &MetricSet,
    config: &CanaryConfig,
    path: &str,
    variables: &mut Variables,
    stores: &mut Vec<&'static str>,
    findings: &mut Findings,
) -> Option<Metric> {
    let no_query = Query::default();
    let query = metric.query.typed().unwrap_or(&no_query);
    let qpath = format!("{path}.query");
    let (query_text, breakdown) = match query.store() {
        "prometheus" => {
            findings.other_keys(&query.other, &[], &qpath);
            stores.push("prometheus");
            prometheus_query(query, config, path, variables, findings)?
        }
        "datadog" => {
            findings.unknown_keys(query.keys_unknown_to_datadog(), &qpath);
            stores.push("datadog");
            (datadog_query(query, config, path, variables, findings)?, Vec::new())
        }
        other => {
            let what = if other.is_empty() {
                "a metric set without a query type".to_string()
            } else {
                format!("{other} metric sets")
            };
            findings.add(&format!("{qpath}.type"), format!("{what} have no equivalent (Prometheus and Datadog only)"));
            return None;
        }
    };
    let groups = metric.groups.strings();
    let group = match groups.as_slice() {
        [] => {
            findings.add(
                &format!("{path}.groups"),
                "no group: Kayenta classifies it but scores it in no group; imported into `ungrouped`",
            );
            "ungrouped".to_string()
        }
        [one] => one.clone(),
        [first, ..] => {
            findings.add(
                &format!("{path}.groups"),
                format!("{} groups: a metric belongs to one group here; imported into `{first}`", groups.len()),
            );
            first.clone()
        }
    };
    let no_options = CanaryOptions::default();
    let analysis_configurations = metric.analysis_configurations.typed();
    let canary = analysis_configurations.and_then(|a| a.canary.typed()).unwrap_or(&no_options);
    if let Some(analysis) = analysis_configurations {
        findings.other_keys(&analysis.other, &[], &format!("{path}.analysisConfigurations"));
    }
    let options = import_options(canary, &format!("{path}.analysisConfigurations.canary"), findings);
    Some(Metric {
        name: metric.name.as_str().unwrap_or_default().to_string(),
        group,
        query: query_text,
        breakdown,
        direction: options.direction,
        critical: options.critical,
        kayenta: options.kayenta,
    })
}

/// What a metric's `analysisConfigurations.canary` becomes.
struct MetricOptions {
    direction: &'static str,
    critical: bool,
    /// The lines of the metric's `kayenta:` block.
    kayenta: Vec<String>,
}

fn import_options(canary: &CanaryOptions, cpath: &str, findings: &mut Findings) -> MetricOptions {
    findings.other_keys(&canary.other, &[], cpath);
    let critical = findings.flag(&canary.critical, &format!("{cpath}.critical"));
    let must_have_data = findings.flag(&canary.must_have_data, &format!("{cpath}.mustHaveData"));
    let muted = findings.flag(&canary.muted, &format!("{cpath}.muted"));
    let direction = match canary.direction.as_str() {
        Some("increase") => "increase",
        Some("decrease") => "decrease",
        _ => "either",
    };
    let mut kayenta = Vec::new();
    if canary.nan_strategy.as_str() == Some("replace") {
        kayenta.push("nan_strategy: replace".to_string());
    }
    if must_have_data {
        kayenta.push("must_have_data: true".into());
    }
    if muted {
        kayenta.push("muted: true".into());
    }
    if let Some(effect) = canary.effect_size.typed() {
        let epath = format!("{cpath}.effectSize");
        findings.other_keys(&effect.other, &[], &epath);
        kayenta.push("effect_size:".into());
        kayenta.push(format!("  measure: {}", effect.measure()));
        for (key, yaml, field) in [
            ("allowedIncrease", "allowed_increase", &effect.allowed_increase),
            ("allowedDecrease", "allowed_decrease", &effect.allowed_decrease),
            ("criticalIncrease", "critical_increase", &effect.critical_increase),
            ("criticalDecrease", "critical_decrease", &effect.critical_decrease),
        ] {
            match field {
                Field::Absent => {}
                Field::Typed(v) => kayenta.push(format!("  {yaml}: {}", number(*v))),
                Field::Mistyped(_) => findings.add(&format!("{epath}.{key}"), "not a number"),
            }
        }
    }
    if let Some(outliers) = canary.outliers.typed() {
        let opath = format!("{cpath}.outliers");
        findings.other_keys(&outliers.other, &[], &opath);
        kayenta.push("outliers:".into());
        kayenta.push(format!("  strategy: {}", outliers.strategy()));
        match outliers.outlier_factor {
            Field::Absent => {}
            Field::Typed(f) if f > 0.0 => kayenta.push(format!("  factor: {}", number(f))),
            _ => findings.add(&format!("{opath}.outlierFactor"), "not a positive number"),
        }
    }
    MetricOptions { direction, critical, kayenta }
}
