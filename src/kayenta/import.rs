//! `canary import kayenta`: a Kayenta canary config into analysis YAML.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The written analysis and what could not be imported: (JSON path, why).
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub yaml: String,
    pub unsupported: Vec<(String, String)>,
    /// How many metrics were imported.
    pub metrics: usize,
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "id",
    "configVersion",
    "createdTimestamp",
    "createdTimestampIso",
    "updatedTimestamp",
    "updatedTimestampIso",
    "applications",
    "judge",
    "metrics",
    "templates",
    "classifier",
];
const METRIC_KEYS: &[&str] = &["name", "query", "groups", "analysisConfigurations", "scopeName"];
const PROMETHEUS_KEYS: &[&str] = &[
    "type",
    "serviceType",
    "metricName",
    "resourceType",
    "labelBindings",
    "groupByFields",
    "customInlineTemplate",
    "customFilterTemplate",
];
const DATADOG_KEYS: &[&str] = &["type", "serviceType", "metricName", "customInlineTemplate", "customFilterTemplate"];
const CANARY_KEYS: &[&str] =
    &["direction", "nanStrategy", "critical", "mustHaveData", "muted", "effectSize", "outliers"];

/// YAML scalar: a JSON string is a valid double-quoted YAML string.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

/// Collects what has no equivalent.
struct Findings(Vec<(String, String)>);

impl Findings {
    fn add(&mut self, path: &str, why: impl Into<String>) {
        self.0.push((path.to_string(), why.into()));
    }

    fn unknown_keys(&mut self, object: &Map<String, Value>, known: &[&str], path: &str) {
        for key in object.keys() {
            if !known.contains(&key.as_str()) {
                let hint = if key == "outlierStrategy" { " (Kayenta reads `outliers.strategy`, not this)" } else { "" };
                self.add(&format!("{path}.{key}"), format!("unknown key{hint}"));
            }
        }
    }
}

/// Variables met in templates: name → side-specific or shared.
#[derive(Default)]
struct Variables {
    names: Vec<String>,
}

impl Variables {
    /// Kayenta's `${name}` → `{{ name }}`; same-named query properties are substituted as Kayenta does.
    fn convert(&mut self, template: &str, query: &Map<String, Value>, path: &str, findings: &mut Findings) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                findings.add(path, "an unterminated `${` in the template");
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            match query.get(name).and_then(Value::as_str) {
                Some(value) if name != "scope" && name != "location" => out.push_str(value),
                _ => {
                    let ident: String =
                        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
                    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
                        findings.add(path, format!("the variable `${{{name}}}` has no usable name"));
                    }
                    if !self.names.contains(&ident) {
                        self.names.push(ident.clone());
                    }
                    let _ = write!(out, "{{{{ {ident} }}}}");
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        // A literal `{` right before a placeholder would open a minijinja block: escape it.
        out.replace("{{{ ", "{{ \"{\" }}{{ ")
    }
}

struct Metric {
    name: String,
    group: String,
    query: String,
    breakdown: Vec<String>,
    direction: &'static str,
    critical: bool,
    kayenta: Vec<String>,
}

