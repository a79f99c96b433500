//! The scrape interval of a Prometheus server, from `/api/v1/targets?state=active`: the largest
//! `scrapeInterval` of its active targets. Asked only to explain an empty answer (a range shorter
//! than twice the interval); the parse is strict and bounded, and any failure means "unknown".

use super::SourceError;
use crate::model::Duration;
use serde::Deserialize;

/// The most bytes a targets answer may have: a server with thousands of targets fits.
pub(crate) const MAX_TARGETS_BYTES: u64 = 16 << 20;

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "activeTargets", default)]
    active_targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(rename = "scrapeInterval")]
    scrape_interval: Option<String>,
}

/// The largest scrape interval of the active targets in a `/api/v1/targets` answer (`None`: no
/// active target states one). `shown_url` (redacted) is named in errors.
pub(crate) fn largest_scrape_interval(body: &[u8], shown_url: &str) -> Result<Option<Duration>, SourceError> {
    if body.len() as u64 > MAX_TARGETS_BYTES {
        return Err(SourceError::Unavailable(format!("the targets answer from {shown_url} is too large")));
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        SourceError::Unavailable(format!("the targets answer from {shown_url} is not the expected JSON: {e}"))
    })?;
    if answer.status != "success" {
        return Err(SourceError::Unavailable(format!("{shown_url} answered status `{}`", answer.status)));
    }
    let mut largest: Option<Duration> = None;
    for target in answer.data.map(|d| d.active_targets).unwrap_or_default() {
        let Some(text) = target.scrape_interval else { continue };
        let interval = text.parse::<Duration>().map_err(|e| {
            SourceError::Unavailable(format!(
                "{shown_url}: scrapeInterval {}",
                crate::source::http::echoed_text(&e, &[])
            ))
        })?;
        if interval.as_secs() > 0 {
            largest = Some(largest.map_or(interval, |l| l.max(interval)));
        }
    }
    Ok(largest)
}

/// [`largest_scrape_interval`] for the fuzz target, in seconds.
#[doc(hidden)]
pub fn parse_targets_bytes(body: &[u8]) -> Result<Option<u64>, SourceError> {
    largest_scrape_interval(body, "http://prometheus.invalid/api/v1/targets").map(|d| d.map(Duration::as_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://p/api/v1/targets";

    #[test]
    fn the_largest_interval_of_the_active_targets() {
        let body = br#"{"status":"success","data":{"activeTargets":[{"scrapeInterval":"15s","health":"up"},{"scrapeInterval":"1m"},{"labels":{}}],"droppedTargets":[]}}"#;
        assert_eq!(largest_scrape_interval(body, URL).unwrap(), Some(Duration::from_secs(60)));
        let none = br#"{"status":"success","data":{"activeTargets":[]}}"#;
        assert_eq!(largest_scrape_interval(none, URL).unwrap(), None);
    }

    #[test]
    fn anything_else_is_an_error_naming_the_url() {
        for body in [
            &b"<html>"[..],
            br#"{"status":"error","error":"x"}"#,
            br#"{"status":"success","data":{"activeTargets":[{"scrapeInterval":"soon"}]}}"#,
            br#"{"status":"success","data":{"activeTargets":{}}}"#,
        ] {
            let error = largest_scrape_interval(body, URL).unwrap_err().to_string();
            assert!(error.contains(URL), "{error}");
        }
    }
}
