//! Datadog's answers, v1 (`MetricsQueryResponse`) and v2 (`timeseries_response`), turned into
//! series or an error in the user's terms: null points and the buckets that sparse v2 `times`
//! leave out are missing points; error bodies of any shape are echoed sanitised; a query syntax
//! error is a configuration error showing the query; HTML pages are summarised, never parsed.

use crate::config::DatadogApi;
use crate::model::{Point, Series};
use crate::source::SourceError;
use crate::source::fetch::{self, OwnedQuery};
use crate::source::http::{self, looks_like_html, summary};
use reqwest::StatusCode;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Interprets one Datadog answer (API version, HTTP status and body) as a live query at `step`
/// seconds would, for the fuzz targets and property tests: the query is a fixed placeholder.
#[doc(hidden)]
pub fn parse_response_bytes(api: DatadogApi, status: u16, body: &[u8], step: u64) -> Result<Vec<Series>, SourceError> {
    let status = StatusCode::from_u16(status).map_err(|e| SourceError::Unavailable(e.to_string()))?;
    let query = fetch::fuzz_query("avg:fuzz{*}", step);
    interpret(api, status, body, "https://api.datadoghq.invalid", &query, "avg:fuzz{*}")
}

/// Interprets one answer to a combined v2 request of `queries` placeholder queries at `step`
/// seconds over 0 through 600 s, as a live run would, for the fuzz targets and property tests.
#[doc(hidden)]
pub fn parse_combined_response_bytes(
    status: u16,
    body: &[u8],
    step: u64,
    queries: usize,
) -> Result<Vec<Vec<Series>>, SourceError> {
    let status = StatusCode::from_u16(status).map_err(|e| SourceError::Unavailable(e.to_string()))?;
    let queries: Vec<OwnedQuery> = (0..queries.max(1))
        .map(|index| OwnedQuery { label: format!("fuzz {index}"), ..fetch::fuzz_query("avg:fuzz{*}", step) })
        .collect();
    let group = OwnedQuery { label: "fuzz group".into(), ..queries[0].clone() };
    interpret_combined(status, body, "https://api.datadoghq.invalid", &group, &queries, 0, 600 + step as i64)
}

/// Turns a response into series or an error in the user's terms.
pub(super) fn interpret(
    api: DatadogApi,
    status: StatusCode,
    body: &[u8],
    url: &str,
    query: &OwnedQuery,
    sent: &str,
) -> Result<Vec<Series>, SourceError> {
    refuse_errors(status, body, url, query, sent)?;
    match api {
        DatadogApi::V1 => {
            let not_json = |error: String| fetch::not_json(query, status, url, body, "Datadog", summary(body), error);
            let response: V1Response = serde_json::from_slice(body).map_err(|e| not_json(e.to_string()))?;
            let error = response
                .error
                .filter(|e| !e.trim().is_empty())
                .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "));
            let failed = response.status.as_deref().is_some_and(|s| s != "ok");
            if let Some(messages) = response.errors.as_ref().map(messages_of).filter(|m| !m.is_empty()) {
                return Err(refused(query, url, sent, None, messages.join("; ")));
            }
            if error.is_some() || failed {
                let message = error.unwrap_or_else(|| format!("status `{}`", response.status.unwrap_or_default()));
                return Err(refused(query, url, sent, None, message));
            }
            v1_series(response.series, query, sent)
        }
        DatadogApi::V2 => {
            let attributes = v2_attributes(status, body, url, query, sent)?;
            v2_series(attributes, query)
                .map_err(|m| fetch::unavailable(query, format!("malformed answer from {url}: {m}")))
        }
    }
}

/// Turns the answer to one combined v2 request (of `queries`, in order, over `from` inclusive to
/// `to` exclusive, in seconds) into each query's series. `group` names the request in errors;
/// the query a refusal names is found by sending the queries alone (see the caller). The answer
/// is checked strictly: every series belongs to one of the queries (`query_index`), no query
/// returns the same tags twice, every list of values lines up with `times`, and every time is a
/// bucket of the requested range.
pub(super) fn interpret_combined(
    status: StatusCode,
    body: &[u8],
    url: &str,
    group: &OwnedQuery,
    queries: &[OwnedQuery],
    from: i64,
    to: i64,
) -> Result<Vec<Vec<Series>>, SourceError> {
    let sent: Vec<&str> = queries.iter().map(|q| q.query.as_str()).collect();
    let sent = sent.join("\n  query: ");
    refuse_errors(status, body, url, group, &sent)?;
    let attributes = v2_attributes(status, body, url, group, &sent)?;
    split_by_query(attributes, queries, from, to)
        .map_err(|m| fetch::unavailable(group, format!("malformed answer from {url}: {m}")))
}

