//! The Mann-Whitney U test of canary against baseline.
//!
//! Conventions (PRODUCT.md, SciPy's `mannwhitneyu(canary, baseline)`): `u` is the canary's U, the
//! number of (canary, baseline) pairs with canary > baseline plus half the ties; `greater` means the
//! canary tends to be larger. The exact null law comes from Harding's product recurrence (never
//! from enumeration); the asymptotic p-value is the tie-corrected normal approximation with
//! continuity correction, computed as SciPy computes it.

use super::differences::count_at_most;
use super::{StatsError, normal};
use serde::Serialize;

/// Which departure from "same distribution" the p-value measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    /// The canary differs from the baseline in either direction.
    TwoSided,
    /// The canary tends to be larger than the baseline.
    Greater,
    /// The canary tends to be smaller than the baseline.
    Less,
}

impl Alternative {
    /// The name used on the command line and in reports: `two-sided`, `greater`, `less`.
    pub fn name(self) -> &'static str {
        match self {
            Alternative::TwoSided => "two-sided",
            Alternative::Greater => "greater",
            Alternative::Less => "less",
        }
    }
}

/// How the p-value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Exact when there are no ties and the exact law is cheap, asymptotic otherwise.
    Auto,
    /// The exact null distribution (no ties allowed).
    Exact,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
}

/// The method a result was actually computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MethodUsed {
    Exact,
    Asymptotic,
}

/// Work bound for choosing the exact law automatically: smaller² × larger ≤ 1.6e7 recurrence
/// steps (about 10 ms). It implies a smaller sample of at most 252 values, where the recurrence's
/// relative error stays near 1e-12 (`reference/algorithms.md` §1).
pub const AUTO_EXACT_WORK: f64 = 1.6e7;
/// Bounds for an explicitly requested exact law: beyond 300 values in the smaller sample the
/// floating-point recurrence loses accuracy near the centre of the law; beyond 1e9 steps it
/// takes more than about a second.
pub const MAX_EXACT_SMALL: usize = 300;
pub const MAX_EXACT_WORK: f64 = 1e9;

/// Rank information of the pooled sample needed by the test: U and the tie structure.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranks {
    pub canary_len: usize,
    pub baseline_len: usize,
    /// Twice the canary's U, kept as an integer so that half-ties stay exact.
    pub twice_u: u64,
    /// Σ (t³ − t) over the tie groups of the pooled sample.
    pub tie_term: f64,
    pub has_ties: bool,
}

impl Ranks {
    /// Ranks two ascending, finite samples. Without a tie (the usual case for measured values,
    /// checked first), U comes from two branch-free counting walks over the pairs, which cost about
    /// half of the merge; with any tie, the merge gives U and the tie term.
    pub fn of_sorted(canary: &[f64], baseline: &[f64]) -> Ranks {
        Ranks::without_ties(canary, baseline).unwrap_or_else(|| Ranks::by_merging(canary, baseline))
    }

    /// The ranks when no value is tied with another, in either sample or across them; `None`
    /// otherwise. For finite doubles c − b > 0 exactly when c > b and c − b < 0 exactly when c < b
    /// (a difference of two distinct doubles never rounds to zero), so #{c ≤ b} and #{c < b} are
    /// the counts at most 0 and at most −(smallest subnormal): they differ exactly when some
    /// canary value equals a baseline value (−0.0 and 0.0 included, as in the merge).
    fn without_ties(canary: &[f64], baseline: &[f64]) -> Option<Ranks> {
        let tied_within = |sorted: &[f64]| sorted.windows(2).fold(false, |tied, pair| tied | (pair[0] == pair[1]));
        if canary.is_empty() || baseline.is_empty() || tied_within(canary) || tied_within(baseline) {
            return None;
        }
        let at_most = count_at_most(canary, baseline, 0.0);
        let below = count_at_most(canary, baseline, -f64::from_bits(1));
        let pairs = canary.len() as u64 * baseline.len() as u64;
        (at_most == below).then(|| Ranks {
            canary_len: canary.len(),
            baseline_len: baseline.len(),
            twice_u: 2 * (pairs - at_most),
            tie_term: 0.0,
            has_ties: false,
        })
    }

