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

/// A URL fit to show: without user name, password or query values (which often carry tokens).
pub fn redact_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let had_query = parsed.query().is_some();
            parsed.set_query(None);
            let shown = parsed.to_string().trim_end_matches('/').to_string();
            if had_query { format!("{shown}?…") } else { shown }
        }
        Err(_) => "(invalid URL)".into(),
    }
}

/// Only the origin of a URL, with `/…` when it has a path: for webhook URLs, whose paths often
/// are the secret (`https://hooks.example.com/services/T0/B0/XXXX`).
pub fn url_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let origin = parsed.origin().ascii_serialization();
            if parsed.path().len() > 1 || parsed.query().is_some() { format!("{origin}/…") } else { origin }
        }
        Err(_) => "(invalid URL)".into(),
    }
}

/// Whether a header carries credentials (refused where headers are written in plain sight).
pub fn is_credential_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "authorization"
        || lower == "proxy-authorization"
        || lower.contains("api-key")
        || lower.contains("application-key")
        || lower.contains("token")
        || lower.contains("secret")
        || lower == "cookie"
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

/// Checks a source's base URL: http(s), and no credentials or query (URLs appear in messages).
pub fn check_base_url(url: &str, what: &str) -> Result<(), super::SourceError> {
    let config = super::SourceError::Request;
    let parsed = reqwest::Url::parse(url).map_err(|e| config(format!("{what} `{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(config(format!("{what} `{url}` must start with http:// or https://")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(config(format!(
            "{what} `{}` must not contain credentials or a query string: give credentials with the source's token or key settings (from the environment or a file)",
            redact_credentials(url)
        )));
    }
    Ok(())
}

/// The extra headers of the analysis and `--header`, checked.
pub fn plain_headers(
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<reqwest::header::HeaderMap, super::SourceError> {
    use reqwest::header::{HeaderName, HeaderValue};
    let config = super::SourceError::Request;
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| config(format!("`{name}` is not a valid HTTP header name")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| config(format!("the value of header `{name}` is not valid in HTTP")))?;
        map.insert(header, value);
    }
    Ok(map)
}

/// A header value holding a credential: marked sensitive, and never quoted in errors.
pub fn sensitive_value(value: &str, origin: &str) -> Result<reqwest::header::HeaderValue, super::SourceError> {
    let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        super::SourceError::Request(format!("the credential from {origin} contains characters not allowed in HTTP"))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// An HTTP client with canary's user agent, the request timeout (connecting within 10 s at
/// most), default headers and an optional extra certificate authority.
pub fn client(
    headers: reqwest::header::HeaderMap,
    timeout: std::time::Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    // One process-wide TLS provider (ring); ignore "already installed".
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(10)))
        .user_agent(concat!("canary/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA file {} holds no PEM certificate: {e}", path.display()))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

/// Bounded retries with jittered exponential backoff between 0.2 s and 5 s.
pub fn retry_policy(retries: u32) -> reqwest_retry::policies::ExponentialBackoff {
    reqwest_retry::policies::ExponentialBackoff::builder()
        .retry_bounds(std::time::Duration::from_millis(200), std::time::Duration::from_secs(5))
        .jitter(reqwest_retry::Jitter::Bounded)
        .build_with_max_retries(retries)
}

/// The runtime the HTTP sources run their queries on.
pub fn runtime() -> Result<tokio::runtime::Runtime, super::SourceError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| super::SourceError::Unavailable(format!("cannot start the I/O runtime: {e}")))
}

/// Runs `run` on every query, at most `concurrency` at once and all within `total_timeout`, and
/// returns one result per query in their order; a query still unanswered at the deadline is
/// "could not judge". Advances `progress` as queries finish.
pub async fn run_bounded<Q, F, Fut>(
    queries: Vec<Q>,
    concurrency: usize,
    total_timeout: std::time::Duration,
    url: &str,
    progress: indicatif::ProgressBar,
    run: F,
) -> Vec<Result<Vec<super::Series>, super::SourceError>>
where
    Q: Send + 'static,
    F: Fn(Q) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Vec<super::Series>, super::SourceError>> + Send + 'static,
{
    use std::sync::Arc;
    let run = Arc::new(run);
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, query) in queries.into_iter().enumerate() {
        let (run, limit, progress) = (Arc::clone(&run), Arc::clone(&limit), progress.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore is never closed");
            let result = run(query).await;
            progress.inc(1);
            (index, result)
        });
    }
    let mut results: Vec<Option<Result<Vec<super::Series>, super::SourceError>>> =
        (0..tasks.len()).map(|_| None).collect();
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            let (index, result) = joined.expect("query tasks do not panic");
            results[index] = Some(result);
        }
    };
    if tokio::time::timeout(total_timeout, collect).await.is_err() {
        tasks.abort_all();
    }
    progress.finish_and_clear();
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(super::SourceError::Unavailable(format!(
                    "{url}: no answer within the overall timeout of {}s",
                    total_timeout.as_secs()
                )))
            })
        })
        .collect()
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
        assert_eq!(
            redact_credentials("https://u:pw@prom.example.com/prometheus?token=abc"),
            "https://prom.example.com/prometheus?…"
        );
        assert_eq!(url_origin("https://hooks.example.com/services/T0/SECRET"), "https://hooks.example.com/…");
        assert_eq!(url_origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert!(
            is_credential_header("DD-API-KEY")
                && is_credential_header("Authorization")
                && !is_credential_header("X-Scope-OrgID")
        );
    }
}