/// A refusal: a configuration error showing the query when Datadog says the query is wrong (or
/// answers 400/422), else "could not judge".
fn refused(query: &OwnedQuery, url: &str, sent: &str, code: Option<u16>, message: String) -> SourceError {
    let http = code.map(|c| format!(" (HTTP {c})")).unwrap_or_default();
    if is_query_error(&message) || matches!(code, Some(400 | 422)) {
        fetch::query_rejected(query, "Datadog", &http, &message, sent)
    } else {
        fetch::query_failed(query, url, &http, &message)
    }
}

/// The error of an answer that is not a success, in the user's terms.
fn refuse_errors(
    status: StatusCode,
    body: &[u8],
    url: &str,
    query: &OwnedQuery,
    sent: &str,
) -> Result<(), SourceError> {
    if status.is_success() {
        return Ok(());
    }
    let not_json = |error: String| fetch::not_json(query, status, url, body, "Datadog", summary(body), error);
    Err(match error_messages(body) {
        Some(messages) if !messages.is_empty() => refused(query, url, sent, Some(status.as_u16()), messages.join("; ")),
        _ if looks_like_html(body) || serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
            not_json(String::from("empty body"))
        }
        _ => fetch::unavailable(query, format!("HTTP {} from {url} without an error message", status.as_u16())),
    })
}

/// The attributes of a successful v2 answer, or its error.
fn v2_attributes(
    status: StatusCode,
    body: &[u8],
    url: &str,
    query: &OwnedQuery,
    sent: &str,
) -> Result<V2Attributes, SourceError> {
    let not_json = |error: String| fetch::not_json(query, status, url, body, "Datadog", summary(body), error);
    let response: V2Response = serde_json::from_slice(body).map_err(|e| not_json(e.to_string()))?;
    if let Some(messages) = response.errors.as_ref().map(messages_of).filter(|m| !m.is_empty()) {
        return Err(refused(query, url, sent, None, messages.join("; ")));
    }
    let data = response.data.ok_or_else(|| fetch::without_data(query, status, url))?;
    Ok(data.attributes)
}

/// Each query's series of a combined answer; see [`interpret_combined`] for the checks.
fn split_by_query(
    attributes: V2Attributes,
    queries: &[OwnedQuery],
    from: i64,
    to: i64,
) -> Result<Vec<Vec<Series>>, String> {
    if attributes.values.len() != attributes.series.len() {
        return Err(format!("{} series but {} lists of values", attributes.series.len(), attributes.values.len()));
    }
    let mut times = Vec::with_capacity(attributes.times.len());
    for &ms in &attributes.times {
        let time = (ms / 1000.0).round();
        if !time.is_finite() || time < from as f64 || time >= to as f64 {
            return Err(format!("a bucket at {ms} ms, outside the requested range of {from} s to {to} s"));
        }
        times.push(time as i64);
    }
    if let Some(pair) = times.windows(2).find(|w| w[1] <= w[0]) {
        return Err(if pair[0] == pair[1] {
            format!("the bucket at {} s appears twice in `times`", pair[0])
        } else {
            "`times` is not in increasing order".into()
        });
    }
    let mut per_query: Vec<Vec<Series>> = vec![Vec::new(); queries.len()];
    let mut seen: Vec<std::collections::BTreeSet<BTreeMap<String, String>>> = vec![Default::default(); queries.len()];
    for (series, values) in attributes.series.iter().zip(attributes.values) {
        let index = match series.query_index {
            Some(index) if index < queries.len() => index,
            Some(index) => return Err(format!("a series of query {index}, but only {} were asked", queries.len())),
            None if queries.len() == 1 => 0,
            None => return Err("a series without `query_index` in the answer to several queries".into()),
        };
        if values.len() != times.len() {
            return Err(format!("{} times but {} values in a series", times.len(), values.len()));
        }
        let labels = labels(&series.group_tags);
        if !seen[index].insert(labels.clone()) {
            return Err(format!("{} returned the series {labels:?} twice", queries[index].label));
        }
        let points =
            times.iter().zip(values).filter_map(|(&time, value)| value.map(|value| Point { time, value })).collect();
        per_query[index].push(Series { labels, points });
    }
    for query in queries {
        warn_if_coarser(&times, query);
    }
    Ok(per_query)
}

