//! Property tests of grouped Datadog queries: the rewrite undone for one value gives exactly that
//! value's own query, and `fetch_grouped` hands every service exactly what a Datadog source
//! answering its own query would, or (for a grouped answer that holds anything not asked for)
//! an error, never another service's series.

use super::*;
use crate::model::{Point, PointTime, QueryRole, Side};
use crate::source::test_support::{ScriptedSource, any_text_or_made_of};
use proptest::prelude::*;

const PLACEHOLDER: &str = "propPlaceholder1";

/// The pieces hostile query texts are made of.
#[rustfmt::skip]
const DATADOG_PARTS: [&str; 19] = [
    "sum", ":", "by", " ", "{", "}", ",", "(", ")", "version", "propPlaceholder1", "m.x",
    ".as_count()", ".rollup(", "!", "*", " AND ", "é", "/",
];

/// A tag value the grouping accepts (the boolean keywords are queried alone: tested apart).
fn tag_value() -> impl Strategy<Value = String> {
    "[a-z0-9_./-]{1,10}".prop_filter("a boolean keyword", |v| !["and", "or", "not", "in"].contains(&v.as_str()))
}

/// A Datadog query shape: a space aggregation of a metric over a filter of plain terms and the
/// placeholder's term (at any position), with optional `by` tags and suffixes.
fn shape() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("sum"), Just("avg"), Just("max"), Just("p99"), Just("p99.9")],
        proptest::collection::vec(("[a-z_]{1,6}", "[a-zA-Z0-9_.:/-]{1,8}"), 0..4),
        0usize..4,
        proptest::option::of(proptest::collection::btree_set("[a-z]{1,5}", 1..3)),
        prop_oneof![Just(""), Just(".as_count()"), Just(".as_rate()"), Just(".as_count().rollup(sum, 60)")],
    )
        .prop_map(|(aggregator, terms, at, by, suffix)| {
            let mut terms: Vec<String> = terms.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            terms.insert(at.min(terms.len()), format!("version:{PLACEHOLDER}"));
            let by = by
                .filter(|tags| !tags.contains("version"))
                .map(|tags| format!(" by {{{}}}", tags.into_iter().collect::<Vec<_>>().join(",")))
                .unwrap_or_default();
            format!("{aggregator}:trace.http.hits{{{}}}{by}{suffix}", terms.join(","))
        })
}

/// The grouped query narrowed back to one value: the `IN` list replaced by `tag:value`, the
/// grouping tag dropped from `by`, `AND` written as the filter's comma.
fn narrowed(grouped: &str, label: &str, values: &[&str], value: &str) -> String {
    let list = format!("{label} IN ({})", values.join(", "));
    assert_eq!(grouped.matches(&list).count(), 1, "{grouped}");
    let one = grouped.replace(&list, &format!("{label}:{value}")).replace(" AND ", ",");
    one.replace(&format!(",{label}}}"), "}").replace(&format!(" by {{{label}}}"), "")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_rewrite_narrowed_to_one_value_is_that_values_own_query(
        text in shape(),
        values in proptest::collection::btree_set(tag_value(), 1..12),
    ) {
        let shape = groupable_datadog(&text, PLACEHOLDER).expect("groupable");
        let asked: Vec<&str> = values.iter().map(String::as_str).collect();
        let grouped = shape.grouped_query(&asked);
        prop_assert!(!grouped.contains(PLACEHOLDER));
        for value in &asked {
            prop_assert!(shape.accepts(value));
            prop_assert_eq!(narrowed(&grouped, &shape.label, &asked, value), text.replace(PLACEHOLDER, value));
        }
    }

    #[test]
    fn any_text_is_refused_or_rewritten_with_exactly_the_values(
        text in any_text_or_made_of(&DATADOG_PARTS),
    ) {
        if let Some(shape) = groupable_datadog(&text, PLACEHOLDER) {
            let grouped = shape.grouped_query(&["a", "b.c"]);
            prop_assert!(!grouped.contains(PLACEHOLDER), "{}", grouped);
            let list = format!("{} IN (a, b.c)", shape.label);
            prop_assert_eq!(grouped.matches(&list).count(), 1, "{}", grouped);
        }
    }

    #[test]
    fn each_service_gets_its_own_series_or_an_error_never_anothers(
        services in proptest::collection::vec((tag_value(), 0usize..3), 1..40),
        absent in proptest::collection::btree_set(tag_value(), 0..5),
        hostile in 0usize..5,
    ) {
        let window = Window { start: 0, end: 600, step_seconds: 60, warmup_seconds: 0 };
        let shape_text = format!("sum:errors{{service:checkout,version:{PLACEHOLDER}}} by {{host}}.as_count()");
        let shape = groupable_datadog(&shape_text, PLACEHOLDER).expect("groupable");
        let mut data = BTreeMap::new();
        for (index, (value, count)) in services.iter().enumerate() {
            if !absent.contains(value) {
                data.entry(value.clone()).or_insert_with(|| hosts(index as u64, *count));
            }
        }
        let queries: Vec<String> = services.iter().map(|(value, _)| shape_text.replace(PLACEHOLDER, value)).collect();
        let wanted: Vec<Wanted<'_>> = services
            .iter()
            .zip(&queries)
            .map(|((value, _), query)| Wanted {
                request: QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Numerator, query, window },
                group: Some((&shape, value.as_str())),
            })
            .collect();
        let grouped = fake_datadog(data.clone(), hostile);
        let answers = fetch_grouped(&grouped, &wanted);
        let alone = fake_datadog(data, 0);
        let distinct: std::collections::BTreeSet<&str> = services.iter().map(|(v, _)| v.as_str()).collect();
        for (want, answer) in wanted.iter().zip(&answers.answers) {
            let own = alone.fetch(&want.request).expect("answers");
            match answer {
                Ok(series) => prop_assert_eq!(series, &own, "{}", want.request.query),
                // Only a grouped answer that held something not asked for is refused.
                Err(_) => prop_assert!(hostile > 0 && distinct.len() > 1, "{}", want.request.query),
            }
        }
        if distinct.len() > 1 {
            prop_assert_eq!(answers.backend_queries, distinct.len().div_ceil(MAX_GROUP_VALUES));
        }
        prop_assert_eq!(answers.backend_queries, grouped.queries());
    }
}

