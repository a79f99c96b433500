//! The heartbeat ping of `--ping-url`: a GET on the shared HTTP client setup
//! ([`crate::source::http::builder`]: canary's user agent, the TLS provider, connect and request
//! timeouts), following redirects within the heartbeat service's origin only and sending no
//! `Referer`, because the ping URL's path often is the check's secret.

use std::time::Duration;

/// Time limit of the heartbeat ping.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Redirects within the origin of the first request only, at most 5; any other redirect is not
/// followed, and its answer is the heartbeat service's answer.
fn same_origin_or_stop() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(reqwest::Url::origin);
        if attempt.previous().len() > 5 || first != Some(attempt.url().origin()) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// The heartbeat: a GET of `url`; an error says why, without the URL (it often holds a token).
pub fn ping(url: &str) -> Result<(), String> {
    let client = crate::source::http::builder(reqwest::header::HeaderMap::new(), PING_TIMEOUT, None)?
        .redirect(same_origin_or_stop())
        .referer(false)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    runtime.block_on(async {
        match client.get(url).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("the heartbeat service answered HTTP {}", response.status().as_u16())),
            Err(e) if e.is_timeout() => Err(format!("timed out after {}s", PING_TIMEOUT.as_secs())),
            Err(e) if e.is_connect() => Err("connection failed".into()),
            Err(e) => Err(e.without_url().to_string()),
        }
    })
}