fn v1_series(series: Vec<V1Series>, query: &OwnedQuery, sent: &str) -> Result<Vec<Series>, SourceError> {
    series
        .into_iter()
        .map(|s| {
            // The interval is in seconds in real answers (the specification says ms): accept both.
            if let Some(interval) = s.interval
                && interval != query.step as f64
                && interval != (query.step * 1000) as f64
            {
                return Err(SourceError::Request(format!(
                    "{}: Datadog bucketed the series every {interval}s, not every {}s as the step asks: give the query a rollup of the step, or no rollup and let canary add it\n  query: {sent}",
                    query.label, query.step
                )));
            }
            let points = s
                .pointlist
                .into_iter()
                .filter_map(|(time, value)| value.map(|value| Point { time: (time / 1000.0).round() as i64, value }))
                .collect();
            Ok(Series { labels: labels(&s.tag_set), points })
        })
        .collect()
}

fn v2_series(attributes: V2Attributes, query: &OwnedQuery) -> Result<Vec<Series>, String> {
    if attributes.values.len() != attributes.series.len() {
        return Err(format!("{} series but {} lists of values", attributes.series.len(), attributes.values.len()));
    }
    let times: Vec<i64> = attributes.times.iter().map(|t| (t / 1000.0).round() as i64).collect();
    warn_if_coarser(&times, query);
    attributes
        .series
        .iter()
        .zip(attributes.values)
        .map(|(series, values)| {
            if values.len() != times.len() {
                return Err(format!("{} times but {} values in a series", times.len(), values.len()));
            }
            let points = times
                .iter()
                .zip(values)
                .filter_map(|(&time, value)| value.map(|value| Point { time, value }))
                .collect();
            Ok(Series { labels: labels(&series.group_tags), points })
        })
        .collect()
}

/// v2 treats `interval` as a hint and may bucket more coarsely; say so when the buckets are
/// evidently further apart than the step (with enough of them that sparseness cannot explain it).
fn warn_if_coarser(times: &[i64], query: &OwnedQuery) {
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    if times.len() < 10 {
        return;
    }
    let spacing = times.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0).fold(0, gcd);
    if spacing > query.step as i64 {
        eprintln!(
            "canary: warning: {}: Datadog answered with buckets {spacing}s apart, coarser than the step of {}s; set the step to {spacing}s",
            query.label, query.step
        );
    }
}

/// Tags (`version:1.4.2`) as labels; a tag without a value becomes a label with an empty value.
fn labels(tags: &[String]) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for tag in tags {
        let (key, value) = tag.split_once(':').unwrap_or((tag.as_str(), ""));
        labels
            .entry(key.to_string())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    labels
}

fn is_query_error(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["error parsing query", "unable to parse", "parse error", "syntax error", "invalid query"]
        .iter()
        .any(|needle| lower.contains(needle))
}

/// The messages of an `{"errors": ...}` body, however they are shaped: an array of strings or
/// of objects (`detail`, `title`), or one string.
pub(super) fn error_messages(body: &[u8]) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Errors {
        errors: serde_json::Value,
    }
    serde_json::from_slice::<Errors>(body).ok().map(|e| messages_of(&e.errors))
}

fn messages_of(errors: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    // Datadog's parse errors span lines ("Error parsing query: \nunable to parse ..."): one line each.
    let line = |text: &str| http::echoed_text(text, &[]);
    let one = |value: &Value| match value {
        Value::String(text) => Some(line(text)),
        Value::Object(object) => ["detail", "title", "message"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_str))
            .map(line)
            .or_else(|| Some(line(&value.to_string()))),
        Value::Null => None,
        other => Some(line(&other.to_string())),
    };
    match errors {
        // At most 5 messages echoed, each sanitised and capped.
        Value::Array(items) => items.iter().filter_map(one).filter(|m| !m.is_empty()).take(5).collect(),
        other => one(other).into_iter().filter(|m| !m.is_empty()).collect(),
    }
}

