//! The rollback webhook, resolved from the flags, the environment and the analysis's `rollback`:
//! its URL, signing secret, timeout and retries (the analysis's defaults, also for a webhook given
//! by flag only), dry run, and whether it also fires on inconclusive.

use super::secret::{Kind, SecretRef};
use crate::actions::webhook::{self, WebhookSettings};
use crate::cli::RollbackArgs;
use crate::config::{Analysis, RollbackConfig};
use crate::error::CanaryError;

/// The rollback webhook to call.
#[derive(Debug, Clone)]
pub(crate) struct Rollback {
    pub(crate) webhook: WebhookSettings,
    /// Also call it when the verdict is inconclusive.
    pub(crate) on_inconclusive: bool,
}

/// How messages name a rollback secret file.
const SECRET_FILE: Kind = Kind::Signing { what: "the rollback secret file" };

/// The webhook to call, if any. Its signing secret is read now, before any query, so that a
/// missing secret stops the run before anything acts: `CANARY_ROLLBACK_SECRET`,
/// `--rollback-secret-file`, the analysis's `secret_env`, then its `secret_file`.
pub(crate) fn resolve(analysis: &Analysis, flags: &RollbackArgs) -> Result<Option<Rollback>, CanaryError> {
    let config = analysis.rollback.as_ref();
    let Some(url) = flags.rollback_webhook.clone().or_else(|| config.map(|c| c.url.clone())) else {
        return Ok(None);
    };
    let usage = CanaryError::Usage;
    let secret = if let Some(secret) =
        SecretRef::Env(webhook::SECRET_VARIABLE.into()).read(SECRET_FILE).map_err(usage)?
    {
        Some(secret)
    } else if let Some(path) = &flags.rollback_secret_file {
        SecretRef::file(path).read(SECRET_FILE).map_err(usage)?
    } else if let Some(name) = config.and_then(|c| c.secret_env.as_ref()) {
        match SecretRef::Env(name.clone()).read(SECRET_FILE).map_err(usage)? {
            Some(secret) => Some(secret),
            None if flags.dry_run => {
                eprintln!("canary: dry run: ${name} is not set, so the printed rollback request carries no signature");
                None
            }
            None => {
                return Err(usage(format!("the analysis reads the rollback secret from ${name}, but it is not set")));
            }
        }
    } else if let Some(path) = config.and_then(|c| c.secret_file.as_ref()) {
        SecretRef::file(path).read(SECRET_FILE).map_err(usage)?
    } else {
        None
    };
    let flag_only;
    let config = match config {
        Some(config) => config,
        None => {
            flag_only = flag_only_config(&url);
            &flag_only
        }
    };
    let webhook = WebhookSettings {
        url,
        secret,
        timeout: std::time::Duration::from_secs(config.timeout.as_secs().max(1)),
        retries: config.retries,
        dry_run: flags.dry_run,
    };
    Ok(Some(Rollback { webhook, on_inconclusive: flags.rollback_on_inconclusive || config.on_inconclusive }))
}

/// A webhook given by flag only takes the analysis's defaults (timeout, retries): they are
/// written once, in the analysis's `rollback` section.
fn flag_only_config(url: &str) -> RollbackConfig {
    serde_json::from_value(serde_json::json!({ "url": url })).expect("a rollback section needs only its url")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_given_by_flag_only_has_the_documented_defaults() {
        let config = flag_only_config("https://deploy.example/rollback");
        assert_eq!(config.timeout.as_secs(), 10);
        assert_eq!(config.retries, 3);
        assert!(!config.on_inconclusive && config.secret_env.is_none() && config.secret_file.is_none());
    }
}
