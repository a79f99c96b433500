//! Tests of the incremental cache: only the new tail and the trailing overlap are fetched, every
//! fetch stays on the first fetch's grid, a bucket still filling is fetched again, and late
//! samples (a point that changed, appeared or vanished within the overlap) replace what was
//! known and are reported as revisions (a proptest: served points equal a fresh fetch).

use super::*;
use crate::model::{Duration, Point, SourceDescription, Window};

/// A backend that records what it was asked for. Without `held` it answers one point per step of
/// the window (its time as value); with it, the points it holds now on the window's grid, which
/// may arrive late, change or vanish between looks.
struct Backend {
    asked: RefCell<Vec<(i64, i64)>>,
    point_time: PointTime,
    held: Option<RefCell<BTreeMap<i64, f64>>>,
}

impl Backend {
    fn every_step(point_time: PointTime) -> Backend {
        Backend { asked: RefCell::new(Vec::new()), point_time, held: None }
    }
    fn holding() -> Backend {
        Backend { held: Some(RefCell::new(BTreeMap::new())), ..Backend::every_step(PointTime::IntervalEnd) }
    }
    fn values(&self) -> std::cell::RefMut<'_, BTreeMap<i64, f64>> {
        self.held.as_ref().expect("a backend holding values").borrow_mut()
    }
}

impl MetricSource for Backend {
    fn description(&self) -> SourceDescription {
        SourceDescription { kind: "test".into(), url: None, replay: None }
    }
    fn point_time(&self) -> PointTime {
        self.point_time
    }
    fn fetch(&self, request: &QueryRequest<'_>) -> Result<Vec<Series>, SourceError> {
        let w = request.window;
        self.asked.borrow_mut().push((w.start, w.end));
        let on_grid = (w.start..=w.end).step_by(w.step_seconds as usize);
        let points: Vec<Point> = match &self.held {
            None => on_grid.map(|t| Point { time: t, value: t as f64 }).collect(),
            Some(held) => {
                let held = held.borrow();
                on_grid.filter_map(|time| held.get(&time).map(|&value| Point { time, value })).collect()
            }
        };
        Ok(if points.is_empty() { Vec::new() } else { vec![Series { labels: BTreeMap::new(), points }] })
    }
}

#[test]
fn later_windows_fetch_only_the_new_tail() {
    let inner = Backend::every_step(PointTime::IntervalEnd);
    let source = IncrementalSource::new(&inner);
    let step = Duration::from_secs(60);
    for end in [600, 1200, 1800] {
        let window = Window::between(0, end, step, Duration::default()).unwrap();
        let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
        let series = source.fetch(&request).unwrap();
        assert_eq!(series[0].points.len() as i64, end / 60 + 1);
        assert_eq!(series[0].points.last().unwrap().time, end);
    }
    // Each later fetch also asks again for the last 5 steps it knows (late samples).
    assert_eq!(*inner.asked.borrow(), vec![(0, 600), (360, 1200), (960, 1800)]);
    assert_eq!(source.points_fetched(), 41);
    // A sliding window is served from what is known.
    let window = Window::between(600, 1800, step, Duration::default()).unwrap();
    let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
    assert_eq!(source.fetch(&request).unwrap()[0].points.len(), 21);
    assert_eq!(inner.asked.borrow().len(), 3);
}

/// A first window that starts off the grid of its end: later fetches stay on the first
/// fetch's grid, and every point is served once.
#[test]
fn later_fetches_stay_on_the_grid_of_the_first() {
    let inner = Backend::every_step(PointTime::IntervalEnd);
    let source = IncrementalSource::new(&inner);
    let step = Duration::from_secs(60);
    let mut served = Vec::new();
    for end in [600, 1200, 1800] {
        let window = Window::between(10, end, step, Duration::default()).unwrap();
        let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
        served = source.fetch(&request).unwrap().remove(0).points;
    }
    let times: Vec<i64> = served.iter().map(|p| p.time).collect();
    assert_eq!(times, (10..=1800).step_by(60).collect::<Vec<i64>>());
    assert_eq!(*inner.asked.borrow(), vec![(10, 600), (310, 1200), (910, 1800)]);
}

/// A window that reaches back before what is known is fetched again whole, without holding
/// any point twice.
#[test]
fn a_window_reaching_back_is_fetched_again_without_duplicates() {
    let inner = Backend::every_step(PointTime::IntervalEnd);
    let source = IncrementalSource::new(&inner);
    for (start, end) in [(600, 1200), (0, 1200)] {
        let window = Window::between(start, end, Duration::from_secs(60), Duration::default()).unwrap();
        let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
        let points = source.fetch(&request).unwrap().remove(0).points;
        assert_eq!(points.len() as i64, (end - start) / 60 + 1);
    }
}

#[test]
fn a_bucket_still_filling_is_fetched_again() {
    let inner = Backend::every_step(PointTime::IntervalStart);
    let source = IncrementalSource::new(&inner);
    for end in [600, 1200] {
        let window = Window::between(0, end, Duration::from_secs(60), Duration::default()).unwrap();
        let request = QueryRequest { metric: "m", side: Side::Canary, role: QueryRole::Value, query: "q", window };
        source.fetch(&request).unwrap();
    }
    assert_eq!(*inner.asked.borrow(), vec![(0, 600), (300, 1200)]);
}

