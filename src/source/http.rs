//! What the HTTP sources and the webhook share: secrets that never print, readable summaries of
//! bodies that are not the expected JSON (gateway HTML pages), and transport errors in the user's
//! terms.

use std::fmt;

/// A secret read from the environment or a file (a token, a password, a Datadog key, a signing
/// secret), with where it came from (`$DD_API_KEY`, `the file /run/secrets/dd`) for messages that
/// must name it; its `Debug` output is redacted. The settings layer resolves every one
/// (`settings::secret`); sources and deliveries only expose it where it is sent.
#[derive(Clone)]
pub struct Secret {
    value: String,
    origin: String,
}

impl Secret {
    /// A secret whose origin messages never name.
    pub fn new(value: String) -> Secret {
        Secret { value, origin: String::new() }
    }

    /// A secret that came from `origin` (`$DD_API_KEY`, `the file /run/secrets/dd`).
    pub fn from_origin(value: String, origin: String) -> Secret {
        Secret { value, origin }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.value
    }

    /// Where the secret came from, for messages (empty when unknown).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin.is_empty() { f.write_str("Secret(…)") } else { write!(f, "Secret(from {}, …)", self.origin) }
    }
}

/// The one way a URL is shown (messages, reports, state files): its origin only, with `/…` when
/// it has a path or a query. User name, password, path and query never show: webhook paths
/// (`/services/T0/B0/XXXX`) and query values are often the secret.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let origin = parsed.origin();
            let shown = if origin.is_tuple() {
                origin.ascii_serialization()
            } else {
                // An opaque origin (`file:`, `data:`): nothing of it is safe to show but the scheme.
                format!("{}:", parsed.scheme())
            };
            let has_more = parsed.path().len() > 1 || parsed.query().is_some() || parsed.fragment().is_some();
            if has_more || !origin.is_tuple() { format!("{shown}/…") } else { shown }
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

/// The most characters of a server's text that a message ever echoes.
pub const MAX_ECHOED_CHARS: usize = 500;

/// The one way a server's answer is echoed to the user (sources, webhook and action answers): an
/// HTML page's title or the start of the text, on one line, without control characters (ANSI/OSC
/// escapes), every value of `secrets` replaced by `[redacted]`, at most [`MAX_ECHOED_CHARS`]
/// characters; a binary body is described, never shown. `None` for an empty body.
pub fn echoed_body(body: &[u8], secrets: &[&str]) -> Option<String> {
    let head = &body[..body.len().min(64 * 1024)];
    if is_binary(head) {
        return Some(format!("({} bytes of binary data)", body.len()));
    }
    let text = String::from_utf8_lossy(head);
    let lower = text.to_ascii_lowercase();
    let shown = match (lower.find("<title>"), lower.find("</title>")) {
        (Some(open), Some(close)) if close > open => &text[open + 7..close],
        _ => &text[..],
    };
    let shown = echoed_text(shown, secrets);
    (!shown.is_empty()).then_some(shown)
}

/// Like [`echoed_body`] for text already extracted from an answer (a JSON error message, a
/// warning): one line, control characters removed, secrets replaced, capped.
pub fn echoed_text(text: &str, secrets: &[&str]) -> String {
    // Scrubbed before and after cleaning: an escape sequence inside a secret must not let it
    // through once the escape is removed.
    let scrubbed = scrub_secrets(text, secrets);
    let cleaned: String = scrubbed
        .chars()
        .map(|c| if crate::input::is_hidden_char(c) { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let cleaned = scrub_secrets(&cleaned, secrets);
    let mut capped: String = cleaned.chars().take(MAX_ECHOED_CHARS).collect();
    if cleaned.chars().nth(MAX_ECHOED_CHARS).is_some() {
        capped.push('…');
    }
    capped
}

/// Every non-empty value of `secrets` in `text` replaced by `[redacted]`: as sent, in any ASCII
/// letter case, and base64-encoded (standard and URL-safe alphabets), the forms in which a server
/// most often echoes a credential back.
pub fn scrub_secrets(text: &str, secrets: &[&str]) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        forms.push(secret.to_string());
        for encoded in [STANDARD.encode(secret), URL_SAFE_NO_PAD.encode(secret)] {
            // Padding aside: an echo may drop it.
            forms.push(encoded.trim_end_matches('=').to_string());
        }
    }
    // Longest first, so a secret containing another is replaced whole.
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    let mut out = text.to_string();
    for form in forms.iter().filter(|form| !form.is_empty()) {
        out = replace_ignoring_ascii_case(&out, form, "[redacted]");
    }
    out
}

