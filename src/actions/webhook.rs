//! The rollback webhook: an HTTP POST of the JSON report on a fail verdict (optionally also on
//! inconclusive), with an `Idempotency-Key` (same analysis, canary and window → same key), a
//! timestamp, and, when a secret is configured, an HMAC-SHA256 signature over
//! `"<timestamp>.<body>"` so receivers can verify origin and drop replays. Bounded retries with
//! backoff on 5xx, 429 and connection errors, never on other 4xx. The secret never appears in any
//! output. Feature actions ([`super::features`]) go through the same delivery
//! ([`deliver_request`]) with their own method, URL, headers and body.
//!
//! Delivered means delivered: redirects are never followed (a 301/302/303 would turn the POST
//! into a GET without its body, and any redirect could carry the request's secret headers to
//! another host); a 3xx is a failed delivery whose message names the new location (origin only)
//! and says which URL to set instead. Every URL shown is redacted to its origin, and every text
//! that comes from the transport or the receiver is capped, stripped of control characters and
//! scrubbed of the request's secrets ([`scrub`]). All attempts of one delivery, backoff
//! included, end within [`DELIVERY_BUDGET`], below Kubernetes' 30 s termination grace period.

use crate::judge::report::{JudgmentReport, WebhookOutcome};
use crate::source::http::{self, Secret, redact_url};
use hmac::{Hmac, KeyInit, Mac};
use reqwest_retry::RetryTransientMiddleware;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// Header names of the request.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const TIMESTAMP_HEADER: &str = "X-Canary-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Canary-Signature";
/// The environment variable that can hold the signing secret itself.
pub const SECRET_VARIABLE: &str = "CANARY_ROLLBACK_SECRET";
/// The longest one delivery may take, every attempt and backoff included: a SIGTERM arriving
/// during a delivery waits for it, and Kubernetes kills the pod 30 s after SIGTERM by default.
pub const DELIVERY_BUDGET: Duration = Duration::from_secs(20);

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub secret: Option<Secret>,
    pub timeout: Duration,
    pub retries: u32,
    /// Print the request instead of sending it.
    pub dry_run: bool,
}

/// The key that identifies one judgment of one canary: analysis, canary selection and window.
pub fn idempotency_key(report: &JudgmentReport) -> String {
    digest(&report.analysis, &report.canary.variables, Some((report.window.start, report.window.end)))
}

/// The key that identifies one canary across judgments: analysis and canary selection.
pub fn canary_key(report: &JudgmentReport) -> String {
    digest(&report.analysis, &report.canary.variables, None)
}

/// The key of one feature's action in one judgment: the judgment's key and the feature.
pub fn feature_key(report: &JudgmentReport, feature: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(idempotency_key(report).as_bytes());
    hasher.update(format!("\nfeature={feature}").as_bytes());
    hex(&hasher.finalize()[..16])
}

/// [`canary_key`] from the analysis name and the canary's resolved variables, before judging.
pub fn canary_key_of(analysis: &str, canary: &BTreeMap<String, String>) -> String {
    digest(analysis, canary, None)
}

