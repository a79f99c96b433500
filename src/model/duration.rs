//! Durations in analysis files and flags (`30s`, `5m`, `1h30m`, ISO 8601 `PT5M`), parsed by jiff.

use std::fmt;
use std::str::FromStr;

/// A non-negative whole number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

impl Duration {
    pub const fn from_secs(seconds: u64) -> Duration {
        Duration(seconds)
    }

    pub const fn as_secs(self) -> u64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Duration, String> {
        let expected = "expected a duration such as 30s, 5m, 1h30m or 2h";
        let parsed: jiff::SignedDuration =
            text.trim().parse().map_err(|_| format!("`{text}` is not a duration ({expected})"))?;
        if parsed.is_negative() {
            return Err(format!("`{text}` is negative ({expected})"));
        }
        if parsed.subsec_nanos() != 0 {
            return Err(format!("`{text}` is not a whole number of seconds"));
        }
        Ok(Duration(parsed.as_secs() as u64))
    }
}

impl fmt::Display for Duration {
    /// The compact form PromQL also accepts: `90s` → `1m30s`, `3600s` → `1h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return write!(f, "0s");
        }
        let (hours, minutes, seconds) = (self.0 / 3600, self.0 % 3600 / 60, self.0 % 60);
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        if seconds > 0 {
            write!(f, "{seconds}s")?;
        }
        Ok(())
    }
}

super::text::written_as_text!(Duration, {"type": "string", "description": "A duration such as 30s, 5m or 1h30m"});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_friendly_and_iso_durations() {
        assert_eq!("30s".parse::<Duration>(), Ok(Duration(30)));
        assert_eq!("5m".parse::<Duration>(), Ok(Duration(300)));
        assert_eq!("1h30m".parse::<Duration>(), Ok(Duration(5400)));
        assert_eq!("1h 30m".parse::<Duration>(), Ok(Duration(5400)));
        assert_eq!("PT2M".parse::<Duration>(), Ok(Duration(120)));
        assert!("5 minutes please".parse::<Duration>().unwrap_err().contains("not a duration"));
        assert!("-5m".parse::<Duration>().is_err());
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(Duration(90).to_string(), "1m30s");
        assert_eq!(Duration(3600).to_string(), "1h");
        assert_eq!(Duration(0).to_string(), "0s");
    }
}
