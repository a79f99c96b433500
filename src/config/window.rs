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
        if warmup.as_secs() as i64 >= end - start {
            return Err(format!(
                "the warm-up ({warmup}) is as long as the window ({})",
                Duration::from_secs((end - start) as u64)
            ));
        }
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
}