fn digest(analysis: &str, canary: &BTreeMap<String, String>, window: Option<(i64, i64)>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(analysis.as_bytes());
    for (key, value) in canary {
        hasher.update(format!("\n{key}={value}").as_bytes());
    }
    if let Some((start, end)) = window {
        hasher.update(format!("\n{start}\n{end}").as_bytes());
    }
    hex(&hasher.finalize()[..16])
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One request to deliver: the rollback webhook's POST of the report, or a feature's action.
#[derive(Debug, Clone)]
pub struct Request {
    /// What it is, for messages: `the rollback webhook`, `the action of feature \`organic-search\``.
    pub label: String,
    pub method: &'static str,
    pub url: String,
    /// Headers shown on dry runs.
    pub headers: Vec<(String, String)>,
    /// Headers whose values are secrets: (name, value, where it comes from); never shown.
    pub secret_headers: Vec<(String, Secret, String)>,
    /// The body (JSON), signed with the timestamp; `None` sends none (and signs the empty body).
    pub body: Option<Vec<u8>>,
    pub idempotency_key: String,
    /// Where the user sets the URL, for messages: `the rollback webhook URL (...)`.
    pub url_setting: String,
}

/// Sends (or, on a dry run, prints to stderr) the report to the webhook.
pub fn deliver(report: &JudgmentReport, settings: &WebhookSettings, now: i64) -> WebhookOutcome {
    let request = Request {
        label: "the rollback webhook".into(),
        method: "POST",
        url: settings.url.clone(),
        headers: Vec::new(),
        secret_headers: Vec::new(),
        body: Some(serde_json::to_vec(report).expect("reports serialise")),
        idempotency_key: idempotency_key(report),
        url_setting: "the rollback webhook URL (`rollback.url` or --rollback-webhook)".into(),
    };
    deliver_request(&request, settings, now)
}

/// Sends (or, on a dry run, prints to stderr) one request with the idempotency key, the
/// timestamp and, with a secret in `settings`, the signature; `settings.url` is not used.
pub fn deliver_request(request: &Request, settings: &WebhookSettings, now: i64) -> WebhookOutcome {
    let body = request.body.clone().unwrap_or_default();
    let key = request.idempotency_key.clone();
    let signed = settings.secret.as_ref().map(|secret| signature(secret_text(secret), now, &body));
    // Webhook paths and queries are often the secret: reports and messages show the origin only.
    let shown_url = redact_url(&request.url);
    let mut outcome = WebhookOutcome {
        url: shown_url.clone(),
        idempotency_key: key.clone(),
        delivered: false,
        dry_run: settings.dry_run,
        status: None,
        error: None,
        signed: signed.is_some(),
    };
    if settings.dry_run {
        eprintln!("canary: dry run: would send {}:\n{} {shown_url} (path hidden)", request.label, request.method);
        if request.body.is_some() {
            eprintln!("Content-Type: application/json");
        }
        eprintln!("{IDEMPOTENCY_HEADER}: {key}\n{TIMESTAMP_HEADER}: {now}");
        if let Some(signature) = &signed {
            eprintln!("{SIGNATURE_HEADER}: {signature}");
        }
        for (name, value) in &request.headers {
            eprintln!("{name}: {value}");
        }
        for (name, _, source) in &request.secret_headers {
            eprintln!("{name}: <secret from {source}>");
        }
        if request.body.is_some() {
            eprintln!("\n{}", String::from_utf8_lossy(&body));
        }
        return outcome;
    }
    match send(request, settings, &body, now, signed.as_deref()) {
        Ok(Answer { status, location }) => {
            outcome.status = Some(status);
            outcome.delivered = (200..300).contains(&status);
            if (300..400).contains(&status) {
                outcome.error = Some(redirect_error(status, &request.url, location.as_deref(), &request.url_setting));
            } else if !outcome.delivered {
                outcome.error = Some(format!("the receiver answered HTTP {status}"));
            }
        }
        // Transport text is foreign: scrubbed of the request's secrets.
        Err(error) => outcome.error = Some(scrub(&error, &secrets_of(request, settings))),
    }
    outcome
}

/// Every secret a request carries, to scrub from any text shown: the URL whole (as given and as
/// parsed) and its user name, password, path and query; the signing secret; the secret headers.
fn secrets_of(request: &Request, settings: &WebhookSettings) -> Vec<String> {
    let mut secrets = vec![request.url.clone()];
    if let Ok(url) = reqwest::Url::parse(&request.url) {
        secrets.push(url.as_str().to_string());
        let (user, password) = (url.username(), url.password().unwrap_or_default());
        if !user.is_empty() || !password.is_empty() {
            secrets.push(format!("{user}:{password}@"));
            secrets.push(format!("{user}@"));
        }
        // Alone, only when long enough not to blot out ordinary words of the message.
        secrets.extend([user, password].into_iter().filter(|s| s.len() >= 4).map(str::to_string));
        if url.path().len() > 1 {
            secrets.push(url.path().to_string());
        }
        secrets.extend(url.query().map(str::to_string));
    }
    secrets.extend(settings.secret.as_ref().map(|s| secret_text(s).to_string()));
    secrets.extend(request.secret_headers.iter().map(|(_, value, _)| secret_text(value).to_string()));
    secrets
}

/// Text fit to quote in a message: the request's secrets scrubbed, control characters removed,
/// capped ([`http::echoed_text`], the one function for every echoed text).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    http::echoed_text(text, &secrets)
}