/// `text` with every occurrence of `needle` replaced, ASCII letters compared without case.
/// (ASCII lower-casing keeps every byte offset, so positions found in the lowered copies hold in
/// the original.)
fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    let (lower_text, lower_needle) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in lower_text.match_indices(&lower_needle) {
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

/// Whether a body is binary rather than text: a NUL byte, or mostly bytes that are not text.
fn is_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    let text = String::from_utf8_lossy(head);
    let odd =
        text.chars().filter(|&c| c == char::REPLACEMENT_CHARACTER || (c.is_control() && !c.is_whitespace())).count();
    odd * 10 > text.chars().count().max(1)
}

/// A one-line summary of a non-JSON body, sanitised and capped ([`echoed_body`] without secrets).
pub fn summary(body: &[u8]) -> Option<String> {
    echoed_body(body, &[])
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
    // reqwest's message names the whole URL (path, query): shown redacted, as `without_url()`
    // would, since only a reference is at hand here.
    let mut message = error.to_string();
    if let Some(url) = error.url() {
        message = message.replace(url.as_str(), &redact_url(url.as_str()));
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

/// Why a source refused to follow a redirect.
#[derive(Debug)]
struct RedirectRefused(String);

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// The redirect policy of metric sources: a redirect is followed only within the origin of the
/// first request (same scheme, host and port), at most 5 times. Credentials (API keys, custom
/// headers) therefore never reach another origin: a cross-origin redirect is an error naming the
/// new location (redacted) and asking for the URL to be set to it.
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(|u| u.origin());
        if first.as_ref() != Some(&attempt.url().origin()) {
            let to = redact_url(attempt.url().as_str());
            return attempt.error(RedirectRefused(format!(
                "the server redirected to another origin, {to}; credentials are never sent on to another origin, so canary does not follow: set the source URL to the new location"
            )));
        }
        if attempt.previous().len() > 5 {
            return attempt.error(RedirectRefused("more than 5 redirects".into()));
        }
        attempt.follow()
    })
}

/// Checks a source's base URL: http(s), and no credentials or query (URLs appear in messages).
pub fn check_base_url(url: &str, what: &str) -> Result<(), super::SourceError> {
    let config = super::SourceError::Request;
    let parsed =
        reqwest::Url::parse(url).map_err(|e| config(format!("{what} `{}` is not a URL: {e}", redact_url(url))))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(config(format!("{what} `{}` must start with http:// or https://", redact_url(url))));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(config(format!(
            "{what} `{}` must not contain credentials or a query string: give credentials with the source's token or key settings (from the environment or a file)",
            redact_url(url)
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

/// The client of a metric source: canary's user agent, the request timeout (connecting within
/// 10 s at most), default headers, an optional extra certificate authority, and redirects
/// followed only within the origin ([`same_origin_redirects`]).
pub fn source_client(
    headers: reqwest::header::HeaderMap,
    timeout: std::time::Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    builder(headers, timeout, ca_file)?
        .redirect(same_origin_redirects())
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

pub(crate) fn builder(
    headers: reqwest::header::HeaderMap,
    timeout: std::time::Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::ClientBuilder, String> {
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
    Ok(builder)
}

/// Reads a response's body, refusing it (without reading further) once it exceeds `max_bytes`:
/// the declared length is checked first, then the bytes as they stream. `shown_url` is the
/// redacted URL named in errors.
pub async fn read_bounded_body(
    mut response: reqwest::Response,
    max_bytes: u64,
    shown_url: &str,
) -> Result<Vec<u8>, super::SourceError> {
    let too_large = || {
        super::SourceError::OverBudget(format!(
            "the answer from {shown_url} is larger than the {} allowed by --max-response-size: narrow the query (fewer series, a shorter window or a longer step) or raise --max-response-size",
            format_size(max_bytes)
        ))
    };
    if let Some(declared) = response.content_length()
        && declared > max_bytes
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if (body.len() + chunk.len()) as u64 > max_bytes {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) => {
                return Err(super::SourceError::Unavailable(format!(
                    "the response from {shown_url} broke off: {}",
                    describe_reqwest_error(&error.without_url())
                )));
            }
        }
    }
}

/// `64MiB`, `1.5GiB`, `512B`: a size in bytes for messages.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            return if bytes.is_multiple_of(size) {
                format!("{}{unit}", bytes / size)
            } else {
                format!("{:.1}{unit}", bytes as f64 / size as f64)
            };
        }
    }
    format!("{bytes}B")
}

