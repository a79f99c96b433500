//! The query and request as sent to Datadog: the rollup pinned to the window's step (rewriting a v1
//! query), the v1 URL and the v2 body.

use crate::config::DatadogApi;
use crate::source::SourceError;

/// The query as sent. A rollup interval written in the query must equal the step, so that both
/// sides are bucketed alike. v2 pins the interval with the request's `interval`; for v1 the
/// rollup is made explicit: a `.rollup(method)` without interval gets the step, and a query
/// without rollup gets `.rollup(avg, STEP)` (`.rollup(sum, STEP)` after `.as_count()`,
/// `.rollup(STEP)` for a percentile of a distribution) appended, which needs a single metric.
pub(super) fn prepare(api: DatadogApi, query: &str, step: u64) -> Result<String, String> {
    let query = query.trim();
    let mut sent = String::with_capacity(query.len() + 20);
    let mut rest = query;
    let mut rollups = 0;
    while let Some(open) = rest.find(".rollup(") {
        let inside_start = open + ".rollup(".len();
        let Some(close) = rest[inside_start..].find(')') else { break };
        let inside = &rest[inside_start..inside_start + close];
        rollups += 1;
        let interval = inside.split(',').map(str::trim).find_map(|arg| arg.parse::<f64>().ok());
        if let Some(seconds) = interval
            && seconds != step as f64
        {
            return Err(format!(
                "the query's `.rollup({inside})` buckets every {seconds}s but the window's step is {step}s: both sides must be bucketed at the step (drop the interval from the rollup and canary sets it, or set the step to {seconds}s)"
            ));
        }
        sent.push_str(&rest[..inside_start]);
        match (api, interval, inside.trim().is_empty()) {
            (DatadogApi::V1, None, true) => sent.push_str(&step.to_string()),
            (DatadogApi::V1, None, false) => sent.push_str(&format!("{inside}, {step}")),
            _ => sent.push_str(inside),
        }
        rest = &rest[inside_start + close..];
    }
    sent.push_str(rest);
    if api == DatadogApi::V2 || rollups > 0 {
        return Ok(sent);
    }
    let terms = metric_terms(query);
    if terms > 1 {
        return Err(format!(
            "the v1 API buckets each metric of an expression by its own rollup, and this one combines {terms} metrics: write `.rollup(avg, {step})` (or `.rollup(sum, {step})` for `.as_count()`) after each of them, or use the v2 API"
        ));
    }
    let rollup = if query.contains(".as_count()") {
        format!(".rollup(sum, {step})")
    } else if is_percentile(query) {
        format!(".rollup({step})")
    } else {
        format!(".rollup(avg, {step})")
    };
    Ok(format!("{sent}{rollup}"))
}

/// How many metric queries (`name{scope}`) an expression holds; `by {tag}` groups do not count.
fn metric_terms(query: &str) -> usize {
    let bytes = query.as_bytes();
    (1..bytes.len())
        .filter(|&i| bytes[i] == b'{' && (bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'_' | b'.')))
        .count()
}

/// `p99:`, `p95:`, `p99.9:`: a percentile of a distribution metric, whose rollup takes no method.
fn is_percentile(query: &str) -> bool {
    let Some((aggregator, _)) = query.split_once(':') else { return false };
    let aggregator = aggregator.trim();
    aggregator.len() > 1
        && aggregator.starts_with('p')
        && aggregator[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The v1 request URL.
pub(super) fn v1_url(base: &str, query: &str, from: i64, to: i64) -> Result<reqwest::Url, SourceError> {
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", base.trim_end_matches('/')))
        .map_err(|e| SourceError::Request(format!("Datadog URL `{base}` is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("from", &from.to_string())
        .append_pair("to", &to.to_string())
        .append_pair("query", query);
    Ok(url)
}

/// The v2 request body: the queries named `q0`, `q1`, … in order, each its own formula (so the
/// answer's `query_index` is the query's position), `from`/`to`/`interval` in ms.
pub(super) fn v2_body(queries: &[&str], from: i64, to: i64, step: u64) -> Vec<u8> {
    let named: Vec<serde_json::Value> = queries
        .iter()
        .enumerate()
        .map(
            |(index, query)| serde_json::json!({"data_source": "metrics", "name": format!("q{index}"), "query": query}),
        )
        .collect();
    let formulas: Vec<serde_json::Value> =
        (0..queries.len()).map(|index| serde_json::json!({"formula": format!("q{index}")})).collect();
    let body = serde_json::json!({
        "data": {
            "type": "timeseries_request",
            "attributes": {
                "from": from * 1000,
                "to": to * 1000,
                "interval": step * 1000,
                "queries": named,
                "formulas": formulas,
            }
        }
    });
    serde_json::to_vec(&body).expect("JSON serialises")
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollups_are_pinned_to_the_step() {
        let v1 = |q: &str| prepare(DatadogApi::V1, q, 60);
        assert_eq!(
            v1("avg:http.server.latency{service:web} by {version}").unwrap(),
            "avg:http.server.latency{service:web} by {version}.rollup(avg, 60)"
        );
        assert_eq!(
            v1("sum:http.errors{track:canary}.as_count()").unwrap(),
            "sum:http.errors{track:canary}.as_count().rollup(sum, 60)"
        );
        assert_eq!(
            v1("p99:http.server.latency{track:canary}").unwrap(),
            "p99:http.server.latency{track:canary}.rollup(60)"
        );
        assert_eq!(v1("max:q{a:b}.rollup(max)").unwrap(), "max:q{a:b}.rollup(max, 60)");
        assert_eq!(v1("avg:q{a:b}.rollup(avg, 60)").unwrap(), "avg:q{a:b}.rollup(avg, 60)");
        let err = v1("sum:a{x:y}.as_count() / sum:b{x:y}.as_count()").unwrap_err();
        assert!(err.contains("combines 2 metrics"), "{err}");
        // A rollup of another interval would bucket the sides unlike the step, in both APIs.
        assert!(v1("avg:q{a:b}.rollup(avg, 300)").unwrap_err().contains("every 300s"));
        assert!(prepare(DatadogApi::V2, "p99:q{a:b}.rollup(120)", 60).is_err());
        // v2 pins the interval in the request and sends the query as written.
        assert_eq!(prepare(DatadogApi::V2, "avg:q{a:b} by {v}", 60).unwrap(), "avg:q{a:b} by {v}");
    }

    #[test]
    fn v2_requests_name_the_window_in_ms_and_the_step_as_interval() {
        let body: serde_json::Value = serde_json::from_slice(&v2_body(&["avg:q{a:b}"], 100, 700, 60)).unwrap();
        let attributes = &body["data"]["attributes"];
        assert_eq!(body["data"]["type"], "timeseries_request");
        assert_eq!((attributes["from"].as_i64(), attributes["to"].as_i64()), (Some(100_000), Some(700_000)));
        assert_eq!(attributes["interval"], 60_000);
        assert_eq!(attributes["queries"][0]["query"], "avg:q{a:b}");
        let url = v1_url("https://api.datadoghq.com/", "avg:q{a:b} by {v}", 100, 700).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.datadoghq.com/api/v1/query?from=100&to=700&query=avg%3Aq%7Ba%3Ab%7D+by+%7Bv%7D"
        );
    }
}