/// The message of a 3xx answer: where it points (origin only), that canary does not follow it,
/// and which URL to set instead. Made of origins only, so it needs no scrubbing.
fn redirect_error(status: u16, from: &str, location: Option<&str>, setting: &str) -> String {
    let why = "canary does not follow redirects for deliveries (a redirected POST can arrive as a GET without its \
               body, and its secrets could follow it to another host)";
    let Some(location) = location else {
        return format!("the receiver answered with a redirect ({status}) without a Location: {why}");
    };
    let (Ok(from), Ok(target)) = (reqwest::Url::parse(from), reqwest::Url::parse(from).and_then(|u| u.join(location)))
    else {
        return format!("the receiver answered with a redirect ({status}) to an invalid location: {why}");
    };
    let shown = redact_url(target.as_str());
    let fix = if target.host_str() == from.host_str() && from.scheme() == "http" && target.scheme() == "https" {
        let mut https = from.clone();
        let _ = https.set_scheme("https");
        let _ = https.set_port(target.port());
        format!("set {setting} to its https:// address ({}, path as given)", redact_url(https.as_str()))
    } else if target.origin() == from.origin()
        && target.path().trim_end_matches('/') == from.path().trim_end_matches('/')
    {
        let slash = if target.path().ends_with('/') { "with" } else { "without" };
        format!("set {setting} {slash} the trailing slash")
    } else if target.origin() == from.origin() {
        format!("set {setting} to the path the receiver redirects to")
    } else {
        format!("if {shown} is the right receiver, set {setting} to the new location")
    };
    format!("the receiver answered with a redirect ({status}) to {shown}, which was not followed: {fix}; {why}")
}

fn secret_text(secret: &Secret) -> &str {
    secret.expose()
}

/// What the receiver answered: the status and, for a redirect, its `Location`.
struct Answer {
    status: u16,
    location: Option<String>,
}

/// The shared client setup ([`http::builder`]) that never follows a redirect, each attempt
/// limited to the settings' timeout and the delivery budget.
fn delivery_client(timeout: Duration) -> Result<reqwest::Client, String> {
    http::builder(reqwest::header::HeaderMap::new(), timeout.min(DELIVERY_BUDGET), None)?
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", e.without_url()))
}

fn send(
    request: &Request,
    settings: &WebhookSettings,
    body: &[u8],
    now: i64,
    signature: Option<&str>,
) -> Result<Answer, String> {
    let client = delivery_client(settings.timeout)?;
    let client = reqwest_middleware::ClientBuilder::new(client)
        .with(RetryTransientMiddleware::new_with_policy(http::retry_policy(settings.retries)))
        .build();
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| format!("invalid HTTP method {}: {e}", request.method))?;
    let mut builder = client
        .request(method, &request.url)
        .header(IDEMPOTENCY_HEADER, &request.idempotency_key)
        .header(TIMESTAMP_HEADER, now.to_string());
    if request.body.is_some() {
        // A Content-Type among the request's headers replaces the default.
        if !request.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        builder = builder.body(body.to_vec());
    }
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    for (name, value, _) in &request.secret_headers {
        let mut value = reqwest::header::HeaderValue::from_str(secret_text(value))
            .map_err(|_| format!("the secret value of header {name} is not a valid header value"))?;
        value.set_sensitive(true);
        builder = builder.header(name, value);
    }
    if let Some(signature) = signature {
        builder = builder.header(SIGNATURE_HEADER, signature);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    let shown = redact_url(&request.url);
    runtime.block_on(async {
        // The response is dropped unread: a huge, slow or binary body is never waited for.
        match tokio::time::timeout(DELIVERY_BUDGET, builder.send()).await {
            Ok(Ok(response)) => Ok(Answer {
                status: response.status().as_u16(),
                location: response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            }),
            Ok(Err(error)) => Err(format!(
                "cannot reach {shown}: {}; gave up after {} retries",
                describe_error(error),
                settings.retries
            )),
            Err(_) => Err(format!(
                "no answer from {shown} within the delivery budget of {} s (all attempts included)",
                DELIVERY_BUDGET.as_secs()
            )),
        }
    })
}

