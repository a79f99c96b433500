//! Property tests of grouped queries: the rewritten regex matches exactly the values asked for,
//! the split gives each value exactly its own series (label removed, order kept), and
//! `fetch_grouped` hands every wanted query exactly what a source answering it alone would.

use super::*;
use crate::model::{PointTime, QueryRole, Side};
use crate::source::test_support::{ScriptedSource, any_text_or_made_of};
use proptest::prelude::*;

const PLACEHOLDER: &str = "propPlaceholder1";

/// The pieces hostile query texts are made of.
#[rustfmt::skip]
const PROMQL_PARTS: [&str; 24] = [
    "sum", "by", "(", ")", "{", "}", "[", "]", ",", "=", "=~", "!=", "rate", "x", "d", "le",
    "\"propPlaceholder1\"", "\"a\\\"", "5m", "0.9", "histogram_quantile", "é", " ", "'",
];
const SHAPES: [&str; 4] = [
    r#"sum(increase(requests_total{ deployment="PH", code="500" }[1m]))"#,
    r#"histogram_quantile(0.9, sum by (le) (rate(latency_bucket{deployment="PH"}[2m])))"#,
    r#"sum by (code) (rate(requests_total{deployment="PH"}[5m]))"#,
    r#"sum(requests_total{deployment="PH"}) by ()"#,
];

fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.:/-]{1,12}"
}

/// The value regex of a grouped query, as Prometheus reads it (the string's `\\` is one `\`).
fn value_regex(query: &str) -> regex::Regex {
    let start = query.find("=~\"").expect("a regex matcher") + 3;
    let end = start + query[start..].find('"').expect("a closed string");
    regex::Regex::new(&format!("^(?:{})$", query[start..end].replace("\\\\", "\\"))).expect("a valid regex")
}

/// A source that answers a `deployment="v"` or `deployment=~"a|b"` query with the series of the
/// values it selects (each labelled with its value when grouped), and counts its queries.
fn fake(series: BTreeMap<String, Vec<Series>>) -> ScriptedSource<'static> {
    ScriptedSource::new("prometheus", PointTime::IntervalEnd, move |request| {
        if request.query.contains("=~") {
            let regex = value_regex(request.query);
            let mut out = Vec::new();
            for (value, series) in series.iter().filter(|(value, _)| regex.is_match(value)) {
                for one in series {
                    let mut labelled = one.clone();
                    labelled.labels.insert("deployment".into(), value.clone());
                    out.push(labelled);
                }
            }
            return Ok(out);
        }
        let value = request.query.split("deployment=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("");
        Ok(series.get(value).cloned().unwrap_or_default())
    })
}

fn series_for(seed: u64, count: usize) -> Vec<Series> {
    (0..count)
        .map(|i| Series {
            labels: BTreeMap::from([("code".to_string(), format!("{}", 200 + i))]),
            points: vec![crate::model::Point { time: 60 * i as i64, value: seed as f64 + i as f64 }],
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_regex_matches_exactly_the_values_asked_for(
        values in proptest::collection::btree_set(value(), 1..20),
        others in proptest::collection::vec(value(), 0..20),
        shape in 0..SHAPES.len(),
    ) {
        let shape = groupable(&SHAPES[shape].replace("PH", PLACEHOLDER), PLACEHOLDER).expect("groupable");
        let asked: Vec<&str> = values.iter().map(String::as_str).collect();
        let query = shape.grouped_query(&asked);
        prop_assert!(!query.contains(PLACEHOLDER));
        let regex = value_regex(&query);
        for value in &values {
            prop_assert!(regex.is_match(value), "{} does not match {}", value, query);
        }
        for other in others.iter().filter(|o| !values.contains(*o)) {
            prop_assert!(!regex.is_match(other), "{} matches {}", other, query);
        }
    }

    #[test]
    fn each_service_gets_exactly_what_its_own_query_returns(
        services in proptest::collection::vec((value(), 0usize..3, 0usize..SHAPES.len()), 1..30),
        absent in proptest::collection::btree_set(value(), 0..5),
    ) {
        let window = Window { start: 0, end: 600, step_seconds: 60, warmup_seconds: 0 };
        // The backend's data: every service's value has series, except the absent ones.
        let mut data = BTreeMap::new();
        for (index, (value, count, _)) in services.iter().enumerate() {
            if !absent.contains(value) {
                data.entry(value.clone()).or_insert_with(|| series_for(index as u64, *count));
            }
        }
        let shapes: Vec<GroupableShape> = SHAPES
            .iter()
            .map(|s| groupable(&s.replace("PH", PLACEHOLDER), PLACEHOLDER).expect("groupable"))
            .collect();
        let queries: Vec<String> = services.iter().map(|(value, _, shape)| SHAPES[*shape].replace("PH", value)).collect();
        let wanted: Vec<Wanted<'_>> = services
            .iter()
            .zip(&queries)
            .map(|((value, _, shape), query)| Wanted {
                request: QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query, window },
                group: Some((&shapes[*shape], value.as_str())),
            })
            .collect();
        let grouped = fake(data.clone());
        let answers = fetch_grouped(&grouped, &wanted);
        let alone = fake(data);
        for (want, answer) in wanted.iter().zip(&answers.answers) {
            let own = alone.fetch(&want.request).expect("answers");
            prop_assert_eq!(answer.as_ref().expect("answers"), &own, "{}", want.request.query);
        }
        let distinct_shapes: std::collections::BTreeSet<usize> = services.iter().map(|(_, _, s)| *s).collect();
        prop_assert!(answers.backend_queries <= services.len());
        prop_assert!(answers.backend_queries <= distinct_shapes.len() * services.len().div_ceil(MAX_GROUP_VALUES).max(1) + distinct_shapes.len());
        prop_assert_eq!(answers.backend_queries, grouped.queries());
    }

    #[test]
    fn any_text_is_refused_or_rewritten_without_the_placeholder(
        text in any_text_or_made_of(&PROMQL_PARTS),
    ) {
        if let Some(shape) = groupable(&text, PLACEHOLDER) {
            let query = shape.grouped_query(&["a", "b.c"]);
            prop_assert!(!query.contains(PLACEHOLDER), "{}", query);
            prop_assert!(query.contains(r#"=~"a|b\\.c""#), "{}", query);
            prop_assert!(query.contains(&shape.label), "{}", query);
        }
    }

    #[test]
    fn the_split_never_gives_a_value_another_values_series(
        labelled in proptest::collection::vec((proptest::option::of(value()), 0u64..1000), 0..40),
    ) {
        let series: Vec<Series> = labelled
            .iter()
            .map(|(value, seed)| Series {
                labels: value.iter().map(|v| ("deployment".to_string(), v.clone())).collect(),
                points: vec![crate::model::Point { time: 0, value: *seed as f64 }],
            })
            .collect();
        let split = split(series.clone(), "deployment");
        for (value, mine) in &split {
            let expected: Vec<Series> = series
                .iter()
                .filter(|s| s.labels.get("deployment") == Some(value))
                .map(|s| Series { labels: BTreeMap::new(), points: s.points.clone() })
                .collect();
            prop_assert_eq!(mine, &expected);
        }
        let kept: usize = split.values().map(Vec::len).sum();
        prop_assert_eq!(kept, labelled.iter().filter(|(v, _)| v.is_some()).count());
    }
}
