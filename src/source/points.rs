//! The one check every series passes before it is judged or recorded, whatever its source
//! (Prometheus, Datadog, recorded data): timestamps strictly increasing (a repeated timestamp is
//! refused, never counted twice nor silently dropped), at most as many points as the window has
//! steps (plus the bucket that Datadog starts at the window's end), and count series (numerator,
//! denominator) made of values that are NaN (left for the judge's data-quality checks) or finite,
//! non-negative and at most [`MAX_COUNT`]. Also the limits on what one answer may hold.

use super::SourceError;
use crate::model::{QueryRole, Series, Window};

/// The largest count accepted: 2^53, the largest integer an f64 holds exactly. No real event
/// count comes near it; larger values are corrupt data (or an attack on the count test).
pub const MAX_COUNT: f64 = 9_007_199_254_740_992.0;

/// Default of `--max-response-size`: the most bytes one HTTP answer may have (the tests' sources
/// use it; the command line spells the same default).
#[cfg(test)]
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Default of `--max-series`: the most series one query may return.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// Checks every series one query returned over `window`. `what` names the query in errors
/// (`metric `x`, canary numerator`). The error is a [`SourceError::Unavailable`] (exit 4): the
/// source answered with data that cannot be judged.
pub fn check_series(series: &[Series], role: QueryRole, window: &Window, what: &str) -> Result<(), SourceError> {
    let refused = |message: String| SourceError::Unavailable(format!("{what}: {message}"));
    let step = window.step_seconds.max(1) as i64;
    let steps = (window.end.saturating_sub(window.start) / step).saturating_add(2);
    let is_count = matches!(role, QueryRole::Numerator | QueryRole::Denominator);
    for one in series {
        let labels = describe_labels(one);
        if let Some(index) = one.points.windows(2).position(|pair| pair[1].time <= pair[0].time) {
            let pair = [one.points[index], one.points[index + 1]];
            let repeated = one.points[..=index].iter().any(|p| p.time == pair[1].time);
            let what = if repeated { "twice" } else { "out of order" };
            return Err(refused(format!(
                "the series{labels} has timestamp {} {what} ({} after {}): timestamps must strictly increase; the source returned duplicate or overlapping data",
                pair[1].time, pair[1].time, pair[0].time
            )));
        }
        if one.points.len() as i64 > steps {
            return Err(refused(format!(
                "the series{labels} has {} points, more than the {steps} that a window of {}s at a {step}s step can hold",
                one.points.len(),
                window.end - window.start
            )));
        }
        if is_count
            && let Some(point) = one.points.iter().find(|p| !p.value.is_nan() && !(0.0..=MAX_COUNT).contains(&p.value))
        {
            return Err(refused(format!(
                "the series{labels} has the count {} at {}: a {} must be between 0 and {MAX_COUNT:e}",
                point.value,
                point.time,
                role.name()
            )));
        }
    }
    Ok(())
}

/// ` {pod="a"}` for a series with labels, empty without.
fn describe_labels(series: &Series) -> String {
    if series.labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = series.labels.iter().take(5).map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let text: String = format!(" {{{}}}", pairs.join(",")).chars().take(200).collect();
    crate::source::http::echoed_text(&text, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Duration, Point};
    use proptest::prelude::*;

    fn window() -> Window {
        Window::between(600, 1200, Duration::from_secs(60), Duration::from_secs(0)).unwrap()
    }

    fn series(points: &[(i64, f64)]) -> Vec<Series> {
        vec![Series {
            labels: Default::default(),
            points: points.iter().map(|&(time, value)| Point { time, value }).collect(),
        }]
    }

    #[test]
    fn duplicate_timestamps_are_refused_naming_the_query_and_time() {
        let error = check_series(&series(&[(600, 1.0), (660, 1.0), (660, 1.0)]), QueryRole::Value, &window(), "q")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("q: ") && error.contains("timestamp 660 twice"), "{error}");
        let error = check_series(&series(&[(660, 1.0), (600, 1.0)]), QueryRole::Value, &window(), "q").unwrap_err();
        assert!(error.to_string().contains("out of order"), "{error}");
    }

    #[test]
    fn counts_are_non_negative_finite_and_bounded() {
        for bad in [-1.0, f64::INFINITY, f64::NEG_INFINITY, 5e18, 1e302] {
            let error = check_series(&series(&[(600, bad)]), QueryRole::Numerator, &window(), "q").unwrap_err();
            assert!(error.to_string().contains("must be between 0 and"), "{error}");
            assert!(check_series(&series(&[(600, bad)]), QueryRole::Value, &window(), "q").is_ok());
        }
        for good in [0.0, 12.5, MAX_COUNT, f64::NAN] {
            assert!(check_series(&series(&[(600, good)]), QueryRole::Denominator, &window(), "q").is_ok());
        }
    }

    #[test]
    fn a_series_longer_than_the_window_is_refused() {
        let long: Vec<(i64, f64)> = (0..100).map(|i| (600 + i, 1.0)).collect();
        let error = check_series(&series(&long), QueryRole::Value, &window(), "q").unwrap_err();
        assert!(error.to_string().contains("100 points"), "{error}");
        // Every step of the window and Datadog's bucket at its end fit.
        let full: Vec<(i64, f64)> = (0..12).map(|i| (600 + i * 60, 1.0)).collect();
        assert!(check_series(&series(&full), QueryRole::Value, &window(), "q").is_ok());
    }

    proptest! {
        /// Whatever passes the check is written by `record` and read back by `--replay` as the
        /// same points, which pass the check again: every recording written replays.
        #[test]
        fn accepted_series_round_trip_through_a_recording(
            gaps in proptest::collection::vec(1i64..120, 0..12),
            values in proptest::collection::vec(prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), 0.0..1e9], 12),
            count in any::<bool>(),
        ) {
            let role = if count { QueryRole::Denominator } else { QueryRole::Value };
            let mut time = 600;
            let points: Vec<(i64, f64)> = gaps.iter().zip(&values).map(|(gap, value)| { time += gap; (time, *value) }).collect();
            let input = series(&points);
            prop_assume!(check_series(&input, role, &window(), "q").is_ok());
            let written = serde_json::to_string(&crate::source::recorded::RecordedSeries::from_series(&input[0])).unwrap();
            let read: crate::source::recorded::RecordedSeries = serde_json::from_str(&written).unwrap();
            prop_assert_eq!(read.points.len(), input[0].points.len());
            for (a, b) in read.points.iter().zip(&input[0].points) {
                prop_assert!(a.time == b.time && (a.value.to_bits() == b.value.to_bits() || (a.value.is_nan() && b.value.is_nan())), "{:?} != {:?}", a, b);
            }
            let back = vec![Series { labels: read.labels, points: read.points }];
            prop_assert!(check_series(&back, role, &window(), "q").is_ok());
        }


        /// Whatever the points, a series that passes the check has strictly increasing times and,
        /// for counts, only values in [0, MAX_COUNT] or NaN.
        #[test]
        fn accepted_series_are_well_formed(
            points in proptest::collection::vec((0i64..2000, prop_oneof![any::<f64>(), Just(f64::NAN), Just(-1.0)]), 0..30),
            count in any::<bool>(),
        ) {
            let role = if count { QueryRole::Numerator } else { QueryRole::Value };
            let input = series(&points);
            if check_series(&input, role, &window(), "q").is_ok() {
                prop_assert!(input[0].points.windows(2).all(|w| w[0].time < w[1].time));
                if count {
                    prop_assert!(input[0].points.iter().all(|p| p.value.is_nan() || (0.0..=MAX_COUNT).contains(&p.value)));
                }
            }
        }
    }
}
