//! Feature actions, resolved before judging: for each feature-scoped group, its `action` (the
//! flag service's "turn this flag off" call) rendered and its secrets read, ready for
//! [`crate::actions::features::act`] to send when the feature fails.
//!
//! Templates (URL, header values, every string of the JSON body) are rendered strictly (an
//! undefined variable is a configuration error, exit 2), with the analysis's `variables`, the
//! `--var` values, the canary's resolved variables and the built-ins `feature`, `group` and
//! `analysis`. Errors here stop the run before anything is queried.

use super::secret::{Kind, Secret, SecretRef};
use crate::actions::features::FeatureAction;
use crate::actions::webhook::{Request, WebhookSettings};
use crate::config::template::{ResolvedSides, TemplateError, render};
use crate::config::{ActionConfig, Analysis};
use crate::error::CanaryError;
use std::collections::BTreeMap;

/// How messages name an action's secret file.
const SECRET_FILE: Kind = Kind::Signing { what: "the action secret file" };

/// Renders every feature's action and reads its secrets: errors here stop the run before judging.
pub(crate) fn prepare(
    analysis: &Analysis,
    sides: &ResolvedSides,
    overrides: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Vec<FeatureAction>, CanaryError> {
    let mut actions = Vec::new();
    for group in &analysis.groups {
        let (Some(feature), Some(action)) = (&group.feature, &group.action) else { continue };
        let mut context = analysis.variables.clone();
        context.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        context.extend(sides.canary.iter().map(|(k, v)| (k.clone(), v.clone())));
        context.insert("feature".into(), feature.clone());
        context.insert("group".into(), group.name.value.clone());
        context.insert("analysis".into(), analysis.name.clone());
        actions.push(prepare_one(feature, action, &context, dry_run)?);
    }
    Ok(actions)
}

fn prepare_one(
    feature: &str,
    action: &ActionConfig,
    context: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<FeatureAction, CanaryError> {
    let place = |what: &str| format!("the action of feature `{feature}`, {what}");
    let url = render(&action.url, context, &place("url"))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CanaryError::Usage(format!(
            "{}: `{}` must start with http:// or https://",
            place("url"),
            crate::source::http::redact_url(&url)
        )));
    }
    let headers = action
        .headers
        .iter()
        .map(|(name, value)| Ok((name.clone(), render(value, context, &place(&format!("header {name}")))?)))
        .collect::<Result<Vec<_>, TemplateError>>()?;
    let mut secret_headers = Vec::new();
    for (name, variable) in &action.secret_headers {
        // A dry run never sends the header (it prints where it comes from), so it may be unset.
        let reference = SecretRef::Env(variable.clone());
        let value = match reference.read(SECRET_FILE).map_err(CanaryError::Usage)? {
            Some(value) => value,
            None if dry_run => Secret::new(String::new()),
            None => {
                return Err(CanaryError::Usage(format!(
                    "{}: header {name} is read from ${variable}, but it is not set",
                    place("secret_headers")
                )));
            }
        };
        secret_headers.push((name.clone(), value, reference.origin()));
    }
    let body = action
        .body
        .as_ref()
        .map(|body| {
            render_json(body, context, &place("body")).map(|v| serde_json::to_vec(&v).expect("JSON serialises"))
        })
        .transpose()?;
    let secret = match (&action.secret_env, &action.secret_file) {
        (Some(name), _) => match SecretRef::Env(name.clone()).read(SECRET_FILE).map_err(CanaryError::Usage)? {
            Some(secret) => Some(secret),
            None if dry_run => {
                eprintln!("canary: dry run: ${name} is not set, so the printed action carries no signature");
                None
            }
            None => {
                return Err(CanaryError::Usage(format!(
                    "{}: the signing secret is read from ${name}, but it is not set",
                    place("secret_env")
                )));
            }
        },
        (None, Some(path)) => SecretRef::file(path).read(SECRET_FILE).map_err(CanaryError::Usage)?,
        (None, None) => None,
    };
    Ok(FeatureAction {
        feature: feature.to_string(),
        request: Request {
            label: format!("the action of feature `{feature}`"),
            method: action.method.as_str(),
            url: url.clone(),
            headers,
            secret_headers,
            body,
            idempotency_key: String::new(),
            url_setting: "the action's `url`".into(),
        },
        settings: WebhookSettings {
            url,
            secret,
            timeout: std::time::Duration::from_secs(action.timeout.as_secs().max(1)),
            retries: action.retries,
            dry_run,
        },
    })
}

/// Renders every string of a JSON value (keys stay as they are).
fn render_json(
    value: &serde_json::Value,
    context: &BTreeMap<String, String>,
    place: &str,
) -> Result<serde_json::Value, TemplateError> {
    use serde_json::Value;
    Ok(match value {
        Value::String(text) => Value::String(render(text, context, place)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_json(v, context, place)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, context, place)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_of_the_body_is_a_strict_template() {
        let context: BTreeMap<String, String> =
            [("feature".to_string(), "organic-search".to_string()), ("env".to_string(), "production".to_string())]
                .into();
        let body =
            serde_json::json!({"environmentKey": "{{ env }}", "instructions": [{"kind": "turnFlagOff"}], "n": 1});
        let rendered = render_json(&body, &context, "body").unwrap();
        assert_eq!(rendered["environmentKey"], "production");
        assert_eq!(rendered["instructions"][0]["kind"], "turnFlagOff");
        assert_eq!(rendered["n"], 1);
        let error = render_json(&serde_json::json!({"x": "{{ enviroment }}"}), &context, "body").unwrap_err();
        assert!(error.to_string().contains("undefined variable `enviroment`"), "{error}");
    }
}
