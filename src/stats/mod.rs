//! Pure statistics: descriptive summaries, the Mann-Whitney rank test, the Hodges-Lehmann shift
//! with its distribution-free interval, effect sizes and the exact test for two event rates.
//!
//! Nothing here does I/O or knows about metrics, files or reports; every function takes numbers
//! and returns numbers, so each one can be checked against SciPy (`scripts/reference_values.py`).

pub mod confidence_sequence;
pub mod counts;
pub mod dependence;
pub mod descriptive;
pub(crate) mod difference_selection;
pub(crate) mod differences;
pub mod effect;
pub mod hodges_lehmann;
pub mod holm;
pub mod mann_whitney;
pub(crate) mod normal;
pub mod sequential;

pub use counts::{DispersedRateTest, IntervalCount, RateComparison, compare_rates, dispersed_rate_test};
pub use descriptive::Summary;
pub use effect::EffectSizes;
pub use hodges_lehmann::{ShiftEstimate, hodges_lehmann};
pub use mann_whitney::{Alternative, ExactNull, MannWhitney, Method, MethodUsed, mann_whitney};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("the {0} sample is empty")]
    EmptySample(&'static str),
    #[error("the {0} sample holds a NaN or infinite value")]
    NonFinite(&'static str),
    #[error(
        "the exact null distribution assumes no ties, and these samples share tied values; \
         use the asymptotic method (or auto, which picks it)"
    )]
    ExactWithTies,
    #[error(
        "the exact null distribution for {m} against {n} values is too costly or too imprecise \
         in double precision (limit: the smaller sample at most {max_small} values and \
         smaller² × larger at most {max_work:e}); use the asymptotic method"
    )]
    ExactTooLarge { m: usize, n: usize, max_small: usize, max_work: f64 },
    #[error("confidence must lie strictly between 0 and 1, got {0}")]
    BadConfidence(f64),
    #[error("no events on either side: the rates cannot be compared")]
    NoEvents,
    #[error("{0}")]
    BadCounts(String),
}

/// Sorts the values ascending in place after checking that all are finite.
pub fn sorted_finite(mut values: Vec<f64>, side: &'static str) -> Result<Vec<f64>, StatsError> {
    if values.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NonFinite(side));
    }
    values.sort_unstable_by(f64::total_cmp);
    Ok(values)
}