/// `GET /api/v1/query` (`MetricsQueryResponse`).
#[derive(Deserialize)]
struct V1Response {
    status: Option<String>,
    error: Option<String>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
    #[serde(default)]
    series: Vec<V1Series>,
}

#[derive(Deserialize)]
struct V1Series {
    #[serde(default)]
    tag_set: Vec<String>,
    interval: Option<f64>,
    /// `[ms, value | null]`; the time may be written as a float.
    #[serde(default)]
    pointlist: Vec<(f64, Option<f64>)>,
}

/// `POST /api/v2/query/timeseries`. `errors` is a string in the success schema and an array in
/// error bodies.
#[derive(Deserialize)]
struct V2Response {
    data: Option<V2Data>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct V2Data {
    attributes: V2Attributes,
}

#[derive(Deserialize)]
struct V2Attributes {
    #[serde(default)]
    series: Vec<V2Series>,
    /// Bucket starts in ms, only those with data (sparse).
    #[serde(default)]
    times: Vec<f64>,
    /// One list per series, lined up with `times`.
    #[serde(default)]
    values: Vec<Vec<Option<f64>>>,
}

#[derive(Deserialize)]
struct V2Series {
    #[serde(default)]
    group_tags: Vec<String>,
    /// The formula (here: the query) the series answers.
    #[serde(default)]
    query_index: Option<usize>,
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::datadog::tests::query;

    fn v1(body: &str) -> Result<Vec<Series>, SourceError> {
        interpret(DatadogApi::V1, StatusCode::OK, body.as_bytes(), "u", &query(60), "q")
    }

    fn v2(status: u16, body: &str) -> Result<Vec<Series>, SourceError> {
        interpret(DatadogApi::V2, StatusCode::from_u16(status).unwrap(), body.as_bytes(), "u", &query(60), "sent q")
    }

    /// D1 of the API reference: v1, grouped by version, with null points and float ms times.
    const D1: &str = r#"{"status":"ok","res_type":"time_series","resp_version":1,"query":"avg:http.server.latency{service:web} by {version}.rollup(avg, 60)",
     "from_date":1717430400000,"to_date":1717430700000,"group_by":["version"],"message":"","times":[],"values":[],
     "series":[
      {"metric":"http.server.latency","display_name":"http.server.latency","expression":"avg:http.server.latency{service:web,version:1.4.1}.rollup(avg, 60)",
       "scope":"service:web,version:1.4.1","tag_set":["version:1.4.1"],"aggr":"avg","query_index":0,"interval":60,"length":5,
       "start":1717430400000,"end":1717430699000,"attributes":{},
       "unit":[{"family":"time","name":"second","plural":"seconds","scale_factor":1.0,"short_name":"s","id":11},null],
       "pointlist":[[1717430400000.0,0.121],[1717430460000.0,0.118],[1717430520000.0,0.125],[1717430580000.0,0.119],[1717430640000.0,0.122]]},
      {"metric":"http.server.latency","display_name":"http.server.latency","expression":"avg:http.server.latency{service:web,version:1.4.2}.rollup(avg, 60)",
       "scope":"service:web,version:1.4.2","tag_set":["version:1.4.2"],"aggr":"avg","query_index":0,"interval":60,"length":5,
       "start":1717430400000,"end":1717430699000,"attributes":{},"unit":null,
       "pointlist":[[1717430400000.0,null],[1717430460000.0,0.191],[1717430520000.0,0.204],[1717430580000.0,null],[1717430640000.0,0.198]]}]}"#;

