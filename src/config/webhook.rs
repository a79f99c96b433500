//! The calls a verdict triggers: the rollback webhook and a feature group's action, with the
//! references to their signing secrets and header secrets.

use super::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rollback webhook. The signing secret is read from an environment variable or a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackConfig {
    pub url: String,
    /// Environment variable holding the HMAC secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the HMAC secret.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Also call it when the verdict is inconclusive.
    #[serde(default)]
    pub on_inconclusive: bool,
    /// Time limit of one delivery attempt.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Duration,
    /// Retries on 5xx, 429 and connection errors.
    #[serde(default = "default_webhook_retries")]
    pub retries: u32,
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_webhook_retries() -> u32 {
    3
}

/// A feature's action: an HTTP request with a templated URL, header values and JSON body (the
/// flag service's "turn this flag off" call), signed and idempotent like the rollback webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Template of the URL; must render to an http:// or https:// URL.
    pub url: String,
    #[serde(default)]
    pub method: ActionMethod,
    /// Header values are templates. No credentials here: use `secret_headers`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Header name → environment variable holding the header's whole value (e.g. an API token).
    #[serde(default)]
    pub secret_headers: BTreeMap<String, String>,
    /// JSON body; every string in it is a template. Without it, no body is sent.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Environment variable holding the HMAC secret that signs the request.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the HMAC secret.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Time limit of one attempt.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: Duration,
    /// Retries on 5xx, 429 and connection errors.
    #[serde(default = "default_webhook_retries")]
    pub retries: u32,
}

/// The HTTP method of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ActionMethod {
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

impl ActionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionMethod::Post => "POST",
            ActionMethod::Put => "PUT",
            ActionMethod::Patch => "PATCH",
            ActionMethod::Delete => "DELETE",
        }
    }
}
