//! Tests of the watchdog's carried state: what is written reads back the same, hostile entries
//! are refused with a reason, the rules that start a new sequence, and (a proptest) that a
//! sequence carried over runs through the state file equals the one computed in one go.

use super::*;
use crate::model::{Duration, PointTime, Series, Window};
use crate::source::incremental::IncrementalSource;
use crate::source::test_support::ScriptedSource;
use crate::source::{MetricSource, QueryRequest};
use crate::stats::confidence_sequence::{CountIncrement, rate_drift, rate_ratio_sequence};

const T0: i64 = 1_795_168_800; // 2026-11-20T10:00:00Z
const NOW: i64 = T0 + 7200;

fn known(points: Vec<Point>) -> KnownQuery {
    KnownQuery {
        metric: "errors".into(),
        side: Side::Canary,
        role: QueryRole::Numerator,
        query: "sum(increase(errors[1m]))".into(),
        start: T0,
        end: T0 + 600,
        series: vec![(BTreeMap::new(), points)],
    }
}

fn carried(points: Vec<Point>) -> Carried {
    Carried {
        looks: Looks::Sequential,
        fingerprint: "f".into(),
        step_seconds: 60,
        start: T0,
        end: T0 + 600,
        runs: 3,
        known: vec![known(points)],
    }
}

fn minute_points() -> Vec<Point> {
    (0..=10).map(|i| Point { time: T0 + 60 * i, value: i as f64 }).collect()
}

#[test]
fn what_is_written_reads_back_the_same() {
    let state = carried(minute_points());
    let value = to_value(&state).unwrap();
    assert_eq!(parse(&value, NOW).unwrap(), state);
    // A value that is not finite is kept as null and read back as NaN.
    let mut points = minute_points();
    points[2].value = f64::NAN;
    let back = parse(&to_value(&carried(points)).unwrap(), NOW).unwrap();
    assert!(back.known[0].series[0].1[2].value.is_nan());
}

/// Edits `field` of the stored first query's first series (or of the top level) and returns
/// the reason the entry is refused.
fn refused(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value = to_value(&carried(minute_points())).unwrap();
    edit(&mut value);
    parse(&value, NOW).expect_err("a hostile entry is refused")
}

#[test]
fn hostile_entries_are_refused_with_the_reason() {
    let points = |v: &mut serde_json::Value| -> serde_json::Value { v["queries"][0]["series"][0]["points"].clone() };
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|v| v["format"] = 7.into()), "format 7"),
        (Box::new(|v| v["written_by"] = "0.0.1".into()), "written by canary 0.0.1"),
        (Box::new(|v| v["end"] = (NOW + 3600).into()), "in the future"),
        (Box::new(|v| v["start"] = (T0 + 1200).into()), "out of order"),
        (Box::new(|v| v["step_seconds"] = 0.into()), "step 0s"),
        (Box::new(|v| v["runs"] = u64::MAX.into()), "more than 1000000"),
        (Box::new(|v| v["start"] = (T0 - 60 * (MAX_INTERVALS + 5)).into()), "more than 2880 steps"),
        (Box::new(|v| v["queries"][0]["series"][0]["points"][3][1] = (-1.0).into()), "the count -1"),
        (
            Box::new(move |v| {
                let mut p = points(v);
                p[4][0] = (T0 + 60).into();
                v["queries"][0]["series"][0]["points"] = p;
            }),
            "out of order or outside its span",
        ),
        (Box::new(|v| v["queries"][0]["series"][0]["points"][10][0] = (T0 + 900).into()), "outside its span"),
        (Box::new(|v| v["queries"][0]["end"] = (T0 + 630).into()), "unusable span"),
        (Box::new(|v| v["queries"][0]["series"][0]["points"][3][0] = (T0 + 187).into()), "off the step's grid"),
        (
            Box::new(|v| {
                let query = v["queries"][0].clone();
                v["queries"].as_array_mut().unwrap().push(query);
            }),
            "held twice",
        ),
        (Box::new(|v| v["queries"][0]["surprise"] = 1.into()), "not valid"),
        (Box::new(|v| v["queries"][0]["series"][0]["points"][1][1] = "1".into()), "not valid"),
    ];
    for (edit, expected) in cases {
        let why = refused(edit);
        assert!(why.contains(expected), "expected {expected:?} in {why:?}");
    }
    let many = vec![known(Vec::new()); MAX_QUERIES + 1];
    let mut value = to_value(&carried(Vec::new())).unwrap();
    value["queries"] = serde_json::to_value(
        many.iter()
            .enumerate()
            .map(|(i, _)| serde_json::json!({"metric": format!("m{i}"), "side": "canary", "role": "value", "query": "q", "start": T0, "end": T0, "series": []}))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(parse(&value, NOW).unwrap_err().contains("more than 256"));
    // What is too large is not written at all.
    let huge = Carried { known: many, ..carried(Vec::new()) };
    assert!(to_value(&huge).is_err());
    let long = Carried { start: T0 + 600 - 60 * (MAX_INTERVALS + 1), ..carried(Vec::new()) };
    assert!(to_value(&long).unwrap_err().contains("exceed the 2880 steps"));
}