/// Why [`parse_bounded_list`] failed.
#[derive(Debug)]
pub enum BoundedListError {
    /// More than the allowed number of elements.
    TooMany,
    Json(serde_json::Error),
}

/// Parses a JSON array of at most `max` elements, stopping at the first element past the limit
/// (nothing more is parsed or allocated).
pub fn parse_bounded_list<T: serde::de::DeserializeOwned>(json: &str, max: usize) -> Result<Vec<T>, BoundedListError> {
    use serde::de::{DeserializeSeed, SeqAccess, Visitor};
    use std::cell::Cell;
    struct Bounded<'a, T> {
        max: usize,
        exceeded: &'a Cell<bool>,
        marker: std::marker::PhantomData<T>,
    }
    impl<'de, T: serde::de::DeserializeOwned> DeserializeSeed<'de> for Bounded<'_, T> {
        type Value = Vec<T>;
        fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }
    impl<'de, T: serde::de::DeserializeOwned> Visitor<'de> for Bounded<'_, T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<T>()? {
                if items.len() == self.max {
                    self.exceeded.set(true);
                    return Err(serde::de::Error::custom("too many elements"));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    let exceeded = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let seed = Bounded { max, exceeded: &exceeded, marker: std::marker::PhantomData };
    match seed.deserialize(&mut deserializer).and_then(|items| deserializer.end().map(|()| items)) {
        Ok(items) => Ok(items),
        Err(_) if exceeded.get() => Err(BoundedListError::TooMany),
        Err(error) => Err(BoundedListError::Json(error)),
    }
}

