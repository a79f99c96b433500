//! The two-sample comparison behind `canary compare`: descriptive statistics of both samples, the
//! Mann-Whitney test, the Hodges-Lehmann shift with its interval, effect sizes and the verdict.
//! Pure: it takes numbers and settings and returns the finished report.

use crate::judge::judge_shift;
use crate::model::{Direction, Margin, Verdict};
use crate::stats::mann_whitney::Ranks;
use crate::stats::{
    Alternative, EffectSizes, ExactNull, MannWhitney, Method, ShiftEstimate, StatsError, Summary, hodges_lehmann,
    mann_whitney,
};
use serde::Serialize;

/// Version of the `canary compare --format json` document.
pub const SCHEMA_VERSION: u32 = 1;

/// Settings of one comparison.
#[derive(Debug, Clone, Copy)]
pub struct CompareSettings {
    pub alternative: Alternative,
    pub method: Method,
    pub confidence: f64,
    pub direction: Direction,
    pub margin: Margin,
}

/// `canary compare`'s defaults: two-sided, automatic method, 95 %, an increase is bad, no margin.
impl Default for CompareSettings {
    fn default() -> CompareSettings {
        CompareSettings {
            alternative: Alternative::TwoSided,
            method: Method::Auto,
            confidence: 0.95,
            direction: Direction::Increase,
            margin: Margin::default(),
        }
    }
}

/// The margin as requested and in the metric's units.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MarginReport {
    pub direction: Direction,
    /// As given: `20` or `5%` (of the baseline median).
    pub requested: String,
    /// In the metric's units.
    pub amount: f64,
}

/// The whole result of `canary compare`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ComparisonReport {
    pub schema_version: u32,
    pub baseline: Summary,
    pub canary: Summary,
    pub mann_whitney: MannWhitney,
    pub hodges_lehmann: ShiftEstimate,
    pub effect_sizes: EffectSizes,
    pub margin: MarginReport,
    pub verdict: Verdict,
    pub reason: String,
}

/// Why two samples could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum ComparisonError {
    /// One side has no values: too little data to judge.
    #[error("the {side} sample is empty: nothing to compare")]
    EmptySample { side: &'static str },
    /// The statistics refused the samples or the settings (exact method with ties, for instance).
    #[error("{0}")]
    Statistics(StatsError),
}

/// One side's values, ascending and finite: what [`compare_sorted`] takes, so that each side can
/// be sorted as soon as it is read (on its own thread) and never copied.
#[derive(Debug)]
pub struct SortedSample(Vec<f64>);

impl SortedSample {
    /// Checks that `values` is non-empty and finite, and sorts it in place (IEEE total order).
    ///
    /// A radix sort on the doubles' bit patterns mapped to order-preserving integers (`radsort`,
    /// about twice as fast as a comparison sort on a million values): its order is the IEEE total
    /// order of `f64::total_cmp` (−0.0 before 0.0), and doubles equal in that order are identical
    /// bits, so the result is the one `sort_unstable_by(f64::total_cmp)` gives, bit for bit
    /// (`tests::radix_order_is_the_total_order`).
    pub fn new(mut values: Vec<f64>, side: &'static str) -> Result<SortedSample, ComparisonError> {
        if values.is_empty() {
            return Err(ComparisonError::EmptySample { side });
        }
        if values.iter().any(|value| !value.is_finite()) {
            return Err(ComparisonError::Statistics(StatsError::NonFinite(side)));
        }
        radsort::sort(&mut values);
        Ok(SortedSample(values))
    }
}

/// Compares the canary sample against the baseline sample, sorting both in parallel first.
pub fn compare(
    baseline: Vec<f64>,
    canary: Vec<f64>,
    settings: &CompareSettings,
) -> Result<ComparisonReport, ComparisonError> {
    for (values, side) in [(&baseline, "baseline"), (&canary, "canary")] {
        if values.is_empty() {
            return Err(ComparisonError::EmptySample { side });
        }
    }
    let (baseline, canary) = std::thread::scope(|scope| {
        let canary = scope.spawn(|| SortedSample::new(canary, "canary"));
        let baseline = SortedSample::new(baseline, "baseline");
        (baseline, canary.join().expect("sorting thread panicked"))
    });
    compare_sorted(&baseline?, &canary?, settings)
}

