//! Feature actions: for each feature-scoped group that failed, the group's `action` (the flag
//! service's "turn this flag off" call) is sent through the rollback webhook's delivery
//! ([`webhook::deliver_request`]): the same `Idempotency-Key` (one per judgment and feature,
//! [`webhook::feature_key`]), timestamp and HMAC signature headers, the same bounded retries.
//!
//! Templates (URL, header values, every string of the JSON body) are rendered before judging,
//! strictly (an undefined variable is a configuration error, exit 2), with the analysis's
//! `variables`, the `--var` values, the canary's resolved variables and the built-ins `feature`,
//! `group` and `analysis`. When an action is not delivered, the verdict becomes fail, so the
//! deployment-level rollback fires as it would without feature groups.

use super::webhook::{self, Request, WebhookSettings};
use crate::config::template::{ResolvedSides, TemplateError, render};
use crate::config::{ActionConfig, Analysis};
use crate::error::{CanaryError, Verdict};
use crate::judge::report::JudgmentReport;
use crate::source::http::Secret;
use std::collections::BTreeMap;

/// One feature's action, rendered and ready to send.
#[derive(Debug, Clone)]
pub struct FeatureAction {
    pub feature: String,
    /// The request; its idempotency key is set per judgment when it is sent.
    pub request: Request,
    pub settings: WebhookSettings,
}

/// Renders every feature's action and reads its secrets: errors here stop the run before judging.
pub fn prepare(
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
        let value = match std::env::var(variable).ok().filter(|v| !v.is_empty()) {
            Some(value) => value,
            None if dry_run => String::new(),
            None => {
                return Err(CanaryError::Usage(format!(
                    "{}: header {name} is read from ${variable}, but it is not set",
                    place("secret_headers")
                )));
            }
        };
        secret_headers.push((name.clone(), Secret::new(value), format!("${variable}")));
    }
    let body = action
        .body
        .as_ref()
        .map(|body| {
            render_json(body, context, &place("body")).map(|v| serde_json::to_vec(&v).expect("JSON serialises"))
        })
        .transpose()?;
    let secret = match (&action.secret_env, &action.secret_file) {
        (Some(name), _) => match std::env::var(name).ok().filter(|s| !s.is_empty()) {
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
        (None, Some(path)) => Some(
            webhook::read_secret_file(std::path::Path::new(path), "the action secret file")
                .map_err(CanaryError::Usage)?,
        ),
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
            secret: secret.map(Secret::new),
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

/// Calls the action of every failed feature and records the outcomes in the report. When one is
/// not delivered (a dry run counts as delivered for this), the verdict becomes fail, so that the
/// deployment-level rollback fires.
pub fn act(report: &mut JudgmentReport, actions: &[FeatureAction], now: i64) {
    let mut undelivered = Vec::new();
    for index in 0..report.features.len() {
        if !report.features[index].failed {
            continue;
        }
        let feature = report.features[index].feature.clone();
        let Some(action) = actions.iter().find(|a| a.feature == feature) else { continue };
        let mut request = action.request.clone();
        request.idempotency_key = webhook::feature_key(report, &feature);
        let outcome = webhook::deliver_request(&request, &action.settings, now);
        if !outcome.delivered && !outcome.dry_run {
            let error = outcome.error.clone().unwrap_or_else(|| "unknown error".into());
            eprintln!(
                "canary: ERROR: the action turning off feature `{feature}` ({}) was NOT delivered: {error}",
                outcome.url
            );
            undelivered.push(format!("{feature}: {error}"));
        }
        report.features[index].action = Some(outcome);
    }
    if !undelivered.is_empty() {
        report.reason = format!(
            "turning off feature(s) failed ({}), so the deployment is rolled back; {}",
            undelivered.join("; "),
            report.reason
        );
        report.verdict = Verdict::Fail;
    }
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