/// A transport error without its URL (reqwest's message includes the whole URL).
fn describe_error(error: reqwest_middleware::Error) -> String {
    match error {
        reqwest_middleware::Error::Reqwest(e) => http::describe_reqwest_error(&e.without_url()),
        other => http::describe_error(&other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hook_request(url: &str) -> (Request, WebhookSettings) {
        let request = Request {
            label: "the rollback webhook".into(),
            method: "POST",
            url: url.into(),
            headers: Vec::new(),
            secret_headers: vec![("X-Token".into(), Secret::new("header-secret".into()), "$T".into())],
            body: None,
            idempotency_key: "k".into(),
            url_setting: "the rollback webhook URL".into(),
        };
        let settings = WebhookSettings {
            url: url.into(),
            secret: Some(Secret::new("hmac-secret".into())),
            timeout: Duration::from_secs(1),
            retries: 0,
            dry_run: false,
        };
        (request, settings)
    }

    #[test]
    fn a_redirect_names_the_new_origin_and_the_url_to_set() {
        let from = "http://hooks.example.com/services/T0/SECRET";
        let https = redirect_error(301, from, Some("https://hooks.example.com/services/T0/SECRET"), "the URL");
        assert!(https.contains("redirect (301) to https://hooks.example.com/…"), "{https}");
        assert!(https.contains("set the URL to its https:// address (https://hooks.example.com/…"), "{https}");
        let slash = redirect_error(308, from, Some("/services/T0/SECRET/"), "the URL");
        assert!(slash.contains("set the URL with the trailing slash"), "{slash}");
        let moved = redirect_error(302, from, Some("/v2/hooks"), "the URL");
        assert!(moved.contains("to the path the receiver redirects to"), "{moved}");
        let away = redirect_error(307, from, Some("https://evil.example.net/x?token=1"), "the URL");
        assert!(away.contains("if https://evil.example.net/… is the right receiver"), "{away}");
        let none = redirect_error(303, from, None, "the URL");
        assert!(none.contains("without a Location"), "{none}");
        for message in [https, slash, moved, away, none] {
            assert!(!message.contains("SECRET") && !message.contains("token=1"), "{message}");
        }
    }

    #[test]
    fn scrubbing_removes_secrets_escapes_and_length() {
        let (request, settings) = hook_request("https://user:pw-9@hooks.example.com/services/T0/SECRET?sig=abc");
        let secrets = secrets_of(&request, &settings);
        let text = "error sending request for url (https://user:pw-9@hooks.example.com/services/T0/SECRET?sig=abc): \
                    \x1b]8;;x\x07 /services/T0/SECRET sig=abc pw-9 header-secret hmac-secret\n";
        let clean = scrub(text, &secrets);
        for secret in ["SECRET", "sig=abc", "pw-9", "header-secret", "hmac-secret", "\x1b", "\n"] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert_eq!(scrub(&"x".repeat(10_000), &secrets).chars().count(), http::MAX_ECHOED_CHARS + 1);
        // Short credentials go with their URL, without blotting out the rest of the message.
        let (request, settings) = hook_request("http://u:p@127.0.0.1:9/hook");
        let clean = scrub(
            "cannot reach http://u:p@127.0.0.1:9/hook: connection failed (u:p@x)",
            &secrets_of(&request, &settings),
        );
        assert_eq!(clean, "cannot reach [redacted]: connection failed ([redacted]x)");
        let (request, settings) = hook_request("http://127.0.0.1:9/");
        assert_eq!(scrub("a:@b @c", &secrets_of(&request, &settings)), "a:@b @c");
    }

    proptest! {
        /// Whatever surrounds them, the URL's user name, password, path and query and the request's
        /// secrets never survive scrubbing, and the result is short and free of control characters.
        #[test]
        fn scrubbed_text_never_holds_a_secret(
            user in "[a-z]{4,8}",
            password in "[A-Za-z0-9]{6,12}",
            path in "/[A-Za-z0-9]{8,16}/[A-Za-z0-9]{8,16}",
            query in "[a-z]{3}=[A-Za-z0-9]{8,16}",
            before in "\\PC{0,400}",
            after in "[\\x00-\\x7f]{0,400}",
        ) {
            let url = format!("https://{user}:{password}@hooks.example.com{path}?{query}");
            let (request, settings) = hook_request(&url);
            let secrets = secrets_of(&request, &settings);
            let parsed = reqwest::Url::parse(&url).unwrap();
            let text = format!("{before}{url} {} {password}{path}{after}{query}header-secret", parsed.as_str());
            let clean = scrub(&text, &secrets);
            for secret in [&password, &path, &query, &"header-secret".to_string(), &url] {
                prop_assert!(!clean.contains(secret.as_str()), "{} in {}", secret, clean);
            }
            prop_assert!(!clean.contains(user.as_str()), "{} in {}", user, clean);
            prop_assert!(clean.chars().count() <= http::MAX_ECHOED_CHARS + 1);
            prop_assert!(!clean.chars().any(char::is_control));
        }
    }

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_and_body() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'1700000000.{}',hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