fn look(source: &dyn MetricSource, start: i64, end: i64) -> Vec<Point> {
    let window = Window::between(start, end, Duration::from_secs(60), Duration::default()).unwrap();
    let request = QueryRequest { metric: "errors", side: Side::Canary, role: QueryRole::Numerator, query: "q", window };
    source.fetch(&request).unwrap().into_iter().flat_map(|s| s.points).collect()
}

/// The canary's errors at 600 reach the backend after the first look, the one at 540 is revised
/// and the one at 480 vanishes: the next look serves the backend's new answer (no old value
/// kept, none invented) and reports the three revised points.
#[test]
fn a_late_sample_replaces_what_was_fetched_and_is_reported() {
    let backend = Backend::holding();
    backend.values().extend((0..=540).step_by(60).map(|t| (t, 0.0)));
    let source = IncrementalSource::new(&backend);
    assert_eq!(look(&source, 0, 600).len(), 10, "600 is not there yet");
    assert!(source.take_revisions().is_empty());
    {
        let mut values = backend.values();
        values.insert(600, 7.0);
        values.insert(540, 3.0);
        values.remove(&480);
        values.extend((660..=900).step_by(60).map(|t| (t, 0.0)));
    }
    let served = look(&source, 0, 900);
    let expected: Vec<Point> = backend.values().iter().map(|(&time, &value)| Point { time, value }).collect();
    assert_eq!(served, expected);
    assert_eq!(*backend.asked.borrow(), vec![(0, 600), (360, 900)]);
    assert_eq!(source.take_revisions(), vec![Revision { metric: "errors".into(), side: Side::Canary, points: 3 }]);
    assert!(source.take_revisions().is_empty(), "told once");
    // Nothing changed: nothing to report.
    look(&source, 0, 960);
    assert!(source.take_revisions().is_empty());
}

/// What a run leaves keeps the overlap even when its window was shorter, and the next run (the
/// cron watchdog) asks for that overlap again from the state's end and sees the late sample.
#[test]
fn the_next_run_asks_again_for_the_overlap_of_what_the_last_one_left() {
    let backend = Backend::holding();
    backend.values().extend((0..=540).step_by(60).map(|t| (t, 0.0)));
    let first = IncrementalSource::new(&backend);
    look(&first, 0, 600);
    look(&first, 480, 600);
    let known = first.known();
    let kept: Vec<i64> = known[0].series[0].1.iter().map(|p| p.time).collect();
    assert_eq!(kept, vec![360, 420, 480, 540], "the overlap, although the last window started at 480");
    backend.values().extend([(600, 4.0), (660, 0.0)]);
    let second = IncrementalSource::with_known(&backend, known);
    let served = look(&second, 480, 660);
    assert_eq!(
        served.iter().map(|p| (p.time, p.value)).collect::<Vec<_>>(),
        vec![(480, 0.0), (540, 0.0), (600, 4.0), (660, 0.0)]
    );
    assert_eq!(backend.asked.borrow().last(), Some(&(360, 660)));
    assert_eq!(second.take_revisions(), vec![Revision { metric: "errors".into(), side: Side::Canary, points: 1 }]);
}

#[test]
fn the_overlap_is_five_steps_at_most_five_minutes_at_least_one_step() {
    assert_eq!(overlap_from(0, 600, 60), 360);
    assert_eq!(overlap_from(0, 600, 10), 560);
    assert_eq!(overlap_from(0, 600, 120), 480);
    assert_eq!(overlap_from(0, 600, 300), 600);
    assert_eq!(overlap_from(0, 600, 3600), 600);
    assert_eq!(overlap_from(500, 600, 60), 500, "never before the grid's start");
}

proptest::proptest! {
    /// Whatever arrives late, changes or vanishes within the overlap between looks, every look
    /// serves exactly what a fresh fetch of its whole window would: no stale point survives.
    #[test]
    fn every_look_serves_what_a_fresh_fetch_would(
        looks in proptest::collection::vec((1i64..=4, proptest::collection::vec((0i64..5, proptest::option::of(0u8..4)), 0..6)), 1..8),
    ) {
        let backend = Backend::holding();
        let source = IncrementalSource::new(&backend);
        let mut end = 0;
        for (minutes, edits) in looks {
            // Late edits within the last five minutes already fetched, then the new minutes.
            for (back, value) in edits {
                let time = (end - back * 60).max(0);
                match value {
                    Some(v) => backend.values().insert(time, f64::from(v)),
                    None => backend.values().remove(&time),
                };
            }
            for t in 1..=minutes {
                backend.values().insert(end + t * 60, 1.0);
            }
            end += minutes * 60;
            let served = look(&source, 0, end);
            let fresh = look(&backend, 0, end);
            proptest::prop_assert_eq!(served, fresh);
        }
    }
}
