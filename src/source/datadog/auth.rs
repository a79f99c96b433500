//! Refused keys: when Datadog answers 401 or 403, `/api/v1/validate` (asked once a run) tells a bad
//! API key from a bad application key, and the message names the key to check by where it came
//! from, never by its value.

use super::response::error_messages;
use super::{DatadogSettings, Shared};
use crate::source::SourceError;
use crate::source::http::{self, describe_error, summary};
use reqwest::StatusCode;
use serde::Deserialize;

/// What `/api/v1/validate` says about the API key.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum KeyCheck {
    Valid,
    Invalid,
    Unknown(String),
}

/// Asks `/api/v1/validate`, which checks the API key alone.
pub(super) async fn check_api_key(shared: &Shared) -> KeyCheck {
    let url = format!("{}/api/v1/validate", shared.settings.connection.url.trim_end_matches('/'));
    let response = match shared.client.get(&url).send().await {
        Ok(response) => response,
        Err(error) => return KeyCheck::Unknown(describe_error(&error)),
    };
    let url = http::redact_url(&url);
    let status = response.status();
    let body = http::read_bounded_body(response, shared.settings.connection.max_response_bytes, &url)
        .await
        .unwrap_or_default();
    #[derive(Deserialize)]
    struct Validity {
        valid: bool,
    }
    match (status.as_u16(), serde_json::from_slice::<Validity>(&body)) {
        (200, Ok(Validity { valid: true })) => KeyCheck::Valid,
        (200, Ok(Validity { valid: false })) | (401 | 403, _) => KeyCheck::Invalid,
        (code, _) => KeyCheck::Unknown(format!("{url} answered HTTP {code}")),
    }
}

/// A refused request, in terms of which key to check (never its value).
pub(super) fn auth_error(status: StatusCode, body: &[u8], check: &KeyCheck, settings: &DatadogSettings) -> SourceError {
    let detail = error_messages(body).map(|m| m.join("; ")).or_else(|| summary(body)).unwrap_or_default();
    let answer = if detail.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {detail}", status.as_u16())
    };
    let (api, app, url) =
        (settings.api_key.origin(), settings.app_key.origin(), &http::redact_url(&settings.connection.url));
    let message = match check {
        KeyCheck::Invalid => format!(
            "Datadog at {url} refused the API key from {api} ({answer}; /api/v1/validate says it is not valid): check that it is an API key (not an application key) of an organisation on this site (DD_SITE, source.site or source.url choose the site)"
        ),
        KeyCheck::Valid => format!(
            "Datadog at {url} accepted the API key from {api} but refused the application key from {app} ({answer}): check that it is an application key of the same organisation, not revoked, with the `timeseries_query` permission"
        ),
        KeyCheck::Unknown(why) => format!(
            "Datadog at {url} refused the keys ({answer}): check the API key from {api} and the application key from {app}, both of an organisation on this site (the API key could not be checked on its own: {why})"
        ),
    };
    SourceError::Unavailable(message)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::datadog::tests::settings;

    #[test]
    fn refused_keys_are_named_by_origin_never_by_value() {
        let s = settings();
        let forbidden = br#"{"errors":["Forbidden"]}"#;
        let api = auth_error(StatusCode::FORBIDDEN, forbidden, &KeyCheck::Invalid, &s).to_string();
        assert!(api.contains("refused the API key from $DD_API_KEY") && api.contains("HTTP 403: Forbidden"), "{api}");
        let app = auth_error(StatusCode::FORBIDDEN, forbidden, &KeyCheck::Valid, &s).to_string();
        assert!(app.contains("refused the application key from the file /run/secrets/dd-app"), "{app}");
        let both = auth_error(StatusCode::UNAUTHORIZED, b"", &KeyCheck::Unknown("timed out".into()), &s);
        assert!(matches!(both, SourceError::Unavailable(_)));
        let both = both.to_string();
        assert!(both.contains("$DD_API_KEY") && both.contains("/run/secrets/dd-app") && both.contains("HTTP 401"));
        for text in [api, app, both, format!("{s:?}")] {
            assert!(!text.contains("abcdef") && !text.contains("fedcba"), "{text}");
        }
    }
}
