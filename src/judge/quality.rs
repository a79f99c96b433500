//! Data-quality handling before any test: the warm-up and points outside the window are dropped,
//! NaN and infinite values are dropped and reported, a trailing partial bucket is dropped,
//! overlapping range windows are thinned to non-overlapping points, and numerator and denominator
//! points are lined up. Every change to the data is reported as a [`Finding`].

use super::report::{Finding, FindingKind};
use crate::model::{Duration, Point, PointTime, Side, Window};

/// Keeps the points that are judged: inside the window after the warm-up, finite, and (for
/// sources whose timestamps mark interval starts) not a bucket that runs past the window's end.
pub fn clean(
    points: &[Point],
    window: &Window,
    point_time: PointTime,
    side: Side,
    findings: &mut Vec<Finding>,
) -> Vec<Point> {
    let mut non_finite = 0usize;
    let mut partial = None;
    let mut kept = Vec::with_capacity(points.len());
    for point in points {
        if !in_judged_window(point, window) {
            continue;
        }
        if runs_past_end(point, window, point_time) {
            partial = Some(point.time);
            continue;
        }
        if !point.value.is_finite() {
            non_finite += 1;
            continue;
        }
        kept.push(*point);
    }
    if non_finite > 0 {
        findings.push(Finding {
            kind: FindingKind::NonFiniteValues,
            side: Some(side),
            message: format!("{non_finite} NaN or infinite value(s) dropped"),
        });
    }
    if let Some(time) = partial {
        findings.push(Finding {
            kind: FindingKind::PartialBucket,
            side: Some(side),
            message: format!(
                "the bucket starting at {} runs past the end of the window and was dropped",
                crate::model::window::format_timestamp(time)
            ),
        });
    }
    kept
}

fn in_judged_window(point: &Point, window: &Window) -> bool {
    point.time >= window.judged_from() && point.time <= window.end
}

fn runs_past_end(point: &Point, window: &Window, point_time: PointTime) -> bool {
    point_time == PointTime::IntervalStart && point.time.saturating_add(window.step_seconds as i64) > window.end
}

/// The NaN and infinite values among the points [`clean`] would otherwise judge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NonFinite {
    pub positive_infinite: usize,
    pub negative_infinite: usize,
    pub nan: usize,
}

impl NonFinite {
    pub fn total(&self) -> usize {
        self.positive_infinite + self.negative_infinite + self.nan
    }
}

/// Counts the NaN and infinite values in the judged window (the points [`clean`] drops for not
/// being finite): a gauge cannot pass on the finite values that remain.
pub fn non_finite(points: &[Point], window: &Window, point_time: PointTime) -> NonFinite {
    let mut tally = NonFinite::default();
    let judged = points.iter().filter(|p| in_judged_window(p, window) && !runs_past_end(p, window, point_time));
    for point in judged {
        if point.value.is_nan() {
            tally.nan += 1;
        } else if point.value == f64::INFINITY {
            tally.positive_infinite += 1;
        } else if point.value == f64::NEG_INFINITY {
            tally.negative_infinite += 1;
        }
    }
    tally
}

/// Steps of missing points tolerated at either edge of the judged window, and inside it, before a
/// side counts as having stopped or started inside the window.
pub const GAP_TOLERANCE_STEPS: i64 = 2;