fn wanted(fingerprint: &str) -> Wanted<'_> {
    Wanted {
        looks: Looks::Sequential,
        fingerprint,
        step_seconds: 60,
        window_start: T0 + 60,
        explicit_start: false,
        window_end: T0 + 660,
    }
}

#[test]
fn a_sequence_continues_only_when_nothing_changed() {
    let state = || Some(Ok(carried(minute_points())));
    let go_on = continuation(state(), &wanted("f"));
    assert_eq!((go_on.start, go_on.runs, go_on.restart), (T0, 3, None));
    assert_eq!(go_on.known.len(), 1);
    let first = continuation(None, &wanted("f"));
    assert_eq!((first.start, first.runs, first.restart), (T0 + 60, 0, None));
    let restarted = |wanted: Wanted<'_>| {
        let c = continuation(state(), &wanted);
        assert_eq!((c.start, c.runs, c.known.len()), (wanted.window_start, 0, 0));
        c.restart.expect("a reason")
    };
    assert!(restarted(wanted("g")).contains("the analysis changed"));
    assert!(restarted(Wanted { step_seconds: 30, ..wanted("f") }).contains("the analysis changed"));
    assert!(restarted(Wanted { explicit_start: true, ..wanted("f") }).contains("the window's start changed"));
    assert!(restarted(Wanted { window_end: T0 + 540, ..wanted("f") }).contains("before the last interval"));
    assert!(restarted(Wanted { window_end: T0 + 600 + 1860, ..wanted("f") }).contains("no run for 31m"));
    assert!(restarted(Wanted { looks: Looks::Window, ..wanted("f") }).contains("--looks sequential"));
    let stale = Carried { start: T0 + 600 - 60 * MAX_INTERVALS, ..carried(minute_points()) };
    assert!(continuation(Some(Ok(stale)), &wanted("f")).restart.unwrap().contains("reached its bound"));
    let corrupt = continuation(Some(Err("it is not valid".into())), &wanted("f"));
    assert!(corrupt.restart.unwrap().contains("cannot be used: it is not valid"));
    // A gap within the bound is fetched in full: the sequence continues.
    assert_eq!(continuation(state(), &Wanted { window_end: T0 + 600 + 1800, ..wanted("f") }).restart, None);
}

#[test]
fn a_window_continues_from_the_points_held_when_it_overlaps_them() {
    let window = Carried { looks: Looks::Window, ..carried(minute_points()) };
    let wanted = Wanted { looks: Looks::Window, window_start: T0 + 120, window_end: T0 + 720, ..wanted("f") };
    let go_on = continuation(Some(Ok(window.clone())), &wanted);
    assert_eq!((go_on.start, go_on.restart), (T0 + 120, None));
    let later = Wanted { window_start: T0 + 720, window_end: T0 + 1320, ..wanted };
    assert!(continuation(Some(Ok(window)), &later).restart.unwrap().contains("before this one starts"));
}

