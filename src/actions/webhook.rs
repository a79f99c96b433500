//! The rollback webhook: an HTTP POST of the JSON report on a fail verdict (optionally also on
//! inconclusive), with an `Idempotency-Key` (same analysis, canary and window → same key), a
//! timestamp, and, when a secret is configured, an HMAC-SHA256 signature over
//! `"<timestamp>.<body>"` so receivers can verify origin and drop replays. Bounded retries with
//! backoff on 5xx, 429 and connection errors, never on other 4xx. The secret never appears in any
//! output. Feature actions ([`super::features`]) go through the same delivery
//! ([`deliver_request`]) with their own method, URL, headers and body.

use crate::judge::report::{JudgmentReport, WebhookOutcome};
use crate::source::http::{self, Secret, url_origin};
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
    let shown_url = url_origin(&request.url);
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
        Ok(status) => {
            outcome.status = Some(status);
            outcome.delivered = (200..300).contains(&status);
            if !outcome.delivered {
                outcome.error = Some(format!("the receiver answered HTTP {status}"));
            }
        }
        Err(error) => outcome.error = Some(error),
    }
    outcome
}

fn secret_text(secret: &Secret) -> &str {
    secret.expose()
}

fn send(
    request: &Request,
    settings: &WebhookSettings,
    body: &[u8],
    now: i64,
    signature: Option<&str>,
) -> Result<u16, String> {
    let client = http::client(reqwest::header::HeaderMap::new(), settings.timeout, None)?;
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
    runtime.block_on(async {
        match builder.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) => Err(format!(
                "cannot reach {}: {}; gave up after {} retries",
                request.url,
                crate::source::http::describe_error(&error),
                settings.retries
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_and_body() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'1700000000.{}',hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
