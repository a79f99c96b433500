//! What a connection to either HTTP source (Prometheus, Datadog) is made of, as resolved by
//! `settings::source`: the base URL, the plain headers, the certificate authority, timeouts,
//! retries and limits; and what both sources build from it: the checked headers, the retrying
//! client, the credential header values to scrub, and the batch.

use super::SourceError;
use super::fetch::{self, Batch};
use super::http;
use reqwest::header::HeaderMap;
use reqwest_middleware::ClientWithMiddleware;
use reqwest_retry::RetryableStrategy;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One HTTP source's connection, whatever the backend.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    /// Base URL including any path prefix (`http://mimir/prometheus`, `https://api.datadoghq.eu`).
    pub(crate) url: String,
    /// Headers sent with every request: the analysis's, then the flags'.
    pub(crate) headers: BTreeMap<String, String>,
    /// PEM file of an extra certificate authority to trust (a proxy's).
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) request_timeout: Duration,
    pub(crate) total_timeout: Duration,
    /// Retries of a request that failed with 5xx, a timeout or a connection error.
    pub(crate) retries: u32,
    /// How many requests run at once.
    pub(crate) concurrency: usize,
    /// The most bytes one answer may have (`--max-response-size`).
    pub(crate) max_response_bytes: u64,
    /// The most series one query may return (`--max-series`).
    pub(crate) max_series: usize,
}

impl Connection {
    /// The headers every request carries, after checking the URL (`what` names it in the error:
    /// `source URL`, `Datadog URL`); the source adds its credentials to them.
    pub(crate) fn plain_headers(&self, what: &str) -> Result<HeaderMap, SourceError> {
        http::check_base_url(&self.url, what)?;
        http::plain_headers(&self.headers)
    }

    /// A client that sends `headers` within the request timeout, trusts the extra certificate
    /// authority, and retries what `strategy` calls transient.
    pub(crate) fn client(
        &self,
        headers: HeaderMap,
        strategy: impl RetryableStrategy + Send + Sync + 'static,
    ) -> Result<ClientWithMiddleware, SourceError> {
        fetch::retrying_client(headers, self.request_timeout, self.ca_file.as_deref(), self.retries, strategy)
    }

    /// The values of the credential headers (`Authorization`, API keys) among the headers.
    pub(crate) fn credential_headers(&self) -> impl Iterator<Item = String> + '_ {
        self.headers.iter().filter(|(name, _)| http::is_credential_header(name)).map(|(_, value)| value.clone())
    }

    /// A batch on this connection, run on `runtime`, with every value of `secrets` scrubbed from
    /// its messages.
    pub(crate) fn batch<'a>(&'a self, runtime: &'a tokio::runtime::Runtime, secrets: Vec<String>) -> Batch<'a> {
        Batch { url: &self.url, runtime, concurrency: self.concurrency, total_timeout: self.total_timeout, secrets }
    }
}
