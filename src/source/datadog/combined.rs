//! One v2 request for many queries: every query of a batch over the same range and step goes in
//! one `POST /api/v2/query/timeseries` (named `q0`, `q1`, … with a formula each), split over time
//! only where the 1,440-bucket limit forces it, and the answer is split back into each query's
//! series by `query_index`. When Datadog refuses the combined request as written (a syntax error
//! in one query), each query is sent alone so that the error names the query that caused it.

use super::query::{prepare, v2_body};
use super::rate_limit::{at_most, send};
use super::response::interpret_combined;
use super::{MAX_POINTS_PER_REQUEST, Shared, run_query};
use crate::model::{Point, Series};
use crate::source::SourceError;
use crate::source::fetch::OwnedQuery;
use crate::source::http;
use reqwest::header::CONTENT_TYPE;
use std::collections::BTreeMap;

/// Runs a group of queries of one range and step (see `groups`): one result per query, in order.
pub(super) async fn run_group(shared: &Shared, queries: Vec<OwnedQuery>) -> Vec<Result<Vec<Series>, SourceError>> {
    if queries.len() == 1 {
        return vec![run_query(shared, &queries[0]).await];
    }
    // A query canary cannot send (a rollup unlike the step) fails alone; the others go together.
    let mut results: Vec<Option<Result<Vec<Series>, SourceError>>> = vec![None; queries.len()];
    let mut sendable = Vec::new();
    for (index, query) in queries.iter().enumerate() {
        match prepare(shared.settings.api, &query.query, query.step) {
            Ok(sent) => sendable.push((index, OwnedQuery { query: sent, ..query.clone() })),
            Err(message) => {
                results[index] =
                    Some(Err(SourceError::Request(format!("{}: {message}\n  query: {}", query.label, query.query))));
            }
        }
    }
    let prepared: Vec<OwnedQuery> = sendable.iter().map(|(_, query)| query.clone()).collect();
    let answers = match combined(shared, &prepared).await {
        Ok(answers) => answers.into_iter().map(Ok).collect(),
        // Refused as written: find the query that caused it by sending each alone.
        Err(SourceError::Request(_)) if prepared.len() > 1 => {
            let mut alone = Vec::with_capacity(sendable.len());
            for (index, _) in &sendable {
                alone.push(run_query(shared, &queries[*index]).await);
            }
            alone
        }
        Err(error) => vec![Err(error); prepared.len()],
    };
    for ((index, _), answer) in sendable.iter().zip(answers) {
        results[*index] = Some(answer);
    }
    results.into_iter().map(|r| r.expect("every query answered")).collect()
}

/// How messages name a combined request: `metric `a`, canary value and 5 other queries in one
/// request`.
fn group_label(queries: &[OwnedQuery]) -> String {
    format!("{} and {} other queries in one request", queries[0].label, queries.len() - 1)
}

/// Sends `queries` (already prepared, all of one range and step) in requests of at most 1,440
/// buckets and merges each query's series by their tags.
async fn combined(shared: &Shared, queries: &[OwnedQuery]) -> Result<Vec<Vec<Series>>, SourceError> {
    let settings = &shared.settings;
    let group = OwnedQuery { label: group_label(queries), ..queries[0].clone() };
    let step = group.step as i64;
    let base = settings.connection.url.trim_end_matches('/');
    let url = format!("{base}/api/v2/query/timeseries");
    // The answer holds every query's series: each query gets the budget a request of its own has.
    let max_bytes =
        queries.iter().map(|q| q.budget(&settings.connection).max_response_bytes).fold(0u64, u64::saturating_add);
    let mut merged: Vec<BTreeMap<BTreeMap<String, String>, Vec<Point>>> = vec![BTreeMap::new(); queries.len()];
    let mut first = group.start;
    while first <= group.end {
        let last = group.end.min(first + (MAX_POINTS_PER_REQUEST - 1) * step);
        // Buckets from `first` through `last`; the request runs to the end of the last one.
        let (from, to) = (first, last + step);
        let sent: Vec<&str> = queries.iter().map(|q| q.query.as_str()).collect();
        let body = v2_body(&sent, from, to, group.step);
        let build = |client: &reqwest_middleware::ClientWithMiddleware| {
            let request = client.post(&url).header(CONTENT_TYPE, "application/json").body(body.clone());
            Ok((http::redact_url(&url), request))
        };
        let (owned_group, owned_queries) = (group.clone(), queries.to_vec());
        let parse = move |status, body: Vec<u8>, url: String| {
            interpret_combined(status, &body, &url, &owned_group, &owned_queries, from, to)
        };
        let answers = send(shared, &group, max_bytes, build, parse).await?;
        for (into, series) in merged.iter_mut().zip(answers) {
            for one in series {
                into.entry(one.labels).or_default().extend(one.points);
            }
        }
        first = last + step;
    }
    merged
        .into_iter()
        .zip(queries)
        .map(|(series, query)| {
            let series = series
                .into_iter()
                .map(|(labels, mut points)| {
                    points.sort_by_key(|p| p.time);
                    Series { labels, points }
                })
                .collect();
            at_most(series, query.budget(&settings.connection).max_series, query, &query.query)
        })
        .collect()
}
