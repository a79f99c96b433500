//! Range vectors too short for the scrape interval: `increase(x[1s])` at a 15 s scrape has at
//! most one sample per range and returns nothing. Pure: reads a PromQL text and names its range
//! selectors shorter than twice the scrape interval, so an empty answer is explained as such
//! rather than as "no traffic". A subquery (`[30m:1m]`) samples at its own step and never counts.

use crate::judge::report::{Finding, FindingKind};
use crate::model::Duration;

/// The distinct range selectors (`[d]`, outside string literals, not subqueries) of `query`
/// shorter than twice `scrape`, in the order they appear. None when `scrape` is 0.
pub(crate) fn short_ranges(query: &str, scrape: Duration) -> Vec<Duration> {
    let least = scrape.as_secs().saturating_mul(2);
    let mut short: Vec<Duration> = Vec::new();
    for range in range_selectors(query) {
        if range.as_secs() < least && !short.contains(&range) {
            short.push(range);
        }
    }
    short
}

/// Every `[d]` range selector of `query` that parses as whole seconds, skipping quoted strings.
fn range_selectors(query: &str) -> Vec<Duration> {
    let mut ranges = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in query.char_indices() {
        if let Some(open) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' if open != '`' => escaped = true,
                _ if c == open => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '[' => {
                let after = &query[at + 1..];
                let Some(close) = after.find(']') else { break };
                let inside = after[..close].trim();
                if !inside.contains(':')
                    && inside.starts_with(|c: char| c.is_ascii_digit())
                    && let Ok(range) = inside.parse::<Duration>()
                {
                    ranges.push(range);
                }
            }
            _ => {}
        }
    }
    ranges
}

/// "the range [1s] of `increase(x[1s])` is shorter than twice the scrape interval 15s: …".
pub(crate) fn short_range_message(query: &str, range: Duration, scrape: Duration) -> String {
    format!(
        "the range [{range}] of `{query}` is shorter than twice the scrape interval {scrape}: rate() and increase() need two samples in the range; use at least [{}]",
        Duration::from_secs(scrape.as_secs().saturating_mul(2))
    )
}

/// The data-quality finding for a query that came back empty, when one of its ranges is too short.
pub(crate) fn short_range_finding(query: &str, scrape: Duration) -> Option<Finding> {
    let range = *short_ranges(query, scrape).first()?;
    Some(Finding { kind: FindingKind::NoTraffic, side: None, message: short_range_message(query, range, scrape) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn names_ranges_shorter_than_twice_the_scrape_interval() {
        assert_eq!(short_ranges("increase(x[1s])", secs(15)), vec![secs(1)]);
        assert_eq!(short_ranges("rate(x[29s]) / rate(y[30s])", secs(15)), vec![secs(29)]);
        assert_eq!(short_ranges("sum(rate(x[5m]))", secs(15)), Vec::<Duration>::new());
        assert_eq!(short_ranges("avg_over_time(x[10s]) + irate(y[10s])", secs(15)), vec![secs(10)]);
    }

    #[test]
    fn subqueries_strings_and_unparsable_ranges_are_not_ranges() {
        assert!(short_ranges("max_over_time(rate(x[5m])[10s:1s])", secs(15)).is_empty());
        assert!(short_ranges(r#"rate(x{path="/a[1s]"}[5m])"#, secs(15)).is_empty());
        assert!(short_ranges(r#"rate(x{path="a\"[1s]"}[5m])"#, secs(15)).is_empty());
        assert!(short_ranges("rate(x[$__rate_interval])", secs(15)).is_empty());
        assert!(short_ranges("rate(x[1s]", secs(0)).is_empty());
    }

    #[test]
    fn the_message_names_the_range_the_query_and_the_least_range() {
        let finding = short_range_finding("increase(x[1s])", secs(15)).unwrap();
        assert_eq!(
            finding.message,
            "the range [1s] of `increase(x[1s])` is shorter than twice the scrape interval 15s: rate() and increase() need two samples in the range; use at least [30s]"
        );
        assert!(short_range_finding("increase(x[1m])", secs(15)).is_none());
    }

    proptest! {
        #[test]
        fn never_panics_and_every_named_range_is_short(query in "\\PC{0,80}", scrape in 0u64..100_000) {
            for range in short_ranges(&query, secs(scrape)) {
                prop_assert!(range.as_secs() < scrape.saturating_mul(2));
            }
        }

        #[test]
        fn a_rate_over_any_range_is_named_exactly_when_short(range in 1u64..10_000, scrape in 1u64..10_000) {
            let query = format!("sum(rate(x{{a=\"[1s]\"}}[{}]))", secs(range));
            let short = short_ranges(&query, secs(scrape));
            prop_assert_eq!(short, if range < 2 * scrape { vec![secs(range)] } else { vec![] });
        }
    }
}