    /// Ranks two ascending, finite samples by merging them (no pooled sort).
    pub(crate) fn by_merging(canary: &[f64], baseline: &[f64]) -> Ranks {
        let (mut i, mut j) = (0usize, 0usize);
        let (mut twice_u, mut tie_term, mut has_ties) = (0u64, 0.0f64, false);
        while i < canary.len() || j < baseline.len() {
            let value = match (canary.get(i), baseline.get(j)) {
                (Some(&c), Some(&b)) => c.min(b),
                (Some(&c), None) => c,
                (None, Some(&b)) => b,
                (None, None) => unreachable!(),
            };
            let canary_start = i;
            while i < canary.len() && canary[i] == value {
                i += 1;
            }
            let baseline_below = j as u64;
            let baseline_start = j;
            while j < baseline.len() && baseline[j] == value {
                j += 1;
            }
            let (tied_canary, tied_baseline) = ((i - canary_start) as u64, (j - baseline_start) as u64);
            twice_u += tied_canary * (2 * baseline_below + tied_baseline);
            let group = (tied_canary + tied_baseline) as f64;
            if group > 1.0 {
                has_ties = true;
                tie_term += group * group * group - group;
            }
        }
        Ranks { canary_len: canary.len(), baseline_len: baseline.len(), twice_u, tie_term, has_ties }
    }

    pub fn u(&self) -> f64 {
        self.twice_u as f64 / 2.0
    }

    fn pairs(&self) -> u64 {
        self.canary_len as u64 * self.baseline_len as u64
    }
}

/// Result of the test.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MannWhitney {
    /// The canary's U.
    pub u: f64,
    pub p_value: f64,
    pub method: MethodUsed,
    pub alternative: Alternative,
    /// The continuity-corrected z statistic (asymptotic method only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
}

/// The exact null distribution of U for sizes (m, n) without ties, lower half only
/// (the law is symmetric about mn/2).
#[derive(Debug, Clone)]
pub struct ExactNull {
    pairs: u64,
    /// P(U = u) for u = 0..=floor(mn/2).
    lower_pmf: Vec<f64>,
}

impl ExactNull {
    /// Whether the exact law is cheap enough to pick automatically.
    pub fn affordable(m: usize, n: usize) -> bool {
        Self::work(m, n) <= AUTO_EXACT_WORK
    }

    fn work(m: usize, n: usize) -> f64 {
        let (small, large) = (m.min(n) as f64, m.max(n) as f64);
        small * small * large
    }

    /// Builds the law, refusing sizes where it would be slow or imprecise.
    pub fn new(m: usize, n: usize) -> Result<ExactNull, StatsError> {
        if m.min(n) > MAX_EXACT_SMALL || Self::work(m, n) > MAX_EXACT_WORK {
            return Err(StatsError::ExactTooLarge { m, n, max_small: MAX_EXACT_SMALL, max_work: MAX_EXACT_WORK });
        }
        let pairs = m as u64 * n as u64;
        let (small, large) = (m.min(n), m.max(n));
        let last = (pairs / 2) as usize;
        // Harding (1984): multiply the Gaussian binomial factors (1 − q^(l+i)) / (1 − q^i) into one
        // array, rescaling by i / (l + i) so that after step i it is the law for sizes (i, l).
        let mut pmf = vec![0.0f64; last + 1];
        pmf[0] = 1.0;
        for i in 1..=small {
            let top = last.min(i * large);
            for u in i..=top {
                pmf[u] += pmf[u - i];
            }
            if large + i <= top {
                for u in (large + i..=top).rev() {
                    pmf[u] -= pmf[u - large - i];
                }
            }
            let scale = i as f64 / (large + i) as f64;
            for p in &mut pmf[..=top] {
                *p *= scale;
            }
        }
        Ok(ExactNull { pairs, lower_pmf: pmf })
    }

    /// P(U ≤ j), summing the shorter tail.
    pub fn cdf(&self, j: u64) -> f64 {
        if j >= self.pairs {
            return 1.0;
        }
        if 2 * j < self.pairs {
            self.lower_pmf[..=j as usize].iter().sum()
        } else {
            let upper_start = self.pairs - j - 1; // P(U > j) = P(U ≤ mn − j − 1)
            1.0 - self.lower_pmf[..=upper_start as usize].iter().sum::<f64>()
        }
    }

    /// The smallest q with P(U ≤ q) ≥ p, as R's `qwilcox` (including its 10·ε nudge); for p ≤ ½.
    pub fn lower_quantile(&self, p: f64) -> u64 {
        let target = p - 10.0 * f64::EPSILON;
        let mut cumulative = 0.0;
        for (q, mass) in self.lower_pmf.iter().enumerate() {
            cumulative += mass;
            if cumulative >= target {
                return q as u64;
            }
        }
        self.lower_pmf.len() as u64 - 1
    }
}