/// Compares two sorted samples.
pub fn compare_sorted(
    baseline: &SortedSample,
    canary: &SortedSample,
    settings: &CompareSettings,
) -> Result<ComparisonReport, ComparisonError> {
    let stats_error = ComparisonError::Statistics;
    let (baseline, canary) = (baseline.0.as_slice(), canary.0.as_slice());
    let sizes = (canary.len(), baseline.len());
    // The exact law gives the exact p-value and also the interval's order statistic, so it is
    // built once whenever it is cheap (or explicitly requested). Only the exact method needs the
    // ranks first (it refuses ties before building its law); otherwise the rank merge and the
    // summaries run beside the selection of the shift.
    let (ranks, law) = if settings.method == Method::Exact {
        let ranks = Ranks::of_sorted(canary, baseline);
        let law = if ranks.has_ties { None } else { Some(ExactNull::new(sizes.0, sizes.1).map_err(stats_error)?) };
        (Some(ranks), law)
    } else if ExactNull::affordable(sizes.0, sizes.1) {
        (None, Some(ExactNull::new(sizes.0, sizes.1).map_err(stats_error)?))
    } else {
        (None, None)
    };
    let ((ranks, baseline_summary, canary_summary), shift) = std::thread::scope(|scope| {
        let beside = scope.spawn(move || {
            let ranks = ranks.unwrap_or_else(|| Ranks::of_sorted(canary, baseline));
            (ranks, Summary::of_sorted(baseline), Summary::of_sorted(canary))
        });
        let shift = hodges_lehmann(canary, baseline, settings.confidence, law.as_ref());
        (beside.join().expect("ranking thread panicked"), shift)
    });
    let test = mann_whitney(&ranks, settings.alternative, settings.method, law.as_ref()).map_err(stats_error)?;
    let shift = shift.map_err(stats_error)?;
    let amount = settings.margin.amount(baseline_summary.p50);
    let decision = judge_shift(&shift, settings.direction, amount);
    Ok(ComparisonReport {
        schema_version: SCHEMA_VERSION,
        effect_sizes: EffectSizes::new(&baseline_summary, &canary_summary, test.u),
        baseline: baseline_summary,
        canary: canary_summary,
        mann_whitney: test,
        hodges_lehmann: shift,
        margin: MarginReport { direction: settings.direction, requested: settings.margin.to_string(), amount },
        verdict: decision.verdict,
        reason: decision.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings() -> CompareSettings {
        CompareSettings::default()
    }

    #[test]
    fn a_clear_increase_fails_and_the_same_data_passes_with_a_wide_margin() {
        let baseline: Vec<f64> = (0..50).map(|i| 100.0 + i as f64).collect();
        let canary: Vec<f64> = (0..50).map(|i| 130.0 + i as f64).collect();
        let report = compare(baseline.clone(), canary.clone(), &settings()).unwrap();
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(report.hodges_lehmann.estimate, 30.0);
        let wide = CompareSettings { margin: Margin::Percent(50.0), ..settings() };
        let report = compare(baseline, canary, &wide).unwrap();
        assert_eq!(report.verdict, Verdict::Pass);
        assert_eq!(report.margin.amount, 62.25);
    }

    #[test]
    fn empty_samples_are_not_enough_data() {
        let err = compare(vec![], vec![1.0], &settings()).unwrap_err();
        assert!(matches!(err, ComparisonError::EmptySample { side: "baseline" }));
        assert_eq!(err.to_string(), "the baseline sample is empty: nothing to compare");
    }

    /// Values that sort in interesting places: signed zeros, subnormals, extremes, ties.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::from_bits(1)),
            Just(-f64::from_bits(1)),
            Just(f64::MAX),
            Just(f64::MIN),
            Just(f64::MIN_POSITIVE),
            (-3i32..4).prop_map(f64::from),
            prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn radix_order_is_the_total_order(values in prop::collection::vec(value(), 1..3000)) {
            let mut expected = values.clone();
            expected.sort_unstable_by(f64::total_cmp);
            let sorted = SortedSample::new(values, "canary").unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
            prop_assert_eq!(bits(&sorted.0), bits(&expected));
        }

        /// −0.0 and 0.0 are one tie group: the test and the shift are those of the same samples
        /// with every zero positive.
        #[test]
        fn signed_zeros_compare_as_zeros(
            baseline in prop::collection::vec(value(), 1..200),
            canary in prop::collection::vec(value(), 1..200),
        ) {
            let positive = |v: &[f64]| v.iter().map(|&x| if x == 0.0 { 0.0 } else { x }).collect::<Vec<f64>>();
            let asymptotic = CompareSettings { method: Method::Asymptotic, ..settings() };
            let signed = compare(baseline.clone(), canary.clone(), &asymptotic).unwrap();
            let unsigned = compare(positive(&baseline), positive(&canary), &asymptotic).unwrap();
            prop_assert_eq!(signed.mann_whitney, unsigned.mann_whitney);
            prop_assert_eq!(signed.hodges_lehmann, unsigned.hodges_lehmann);
        }
    }

    #[test]
    fn exact_with_ties_is_a_usage_error() {
        let exact = CompareSettings { method: Method::Exact, ..settings() };
        assert!(matches!(compare(vec![1.0, 2.0], vec![2.0, 3.0], &exact), Err(ComparisonError::Statistics(_))));
    }
}
