//! The source connection, resolved from the analysis's `source`, the flags and the environment:
//! which backend, its URL, headers, certificate authority, timeouts and limits, and its
//! credentials (from files or the environment only, never from flag values).

use super::secret::{Kind, Secret, SecretRef};
use crate::cli::SourceArgs;
use crate::config::{Analysis, SourceConfig, SourceKind};
use crate::error::CanaryError;
use crate::source::connection::Connection;
use crate::source::datadog::{self, DatadogSettings, DatadogSource};
use crate::source::prometheus::{Auth, PrometheusSettings, PrometheusSource};
use crate::source::{MetricSource, http};
use std::time::Duration;

/// The environment variable that can hold the bearer token itself.
pub(crate) const TOKEN_VARIABLE: &str = "CANARY_SOURCE_TOKEN";

/// The environment variables Datadog's own tools read: the site and the two keys.
pub(crate) const DD_SITE: &str = "DD_SITE";
pub(crate) const DD_API_KEY: &str = "DD_API_KEY";
pub(crate) const DD_APP_KEY: &str = "DD_APP_KEY";

/// A live source, resolved and ready to open.
#[derive(Debug, Clone)]
pub(crate) enum SourceSettings {
    Prometheus(PrometheusSettings),
    Datadog(DatadogSettings),
}

impl SourceSettings {
    /// Resolves the analysis's live source with the flags' overrides.
    pub(crate) fn resolve(analysis: &Analysis, flags: &SourceArgs) -> Result<SourceSettings, CanaryError> {
        // Credentials never come from flag values (they would sit in shell history and `ps`).
        if let Some((name, _)) = flags.headers.iter().find(|(name, _)| http::is_credential_header(name)) {
            return Err(CanaryError::Usage(format!(
                "--header {name}: credentials are never taken from flags; use the token or key settings (environment variables or files)"
            )));
        }
        let config = analysis.source.as_ref();
        if config.map_or(SourceKind::Prometheus, |c| c.kind) == SourceKind::Datadog {
            return datadog_settings(config, flags).map(SourceSettings::Datadog);
        }
        prometheus_settings(analysis, flags).map(SourceSettings::Prometheus)
    }

    /// Opens the source.
    pub(crate) fn open(self) -> Result<Box<dyn MetricSource>, CanaryError> {
        Ok(match self {
            SourceSettings::Prometheus(settings) => Box::new(PrometheusSource::new(settings)?),
            SourceSettings::Datadog(settings) => Box::new(DatadogSource::new(settings)?),
        })
    }
}

/// Resolves and opens the analysis's live source, with the flags' overrides.
pub(crate) fn open_source(analysis: &Analysis, flags: &SourceArgs) -> Result<Box<dyn MetricSource>, CanaryError> {
    SourceSettings::resolve(analysis, flags)?.open()
}

/// The connection to `url` (trusting `ca_file`), with what both backends take from the flags:
/// headers (the analysis's, then the flags'), timeouts, retries and limits.
fn connection(
    config: Option<&SourceConfig>,
    flags: &SourceArgs,
    url: String,
    ca_file: Option<std::path::PathBuf>,
) -> Connection {
    let mut headers = config.map(|c| c.headers.clone()).unwrap_or_default();
    headers.extend(flags.headers.iter().cloned());
    Connection {
        url,
        headers,
        ca_file,
        request_timeout: Duration::from_secs(flags.query_timeout.as_secs().max(1)),
        total_timeout: Duration::from_secs(flags.timeout.as_secs().max(1)),
        retries: flags.retries,
        concurrency: usize::from(flags.concurrency),
        max_response_bytes: flags.max_response_size,
        max_series: flags.max_series,
    }
}

fn prometheus_settings(analysis: &Analysis, flags: &SourceArgs) -> Result<PrometheusSettings, CanaryError> {
    let config = analysis.source.as_ref();
    let url = flags.source_url.clone().or_else(|| config.and_then(|c| c.url.clone())).ok_or_else(|| {
        CanaryError::Usage(
            "no source URL: set `source.url` in the analysis, pass --source-url, or set CANARY_SOURCE_URL".into(),
        )
    })?;
    let auth = auth(analysis, flags)?;
    let ca_file = flags.ca_file.clone().or_else(|| config.and_then(|c| c.ca_file.clone()).map(Into::into));
    Ok(PrometheusSettings { connection: connection(config, flags, url, ca_file), auth })
}

