//! Query templates: `{{ name }}` placeholders (minijinja, strict: an undefined variable is an
//! error, never an empty string that would silently widen a selector).
//!
//! Variables, later ones winning: the analysis's `variables`, then `--var key=value`, then the
//! side's own `variables` (themselves templates over the first two); built-ins `side`, `step` and
//! `range`. A baseline with `offset` uses the canary's variables, shifted back in time.

use super::{Analysis, MetricConfig, error::suggestion};
use crate::model::{QueryRole, Side};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A template that could not be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct TemplateError {
    pub place: String,
    pub message: String,
}

/// Resolved variables of both sides.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ResolvedSides {
    pub baseline: BTreeMap<String, String>,
    pub canary: BTreeMap<String, String>,
}

impl ResolvedSides {
    pub fn of(&self, side: Side) -> &BTreeMap<String, String> {
        match side {
            Side::Baseline => &self.baseline,
            Side::Canary => &self.canary,
        }
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Renders `template` with `context`, explaining undefined variables by name.
pub fn render(template: &str, context: &BTreeMap<String, String>, place: &str) -> Result<String, TemplateError> {
    let env = environment();
    let error = |message: String| TemplateError { place: place.to_string(), message };
    let compiled = env.template_from_str(template).map_err(|e| error(format!("invalid template: {e}")))?;
    let mut missing: Vec<String> =
        compiled.undeclared_variables(false).into_iter().filter(|name| !context.contains_key(name)).collect();
    missing.sort();
    if let Some(name) = missing.first() {
        let hint = suggestion(name, context.keys().map(String::as_str));
        let known: Vec<&str> = context.keys().map(String::as_str).collect();
        return Err(error(format!(
            "undefined variable `{name}`{hint} (defined: {}; add it under `variables` or pass --var {name}=VALUE)",
            known.join(", ")
        )));
    }
    compiled.render(context).map_err(|e| error(format!("cannot render: {e}")))
}

/// Longest `--var` value accepted (label values are short; a fragment may be longer).
pub const MAX_VALUE_CHARS: usize = 256;
/// Longest value of a variable listed under `fragment_variables`.
pub const MAX_FRAGMENT_CHARS: usize = 4096;

/// Whether `c` may appear in a `--var` value: letters, digits and `_ . : / -`. None of these can
/// end a PromQL string (`"`, `'`, `` ` ``, `\`), a PromQL selector or a Datadog tag filter
/// (`}`, `,`, `(`, `)`, space), or start a new term.
pub fn is_value_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-')
}

/// Checks one `--var NAME=VALUE` value. A plain variable's value is a non-empty label value of
/// [`is_value_character`]s; a fragment variable (listed under `fragment_variables`) may hold any
/// text without control characters. The one check for every way of passing variables (`--var`
/// today, `canary serve` later).
pub fn check_value(name: &str, value: &str, fragment: bool) -> Result<(), TemplateError> {
    let error = |message: String| TemplateError { place: format!("--var {}", excerpt(name)), message };
    if fragment {
        if value.chars().count() > MAX_FRAGMENT_CHARS || value.chars().any(char::is_control) {
            return Err(error(format!(
                "a query fragment is at most {MAX_FRAGMENT_CHARS} characters, without control characters"
            )));
        }
        return Ok(());
    }
    if value.is_empty() {
        return Err(error(
            "the value is empty: an empty label value would match every series without the label".into(),
        ));
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(error(format!("the value is longer than {MAX_VALUE_CHARS} characters")));
    }
    if let Some(bad) = value.chars().find(|&c| !is_value_character(c)) {
        return Err(error(format!(
            "`{}` contains {}, which could change the query's meaning: a value may hold only letters, digits \
             and _ . : / - (list `{}` under `fragment_variables` in the analysis if it is meant to carry a \
             query fragment)",
            excerpt(value),
            excerpt(&format!("`{}`", bad.escape_default())),
            excerpt(name)
        )));
    }
    Ok(())
}

fn excerpt(text: &str) -> String {
    crate::input::excerpt_of(text, 60)
}

/// Every variable name the analysis's templates use: queries, side variables, feature actions.
pub fn used_variables(analysis: &Analysis) -> BTreeSet<String> {
    let env = environment();
    let mut templates: Vec<&str> = Vec::new();
    for metric in &analysis.metrics {
        templates.extend(metric.queries().into_iter().map(|(_, template)| template));
    }
    for side in [&analysis.baseline, &analysis.canary] {
        templates.extend(side.variables.values().map(String::as_str));
    }
    let mut bodies = Vec::new();
    for action in analysis.groups.iter().filter_map(|group| group.action.as_ref()) {
        templates.push(&action.url);
        templates.extend(action.headers.values().map(String::as_str));
        bodies.extend(action.body.iter());
    }
    fn strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::String(text) => out.push(text),
            serde_json::Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
            serde_json::Value::Object(map) => map.values().for_each(|item| strings(item, out)),
            _ => {}
        }
    }
    for body in bodies {
        strings(body, &mut templates);
    }
    templates
        .into_iter()
        .filter_map(|template| env.template_from_str(template).ok().map(|t| t.undeclared_variables(false)))
        .flatten()
        .collect()
}