/// Whether a side's judged points (sorted by time) cover the judged window: a series that starts
/// late, stops early or stops and restarts inside the window (a crash loop: Prometheus marks the
/// series stale and returns no points for it) is a [`FindingKind::Gap`]. Up to
/// [`GAP_TOLERANCE_STEPS`] missing steps at an edge or in a row are tolerated. `what` names the
/// series (`canary series`, `canary denominator`).
pub fn coverage_gap(
    points: &[Point],
    window: &Window,
    point_time: PointTime,
    side: Side,
    what: &str,
) -> Option<Finding> {
    let step = window.step_seconds.max(1) as i64;
    let tolerance = GAP_TOLERANCE_STEPS.saturating_mul(step);
    let (first, last) = (points.first()?.time, points.last()?.time);
    let expected_last = match point_time {
        PointTime::IntervalEnd => window.end,
        PointTime::IntervalStart => window.end.saturating_sub(step),
    };
    let at = crate::model::window::format_timestamp;
    let span = |seconds: i64| Duration::from_secs(seconds.max(0) as u64);
    let message = if first.saturating_sub(window.judged_from()) > tolerance {
        format!(
            "the {what} starts at {}, {} after the judged window begins: a side that starts inside the window cannot pass",
            at(first),
            span(first - window.judged_from())
        )
    } else if expected_last.saturating_sub(last) > tolerance {
        format!(
            "the {what} stops at {}, {} before the judged window ends (a crash loop? stale series return no points): a side that stops inside the window cannot pass",
            at(last),
            span(expected_last - last)
        )
    } else {
        let (before, after) = points
            .windows(2)
            .map(|pair| (pair[0].time, pair[1].time))
            .find(|(before, after)| after.saturating_sub(*before) > tolerance + step)?;
        format!(
            "the {what} stops at {} and resumes at {}, {} later (a crash loop? stale series return no points): a side with a hole inside the window cannot pass",
            at(before),
            at(after),
            span(after - before)
        )
    };
    Some(Finding { kind: FindingKind::Gap, side: Some(side), message })
}

/// The canary's traffic starting well inside the judged window (its first point with traffic more
/// than [`GAP_TOLERANCE_STEPS`] steps after the warm-up) while the baseline's starts with it: the
/// canary was likely given traffic after the window began, and its early minutes judge nothing.
/// `baseline` and `canary` are the first timestamps with traffic (`None`: no traffic at all, which
/// other checks report); `what` names it (`traffic`, `data`). A warning only.
pub fn late_traffic(baseline: Option<i64>, canary: Option<i64>, window: &Window, what: &str) -> Option<Finding> {
    let tolerance = GAP_TOLERANCE_STEPS.saturating_mul(window.step_seconds.max(1) as i64);
    let late = |first: i64| first.saturating_sub(window.judged_from()) > tolerance;
    let (baseline, canary) = (baseline?, canary?);
    if late(baseline) || !late(canary) {
        return None;
    }
    let at = crate::model::window::format_timestamp;
    let after = Duration::from_secs(canary.saturating_sub(window.judged_from()).max(0) as u64);
    let message = format!(
        "the canary's {what} starts at {}, {after} after the judged window begins, while the baseline's starts with it: the canary likely got traffic late; judge a window that starts after {}",
        at(canary),
        at(canary)
    );
    Some(Finding { kind: FindingKind::LateTraffic, side: Some(Side::Canary), message })
}

/// The longest range selector (`[5m]`) in a PromQL query, if any. Subqueries (`[30m:1m]`) count
/// with their range.
pub fn range_in_query(query: &str) -> Option<Duration> {
    let mut longest: Option<Duration> = None;
    let mut rest = query;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = after[..close].split(':').next().unwrap_or_default().trim();
        if let Ok(duration) = inside.parse::<Duration>()
            && !inside.is_empty()
            && inside.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            longest = Some(longest.map_or(duration, |l| l.max(duration)));
        }
        rest = &after[close + 1..];
    }
    longest
}

/// How many steps one range window spans (1 when points do not overlap).
pub fn overlap_factor(range: Duration, step_seconds: u64) -> u64 {
    range.as_secs().div_ceil(step_seconds).max(1)
}

