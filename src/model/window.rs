//! The judged time window: `--last` or `--start`/`--end`, aligned to the step, with a warm-up at
//! its start that is not judged.

use super::Duration;
use serde::Serialize;

/// A resolved window in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Window {
    /// Start of the window (RFC 3339 in reports), inclusive.
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "String")]
    pub start: i64,
    /// End of the window, inclusive.
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "String")]
    pub end: i64,
    pub step_seconds: u64,
    /// Points before `start + warmup_seconds` are not judged.
    pub warmup_seconds: u64,
}

fn rfc3339<S: serde::Serializer>(seconds: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_timestamp(*seconds))
}

/// Shortest step: one second.
pub const MIN_STEP_SECONDS: u64 = 1;
/// Longest step: one day.
pub const MAX_STEP_SECONDS: u64 = 86_400;
/// Longest window: 31 days.
pub const MAX_WINDOW_SECONDS: u64 = 31 * 86_400;
/// Most points a series of one window may have (window ÷ step): 100,000, e.g. 27 hours at 1s.
pub const MAX_POINTS_PER_SERIES: u64 = 100_000;
/// Earliest plausible timestamp of a window or point: 2000-01-01T00:00:00Z.
pub const EARLIEST_TIMESTAMP: i64 = 946_684_800;
/// Latest plausible timestamp: 2200-01-01T00:00:00Z.
pub const LATEST_TIMESTAMP: i64 = 7_258_118_400;

/// The one check of a window's sizes, shared by the analysis (`window.last`), the command line
/// and recordings: a step of 1s to 1 day, a window of at most 31 days and 100,000 steps, and a
/// warm-up shorter than the window.
pub fn check_lengths(length_seconds: u64, step: Duration, warmup: Duration) -> Result<(), String> {
    let step_s = step.as_secs();
    if !(MIN_STEP_SECONDS..=MAX_STEP_SECONDS).contains(&step_s) {
        return Err(format!("the step ({step}) must lie between 1s and 24h"));
    }
    if length_seconds > MAX_WINDOW_SECONDS {
        return Err(format!(
            "the window ({}) is longer than the limit of 744h (31 days); judge a shorter window",
            Duration::from_secs(length_seconds)
        ));
    }
    if length_seconds / step_s > MAX_POINTS_PER_SERIES {
        return Err(format!(
            "the window ({}) holds {} steps of {step}, more than the limit of {MAX_POINTS_PER_SERIES}; use a longer step",
            Duration::from_secs(length_seconds),
            length_seconds / step_s
        ));
    }
    if warmup.as_secs() >= length_seconds {
        return Err(format!(
            "the warm-up ({warmup}) is as long as the window ({}): nothing would be judged",
            Duration::from_secs(length_seconds)
        ));
    }
    Ok(())
}

/// A timestamp between 2000 and 2200 (recordings from year 1 or 9999 are refused).
pub fn check_timestamp(seconds: i64) -> Result<(), String> {
    if (EARLIEST_TIMESTAMP..=LATEST_TIMESTAMP).contains(&seconds) {
        Ok(())
    } else {
        Err(format!("{} lies outside the plausible range 2000-01-01 to 2200-01-01", format_timestamp(seconds)))
    }
}

/// RFC 3339 text of a Unix time.
pub fn format_timestamp(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map(|t| t.to_string()).unwrap_or_else(|_| seconds.to_string())
}

/// Parses an RFC 3339 timestamp (`2026-11-23T10:00:00Z`) to Unix seconds.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| format!("`{text}` is not an RFC 3339 timestamp (expected e.g. 2026-11-23T10:00:00Z)"))
}

/// The latest instant on the step's grid (multiples of `step_seconds` since the Unix epoch) at or
/// before `time`. Every look of a run uses this one grid, so that all its points line up.
pub fn align_down(time: i64, step_seconds: i64) -> i64 {
    time - time.rem_euclid(step_seconds.max(1))
}