/// Counts of both sides as a deterministic function of time, like a backend that holds them.
fn counts(seed: u64) -> ScriptedSource<'static> {
    let value = move |time: i64, role: QueryRole, side: Side| {
        let mut x = seed ^ (time as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((role as u64) << 7) ^ (side as u64);
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        match role {
            QueryRole::Denominator => 200.0 + (x % 200) as f64,
            _ => (x % 9) as f64,
        }
    };
    ScriptedSource::new("test", PointTime::IntervalEnd, move |request| {
        let w = request.window;
        let points = (w.start..=w.end)
            .step_by(w.step_seconds as usize)
            .map(|t| Point { time: t, value: value(t, request.role, request.side) })
            .collect();
        Ok(vec![Series { labels: BTreeMap::new(), points }])
    })
}

/// The four count queries of one metric over `window`, through `source`, as paired intervals.
fn increments(source: &dyn MetricSource, window: Window) -> Vec<CountIncrement> {
    let fetch = |side, role| {
        let request = QueryRequest { metric: "errors", side, role, query: "q", window };
        source.fetch(&request).unwrap().remove(0).points
    };
    let (x1, n1) = (fetch(Side::Canary, QueryRole::Numerator), fetch(Side::Canary, QueryRole::Denominator));
    let (x2, n2) = (fetch(Side::Baseline, QueryRole::Numerator), fetch(Side::Baseline, QueryRole::Denominator));
    (0..x1.len())
        .map(|i| CountIncrement {
            canary_events: x1[i].value,
            canary_exposure: n1[i].value,
            baseline_events: x2[i].value,
            baseline_exposure: n2[i].value,
        })
        .collect()
}

proptest::proptest! {
    /// Runs at any times, each starting from what the last one wrote to the state file (through
    /// its JSON form): the last run's intervals, and so its confidence sequence, are those of one
    /// computation over the whole time; and no run asks the source for a point it already held
    /// but the overlap of late samples (the last 5 it held).
    #[test]
    fn a_sequence_carried_over_runs_equals_the_one_computed_in_one_go(
        seed in proptest::prelude::any::<u64>(),
        gaps in proptest::collection::vec(1i64..12, 1..8),
    ) {
        let inner = counts(seed);
        let step = Duration::from_secs(60);
        let mut stored: Option<serde_json::Value> = None;
        let mut end = T0;
        let mut carried_increments = Vec::new();
        let mut points_fetched = 0;
        let mut overlaps = 0;
        for gap in &gaps {
            if stored.is_some() {
                overlaps += ((end - (T0 - 60)) / 60 + 1).min(5) as usize;
            }
            end += 60 * gap;
            let window = Window::between(T0 - 60, end, step, Duration::default()).unwrap();
            let known = stored.as_ref().map(|v| parse(v, end).unwrap().known).unwrap_or_default();
            let source = IncrementalSource::with_known(&inner, known);
            carried_increments = increments(&source, window);
            points_fetched += source.points_fetched();
            let leaving = Carried {
                looks: Looks::Sequential,
                fingerprint: "f".into(),
                step_seconds: 60,
                start: T0 - 60,
                end,
                runs: 1,
                known: source.known(),
            };
            stored = Some(to_value(&leaving).unwrap());
        }
        let window = Window::between(T0 - 60, end, step, Duration::default()).unwrap();
        let in_one_go = increments(&inner, window);
        proptest::prop_assert_eq!(&carried_increments, &in_one_go);
        // Each point of the four queries fetched once, and the overlap of each later run again.
        proptest::prop_assert_eq!(points_fetched, 4 * (in_one_go.len() + overlaps));
        let phi = crate::stats::confidence_sequence::drift_correlation(60.0);
        let sequence = |pairs: &[CountIncrement]| rate_ratio_sequence(pairs, 0.005, rate_drift(pairs, phi), phi);
        proptest::prop_assert_eq!(sequence(&carried_increments), sequence(&in_one_go));
    }
}