/// Keeps points whose range windows (`factor` steps long) do not overlap: walking back from the
/// last point, each kept point is at least `factor` steps before the one kept after it. On a
/// regular grid that is every `factor`-th point counting back from the last; points on another
/// grid, or after a gap, are kept whenever they do not overlap (never dropped for their grid).
/// With a factor of 1 the windows do not overlap and every point is kept. `points` are sorted by
/// time.
pub fn thin(points: &[Point], factor: u64, step_seconds: u64) -> Vec<Point> {
    if factor <= 1 {
        return points.to_vec();
    }
    let stride = i64::try_from(factor.saturating_mul(step_seconds)).unwrap_or(i64::MAX);
    let mut kept: Vec<Point> = Vec::with_capacity(points.len() / factor as usize + 1);
    for point in points.iter().rev() {
        if kept.last().is_none_or(|after| after.time.saturating_sub(point.time) >= stride) {
            kept.push(*point);
        }
    }
    kept.reverse();
    kept
}

/// The finding that says points were thinned.
pub fn thinning_finding(range: Duration, step_seconds: u64, factor: u64) -> Finding {
    Finding {
        kind: FindingKind::OverlappingWindows,
        side: None,
        message: format!(
            "points every {} summarise overlapping {range} windows and are not independent: judged on every {} point",
            Duration::from_secs(step_seconds),
            ordinal(factor)
        ),
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// One interval of a count metric: time, events, exposure.
pub type Interval = (i64, f64, f64);

/// Lines numerator points up with denominator points. A denominator point with no numerator point
/// counts zero events (a counter that has not fired yet has no series; sparse sources leave out
/// empty buckets), unless the numerator's point was there but not a number (`unusable`), which
/// drops the interval. Returns the intervals, how many were filled with zero, and the numerator
/// points that had no denominator.
pub fn join(numerator: &[Point], denominator: &[Point], unusable: &[i64]) -> (Vec<Interval>, usize, Orphaned) {
    let mut joined = Vec::with_capacity(denominator.len());
    let (mut filled, mut i) = (0, 0);
    for d in denominator {
        while i < numerator.len() && numerator[i].time < d.time {
            i += 1;
        }
        if i < numerator.len() && numerator[i].time == d.time {
            joined.push((d.time, numerator[i].value, d.value));
        } else if unusable.binary_search(&d.time).is_err() {
            joined.push((d.time, 0.0, d.value));
            filled += 1;
        }
    }
    let mut orphaned = Orphaned::default();
    for n in numerator.iter().filter(|n| denominator.binary_search_by_key(&n.time, |d| d.time).is_err()) {
        orphaned.points += 1;
        orphaned.events += n.value;
    }
    (joined, filled, orphaned)
}

/// Numerator points with no denominator point at their time: how many, and the events they hold.
/// Events with no exposure cannot be judged, and dropping them would hide them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Orphaned {
    pub points: usize,
    pub events: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[(i64, f64)]) -> Vec<Point> {
        values.iter().map(|&(time, value)| Point { time, value }).collect()
    }

    fn window() -> Window {
        Window::between(0, 600, Duration::from_secs(60), Duration::from_secs(120)).unwrap()
    }

    #[test]
    fn warns_when_only_the_canary_starts_more_than_two_steps_after_the_warm_up() {
        // Judged from 120 s, step 60 s: up to 240 s is on time.
        let late = late_traffic(Some(120), Some(300), &window(), "traffic").unwrap();
        assert_eq!((late.kind, late.side), (FindingKind::LateTraffic, Some(Side::Canary)));
        assert!(
            late.message.contains("the canary's traffic starts at 1970-01-01T00:05:00Z, 3m after"),
            "{}",
            late.message
        );
        assert_eq!(late_traffic(Some(120), Some(240), &window(), "traffic"), None);
        assert_eq!(late_traffic(Some(300), Some(300), &window(), "traffic"), None, "both late: not the canary's");
        assert_eq!(late_traffic(None, Some(300), &window(), "traffic"), None);
        assert_eq!(late_traffic(Some(120), None, &window(), "traffic"), None);
    }

    #[test]
    fn drops_warmup_non_finite_values_and_partial_buckets() {
        let data = points(&[(60, 1.0), (180, 2.0), (240, f64::NAN), (300, f64::INFINITY), (360, 3.0), (600, 4.0)]);
        let mut findings = Vec::new();
        let kept = clean(&data, &window(), PointTime::IntervalEnd, Side::Canary, &mut findings);
        assert_eq!(kept, points(&[(180, 2.0), (360, 3.0), (600, 4.0)]));
        assert_eq!(findings[0].kind, FindingKind::NonFiniteValues);
        assert!(findings[0].message.starts_with("2 NaN"));
        let mut findings = Vec::new();
        let kept = clean(&data, &window(), PointTime::IntervalStart, Side::Baseline, &mut findings);
        assert_eq!(kept.last().unwrap().time, 360);
        assert!(findings.iter().any(|f| f.kind == FindingKind::PartialBucket));
    }

    #[test]
    fn counts_the_non_finite_values_clean_would_drop() {
        let data = points(&[
            (60, f64::INFINITY),
            (180, f64::INFINITY),
            (240, f64::NAN),
            (300, f64::NEG_INFINITY),
            (360, 3.0),
            (600, f64::INFINITY),
        ]);
        let tally = non_finite(&data, &window(), PointTime::IntervalEnd);
        assert_eq!(
            tally,
            NonFinite { positive_infinite: 2, negative_infinite: 1, nan: 1 },
            "the warm-up's is not judged"
        );
        assert_eq!(tally.total(), 4);
        let tally = non_finite(&data, &window(), PointTime::IntervalStart);
        assert_eq!(tally.positive_infinite, 1, "a partial bucket is not judged");
    }

    #[test]
    fn finds_range_selectors_in_promql() {
        let q = "histogram_quantile(0.99, sum by (le) (rate(x_bucket{a=\"[1m]\"}[2m])))";
        assert_eq!(range_in_query(q), Some(Duration::from_secs(120)));
        assert_eq!(range_in_query("max_over_time(rate(x[1m])[30m:1m])"), Some(Duration::from_secs(1800)));
        assert_eq!(range_in_query("avg:trace.http.request{version:v2}"), None);
        assert_eq!(range_in_query("x[5m] + y[1h]"), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn thinning_keeps_non_overlapping_points_ending_at_the_last() {
        let data = points(&[(60, 1.0), (120, 2.0), (180, 3.0), (240, 4.0), (300, 5.0)]);
        assert_eq!(overlap_factor(Duration::from_secs(120), 60), 2);
        assert_eq!(overlap_factor(Duration::from_secs(30), 60), 1);
        assert_eq!(thin(&data, 2, 60), points(&[(60, 1.0), (180, 3.0), (300, 5.0)]));
        assert_eq!(thin(&data, 1, 60), data);
    }

    /// A watch started off the step's grid fetched its first points on one grid and the later ones
    /// on another: thinning by the last point's grid dropped every point of the first.
    #[test]
    fn thinning_keeps_points_of_another_grid_that_do_not_overlap() {
        let mixed = points(&[(10, 1.0), (70, 2.0), (130, 3.0), (180, 4.0), (240, 5.0), (300, 6.0)]);
        assert_eq!(thin(&mixed, 1, 60), mixed);
        assert_eq!(thin(&mixed, 2, 60), points(&[(10, 1.0), (180, 4.0), (300, 6.0)]));
        // A missing point costs one point, not every point until the grid comes round again.
        let gap = points(&[(60, 1.0), (120, 2.0), (180, 3.0), (300, 5.0), (360, 6.0), (420, 7.0)]);
        assert_eq!(thin(&gap, 2, 60), points(&[(60, 1.0), (180, 3.0), (300, 5.0), (420, 7.0)]));
    }

    proptest::proptest! {
        /// Whatever the times, thinning keeps the last point, never keeps two points closer than
        /// `factor` steps, and never drops a point that overlaps no kept one.
        #[test]
        fn thinning_keeps_every_non_overlapping_point(
            mut times in proptest::collection::vec(0i64..10_000, 0..60),
            factor in 1u64..5,
            step in 1u64..120,
        ) {
            times.sort_unstable();
            times.dedup();
            let data: Vec<Point> = times.iter().map(|&time| Point { time, value: time as f64 }).collect();
            let kept = thin(&data, factor, step);
            proptest::prop_assert_eq!(kept.last(), data.last());
            if factor > 1 {
                let stride = (factor * step) as i64;
                proptest::prop_assert!(kept.windows(2).all(|w| w[1].time - w[0].time >= stride));
                for point in &data {
                    let overlaps = kept.iter().any(|k| (k.time - point.time).abs() < stride);
                    proptest::prop_assert!(overlaps, "{} was dropped but overlaps no kept point", point.time);
                }
            } else {
                proptest::prop_assert_eq!(kept.len(), data.len());
            }
        }
    }

    proptest::proptest! {
        /// No numerator event vanishes in the join: every event is either in an interval or
        /// counted among the orphaned ones.
        #[test]
        fn join_accounts_for_every_numerator_event(
            numerator in proptest::collection::btree_map(0i64..60, 0u32..1000, 0..40),
            denominator in proptest::collection::btree_set(0i64..60, 0..40),
        ) {
            let num: Vec<Point> = numerator.iter().map(|(&time, &n)| Point { time, value: f64::from(n) }).collect();
            let den: Vec<Point> = denominator.iter().map(|&time| Point { time, value: 1.0 }).collect();
            let (joined, _, orphaned) = join(&num, &den, &[]);
            let joined_events: f64 = joined.iter().map(|&(_, n, _)| n).sum();
            let all: f64 = num.iter().map(|p| p.value).sum();
            proptest::prop_assert_eq!(joined_events + orphaned.events, all);
            proptest::prop_assert_eq!(orphaned.points, numerator.keys().filter(|t| !denominator.contains(t)).count());
        }
    }

    #[test]
    fn join_fills_missing_events_with_zero_but_not_unusable_ones() {
        let num = points(&[(60, 1.0), (180, 2.0), (300, 5.0)]);
        let den = points(&[(60, 10.0), (120, 10.0), (180, 20.0), (240, 30.0)]);
        let (joined, filled, orphaned) = join(&num, &den, &[]);
        assert_eq!(joined, vec![(60, 1.0, 10.0), (120, 0.0, 10.0), (180, 2.0, 20.0), (240, 0.0, 30.0)]);
        assert_eq!((filled, orphaned), (2, Orphaned { points: 1, events: 5.0 }));
        let (joined, filled, _) = join(&num, &den, &[240]);
        assert_eq!((joined.len(), filled), (3, 1));
    }

    #[test]
    fn a_series_that_stops_starts_or_breaks_inside_the_window_is_a_gap() {
        let window = window(); // judged from 120 to 600, step 60
        let every = |from: i64, to: i64| points(&(from..=to).step_by(60).map(|t| (t, 1.0)).collect::<Vec<_>>());
        let gap = |data: &[Point]| coverage_gap(data, &window, PointTime::IntervalEnd, Side::Canary, "canary series");
        assert_eq!(gap(&every(120, 600)), None);
        assert_eq!(gap(&every(240, 480)), None, "two steps missing at each edge are tolerated");
        assert!(gap(&every(120, 360)).unwrap().message.contains("stops at"));
        assert!(gap(&every(300, 600)).unwrap().message.contains("starts at"));
        let mut holed = every(120, 240);
        holed.extend(every(480, 600));
        assert!(gap(&holed).unwrap().message.contains("resumes at"));
        let mut one_missing = every(120, 240);
        one_missing.extend(every(360, 600));
        assert_eq!(gap(&one_missing), None);
        let start = coverage_gap(&every(120, 540), &window, PointTime::IntervalStart, Side::Baseline, "b");
        assert_eq!(start, None, "interval-start points end one step early");
    }
}