    #[test]
    fn v1_grouped_series_with_null_points_and_float_ms_times() {
        let series = v1(D1).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].labels, BTreeMap::from([("version".to_string(), "1.4.1".to_string())]));
        assert_eq!(series[0].points.len(), 5);
        assert_eq!(series[0].points[0], Point { time: 1_717_430_400, value: 0.121 });
        // Null points are missing points.
        let canary: Vec<(i64, f64)> = series[1].points.iter().map(|p| (p.time, p.value)).collect();
        assert_eq!(canary, vec![(1_717_430_460, 0.191), (1_717_430_520, 0.204), (1_717_430_640, 0.198)]);
        assert_eq!(series[1].labels["version"], "1.4.2");
    }

    #[test]
    fn v1_interval_is_read_in_seconds_and_must_match_the_step() {
        // `interval: 60` is seconds; a 60 s step accepts it, a 30 s step does not.
        assert!(v1(D1).is_ok());
        let err = interpret(DatadogApi::V1, StatusCode::OK, D1.as_bytes(), "u", &query(30), "q").unwrap_err();
        assert!(matches!(err, SourceError::Request(_)), "{err}");
        assert!(err.to_string().contains("every 60s, not every 30s"), "{err}");
        // An interval written in ms (as the specification says) is accepted too.
        let ms = D1.replace("\"interval\":60", "\"interval\":60000");
        assert!(v1(&ms).is_ok());
    }

    #[test]
    fn v1_empty_and_error_status() {
        let empty = r#"{"status":"ok","res_type":"time_series","series":[],"from_date":1,"to_date":2,"group_by":[],"query":"x"}"#;
        assert_eq!(v1(empty).unwrap(), Vec::new());
        let failed = r#"{"status":"error","error":"Error parsing query: unable to parse avg:foo{*"}"#;
        let err = v1(failed).unwrap_err();
        assert!(matches!(err, SourceError::Request(_)), "{err}");
        let failed = r#"{"status":"error","error":"backend overloaded","series":[]}"#;
        assert!(matches!(v1(failed).unwrap_err(), SourceError::Unavailable(_)));
    }

    /// D3 of the API reference: v2, sparse times and nulls (one series per answer, as canary asks).
    #[test]
    fn v2_sparse_times_and_nulls() {
        let body = r#"{"data":{"id":"0","type":"timeseries_response","attributes":{
          "series":[{"group_tags":[],"query_index":0,"unit":[{"family":"time","name":"second","plural":"seconds","scale_factor":1.0,"short_name":"s","id":11},null]},
                    {"group_tags":["version:1.4.2","region:eu"],"query_index":0,"unit":null}],
          "times":[1717430400000,1717430460000,1717430520000,1717430640000],
          "values":[[0.121,0.118,0.125,0.122],[null,0.191,0.204,0.198]]}}}"#;
        let series = v2(200, body).unwrap();
        let times = |s: &Series| s.points.iter().map(|p| p.time).collect::<Vec<_>>();
        // 10:42 (…580) is absent: a missing point, not a zero.
        assert_eq!(times(&series[0]), vec![1_717_430_400, 1_717_430_460, 1_717_430_520, 1_717_430_640]);
        assert_eq!(times(&series[1]), vec![1_717_430_460, 1_717_430_520, 1_717_430_640]);
        assert!(series[0].labels.is_empty());
        assert_eq!(series[1].labels["region"], "eu");
        assert_eq!(series[1].labels["version"], "1.4.2");
    }

    #[test]
    fn v2_empty_results_are_no_series() {
        let body =
            r#"{"data":{"id":"0","type":"timeseries_response","attributes":{"series":[],"times":[],"values":[]}}}"#;
        assert_eq!(v2(200, body).unwrap(), Vec::new());
        let mismatched = r#"{"data":{"attributes":{"series":[{"group_tags":[]}],"times":[1,2],"values":[[1.0]]}}}"#;
        assert!(v2(200, mismatched).unwrap_err().to_string().contains("2 times but 1 values"));
    }

    #[test]
    fn syntax_errors_are_configuration_errors_showing_the_query() {
        let body = r#"{"errors":["Error parsing query: \nunable to parse avg:http.server.latency{service:web: Rule 'scope_expr' didn't match at 'service:web' (line 1, column 25)."]}"#;
        let err = v2(400, body).unwrap_err();
        assert!(matches!(err, SourceError::Request(_)), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("Rule 'scope_expr'") && text.contains("query: sent q") && text.contains("HTTP 400"),
            "{text}"
        );
        let invalid = r#"{"errors":["API input validation failed: Invalid type. Expected \"timeseries_request\"."]}"#;
        assert!(matches!(v2(400, invalid).unwrap_err(), SourceError::Request(_)));
        // A 200 with an error string is an error too, never data.
        let errors = r#"{"data":{"attributes":{"series":[],"times":[],"values":[]}},"errors":"Query timed out"}"#;
        let err = v2(200, errors).unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)) && err.to_string().contains("Query timed out"), "{err}");
    }

    #[test]
    fn html_pages_and_server_errors_cannot_judge() {
        let page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        let err = v2(502, page).unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)));
        assert!(err.to_string().contains("HTTP 502 from u with an HTML page: 502 Bad Gateway"), "{err}");
        let err = v2(503, r#"{"errors":["Service Unavailable"]}"#).unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)) && err.to_string().contains("Service Unavailable"));
        let err = v2(200, r#"{"data":{"attributes":"#).unwrap_err();
        assert!(err.to_string().contains("not Datadog JSON"), "{err}");
    }

    fn combined(body: &str, queries: usize) -> Result<Vec<Vec<Series>>, SourceError> {
        let queries: Vec<OwnedQuery> =
            (0..queries).map(|i| OwnedQuery { label: format!("metric `m{i}`, canary value"), ..query(60) }).collect();
        let group = OwnedQuery { label: "group".into(), ..queries[0].clone() };
        interpret_combined(StatusCode::OK, body.as_bytes(), "u", &group, &queries, 600, 900)
    }

    #[test]
    fn a_combined_answer_is_split_by_query_index_and_checked_strictly() {
        let body = r#"{"data":{"attributes":{
          "series":[{"group_tags":[],"query_index":2},{"group_tags":["region:eu"],"query_index":0},{"group_tags":["region:us"],"query_index":0}],
          "times":[600000,660000,780000],
          "values":[[1.0,2.0,3.0],[0.5,null,0.7],[0.1,0.2,0.3]]}}}"#;
        let answers = combined(body, 3).unwrap();
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].len(), 2);
        assert_eq!(answers[0][0].labels["region"], "eu");
        assert_eq!(answers[0][0].points.iter().map(|p| p.time).collect::<Vec<_>>(), vec![600, 780]);
        // A query without series has no data, as alone.
        assert!(answers[1].is_empty());
        assert_eq!(answers[2][0].points.len(), 3);
        let malformed = |body: &str| combined(body, 2).unwrap_err().to_string();
        let index_out = r#"{"data":{"attributes":{"series":[{"group_tags":[],"query_index":2}],"times":[600000],"values":[[1.0]]}}}"#;
        assert!(malformed(index_out).contains("query 2, but only 2 were asked"));
        let no_index = r#"{"data":{"attributes":{"series":[{"group_tags":[]}],"times":[600000],"values":[[1.0]]}}}"#;
        assert!(malformed(no_index).contains("without `query_index`"));
        let twice = r#"{"data":{"attributes":{"series":[{"group_tags":["a:b"],"query_index":1},{"group_tags":["a:b"],"query_index":1}],"times":[600000],"values":[[1.0],[2.0]]}}}"#;
        assert!(malformed(twice).contains("metric `m1`, canary value returned the series"));
        let outside = r#"{"data":{"attributes":{"series":[{"group_tags":[],"query_index":0}],"times":[900000],"values":[[1.0]]}}}"#;
        assert!(malformed(outside).contains("outside the requested range"));
        let unordered = r#"{"data":{"attributes":{"series":[{"group_tags":[],"query_index":0}],"times":[660000,600000],"values":[[1.0,2.0]]}}}"#;
        assert!(malformed(unordered).contains("increasing"));
        let repeated = r#"{"data":{"attributes":{"series":[{"group_tags":[],"query_index":0}],"times":[600000,600000],"values":[[1.0,2.0]]}}}"#;
        assert!(malformed(repeated).contains("600 s appears twice"));
        let short = r#"{"data":{"attributes":{"series":[{"group_tags":[],"query_index":0}],"times":[600000,660000],"values":[[1.0]]}}}"#;
        assert!(malformed(short).contains("2 times but 1 values"));
        // Every malformed answer is "could not judge", never data.
        assert!(matches!(combined(twice, 2).unwrap_err(), SourceError::Unavailable(_)));
    }

    #[test]
    fn tags_become_labels() {
        let tags = ["version:1.4.2".to_string(), "canary".to_string(), "url:http://x".to_string()];
        let labels = labels(&tags);
        assert_eq!(labels["version"], "1.4.2");
        assert_eq!(labels["canary"], "");
        assert_eq!(labels["url"], "http://x");
    }
}
