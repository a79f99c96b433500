//! Grouped queries for many services judged in one run (`canary judge --fleet`), a layer above
//! [`MetricSource::fetch_all`]: queries that are identical (same text, same window) are fetched
//! once, and queries of one groupable shape ([`shape`]) that differ only in one label value are
//! fetched as one `sum by (…, label)` query and split by that label (on Datadog, [`datadog`]:
//! one `… tag IN (a, b, …)} by {tag}` query, carried in the same combined v2 request as the rest),
//! so that the backend's requests grow with the number of distinct query shapes, not with the
//! number of services.
//!
//! Each service gets exactly the series its own query would return: the series whose label is its
//! value, with that label removed. A value missing from the answer gets no series (no data, never
//! another service's data); series without the label belong to no one. A grouped Datadog answer
//! is checked strictly: every series carries the grouping tag with a value that was asked for and
//! no tag but the query's own `by` tags, or the whole group fails. All requests go out in one
//! `fetch_all` call, so the source's one concurrency bound covers every service.

pub mod datadog;
pub mod shape;

use super::{MetricSource, QueryRequest, SourceError};
use crate::model::{Series, Window};
pub use datadog::groupable_datadog;
pub use shape::{GroupableShape, groupable};
use std::collections::{BTreeMap, HashMap};

/// The most label values one grouped query carries (more are split into several queries).
pub(crate) const MAX_GROUP_VALUES: usize = 100;

/// One query that one service needs.
pub(crate) struct Wanted<'a> {
    pub(crate) request: QueryRequest<'a>,
    /// Its groupable shape and this service's value of the grouping label, when it has one.
    pub(crate) group: Option<(&'a GroupableShape, &'a str)>,
}

/// How one backend answer is handed out.
enum Delivery<'a> {
    /// The same series to each of these wanted queries.
    Exact(Vec<usize>),
    /// Split by the shape's label: the series of each value to its wanted queries.
    Grouped { shape: &'a GroupableShape, members: Vec<(String, Vec<usize>)> },
}

/// The answers, one per wanted query in order, and how many queries were sent to the backend.
pub(crate) struct Answers {
    pub(crate) answers: Vec<Result<Vec<Series>, SourceError>>,
    pub(crate) backend_queries: usize,
}

type WindowKey = (i64, i64, u64);

fn window_key(window: &Window) -> WindowKey {
    (window.start, window.end, window.step_seconds)
}

