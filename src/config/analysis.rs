//! The analysis file as a whole: the top-level [`Analysis`] with its sides, default window, the
//! rollback webhook and the feature actions of groups (with the references to their secrets);
//! reading and parsing it (the cross-field checks are in `validation`).

use super::{ConfigError, GroupConfig, JudgmentConfig, MetricConfig, SourceConfig};
use crate::model::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A parsed analysis file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Format version of the analysis file; only 1 exists.
    #[serde(default = "version_one")]
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<SourceConfig>,
    /// Template variables shared by both sides (overridden by `--var`).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Variables meant to carry a query fragment (`--var filter='job="api"'`): their `--var`
    /// values are pasted as given, unchecked. Every other `--var` value must be a plain label
    /// value (see [`template::check_overrides`](super::template::check_overrides)).
    #[serde(default)]
    pub fragment_variables: Vec<String>,
    #[serde(default)]
    pub baseline: SideConfig,
    #[serde(default)]
    pub canary: SideConfig,
    #[serde(default)]
    pub window: WindowConfig,
    #[serde(default)]
    pub judgment: JudgmentConfig,
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    pub metrics: Vec<MetricConfig>,
    /// The rollback webhook called on a fail verdict.
    #[serde(default)]
    pub rollback: Option<RollbackConfig>,
}

fn version_one() -> u32 {
    1
}

/// Template variables of one side; for the baseline, optionally the canary's own series shifted
/// back in time (`offset`: compare to before the deploy).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideConfig {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub offset: Option<Duration>,
}

/// The default window; `--last`, `--start`/`--end`, `--step` and `--warmup` override it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    #[serde(default = "default_last")]
    pub last: Duration,
    #[serde(default = "default_step")]
    pub step: Duration,
    #[serde(default)]
    pub warmup: Duration,
}

fn default_last() -> Duration {
    Duration::from_secs(1800)
}

fn default_step() -> Duration {
    Duration::from_secs(60)
}

impl Default for WindowConfig {
    fn default() -> WindowConfig {
        WindowConfig { last: default_last(), step: default_step(), warmup: Duration::default() }
    }
}

impl Analysis {
    /// Reads and validates an analysis file.
    pub fn load(path: &Path) -> Result<Analysis, ConfigError> {
        use crate::input::{MAX_ANALYSIS_BYTES, ReadLimitError, read_text_limited};
        let text = read_text_limited(path, MAX_ANALYSIS_BYTES).map_err(|error| match error {
            ReadLimitError::Io(source) => ConfigError::Unreadable { path: path.to_path_buf(), source },
            other => ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("not an analysis file: {other} (an analysis is a short YAML file)"),
            },
        })?;
        Analysis::parse(&text, path)
    }

    /// Parses and validates analysis text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Analysis, ConfigError> {
        let analysis: Analysis =
            serde_saphyr::from_str(text).map_err(|error| ConfigError::from_yaml(&error, text, path))?;
        analysis.validate(text, path)?;
        Ok(analysis)
    }

    /// The weight of a group (declared weight, or 1 when no groups are declared).
    pub fn group_weight(&self, group: &str) -> f64 {
        self.groups.iter().find(|g| g.name.value == group).map_or(1.0, |g| g.weight)
    }
}

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
