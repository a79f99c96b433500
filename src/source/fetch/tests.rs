//! Test helpers other source tests share (a query, a plan) and the fetch plan's unit tests.

use super::*;

/// A query of `metric `m`, canary query` over 0..=600 s.
pub(crate) fn query(query: &str, step: u64) -> OwnedQuery {
    OwnedQuery { label: "metric `m`, canary query".into(), metric: "m".into(), ..fuzz_query(query, step) }
}

fn spans(start: i64, end: i64, step: u64, max_points: i64) -> Vec<(i64, i64)> {
    let query = OwnedQuery { start, end, ..query("q", step) };
    let mut seen = Vec::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime
        .block_on(split_and_merge(&query, max_points, PointOrder::AsAnswered, |first, last| {
            seen.push((first, last));
            async { Ok(Vec::new()) }
        }))
        .unwrap();
    seen
}

#[test]
fn identical_queries_are_planned_once_and_answered_to_every_use() {
    use crate::model::window::Window;
    let window = Window { start: 0, end: 600, step_seconds: 60, warmup_seconds: 0 };
    let request = |metric: &'static str, side: Side, role: QueryRole, query: &'static str, shift: i64| QueryRequest {
        metric,
        side,
        role,
        query,
        window: Window { start: window.start - shift, end: window.end - shift, ..window },
    };
    let requests = [
        request("a", Side::Canary, QueryRole::Numerator, "errors", 0),
        request("a", Side::Canary, QueryRole::Denominator, "hits", 0),
        request("b", Side::Canary, QueryRole::Denominator, "hits", 0),
        // The same text over another range is another query.
        request("b", Side::Baseline, QueryRole::Denominator, "hits", 3600),
    ];
    let plan = FetchPlan::new(&requests);
    assert_eq!(plan.distinct.len(), 3);
    assert_eq!(plan.answers, vec![0, 1, 1, 2]);
    assert_eq!(plan.distinct[1].label, "metric `a`, canary denominator (also metric `b`, canary denominator)");
    let series = |value: f64| Ok(vec![Series { labels: BTreeMap::new(), points: vec![Point { time: 60, value }] }]);
    let fanned = plan.fan_out(vec![series(1.0), series(2.0), Err(SourceError::Request("no".into()))]);
    assert_eq!(fanned.len(), 4);
    assert_eq!(fanned[1].as_ref().unwrap(), fanned[2].as_ref().unwrap());
    assert_eq!(fanned[2].as_ref().unwrap()[0].points[0].value, 2.0);
    assert!(fanned[3].is_err());
}

#[test]
fn long_windows_are_split_into_requests_of_at_most_max_points() {
    assert_eq!(spans(0, 600, 60, 11), vec![(0, 600)]);
    assert_eq!(spans(0, 600, 60, 5), vec![(0, 240), (300, 540), (600, 600)]);
    assert_eq!(spans(0, 540, 60, 5), vec![(0, 240), (300, 540)]);
}

#[test]
fn merged_series_keep_or_sort_their_points() {
    let series = |time: i64| Series { labels: BTreeMap::new(), points: vec![Point { time, value: 1.0 }] };
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let query = query("q", 60);
    for (order, times) in [(PointOrder::AsAnswered, vec![300, 0]), (PointOrder::ByTime, vec![0, 300])] {
        let merged = runtime
            .block_on(split_and_merge(&query, 5, order, |first, _| {
                let time = if first == 0 { 300 } else { 0 };
                async move { Ok(if first <= 300 { vec![series(time)] } else { Vec::new() }) }
            }))
            .unwrap();
        assert_eq!(merged[0].points.iter().map(|p| p.time).collect::<Vec<_>>(), times);
    }
}