/// Checks the `--var` values given for `analysis`: every name is used by some template (a typo
/// such as `canry` would otherwise silently judge the analysis's default selection) and every
/// value passes [`check_value`].
pub fn check_overrides(analysis: &Analysis, overrides: &BTreeMap<String, String>) -> Result<(), TemplateError> {
    let used = used_variables(analysis);
    for (name, value) in overrides {
        if !used.contains(name) {
            let hint = suggestion(name, used.iter().map(String::as_str));
            let listed: Vec<&str> = used.iter().map(String::as_str).collect();
            return Err(TemplateError {
                place: format!("--var {}", excerpt(name)),
                message: format!(
                    "no template of the analysis uses `{}`{hint} (used: {})",
                    excerpt(name),
                    if listed.is_empty() { "none".into() } else { listed.join(", ") }
                ),
            });
        }
        check_value(name, value, analysis.fragment_variables.contains(name))?;
    }
    Ok(())
}

/// Resolves each side's variables from the analysis and the command line's `--var` values,
/// after [`check_overrides`].
pub fn resolve_sides(
    analysis: &Analysis,
    overrides: &BTreeMap<String, String>,
) -> Result<ResolvedSides, TemplateError> {
    check_overrides(analysis, overrides)?;
    let mut shared = analysis.variables.clone();
    shared.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    let resolve = |side: Side, own: &BTreeMap<String, String>, base: &BTreeMap<String, String>| {
        let mut context = shared.clone();
        context.insert("side".into(), side.name().into());
        let mut resolved = base.clone();
        for (key, template) in own {
            let place = format!("{}.variables.{key}", side.name());
            resolved.insert(key.clone(), render(template, &context, &place)?);
        }
        Ok::<_, TemplateError>(resolved)
    };
    let canary = resolve(Side::Canary, &analysis.canary.variables, &BTreeMap::new())?;
    let baseline_base = if analysis.baseline.offset.is_some() { canary.clone() } else { BTreeMap::new() };
    let baseline = resolve(Side::Baseline, &analysis.baseline.variables, &baseline_base)?;
    Ok(ResolvedSides { baseline, canary })
}

/// Renders every query of `metric` for `side`.
pub fn render_metric(
    analysis: &Analysis,
    metric: &MetricConfig,
    side: Side,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
    step: crate::model::Duration,
) -> Result<Vec<(QueryRole, String)>, TemplateError> {
    let mut context = analysis.variables.clone();
    context.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    context.extend(sides.of(side).iter().map(|(k, v)| (k.clone(), v.clone())));
    context.insert("side".into(), side.name().into());
    context.insert("step".into(), step.to_string());
    context.insert("range".into(), metric.range.unwrap_or(step).to_string());
    metric
        .queries()
        .into_iter()
        .map(|(role, template)| {
            let place = format!("metric `{}`, {} {} query", metric.name(), side.name(), role.name());
            render(template, &context, &place).map(|query| (role, query))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn renders_and_names_undefined_variables() {
        let context = vars(&[("service", "checkout"), ("canary", "v2")]);
        assert_eq!(render("up{ service=\"{{ service }}\" }", &context, "q").unwrap(), "up{ service=\"checkout\" }");
        let err = render("up{ service=\"{{ servce }}\" }", &context, "metric `x`").unwrap_err();
        assert!(err.to_string().contains("undefined variable `servce`, did you mean `service`?"), "{err}");
    }
}