/// Imports a Kayenta canary config (already parsed) into analysis YAML.
pub fn import_kayenta(config: &Value, file: &Path, pass_score: f64, marginal_score: f64) -> Result<Imported, String> {
    let root = config.as_object().ok_or("the top level must be a JSON object (a Kayenta canary config)")?;
    let mut findings = Findings(Vec::new());
    findings.unknown_keys(root, TOP_KEYS, "$");
    let name = root.get("name").and_then(Value::as_str).unwrap_or("imported-from-kayenta").to_string();
    if let Some(judge) = root.get("judge").and_then(|j| j.get("name")).and_then(Value::as_str)
        && !judge.starts_with("NetflixACAJudge")
    {
        findings.add("$.judge.name", format!("judge `{judge}` is not NetflixACAJudge, the only one reproduced"));
    }
    let templates = root.get("templates").and_then(Value::as_object).cloned().unwrap_or_default();
    let classifier = root.get("classifier").and_then(Value::as_object).cloned().unwrap_or_default();
    findings.unknown_keys(&classifier, &["groupWeights", "scoreThresholds"], "$.classifier");
    let mut weights: BTreeMap<String, f64> = BTreeMap::new();
    let mut weight_order: Vec<String> = Vec::new();
    if let Some(group_weights) = classifier.get("groupWeights").and_then(Value::as_object) {
        for (group, weight) in group_weights {
            match weight.as_f64() {
                Some(w) => {
                    weights.insert(group.clone(), w);
                    weight_order.push(group.clone());
                }
                None => findings.add(&format!("$.classifier.groupWeights.{group}"), "the weight is not a number"),
            }
        }
    }

    let mut variables = Variables::default();
    let mut metrics: Vec<Metric> = Vec::new();
    let mut stores: Vec<&'static str> = Vec::new();
    let mut first_index_of_name: BTreeMap<String, usize> = BTreeMap::new();
    let empty = Vec::new();
    for (index, metric) in root.get("metrics").and_then(Value::as_array).unwrap_or(&empty).iter().enumerate() {
        let path = format!("$.metrics[{index}]");
        let Some(metric) = metric.as_object() else {
            findings.add(&path, "not an object");
            continue;
        };
        findings.unknown_keys(metric, METRIC_KEYS, &path);
        let metric_name = metric.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        if metric_name.is_empty() {
            findings.add(&format!("{path}.name"), "a metric needs a name");
            continue;
        }
        if let Some(first) = first_index_of_name.get(&metric_name) {
            return Err(format!(
                "{path}.name: `{}` is also the name of $.metrics[{first}]: metric names must be unique in an analysis (rename one in the Kayenta config)",
                crate::input::excerpt(&metric_name)
            ));
        }
        first_index_of_name.insert(metric_name.clone(), index);
        let query = metric.get("query").and_then(Value::as_object).cloned().unwrap_or_default();
        let store = query.get("type").or_else(|| query.get("serviceType")).and_then(Value::as_str).unwrap_or("");
        let (query_text, breakdown) = match store {
            "prometheus" => {
                findings.unknown_keys(&query, PROMETHEUS_KEYS, &format!("{path}.query"));
                stores.push("prometheus");
                match prometheus_query(&query, &templates, &path, &mut variables, &mut findings) {
                    Some(found) => found,
                    None => continue,
                }
            }
            "datadog" => {
                findings.unknown_keys(&query, DATADOG_KEYS, &format!("{path}.query"));
                stores.push("datadog");
                match datadog_query(&query, &templates, &path, &mut variables, &mut findings) {
                    Some(text) => (text, Vec::new()),
                    None => continue,
                }
            }
            other => {
                let what = if other.is_empty() {
                    "a metric set without a query type".to_string()
                } else {
                    format!("{other} metric sets")
                };
                findings.add(
                    &format!("{path}.query.type"),
                    format!("{what} have no equivalent (Prometheus and Datadog only)"),
                );
                continue;
            }
        };
        let groups: Vec<String> = metric
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
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
        let canary = metric
            .get("analysisConfigurations")
            .and_then(|a| a.get("canary"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(analysis) = metric.get("analysisConfigurations").and_then(Value::as_object) {
            findings.unknown_keys(analysis, &["canary"], &format!("{path}.analysisConfigurations"));
        }
        let cpath = format!("{path}.analysisConfigurations.canary");
        findings.unknown_keys(&canary, CANARY_KEYS, &cpath);
        let flag = |key: &str, findings: &mut Findings| -> bool {
            match canary.get(key) {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    findings.add(
                        &format!("{cpath}.{key}"),
                        format!("{other} is not a JSON boolean (Kayenta fails the whole judgment on it)"),
                    );
                    false
                }
            }
        };
        let critical = flag("critical", &mut findings);
        let must_have_data = flag("mustHaveData", &mut findings);
        let muted = flag("muted", &mut findings);
        let direction = match canary.get("direction").and_then(Value::as_str) {
            Some("increase") => "increase",
            Some("decrease") => "decrease",
            _ => "either",
        };
        let mut kayenta = Vec::new();
        if canary.get("nanStrategy").and_then(Value::as_str) == Some("replace") {
            kayenta.push("nan_strategy: replace".to_string());
        }
        if must_have_data {
            kayenta.push("must_have_data: true".into());
        }
        if muted {
            kayenta.push("muted: true".into());
        }
        if let Some(effect) = canary.get("effectSize").and_then(Value::as_object) {
            let epath = format!("{cpath}.effectSize");
            findings.unknown_keys(
                effect,
                &["measure", "allowedIncrease", "allowedDecrease", "criticalIncrease", "criticalDecrease"],
                &epath,
            );
            let measure =
                if effect.get("measure").and_then(Value::as_str) == Some("cles") { "cles" } else { "mean_ratio" };
            let mut lines = vec![format!("  measure: {measure}")];
            for (key, yaml) in [
                ("allowedIncrease", "allowed_increase"),
                ("allowedDecrease", "allowed_decrease"),
                ("criticalIncrease", "critical_increase"),
                ("criticalDecrease", "critical_decrease"),
            ] {
                match effect.get(key) {
                    None => {}
                    Some(value) => match value.as_f64() {
                        Some(v) => lines.push(format!("  {yaml}: {}", number(v))),
                        None => findings.add(&format!("{epath}.{key}"), "not a number"),
                    },
                }
            }
            kayenta.push("effect_size:".into());
            kayenta.extend(lines);
        }
        if let Some(outliers) = canary.get("outliers").and_then(Value::as_object) {
            let opath = format!("{cpath}.outliers");
            findings.unknown_keys(outliers, &["strategy", "outlierFactor"], &opath);
            let strategy =
                if outliers.get("strategy").and_then(Value::as_str) == Some("remove") { "remove" } else { "keep" };
            kayenta.push("outliers:".into());
            kayenta.push(format!("  strategy: {strategy}"));
            if let Some(factor) = outliers.get("outlierFactor") {
                match factor.as_f64() {
                    Some(f) if f > 0.0 => kayenta.push(format!("  factor: {}", number(f))),
                    _ => findings.add(&format!("{opath}.outlierFactor"), "not a positive number"),
                }
            }
        }
        metrics.push(Metric { name: metric_name, group, query: query_text, breakdown, direction, critical, kayenta });
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

    // Groups in order of first appearance, weighted as Kayenta's scorer weights them.
    let mut groups: Vec<String> = weight_order.clone();
    for metric in &metrics {
        if !groups.contains(&metric.group) {
            groups.push(metric.group.clone());
        }
    }
    let configured: f64 = weights.values().sum();
    let unweighted = groups.iter().filter(|g| !weights.contains_key(*g)).count();
    let share = if unweighted > 0 { (100.0 - configured) / unweighted as f64 } else { 0.0 };
    let mut group_lines = Vec::new();
    for group in &groups {
        let weight = weights.get(group).copied().unwrap_or(share);
        if weight.is_nan() || weight <= 0.0 {
            findings.add(
                &format!("$.classifier.groupWeights.{group}"),
                format!("weight {} (a group here needs a positive weight)", number(weight)),
            );
            continue;
        }
        group_lines.push((group.clone(), weight));
    }
    let total: f64 = group_lines.iter().map(|g| g.1).sum();
    let scaled_note = (total - 100.0).abs() > 1e-9;

    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Imported by `canary import kayenta` from {} (Kayenta canary config {}).",
        file.display(),
        quote(&name)
    );
    let _ = writeln!(y, "# Kayenta's judge decides (`judgment.judge: kayenta`): the same classifications and score as");
    let _ =
        writeln!(y, "# Kayenta's NetflixACAJudge. Compare with this project's judge by `canary judge --judge both`,");
    let _ = writeln!(y, "# then opt into it with `judge: default`. See docs/migrating-from-kayenta.md.");
    let _ = writeln!(y, "version: 1");
    let _ = writeln!(y, "name: {}", quote(&name));
    if let Some(description) = root.get("description").and_then(Value::as_str) {
        let _ = writeln!(y, "description: {}", quote(description));
    }
    let _ = writeln!(y, "source:\n  kind: {source}");
    if source == "prometheus" {
        let _ = writeln!(y, "  url: http://localhost:9090  # set to your Prometheus (or pass --source-url)");
    }
    let side_names = ["scope", "location"];
    let shared: Vec<&String> = variables.names.iter().filter(|n| !side_names.contains(&n.as_str())).collect();
    if !shared.is_empty() {
        let _ = writeln!(y, "# Kayenta's extendedScopeParams and other template variables: set them (or pass --var).");
        let _ = writeln!(y, "variables:");
        for name in shared {
            let _ = writeln!(y, "  {name}: \"\"");
        }
    }
    let uses = |n: &str| variables.names.iter().any(|v| v == n);
    for (side, scope) in [("baseline", "controlScope"), ("canary", "experimentScope")] {
        if uses("scope") || uses("location") {
            let _ = writeln!(y, "{side}:\n  variables:");
            if uses("scope") {
                let _ = writeln!(y, "    scope: {}  # Kayenta's {scope}", quote(side));
            }
            if uses("location") {
                let _ = writeln!(
                    y,
                    "    location: \"\"  # Kayenta's {}Location",
                    if side == "baseline" { "control" } else { "experiment" }
                );
            }
        }
    }
    let _ = writeln!(y, "window:\n  step: 1m  # Kayenta's default step");
    let _ = writeln!(
        y,
        "judgment:\n  judge: kayenta\n  pass_score: {}\n  marginal_score: {}",
        number(pass_score),
        number(marginal_score)
    );
    if !group_lines.is_empty() {
        if scaled_note {
            let _ =
                writeln!(y, "# Kayenta's weights sum to {} here; the Kayenta judge scales them to 100.", number(total));
        }
        let _ = writeln!(y, "groups:");
        for (group, weight) in &group_lines {
            let _ = writeln!(y, "  - name: {}\n    weight: {}", quote(group), number(*weight));
        }
    }
    let _ = writeln!(y, "metrics:");
    for metric in &metrics {
        let _ = writeln!(y, "  - name: {}", quote(&metric.name));
        if group_lines.iter().any(|g| g.0 == metric.group) {
            let _ = writeln!(y, "    group: {}", quote(&metric.group));
        } else if !group_lines.is_empty() {
            let _ = writeln!(y, "    group: {}", quote(&group_lines[0].0));
        }
        let _ = writeln!(y, "    query: {}", quote(&metric.query));
        let _ = writeln!(y, "    direction: {}", metric.direction);
        if metric.critical {
            let _ = writeln!(y, "    critical: true");
        }
        if !metric.breakdown.is_empty() {
            let labels: Vec<String> = metric.breakdown.iter().map(|l| quote(l)).collect();
            let _ = writeln!(y, "    breakdown: [{}]", labels.join(", "));
        }
        if metric.kayenta.is_empty() {
            let _ = writeln!(y, "    kayenta: {{}}");
        } else {
            let _ = writeln!(y, "    kayenta:");
            for line in &metric.kayenta {
                let _ = writeln!(y, "      {line}");
            }
        }
    }
    Ok(Imported { yaml: y, unsupported: findings.0, metrics: metrics.len() })
}

fn template_of(
    query: &Map<String, Value>,
    templates: &Map<String, Value>,
    path: &str,
    findings: &mut Findings,
) -> Option<Option<String>> {
    if let Some(inline) = query.get("customInlineTemplate").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        return Some(Some(inline.to_string()));
    }
    match query.get("customFilterTemplate").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        None => Some(None),
        Some(name) => match templates.get(name).and_then(Value::as_str) {
            Some(template) => Some(Some(template.to_string())),
            None => {
                findings.add(
                    &format!("{path}.query.customFilterTemplate"),
                    format!("no template `{name}` under $.templates"),
                );
                None
            }
        },
    }
}