/// Runs the test on two ascending, finite, non-empty samples (canary first).
///
/// `exact` may carry a precomputed law for these sizes (shared with the interval of the shift).
pub fn mann_whitney(
    ranks: &Ranks,
    alternative: Alternative,
    method: Method,
    exact: Option<&ExactNull>,
) -> Result<MannWhitney, StatsError> {
    if ranks.canary_len == 0 {
        return Err(StatsError::EmptySample("canary"));
    }
    if ranks.baseline_len == 0 {
        return Err(StatsError::EmptySample("baseline"));
    }
    let use_exact = match method {
        Method::Asymptotic => false,
        Method::Exact if ranks.has_ties => return Err(StatsError::ExactWithTies),
        Method::Exact => true,
        Method::Auto => !ranks.has_ties && ExactNull::affordable(ranks.canary_len, ranks.baseline_len),
    };
    if use_exact {
        let built;
        let law = match exact {
            Some(law) => law,
            None => {
                built = ExactNull::new(ranks.canary_len, ranks.baseline_len)?;
                &built
            }
        };
        Ok(exact_test(ranks, law, alternative))
    } else {
        Ok(asymptotic_test(ranks, alternative))
    }
}

fn exact_test(ranks: &Ranks, law: &ExactNull, alternative: Alternative) -> MannWhitney {
    let pairs = ranks.pairs();
    let u1 = ranks.twice_u / 2; // no ties: U is an integer
    let p_value = match alternative {
        Alternative::Greater => law.cdf(pairs - u1),
        Alternative::Less => law.cdf(u1),
        Alternative::TwoSided => (2.0 * law.cdf(u1.min(pairs - u1))).min(1.0),
    };
    MannWhitney { u: ranks.u(), p_value, method: MethodUsed::Exact, alternative, z: None }
}