/// Fetches every wanted query, identical ones once and groupable ones grouped, with no limit on
/// the series of one service's share of a grouped answer beyond the source's own.
#[cfg(test)]
pub(crate) fn fetch_grouped(source: &dyn MetricSource, wanted: &[Wanted<'_>]) -> Answers {
    fetch_grouped_within(source, wanted, usize::MAX)
}

/// [`fetch_grouped`] where each service may have at most `max_series` series per query (its
/// `--max-series`). A grouped query answers for all its services at once, so the source allows it
/// their budgets together ([`MetricSource::fetch_all_for`], within a hard cap); each service's own
/// share of the answer is then checked against `max_series`, and only a service whose share is
/// larger fails (could not judge, its own query named), as it would alone.
pub(crate) fn fetch_grouped_within(source: &dyn MetricSource, wanted: &[Wanted<'_>], max_series: usize) -> Answers {
    // Groupable queries by (shape, window), then by value.
    let mut groups: BTreeMap<(&GroupableShape, WindowKey), BTreeMap<&str, Vec<usize>>> = BTreeMap::new();
    for (index, want) in wanted.iter().enumerate() {
        if let Some((shape, value)) = want.group
            && shape.accepts(value)
        {
            groups.entry((shape, window_key(&want.request.window))).or_default().entry(value).or_default().push(index);
        }
    }
    let mut backend: Backend<'_> = Vec::new();
    let mut grouped = vec![false; wanted.len()];
    for ((shape, _), values) in &groups {
        if values.len() < 2 {
            continue;
        }
        let values: Vec<(&str, &Vec<usize>)> = values.iter().map(|(v, m)| (*v, m)).collect();
        for chunk in values.chunks(MAX_GROUP_VALUES) {
            let names: Vec<&str> = chunk.iter().map(|(value, _)| *value).collect();
            let members: Vec<(String, Vec<usize>)> =
                chunk.iter().map(|(value, indices)| (value.to_string(), indices.to_vec())).collect();
            for index in members.iter().flat_map(|(_, indices)| indices) {
                grouped[*index] = true;
            }
            let first = &wanted[chunk[0].1[0]].request;
            backend.push((first.clone(), Some(shape.grouped_query(&names)), Delivery::Grouped { shape, members }));
        }
    }
    // Everything else: identical queries once.
    let mut exact: HashMap<(&str, WindowKey), usize> = HashMap::new();
    for (index, want) in wanted.iter().enumerate().filter(|(index, _)| !grouped[*index]) {
        let key = (want.request.query, window_key(&want.request.window));
        match exact.get(&key) {
            Some(&at) => {
                if let Delivery::Exact(members) = &mut backend[at].2 {
                    members.push(index);
                }
            }
            None => {
                exact.insert(key, backend.len());
                backend.push((want.request.clone(), None, Delivery::Exact(vec![index])));
            }
        }
    }
    let requests: Vec<QueryRequest<'_>> = backend
        .iter()
        .map(|(request, query, _)| QueryRequest { query: query.as_deref().unwrap_or(request.query), ..request.clone() })
        .collect();
    let members: Vec<usize> = backend
        .iter()
        .map(|(_, _, delivery)| match delivery {
            Delivery::Exact(_) => 1,
            Delivery::Grouped { members, .. } => members.len(),
        })
        .collect();
    let results = source.fetch_all_for(&requests, &members);
    let mut backend_queries = requests.len();
    drop(requests);
    let (backend, results) = alone_when_over_budget(source, wanted, backend, results, &mut backend_queries);
    let mut answers: Vec<Option<Result<Vec<Series>, SourceError>>> = (0..wanted.len()).map(|_| None).collect();
    for ((request, _, delivery), result) in backend.into_iter().zip(results) {
        let sent = request.label();
        match (delivery, result) {
            (Delivery::Exact(members), result) => {
                for index in members {
                    answers[index] = Some(result.clone().map_err(|e| attributed(&e, &sent, &wanted[index].request)));
                }
            }
            (Delivery::Grouped { members, .. }, Err(error)) => {
                for index in members.into_iter().flat_map(|(_, indices)| indices) {
                    answers[index] = Some(Err(attributed(&error, &sent, &wanted[index].request)));
                }
            }
            (Delivery::Grouped { shape, members }, Ok(series)) => {
                if let Err(error) = check_grouped_answer(shape, &series, &members) {
                    for index in members.into_iter().flat_map(|(_, indices)| indices) {
                        answers[index] = Some(Err(attributed(&error, &sent, &wanted[index].request)));
                    }
                    continue;
                }
                let mut by_value = split(series, &shape.label);
                for (value, indices) in members {
                    let series = by_value.remove(&value).unwrap_or_default();
                    for index in indices {
                        let own = &wanted[index].request;
                        answers[index] = Some(if series.len() > max_series {
                            Err(too_many_series(own, &shape.label, &value, series.len(), max_series))
                        } else {
                            Ok(series.clone())
                        });
                    }
                }
            }
        }
    }
    let answers = answers
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| Err(SourceError::Request("internal error: a query was not fetched".into())))
        })
        .collect();
    Answers { answers, backend_queries }
}

/// One backend query: what it asks (and, when grouped, the grouped text) and how its answer is
/// handed out.
type Backend<'a> = Vec<(QueryRequest<'a>, Option<String>, Delivery<'a>)>;

/// Results in the order of a [`Backend`].
type Results = Vec<Result<Vec<Series>, SourceError>>;

