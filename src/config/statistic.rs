//! The statistic a threshold bounds: `mean`, `min`, `max`, any percentile `pNN` (0 < NN < 100,
//! at most four decimals: `p95`, `p99.9`) for gauges; `rate` and `total` for counts. Parsed from
//! and written as the name itself.
use std::fmt;

/// A statistic of one side's data. `rate` (Σ numerator / Σ denominator) and `total`
/// (Σ numerator) apply to count metrics; the others to gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    Min,
    P50,
    P90,
    P99,
    Max,
    Rate,
    Total,
    /// A percentile other than p50/p90/p99, in ten-thousandths of a percent: `p99.9` is
    /// 999_000.
    Percentile(u32),
}

/// One percent in the units of [`Statistic::Percentile`].
const PERCENT: u32 = 10_000;
const EXPECTED: &str =
    "mean, min, max, rate, total or a percentile pNN with 0 < NN < 100 and at most 4 decimals (p95, p99.9)";

impl Statistic {
    /// The percentile as a fraction in (0, 1), for percentiles.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Statistic::P50 => Some(0.50),
            Statistic::P90 => Some(0.90),
            Statistic::P99 => Some(0.99),
            Statistic::Percentile(units) => Some(f64::from(units) / f64::from(100 * PERCENT)),
            _ => None,
        }
    }

    /// Whether it applies to count metrics (`rate`, `total`) rather than gauges.
    pub fn for_counts(self) -> bool {
        matches!(self, Statistic::Rate | Statistic::Total)
    }
}

impl std::str::FromStr for Statistic {
    type Err = String;

    fn from_str(text: &str) -> Result<Statistic, String> {
        let named = match text {
            "mean" => Some(Statistic::Mean),
            "min" => Some(Statistic::Min),
            "max" => Some(Statistic::Max),
            "rate" => Some(Statistic::Rate),
            "total" => Some(Statistic::Total),
            _ => None,
        };
        let shown: String = text.chars().take(24).collect();
        let invalid = || format!("unknown statistic `{}`: expected {EXPECTED}", shown.escape_debug());
        if let Some(statistic) = named {
            return Ok(statistic);
        }
        let number = text.strip_prefix('p').ok_or_else(invalid)?;
        let (whole, decimals) = number.split_once('.').unwrap_or((number, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = !whole.is_empty()
            && whole.len() <= 3
            && digits_only(whole)
            && digits_only(decimals)
            && decimals.len() <= 4
            && (!decimals.is_empty() || !number.contains('.'));
        if !well_formed {
            return Err(invalid());
        }
        let whole: u32 = whole.parse().map_err(|_| invalid())?;
        let fraction: u32 = format!("{decimals:0<4}").parse().map_err(|_| invalid())?;
        let units = whole * PERCENT + fraction;
        if units == 0 || units >= 100 * PERCENT {
            return Err(invalid());
        }
        Ok(match units {
            u if u == 50 * PERCENT => Statistic::P50,
            u if u == 90 * PERCENT => Statistic::P90,
            u if u == 99 * PERCENT => Statistic::P99,
            units => Statistic::Percentile(units),
        })
    }
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Statistic::Mean => "mean",
            Statistic::Min => "min",
            Statistic::P50 => "p50",
            Statistic::P90 => "p90",
            Statistic::P99 => "p99",
            Statistic::Max => "max",
            Statistic::Rate => "rate",
            Statistic::Total => "total",
            Statistic::Percentile(units) => {
                let (whole, fraction) = (units / PERCENT, units % PERCENT);
                if fraction == 0 {
                    return write!(f, "p{whole}");
                }
                let decimals = format!("{fraction:04}");
                return write!(f, "p{whole}.{}", decimals.trim_end_matches('0'));
            }
        };
        f.write_str(name)
    }
}

crate::model::text::written_as_text!(Statistic, {
    "type": "string",
    "pattern": "^(mean|min|max|rate|total|p[0-9]{1,3}(\\.[0-9]{1,4})?)$",
    "description": "mean, min, max or a percentile pNN (0 < NN < 100, at most 4 decimals) for gauges; rate or total for counts"
});

#[cfg(test)]
mod tests {
    use super::Statistic;
    use proptest::prelude::*;

    #[test]
    fn existing_names_keep_their_variants() {
        for (text, statistic) in [
            ("mean", Statistic::Mean),
            ("min", Statistic::Min),
            ("p50", Statistic::P50),
            ("p90", Statistic::P90),
            ("p99", Statistic::P99),
            ("max", Statistic::Max),
            ("rate", Statistic::Rate),
            ("total", Statistic::Total),
        ] {
            assert_eq!(text.parse::<Statistic>(), Ok(statistic));
            assert_eq!(statistic.to_string(), text);
        }
        assert_eq!("p50.00".parse::<Statistic>(), Ok(Statistic::P50));
    }

    #[test]
    fn any_percentile_with_up_to_four_decimals() {
        assert_eq!("p95".parse::<Statistic>(), Ok(Statistic::Percentile(950_000)));
        assert_eq!("p99.9".parse::<Statistic>(), Ok(Statistic::Percentile(999_000)));
        assert_eq!("p0.0001".parse::<Statistic>(), Ok(Statistic::Percentile(1)));
        assert_eq!("p99.9999".parse::<Statistic>(), Ok(Statistic::Percentile(999_999)));
        assert_eq!(Statistic::Percentile(999_000).to_string(), "p99.9");
        assert_eq!(Statistic::Percentile(12_500).to_string(), "p1.25");
        assert_eq!("p99.9".parse::<Statistic>().unwrap().quantile(), Some(0.999));
        assert_eq!(Statistic::P90.quantile(), Some(0.90));
        assert_eq!(Statistic::Mean.quantile(), None);
    }

    #[test]
    fn refuses_out_of_range_and_malformed_percentiles() {
        for text in [
            "p0",
            "p100",
            "p100.5",
            "p99.99999",
            "p",
            "p.5",
            "p5.",
            "p-5",
            "p+5",
            "p1e1",
            "pnan",
            "pinf",
            "p 95",
            "P95",
            "q95",
            "median",
            "p0.00001",
            "p0000",
        ] {
            let error = text.parse::<Statistic>().unwrap_err();
            assert!(error.contains("0 < NN < 100"), "{text}: {error}");
        }
    }

    proptest! {
        #[test]
        fn every_percentile_round_trips_and_stays_in_range(units in 1u32..1_000_000) {
            let statistic = match units { 500_000 => Statistic::P50, 900_000 => Statistic::P90,
                990_000 => Statistic::P99, u => Statistic::Percentile(u) };
            let text = statistic.to_string();
            prop_assert_eq!(text.parse::<Statistic>(), Ok(statistic));
            let q = statistic.quantile().unwrap();
            prop_assert!(q > 0.0 && q < 1.0);
        }

        #[test]
        fn any_text_parses_to_a_valid_statistic_or_an_error(text in "\\PC{0,12}") {
            if let Ok(statistic) = text.parse::<Statistic>() {
                prop_assert!(statistic.quantile().is_none_or(|q| q > 0.0 && q < 1.0));
            }
        }
    }
}