/// Bounded retries with jittered exponential backoff between 0.2 s and 5 s.
pub fn retry_policy(retries: u32) -> reqwest_retry::policies::ExponentialBackoff {
    reqwest_retry::policies::ExponentialBackoff::builder()
        .retry_bounds(std::time::Duration::from_millis(200), std::time::Duration::from_secs(5))
        .jitter(reqwest_retry::Jitter::Bounded)
        .build_with_max_retries(retries)
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
        assert_eq!(redact_url("https://u:pw@prom.example.com/prometheus?token=abc"), "https://prom.example.com/…");
        assert_eq!(redact_url("https://hooks.example.com/services/T0/SECRET"), "https://hooks.example.com/…");
        assert_eq!(redact_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert!(
            is_credential_header("DD-API-KEY")
                && is_credential_header("Authorization")
                && !is_credential_header("X-Scope-OrgID")
        );
    }

    #[test]
    fn echoed_credentials_are_scrubbed_in_other_cases_and_in_base64() {
        // A 401 body quoting the bearer token upper-cased and base64-encoded used to print both.
        let body =
            "invalid token Bearer secret-tok-123 b64 c2VjcmV0LXRvay0xMjM= url c2VjcmV0LXRvay0xMjM lower SECRET-TOK-123";
        let shown = echoed_text(body, &["secret-tok-123"]);
        for form in ["secret-tok-123", "SECRET-TOK-123", "c2VjcmV0LXRvay0xMjM"] {
            assert!(!shown.contains(form), "{form} in {shown}");
        }
        assert_eq!(shown.matches("[redacted]").count(), 4, "{shown}");
        // Offsets survive non-ASCII text around a match.
        assert_eq!(scrub_secrets("é TOKEN ü", &["token"]), "é [redacted] ü");
    }

    #[test]
    fn echoed_bodies_are_scrubbed_sanitised_and_capped() {
        let reflected = b"invalid token: Bearer hunter2-secret (expected a valid one)";
        let shown = echoed_body(reflected, &["hunter2-secret"]).unwrap();
        assert!(!shown.contains("hunter2") && shown.contains("[redacted]"), "{shown}");
        // An escape sequence inside the secret does not let it through once removed.
        let split = b"token hunter2\x1b-secret";
        assert!(!echoed_body(split, &["hunter2-secret"]).unwrap().contains("hunter2-secret"));
        let escapes = "\x1b]0;owned\x07\x1b[31mred\x1b[0m \u{202e}text".as_bytes();
        let shown = echoed_body(escapes, &[]).unwrap();
        assert!(!shown.chars().any(|c| c.is_control() || c == '\u{202e}'), "{shown:?}");
        let title = format!("<html><head><title>{}</title></head></html>", "x".repeat(100_000));
        let shown = echoed_body(title.as_bytes(), &[]).unwrap();
        assert_eq!(shown.chars().count(), MAX_ECHOED_CHARS + 1, "capped, with an ellipsis");
        let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert_eq!(echoed_body(&binary, &[]).unwrap(), "(5000 bytes of binary data)");
        assert_eq!(echoed_text("a\nb\tc", &[]), "a b c");
    }

    #[test]
    fn bounded_lists_stop_past_the_limit() {
        assert_eq!(parse_bounded_list::<u32>("[1, 2, 3]", 3).unwrap(), vec![1, 2, 3]);
        assert!(matches!(parse_bounded_list::<u32>("[1, 2, 3, 4]", 3), Err(BoundedListError::TooMany)));
        assert!(matches!(parse_bounded_list::<u32>("[1, \"x\"]", 3), Err(BoundedListError::Json(_))));
        assert!(matches!(parse_bounded_list::<u32>("[1] x", 3), Err(BoundedListError::Json(_))));
        assert_eq!(format_size(64 << 20), "64MiB");
        assert_eq!(format_size(1536), "1.5KiB");
        assert_eq!(format_size(10), "10B");
    }

    #[test]
    fn redaction_keeps_only_the_origin() {
        assert_eq!(redact_url("http://127.0.0.1:9090"), "http://127.0.0.1:9090");
        assert_eq!(redact_url("http://127.0.0.1:9090/"), "http://127.0.0.1:9090");
        assert_eq!(redact_url("https://h.example/#frag"), "https://h.example/…");
        assert_eq!(redact_url("not a url with secret"), "(invalid URL)");
        assert_eq!(redact_url("file:///etc/secret"), "file:/…");
    }

    proptest::proptest! {
        /// For any URL with user info, path and query, the redacted form holds none of them.
        #[test]
        fn redaction_never_lets_userinfo_path_or_query_through(
            user in "[a-zA-Z0-9]{3,12}",
            password in "[a-zA-Z0-9]{3,12}",
            host in "[a-z]{1,10}(\\.[a-z]{2,5}){0,2}",
            port in proptest::option::of(1u16..),
            path in "(/[a-zA-Z0-9_-]{3,12}){1,4}",
            query in "[a-zA-Z0-9]{3,12}=[a-zA-Z0-9]{3,12}",
            scheme in proptest::sample::select(vec!["http", "https"]),
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("{scheme}://{user}:{password}@{host}{port}{path}?{query}");
            let shown = redact_url(&url);
            let host_part = shown.trim_start_matches(&format!("{scheme}://")).trim_end_matches("/…").to_string();
            for secret in [&user, &password, &path, &query] {
                proptest::prop_assert!(!shown.contains(secret.as_str()) || host_part.contains(secret.as_str()), "{url} -> {shown}");
            }
            proptest::prop_assert!(!shown.contains('@') && !shown.contains('?'), "{url} -> {shown}");
            proptest::prop_assert!(shown.ends_with("/…"), "{url} -> {shown}");
            let expected = format!("{scheme}://{host}");
            proptest::prop_assert!(shown.starts_with(&expected), "{url} -> {shown}");
        }
    }
}
