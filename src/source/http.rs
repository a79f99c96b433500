//! What the HTTP sources and the webhook share: secrets that never print, readable summaries of
//! bodies that are not the expected JSON (gateway HTML pages), and transport errors in the user's
//! terms.

use std::fmt;

/// A secret read from the environment or a file; its `Debug` output is redacted.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Whether a body is an HTML page (a gateway's error page rather than the API's JSON).
pub fn looks_like_html(body: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    start.contains("<html") || start.contains("<!doctype") || start.contains("<head")
}

/// A one-line summary of a non-JSON body: an HTML page's title, or the start of the text.
pub fn summary(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    if let (Some(open), Some(close)) = (lower.find("<title>"), lower.find("</title>"))
        && close > open
    {
        return Some(text[open + 7..close].trim().to_string());
    }
    let plain: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!plain.is_empty()).then(|| plain.chars().take(200).collect())
}

/// A transport error in the user's terms ("timed out", "connection failed"), unwrapping the retry
/// middleware's wrapper.
pub fn describe_error(error: &reqwest_middleware::Error) -> String {
    match error {
        reqwest_middleware::Error::Reqwest(e) => describe_reqwest_error(e),
        reqwest_middleware::Error::Middleware(e) => match e.downcast_ref::<reqwest_retry::RetryError>() {
            Some(reqwest_retry::RetryError::WithRetries { err, .. } | reqwest_retry::RetryError::Error(err)) => {
                describe_error(err)
            }
            None => e.to_string(),
        },
    }
}

/// Like [`describe_error`] for a plain reqwest error.
pub fn describe_reqwest_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".into();
    }
    if error.is_connect() {
        return "connection failed (is the server up and the URL right?)".into();
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_gateway_pages_and_redacts_secrets() {
        let page = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        assert!(looks_like_html(page));
        assert_eq!(summary(page).as_deref(), Some("502 Bad Gateway"));
        assert_eq!(summary(b"no   org\\nid").as_deref(), Some("no org\\nid"));
        assert_eq!(summary(b"  ").as_deref(), None);
        assert_eq!(format!("{:?}", Secret::new("hunter2".into())), "Secret(…)");
    }
}
