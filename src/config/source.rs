//! Where the metrics live: the Prometheus or Datadog source, its URL, extra headers and the
//! references (environment variable or file names, never values) to its credentials.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the metrics live. Credentials are given only by the name of an environment variable or
/// a file, never inline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Base URL of the API (Prometheus: `http://prometheus:9090`; Datadog: overrides `site`).
    #[serde(default)]
    pub url: Option<String>,
    /// Environment variable holding a bearer token (Prometheus).
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding a bearer token (Prometheus).
    #[serde(default)]
    pub token_file: Option<String>,
    /// User name for basic auth (Grafana Cloud: the instance ID); the password comes from
    /// `basic_auth_password_env` or `basic_auth_password_file`.
    #[serde(default)]
    pub basic_auth_user: Option<String>,
    #[serde(default)]
    pub basic_auth_password_env: Option<String>,
    #[serde(default)]
    pub basic_auth_password_file: Option<String>,
    /// PEM file of an extra certificate authority to trust (private CAs).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Extra request headers, e.g. `X-Scope-OrgID` for Mimir and Cortex (not for secrets).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Datadog site: datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ddog-gov.com.
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub app_key_env: Option<String>,
    #[serde(default)]
    pub api_key_file: Option<String>,
    #[serde(default)]
    pub app_key_file: Option<String>,
    /// Datadog metrics API: `v2` (`POST /api/v2/query/timeseries`, the default) or `v1`
    /// (`GET /api/v1/query`).
    #[serde(default)]
    pub api: Option<DatadogApi>,
}

/// Which Datadog metrics query API to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatadogApi {
    V1,
    #[default]
    V2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Prometheus,
    Datadog,
}
