//! A Kayenta metric set's query as the analysis's query: Kayenta's Prometheus query (a `PromQL:`
//! template verbatim, or `avg(metric{filters}) by (...)`) and Datadog query (the expanded
//! template, or `metric{scope}`), with Kayenta's `${var}` template variables turned into the
//! analysis's `{{ var }}`.

use super::Findings;
use super::config::{CanaryConfig, Query};
use std::fmt::Write as _;

/// The template variables met in the queries, in order of first use.
#[derive(Default)]
pub(super) struct Variables {
    pub names: Vec<String>,
}

impl Variables {
    /// Whether the variable `name` is used.
    pub fn uses(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Notes the variable `name` as used.
    fn declare(&mut self, name: &str) {
        if !self.uses(name) {
            self.names.push(name.to_string());
        }
    }

    /// Kayenta's `${name}` → `{{ name }}`; same-named query properties are substituted as Kayenta does.
    fn convert(&mut self, template: &str, query: &Query, path: &str, findings: &mut Findings) -> String {
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
            match query.property(name) {
                Some(value) if name != "scope" && name != "location" => out.push_str(value),
                _ => {
                    let ident: String =
                        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
                    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
                        findings.add(path, format!("the variable `${{{name}}}` has no usable name"));
                    }
                    self.declare(&ident);
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

/// The query's template: `customInlineTemplate`, else the template `customFilterTemplate` names
/// (`None` when neither is set); `Err` when the named template does not exist.
fn template_of(
    query: &Query,
    config: &CanaryConfig,
    path: &str,
    findings: &mut Findings,
) -> Result<Option<String>, ()> {
    if let Some(inline) = query.custom_inline_template.as_str().filter(|t| !t.is_empty()) {
        return Ok(Some(inline.to_string()));
    }
    match query.custom_filter_template.as_str().filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(name) => match config.template(name) {
            Some(template) => Ok(Some(template.to_string())),
            None => {
                findings.add(
                    &format!("{path}.query.customFilterTemplate"),
                    format!("no template `{name}` under $.templates"),
                );
                Err(())
            }
        },
    }
}

/// Kayenta's Prometheus query: a `PromQL:` template verbatim, or `avg(metric{filters}) by (...)`;
/// with the labels of `groupByFields`.
pub(super) fn prometheus_query(
    query: &Query,
    config: &CanaryConfig,
    path: &str,
    variables: &mut Variables,
    findings: &mut Findings,
) -> Option<(String, Vec<String>)> {
    let template = template_of(query, config, path, findings).ok()?;
    let group_by = query.group_by_fields.strings();
    let tpath = format!("{path}.query");
    if let Some(template) = &template {
        let converted = variables.convert(template, query, &tpath, findings);
        if let Some(promql) = converted.trim_start().strip_prefix("PromQL:") {
            return Some((promql.to_string(), group_by));
        }
    }
    let Some(metric_name) = query.metric_name.as_str() else {
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
        None => match query.resource_type.as_str() {
            Some("gce_instance") => {
                for name in ["scope", "location", "project"] {
                    variables.declare(name);
                }
                vec![
                    "instance=~\"{{ scope }}-.{4}\"".into(),
                    "zone=~\".+/projects/{{ project }}/zones/{{ location }}-.{1}\"".into(),
                ]
            }
            Some("aws_ec2_instance") => {
                for name in ["scope", "location"] {
                    variables.declare(name);
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
    for binding in query.label_bindings.strings() {
        filters.push(variables.convert(&binding, query, &tpath, findings));
    }
    let by = if group_by.is_empty() { String::new() } else { format!(" by ({})", group_by.join(",")) };
    Some((format!("avg({metric_name}{{{}}}){by}", filters.join(",")), group_by))
}

/// Kayenta's Datadog query: the expanded template as the whole query, or `metric{scope}`.
pub(super) fn datadog_query(
    query: &Query,
    config: &CanaryConfig,
    path: &str,
    variables: &mut Variables,
    findings: &mut Findings,
) -> Option<String> {
    let template = template_of(query, config, path, findings).ok()?;
    let tpath = format!("{path}.query");
    match template {
        Some(template) => Some(variables.convert(&template, query, &tpath, findings)),
        None => {
            let Some(metric_name) = query.metric_name.as_str() else {
                findings.add(&format!("{path}.query.metricName"), "no metricName and no template");
                return None;
            };
            variables.declare("scope");
            Some(format!("{metric_name}{{{{ \"{{\" }}}}{{{{ scope }}}}}}"))
        }
    }
}