fn asymptotic_test(ranks: &Ranks, alternative: Alternative) -> MannWhitney {
    let (m, n) = (ranks.canary_len as f64, ranks.baseline_len as f64);
    let total = m + n;
    let u1 = ranks.u();
    let u2 = m * n - u1;
    let (u_star, factor) = match alternative {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let mu = m * n / 2.0;
    let sigma = (m * n / 12.0 * ((total + 1.0) - ranks.tie_term / (total * (total - 1.0)))).sqrt();
    // Every value tied: no evidence either way (SciPy's continuity-corrected limit).
    if sigma.is_nan() || sigma <= 0.0 {
        return MannWhitney { u: u1, p_value: 1.0, method: MethodUsed::Asymptotic, alternative, z: None };
    }
    let z = (u_star - mu - 0.5) / sigma;
    let p_value = (factor * normal::upper_tail(z)).clamp(0.0, 1.0);
    MannWhitney { u: u1, p_value, method: MethodUsed::Asymptotic, alternative, z: Some(z) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: &[f64], b: &[f64], alt: Alternative, method: Method) -> MannWhitney {
        let (c, b) = (sorted(c), sorted(b));
        mann_whitney(&Ranks::of_sorted(&c, &b), alt, method, None).unwrap()
    }

    fn sorted(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    const MALES: [f64; 5] = [19.0, 22.0, 16.0, 29.0, 24.0];
    const FEMALES: [f64; 4] = [20.0, 11.0, 17.0, 12.0];

    #[test]
    fn scipy_documented_example() {
        let exact = run(&MALES, &FEMALES, Alternative::TwoSided, Method::Exact);
        assert_eq!(exact.u, 17.0);
        assert!((exact.p_value - 1.0 / 9.0).abs() < 1e-15, "{}", exact.p_value);
        let asym = run(&MALES, &FEMALES, Alternative::TwoSided, Method::Asymptotic);
        assert!((asym.p_value - 0.111_347).abs() < 1e-6, "{}", asym.p_value);
        let less = run(&FEMALES, &MALES, Alternative::Less, Method::Auto);
        assert_eq!((less.u, less.method), (3.0, MethodUsed::Exact));
        assert!((less.p_value - 0.055_556).abs() < 1e-6);
    }

    #[test]
    fn hollander_wolfe_permeability() {
        let x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
        let y = [1.15, 0.88, 0.90, 0.74, 1.21];
        let two = run(&x, &y, Alternative::TwoSided, Method::Exact);
        assert_eq!(two.u, 35.0);
        assert!((two.p_value - 0.2544).abs() < 5e-5);
        assert!((run(&x, &y, Alternative::Greater, Method::Exact).p_value - 0.1272).abs() < 5e-5);
        assert!((run(&x, &y, Alternative::Less, Method::Exact).p_value - 0.8968).abs() < 5e-5);
        assert!((run(&x, &y, Alternative::TwoSided, Method::Asymptotic).p_value - 0.2446).abs() < 5e-5);
    }

    #[test]
    fn exact_law_matches_enumeration() {
        // All C(7, 3) placements of 3 canary values among 7 pooled ranks.
        let (m, n) = (3usize, 4usize);
        let mut counts = vec![0u32; m * n + 1];
        for mask in 0u32..(1 << (m + n)) {
            if mask.count_ones() as usize != m {
                continue;
            }
            let mut u = 0;
            let mut baseline_below = 0;
            for bit in 0..m + n {
                if mask & (1 << bit) != 0 {
                    u += baseline_below;
                } else {
                    baseline_below += 1;
                }
            }
            counts[u] += 1;
        }
        let law = ExactNull::new(m, n).unwrap();
        let mut cumulative = 0u32;
        for (j, count) in counts.iter().enumerate() {
            cumulative += count;
            assert!((law.cdf(j as u64) - cumulative as f64 / 35.0).abs() < 1e-14, "j = {j}");
        }
    }

    #[test]
    fn ties_force_the_asymptotic_method_and_exact_refuses_them() {
        let c = sorted(&[1.0, 2.0, 2.0]);
        let b = sorted(&[2.0, 3.0]);
        let ranks = Ranks::of_sorted(&c, &b);
        assert!(ranks.has_ties);
        assert_eq!(ranks.u(), 1.0); // 2>? no; pairs: (2,2) ties twice → 1
        let auto = mann_whitney(&ranks, Alternative::TwoSided, Method::Auto, None).unwrap();
        assert_eq!(auto.method, MethodUsed::Asymptotic);
        let err = mann_whitney(&ranks, Alternative::TwoSided, Method::Exact, None).unwrap_err();
        assert_eq!(err, StatsError::ExactWithTies);
    }

    /// Values with ties (a few levels), signed zeros, subnormals and extreme magnitudes.
    fn value() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::prelude::*;
        prop_oneof![
            (0i32..4).prop_map(f64::from),
            Just(-0.0),
            Just(f64::from_bits(1)),
            Just(-f64::from_bits(1)),
            Just(f64::MAX),
            Just(f64::MIN),
            -1e3..1e3f64,
            prop::num::f64::NORMAL,
        ]
    }

    /// A sample: a few chosen values, and `len` values of an arithmetic progression (cheap to
    /// make, long enough for the counting walks' four lanes), sorted.
    fn sample() -> impl proptest::strategy::Strategy<Value = Vec<f64>> {
        use proptest::prelude::*;
        (proptest::collection::vec(value(), 0..6), 1usize..6000, -1e3..1e3f64, prop_oneof![Just(0.5), 1e-9..10.0f64])
            .prop_map(|(mut values, len, start, step)| {
                values.extend((0..len).map(|i| start + step * i as f64));
                values.sort_by(f64::total_cmp);
                values
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// The counting walks give exactly what the merge gives, ties or not (the progressions
        /// of both samples overlap when their starts and steps allow).
        #[test]
        fn counting_equals_merging(canary in sample(), baseline in sample(), distinct in proptest::bool::ANY) {
            let prepare = |mut v: Vec<f64>| {
                if distinct {
                    // Without ties within the sample, so that the walks run.
                    v.dedup_by(|a, b| a == b);
                }
                v
            };
            let (canary, baseline) = (prepare(canary), prepare(baseline));
            proptest::prop_assert_eq!(Ranks::of_sorted(&canary, &baseline), Ranks::by_merging(&canary, &baseline));
        }
    }

    #[test]
    fn signed_zeros_are_one_tie_group() {
        let ranks = Ranks::of_sorted(&[-0.0, 1.0], &[0.0, 2.0]);
        assert!(ranks.has_ties);
        assert_eq!((ranks.twice_u, ranks.tie_term), (3, 6.0));
        let distinct = Ranks::of_sorted(&[-1.0, 1.0], &[0.0, 2.0]);
        assert!(!distinct.has_ties);
        assert_eq!(distinct.twice_u, 2);
    }

    #[test]
    fn all_values_tied_gives_no_evidence() {
        let r = run(&[5.0, 5.0], &[5.0, 5.0, 5.0], Alternative::Greater, Method::Auto);
        assert_eq!((r.u, r.p_value), (3.0, 1.0));
    }

    #[test]
    fn oversized_exact_request_is_refused() {
        assert!(matches!(ExactNull::new(400, 400), Err(StatsError::ExactTooLarge { .. })));
        assert!(ExactNull::affordable(250, 250) && !ExactNull::affordable(260, 260));
    }

    #[test]
    fn qwilcox_matches_r() {
        // R: qwilcox(0.025, 10, 5) = 9; qwilcox(0.025, 3, 3) = 0.
        assert_eq!(ExactNull::new(10, 5).unwrap().lower_quantile(0.025), 9);
        assert_eq!(ExactNull::new(3, 3).unwrap().lower_quantile(0.025), 0);
    }
}
