//! The request bodies `canary serve` reads, parsed and bounded before anything is judged:
//! Flagger's webhook payload (`{name, namespace, phase, checksum?, metadata{...}}`, the analysis
//! in `metadata.analysis`, every other metadata key a variable) and the body of an Argo Rollouts
//! `web` metric (`{"analysis": ..., "variables": {...}}`). The variables are then checked by the
//! analysis exactly as `--var` values are (`config::template::check_overrides`).

use crate::input::excerpt;
use std::collections::BTreeMap;

/// The most variables one request may carry.
pub const MAX_VARIABLES: usize = 64;
/// The longest analysis name or variable name.
pub const MAX_NAME_CHARS: usize = 128;
/// The longest variable value (the analysis's own checks are stricter for label values).
pub const MAX_VALUE_CHARS: usize = 4096;

/// The metadata key of a Flagger webhook that names the analysis.
pub const ANALYSIS_KEY: &str = "analysis";

/// What a request asks for: one analysis, with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeRequest {
    pub analysis: String,
    pub variables: BTreeMap<String, String>,
    /// Who asked (Flagger's `namespace/name`), for the log line; empty for Argo.
    pub caller: String,
}

/// Flagger's payload (`CanaryWebhookPayload`); fields added by newer Flagger releases
/// (`buildId`, `type`, `failedChecks`, `canaryWeight`, ...) are ignored.
#[derive(serde::Deserialize)]
struct FlaggerPayload {
    name: String,
    namespace: String,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

/// The body of an Argo Rollouts `web` metric (`jsonBody`); unknown fields are refused (a typo
/// such as `variable` would otherwise judge the analysis's defaults).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ArgoBody {
    analysis: String,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

/// Parses a Flagger webhook payload.
pub fn parse_flagger_request(body: &[u8]) -> Result<JudgeRequest, String> {
    let payload: FlaggerPayload = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a Flagger webhook payload {{name, namespace, metadata}}: {e}"))?;
    let mut variables = payload.metadata.unwrap_or_default();
    let analysis = variables.remove(ANALYSIS_KEY).ok_or_else(|| {
        format!(
            "the webhook's metadata names no analysis: add `metadata: {{{ANALYSIS_KEY}: NAME}}` to the Canary's webhook"
        )
    })?;
    let caller = format!("{}/{}", excerpt(&payload.namespace), excerpt(&payload.name));
    checked(JudgeRequest { analysis, variables, caller }, "metadata")
}

/// Parses the body of an Argo Rollouts `web` metric.
pub fn parse_argo_request(body: &[u8]) -> Result<JudgeRequest, String> {
    let payload: ArgoBody = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not {{\"analysis\": NAME, \"variables\": {{KEY: VALUE}}}}: {e}"))?;
    checked(
        JudgeRequest { analysis: payload.analysis, variables: payload.variables, caller: String::new() },
        "variables",
    )
}

/// The bounds every request keeps, whatever the analysis: a name, few variables, short values.
fn checked(request: JudgeRequest, field: &str) -> Result<JudgeRequest, String> {
    let name = &request.analysis;
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(crate::input::is_hidden_char) {
        return Err(format!("`{}` is not an analysis name (1 to {MAX_NAME_CHARS} visible characters)", excerpt(name)));
    }
    if request.variables.len() > MAX_VARIABLES {
        return Err(format!("{field}: {} variables, more than {MAX_VARIABLES}", request.variables.len()));
    }
    for (key, value) in &request.variables {
        if key.trim().is_empty() || key.chars().count() > MAX_NAME_CHARS {
            return Err(format!("{field}: `{}` is not a variable name", excerpt(key)));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(format!("{field}.{}: the value is longer than {MAX_VALUE_CHARS} characters", excerpt(key)));
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flagger_payloads_of_old_and_new_releases_parse() {
        let old = br#"{"name":"podinfo","namespace":"test","phase":"Progressing","metadata":{"analysis":"checkout","canary":"podinfo-canary"}}"#;
        let request = parse_flagger_request(old).unwrap();
        assert_eq!(request.analysis, "checkout");
        assert_eq!(request.variables, BTreeMap::from([("canary".to_string(), "podinfo-canary".to_string())]));
        assert_eq!(request.caller, "test/podinfo");
        let new = br#"{"name":"p","namespace":"t","phase":"Progressing","checksum":"abc","buildId":"1","type":"rollout","failedChecks":0,"canaryWeight":10,"metadata":{"analysis":"a"}}"#;
        assert_eq!(parse_flagger_request(new).unwrap().analysis, "a");
    }

    #[test]
    fn requests_without_an_analysis_or_past_the_bounds_are_refused() {
        let none = br#"{"name":"p","namespace":"t","phase":"Progressing"}"#;
        assert!(parse_flagger_request(none).unwrap_err().contains("names no analysis"));
        let typo = br#"{"analysis":"a","variable":{"canary":"x"}}"#;
        assert!(parse_argo_request(typo).unwrap_err().contains("unknown field"));
        let many: BTreeMap<String, String> = (0..=MAX_VARIABLES).map(|i| (format!("k{i}"), "v".into())).collect();
        let body = serde_json::json!({"analysis": "a", "variables": many}).to_string();
        assert!(parse_argo_request(body.as_bytes()).unwrap_err().contains("more than"));
        let hidden = br#"{"analysis":"a\u001b[2J"}"#;
        let error = parse_argo_request(hidden).unwrap_err();
        assert!(!error.contains('\u{1b}'), "{error}");
        let number = br#"{"analysis":"a","variables":{"canary":1}}"#;
        assert!(parse_argo_request(number).is_err());
    }
}