/// The earliest instant on the step's grid at or after `time`.
pub fn align_up(time: i64, step_seconds: i64) -> i64 {
    let step = step_seconds.max(1);
    let rest = time.rem_euclid(step);
    if rest == 0 { time } else { time.saturating_add(step - rest) }
}

impl Window {
    /// The window of the last `last` before `now`, end aligned down to the step.
    pub fn last(now: i64, last: Duration, step: Duration, warmup: Duration) -> Result<Window, String> {
        check_lengths(last.as_secs(), step, warmup)?;
        let step_s = step.as_secs() as i64;
        let end = now.div_euclid(step_s) * step_s;
        Window::between(end - last.as_secs() as i64, end, step, warmup)
    }

    /// An explicit window; start and end must be ordered and the warm-up shorter than the window.
    pub fn between(start: i64, end: i64, step: Duration, warmup: Duration) -> Result<Window, String> {
        if step.is_zero() {
            return Err("the step must be longer than 0s".into());
        }
        if end <= start {
            return Err(format!(
                "the window ends ({}) before it starts ({})",
                format_timestamp(end),
                format_timestamp(start)
            ));
        }
        check_lengths(end.abs_diff(start), step, warmup)?;
        Ok(Window { start, end, step_seconds: step.as_secs(), warmup_seconds: warmup.as_secs() })
    }

    /// First judged instant.
    pub fn judged_from(&self) -> i64 {
        self.start + self.warmup_seconds as i64
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs((self.end - self.start) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_aligns_the_end_to_the_step() {
        let w = Window::last(1_000_030, Duration::from_secs(600), Duration::from_secs(60), Duration::from_secs(60))
            .unwrap();
        assert_eq!((w.start, w.end), (999_420, 1_000_020));
        assert_eq!(w.judged_from(), 999_480);
    }

    #[test]
    fn alignment_rounds_to_the_epoch_grid_of_the_step() {
        assert_eq!((align_down(1_000_030, 60), align_up(1_000_030, 60)), (1_000_020, 1_000_080));
        assert_eq!((align_down(1_000_020, 60), align_up(1_000_020, 60)), (1_000_020, 1_000_020));
        assert_eq!((align_down(-7, 5), align_up(-7, 5)), (-10, -5));
    }

    #[test]
    fn rejects_inverted_windows_and_long_warmups() {
        let step = Duration::from_secs(60);
        assert!(Window::between(100, 50, step, Duration::default()).is_err());
        assert!(Window::between(0, 600, step, Duration::from_secs(600)).unwrap_err().contains("warm-up"));
        assert_eq!(parse_timestamp("1970-01-01T00:01:00Z"), Ok(60));
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn steps_windows_and_warm_ups_have_sane_ranges() {
        let minute = Duration::from_secs(60);
        let none = Duration::default();
        let err = Window::between(0, 600, Duration::from_secs(u64::MAX / 2), none).unwrap_err();
        assert!(err.contains("between 1s and 24h"), "{err}");
        assert!(Window::between(0, 600, Duration::from_secs(86_401), none).is_err());
        // A window from year 1 to now: refused before anything is allocated for it.
        let err = Window::between(-62_135_596_800, 1_795_000_000, minute, none).unwrap_err();
        assert!(err.contains("longer than the limit of 744h"), "{err}");
        let err = Window::between(0, 30 * 86_400, Duration::from_secs(1), none).unwrap_err();
        assert!(err.contains("more than the limit of 100000"), "{err}");
        assert!(Window::between(0, 31 * 86_400, minute, none).is_ok());
        let err = Window::last(10_000_000, Duration::from_secs(u64::MAX / 4), minute, none).unwrap_err();
        assert!(err.contains("744h"), "{err}");
        assert!(check_timestamp(-62_135_596_800).unwrap_err().contains("plausible range"));
        assert!(check_timestamp(1_795_000_000).is_ok());
    }
}
