//! Query templates: `{{ name }}` placeholders (minijinja, strict: an undefined variable is an
//! error, never an empty string that would silently widen a selector).
//!
//! Variables, later ones winning: the analysis's `variables`, then `--var key=value`, then the
//! side's own `variables` (themselves templates over the first two); built-ins `side`, `step` and
//! `range`. A baseline with `offset` uses the canary's variables, shifted back in time.

use super::{Analysis, MetricConfig, QueryRole, error::suggestion};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeMap;

/// Baseline or canary.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Baseline,
    Canary,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Baseline, Side::Canary];

    pub fn name(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::Canary => "canary",
        }
    }
}

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

/// Resolves each side's variables from the analysis and the command line's `--var` values.
pub fn resolve_sides(
    analysis: &Analysis,
    overrides: &BTreeMap<String, String>,
) -> Result<ResolvedSides, TemplateError> {
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
    step: super::Duration,
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