/// Kayenta's Prometheus query: a `PromQL:` template verbatim, or `avg(metric{filters}) by (...)`.
fn prometheus_query(
    query: &Map<String, Value>,
    templates: &Map<String, Value>,
    path: &str,
    variables: &mut Variables,
    findings: &mut Findings,
) -> Option<(String, Vec<String>)> {
    let template = template_of(query, templates, path, findings)?;
    let group_by: Vec<String> = query
        .get("groupByFields")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let tpath = format!("{path}.query");
    if let Some(template) = &template {
        let converted = variables.convert(template, query, &tpath, findings);
        if let Some(promql) = converted.trim_start().strip_prefix("PromQL:") {
            return Some((promql.to_string(), group_by));
        }
    }
    let Some(metric_name) = query.get("metricName").and_then(Value::as_str) else {
        findings.add(&format!("{path}.query.metricName"), "no metricName and no `PromQL:` template");
        return None;
    };
    let mut filters: Vec<String> = match &template {
        Some(template) => variables
            .convert(template, query, &tpath, findings)
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        None => match query.get("resourceType").and_then(Value::as_str) {
            Some("gce_instance") => {
                for name in ["scope", "location", "project"] {
                    if !variables.names.iter().any(|n| n == name) {
                        variables.names.push(name.into());
                    }
                }
                vec![
                    "instance=~\"{{ scope }}-.{4}\"".into(),
                    "zone=~\".+/projects/{{ project }}/zones/{{ location }}-.{1}\"".into(),
                ]
            }
            Some("aws_ec2_instance") => {
                for name in ["scope", "location"] {
                    if !variables.names.iter().any(|n| n == name) {
                        variables.names.push(name.into());
                    }
                }
                vec!["asg_groupName=\"{{ scope }}\"".into(), "zone=~\"{{ location }}.{1}\"".into()]
            }
            other => {
                findings.add(
                    &format!("{path}.query.resourceType"),
                    format!(
                        "{}: without a filter template Kayenta needs gce_instance or aws_ec2_instance",
                        other.unwrap_or("absent")
                    ),
                );
                return None;
            }
        },
    };
    for binding in query.get("labelBindings").and_then(Value::as_array).into_iter().flatten() {
        if let Some(binding) = binding.as_str() {
            filters.push(variables.convert(binding, query, &tpath, findings));
        }
    }
    let by = if group_by.is_empty() { String::new() } else { format!(" by ({})", group_by.join(",")) };
    Some((format!("avg({metric_name}{{{}}}){by}", filters.join(",")), group_by))
}

/// Kayenta's Datadog query: the expanded template as the whole query, or `metric{scope}`.
fn datadog_query(
    query: &Map<String, Value>,
    templates: &Map<String, Value>,
    path: &str,
    variables: &mut Variables,
    findings: &mut Findings,
) -> Option<String> {
    let template = template_of(query, templates, path, findings)?;
    let tpath = format!("{path}.query");
    match template {
        Some(template) => Some(variables.convert(&template, query, &tpath, findings)),
        None => {
            let Some(metric_name) = query.get("metricName").and_then(Value::as_str) else {
                findings.add(&format!("{path}.query.metricName"), "no metricName and no template");
                return None;
            };
            if !variables.names.iter().any(|n| n == "scope") {
                variables.names.push("scope".into());
            }
            Some(format!("{metric_name}{{{{ \"{{\" }}}}{{{{ scope }}}}}}"))
        }
    }
}