/// A Datadog source. The API host: `--source-url` (or `CANARY_SOURCE_URL`), the analysis's
/// `url`, else `https://api.<site>` with the site from `DD_SITE`, the analysis's `site`, or
/// datadoghq.com. Each key from the analysis's `*_key_env` or `*_key_file`, else `DD_API_KEY`
/// and `DD_APP_KEY`.
fn datadog_settings(config: Option<&SourceConfig>, flags: &SourceArgs) -> Result<DatadogSettings, CanaryError> {
    let usage = CanaryError::Usage;
    if flags.token_file.is_some() {
        return Err(usage(
            "--token-file applies to Prometheus; Datadog keys come from DD_API_KEY and DD_APP_KEY or the analysis's api_key_env/api_key_file and app_key_env/app_key_file".into(),
        ));
    }
    let url = match flags.source_url.clone().or_else(|| config.and_then(|c| c.url.clone())) {
        Some(url) => url,
        None => {
            let site_variable = std::env::var(DD_SITE).ok().filter(|v| !v.trim().is_empty());
            let (site, origin) = match (site_variable, config.and_then(|c| c.site.clone())) {
                (Some(site), analysis) => {
                    if let Some(other) = analysis.filter(|a| a.trim() != site.trim()) {
                        eprintln!("canary: warning: ${DD_SITE} ({site}) overrides source.site ({other})");
                    }
                    (site, format!("${DD_SITE}"))
                }
                (None, Some(site)) => (site, "source.site".to_string()),
                (None, None) => (datadog::DEFAULT_SITE.to_string(), String::new()),
            };
            datadog::site_url(&site).map_err(|e| usage(format!("{origin}: {e}")))?
        }
    };
    let named = |env: fn(&SourceConfig) -> &Option<String>, file: fn(&SourceConfig) -> &Option<String>| {
        config.and_then(|c| SecretRef::named(env(c), file(c)))
    };
    let api_key = datadog_key(named(|c| &c.api_key_env, |c| &c.api_key_file), DD_API_KEY, "API key")?;
    let app_key = datadog_key(named(|c| &c.app_key_env, |c| &c.app_key_file), DD_APP_KEY, "application key")?;
    Ok(DatadogSettings {
        connection: connection(config, flags, url, flags.ca_file.clone()),
        api: config.and_then(|c| c.api).unwrap_or_default(),
        api_key,
        app_key,
        max_rate_limit_wait: datadog::MAX_RATE_LIMIT_WAIT,
    })
}

/// One Datadog key: from the variable or file the analysis names, else from `default_env`.
fn datadog_key(named: Option<SecretRef>, default_env: &str, what: &str) -> Result<Secret, CanaryError> {
    let usage = CanaryError::Usage;
    let reference = named.clone().unwrap_or_else(|| SecretRef::Env(default_env.to_string()));
    let read = reference.read(Kind::Credential);
    match (&reference, named) {
        (SecretRef::File(path), _) => read
            .map_err(|e| usage(format!("cannot read the Datadog {what} file {}: {e}", path.display())))
            .map(|secret| secret.expect("a file always holds a secret")),
        (SecretRef::Env(name), Some(_)) => read
            .map_err(usage)?
            .ok_or_else(|| usage(format!("the analysis reads the Datadog {what} from ${name}, but it is not set"))),
        (SecretRef::Env(_), None) => read.map_err(usage)?.ok_or_else(|| {
            usage(format!("no Datadog {what}: set ${default_env}, or name a variable or file in the analysis's source"))
        }),
    }
}

/// The credential to send, from the first place that has one: `CANARY_SOURCE_TOKEN`,
/// `--token-file`, the analysis's `token_env`, `token_file`, then basic auth.
fn auth(analysis: &Analysis, flags: &SourceArgs) -> Result<Auth, CanaryError> {
    let usage = CanaryError::Usage;
    // `field`: the analysis's key that names the variable, for the message when it is not set.
    let read = |reference: SecretRef, field: &str| -> Result<Secret, CanaryError> {
        match &reference {
            SecretRef::Env(name) => reference.read(Kind::Credential).map_err(usage)?.ok_or_else(|| {
                usage(format!(
                    "the analysis reads a credential from ${name} (source.{field}), but it is not set: export \
                     {name}=..., or, for a Prometheus without authentication (a local one, say), remove \
                     `{field}` {} from the analysis's `source`",
                    if field == "token_env" { "(and `token_file`)" } else { "and the other `basic_auth_*` keys" }
                ))
            }),
            SecretRef::File(path) => reference
                .read(Kind::Credential)
                .map_err(|e| usage(format!("cannot read the credential file {}: {e}", path.display())))
                .map(|secret| secret.expect("a file always holds a secret")),
        }
    };
    let bearer = |token: Secret| Auth::Bearer { origin: token.origin().to_string(), token };
    if let Some(token) = SecretRef::Env(TOKEN_VARIABLE.into()).read(Kind::Credential).map_err(usage)? {
        return Ok(bearer(token));
    }
    if let Some(path) = &flags.token_file {
        return Ok(bearer(read(SecretRef::file(path), "token_file")?));
    }
    let Some(config) = &analysis.source else { return Ok(Auth::None) };
    if let Some(reference) = SecretRef::named(&config.token_env, &config.token_file) {
        return Ok(bearer(read(reference, "token_env")?));
    }
    if let Some(user) = &config.basic_auth_user {
        let reference = SecretRef::named(&config.basic_auth_password_env, &config.basic_auth_password_file)
            .expect("validated: basic auth has a password source");
        let password = read(reference, "basic_auth_password_env")?;
        return Ok(Auth::Basic { user: user.clone(), origin: password.origin().to_string(), password });
    }
    Ok(Auth::None)
}