fn hosts(seed: u64, count: usize) -> Vec<Series> {
    (0..count)
        .map(|i| Series {
            labels: BTreeMap::from([("host".to_string(), format!("h{i}"))]),
            points: vec![Point { time: 60 * i as i64, value: seed as f64 + i as f64 }],
        })
        .collect()
}

/// A source that answers `version:v` with the series of `v`, and `version IN (a, b)` with the
/// series of each listed value tagged `version:value`; `hostile` adds to every grouped answer a
/// series of a value not asked for (1), one without the grouping tag (2), one with another tag
/// (3), or a second series of a value asked for (4).
fn fake_datadog(series: BTreeMap<String, Vec<Series>>, hostile: usize) -> ScriptedSource<'static> {
    ScriptedSource::new("datadog", PointTime::IntervalStart, move |request| {
        if let Some(list) = request.query.split("version IN (").nth(1) {
            let list = list.split(')').next().unwrap_or("");
            let mut out = Vec::new();
            for value in list.split(", ") {
                for one in series.get(value).into_iter().flatten() {
                    let mut tagged = one.clone();
                    tagged.labels.insert("version".into(), value.into());
                    out.push(tagged);
                }
            }
            let stray = |labels: &[(&str, &str)]| Series {
                labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                points: vec![Point { time: 0, value: 1.0 }],
            };
            match hostile {
                1 => out.push(stray(&[("version", "NOT-ASKED"), ("host", "h0")])),
                2 => out.push(stray(&[("host", "h0")])),
                3 => out.push(stray(&[("version", list.split(", ").next().unwrap_or("")), ("pod", "p")])),
                4 => {
                    let first = list.split(", ").next().unwrap_or("");
                    out.push(stray(&[("version", first), ("host", "h9")]));
                    out.push(stray(&[("version", first), ("host", "h9")]));
                }
                _ => {}
            }
            return Ok(out);
        }
        let value = request.query.split("version:").nth(1).and_then(|rest| rest.split('}').next()).unwrap_or("");
        Ok(series.get(value).cloned().unwrap_or_default())
    })
}

/// Queries fetched once for several metrics of several services (an identical baseline query, a
/// grouped canary query): each error names the metric, side and role of the service's own query,
/// never those of the query it happened to be fetched with; a refused grouped answer too.
#[test]
fn an_error_names_each_services_own_query() {
    let window = Window { start: 0, end: 600, step_seconds: 60, warmup_seconds: 0 };
    let text = format!("sum:trace.http.request.hits{{service:checkout,version:{PLACEHOLDER}}}.as_count()");
    let shape = groupable_datadog(&text, PLACEHOLDER).expect("groupable");
    let baseline = text.replace(PLACEHOLDER, "baseline");
    let (a, b) = (text.replace(PLACEHOLDER, "a"), text.replace(PLACEHOLDER, "b"));
    let want = |metric, side, role, query, group| Wanted {
        request: QueryRequest { metric, side, role, query, window },
        group,
    };
    let wanted = [
        want("requests", Side::Baseline, QueryRole::Value, &baseline, None),
        want("error_rate", Side::Baseline, QueryRole::Denominator, &baseline, None),
        want("requests", Side::Canary, QueryRole::Value, &a, Some((&shape, "a"))),
        want("error_rate", Side::Canary, QueryRole::Denominator, &b, Some((&shape, "b"))),
    ];
    // A source that refuses every query, naming it as the Datadog source does (`metric `m`,
    // canary numerator: …`).
    let refusing = ScriptedSource::new("datadog", PointTime::IntervalStart, |request| {
        Err(SourceError::Request(format!("{}: Datadog rejected the query (HTTP 400)", request.label())))
    });
    let answers = fetch_grouped(&refusing, &wanted);
    assert_eq!(answers.backend_queries, 2);
    for (want, answer) in wanted.iter().zip(&answers.answers) {
        let error = answer.as_ref().expect_err("refused").to_string();
        assert_eq!(error, format!("{}: Datadog rejected the query (HTTP 400)", want.request.label()));
    }
    let stray = fake_datadog(BTreeMap::from([("a".to_string(), hosts(1, 1)), ("b".to_string(), hosts(2, 1))]), 1);
    let shape_by_host = format!("sum:trace.http.request.hits{{service:checkout,version:{PLACEHOLDER}}} by {{host}}");
    let shape = groupable_datadog(&shape_by_host, PLACEHOLDER).expect("groupable");
    let (a, b) = (shape_by_host.replace(PLACEHOLDER, "a"), shape_by_host.replace(PLACEHOLDER, "b"));
    let wanted = [
        want("requests", Side::Canary, QueryRole::Value, &a, Some((&shape, "a"))),
        want("error_rate", Side::Canary, QueryRole::Denominator, &b, Some((&shape, "b"))),
    ];
    let answers = fetch_grouped(&stray, &wanted);
    for (want, answer) in wanted.iter().zip(&answers.answers) {
        let error = answer.as_ref().expect_err("refused").to_string();
        let own = format!("{}: the grouped query by `version` for 2 services returned", want.request.label());
        assert!(error.starts_with(&own), "{error}");
    }
}