/// The grouped queries whose answer was larger than their services' budgets together (more
/// series, or more bytes, than the source allowed): each of their services asks its own query
/// once more, alone, as it would without the fleet, so that only a service over its own limit
/// fails. Counts the extra queries in `backend_queries`.
fn alone_when_over_budget<'a>(
    source: &dyn MetricSource,
    wanted: &[Wanted<'a>],
    backend: Backend<'a>,
    results: Results,
    backend_queries: &mut usize,
) -> (Backend<'a>, Results) {
    let over_budget = |result: &Result<Vec<Series>, SourceError>| matches!(result, Err(SourceError::OverBudget(_)));
    let (mut kept, mut kept_results, mut alone) = (Vec::new(), Vec::new(), Vec::new());
    for (entry, result) in backend.into_iter().zip(results) {
        match entry.2 {
            Delivery::Grouped { members, .. } if over_budget(&result) => {
                for (_, indices) in members {
                    alone.push((wanted[indices[0]].request.clone(), None, Delivery::Exact(indices)));
                }
            }
            _ => {
                kept.push(entry);
                kept_results.push(result);
            }
        }
    }
    if !alone.is_empty() {
        let requests: Vec<QueryRequest<'a>> = alone.iter().map(|(request, _, _)| request.clone()).collect();
        kept_results.extend(source.fetch_all_for(&requests, &vec![1; requests.len()]));
        *backend_queries += requests.len();
        kept.extend(alone);
    }
    (kept, kept_results)
}

/// A service's share of a grouped answer that is larger than its own `--max-series`: the error
/// its own query alone would have met, naming its metric, side, role and query.
fn too_many_series(own: &QueryRequest<'_>, label: &str, value: &str, count: usize, max_series: usize) -> SourceError {
    SourceError::OverBudget(format!(
        "{}: the query returned {count} series (its share, `{label}` = `{value}`, of a query grouped for several services), more than --max-series {max_series}: aggregate it (sum by …) or raise --max-series\n  query: {}",
        own.label(),
        own.query
    ))
}

/// For a shape that names what its answer holds (Datadog's `by` tags): every series carries the
/// grouping label with one of the values asked for and no label but the `by` tags, and no two
/// series have the same tags (without `by`: one series per value), so that nothing is handed to
/// a service that its own query would not have returned.
fn check_grouped_answer(
    shape: &GroupableShape,
    series: &[Series],
    members: &[(String, Vec<usize>)],
) -> Result<(), SourceError> {
    let Some(other_tags) = shape.other_tags() else { return Ok(()) };
    let label = &shape.label;
    let refuse = |what: String| {
        Err(SourceError::Unavailable(format!(
            "the grouped query by `{label}` for {} services returned {what}: no service of the group is judged on it",
            members.len()
        )))
    };
    let mut seen = std::collections::BTreeSet::new();
    for one in series {
        if !seen.insert(&one.labels) {
            return refuse("two series with the same tags".into());
        }
        let Some(value) = one.labels.get(label) else {
            return refuse(format!("a series without the tag `{label}`"));
        };
        if !members.iter().any(|(wanted, _)| wanted == value) {
            return refuse(format!("a series for a value of `{label}` that was not asked for"));
        }
        if one.labels.keys().any(|key| key != label && !other_tags.contains(key)) {
            // The tag itself is not shown: an answer's text is never echoed unchecked.
            return refuse("a series with a tag the query does not group by".into());
        }
    }
    Ok(())
}

/// The series of a grouped answer by their value of `label`, which is removed from each (as the
/// service's own query, without the grouping, would return them). Series without it are dropped.
pub fn split(series: Vec<Series>, label: &str) -> BTreeMap<String, Vec<Series>> {
    let mut by_value: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for mut one in series {
        if let Some(value) = one.labels.remove(label) {
            by_value.entry(value).or_default().push(one);
        }
    }
    by_value
}

/// `error`, from a query fetched once for several wanted queries (identical, or grouped), as the
/// wanted query `own` sees it: named by its own metric, side and role (the source named the
/// query it was sent with, which may be another metric's or another service's).
fn attributed(error: &SourceError, sent: &str, own: &QueryRequest<'_>) -> SourceError {
    let own = own.label();
    let rename = |message: &str| match message.strip_prefix(sent) {
        Some(rest) => format!("{own}{rest}"),
        None if message.starts_with(&own) => message.to_string(),
        None => format!("{own}: {message}"),
    };
    match error {
        SourceError::Request(message) => SourceError::Request(rename(message)),
        SourceError::Unavailable(message) => SourceError::Unavailable(rename(message)),
        SourceError::OverBudget(message) => SourceError::OverBudget(rename(message)),
    }
}

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod datadog_tests;
#[cfg(test)]
mod tests;
