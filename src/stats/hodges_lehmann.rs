//! The Hodges-Lehmann shift (median of all m·n differences canary − baseline) and its
//! distribution-free confidence interval [D(k), D(mn+1−k)], without materialising the differences.
//!
//! Order statistics of the differences are found by narrowing a bracket (lo, hi] of values with a
//! two-pointer count over the sorted samples, O(m + n) per count: interpolation between the bracket
//! ends when it makes progress, bisection over the IEEE total order of doubles when it does not.
//! Once the bracket holds at most max(m + n, 65 536) differences they are collected and selected
//! directly. Memory stays O(m + n); the result is always one of the computed differences
//! (`reference/algorithms.md` §3a explains why the count is exact).

use super::mann_whitney::ExactNull;
use super::{StatsError, normal};
use serde::Serialize;

/// The shift estimate and its interval.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ShiftEstimate {
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// The requested two-sided confidence.
    pub confidence: f64,
    /// The coverage the chosen order statistics actually give (≥ the requested one when exact).
    pub achieved_confidence: f64,
    /// Whether the requested confidence can be reached at all with these sample sizes; when it
    /// cannot, the interval spans every difference.
    pub reachable: bool,
    /// How k was chosen: from the exact null law or its normal approximation.
    pub interval_method: super::MethodUsed,
}

/// Computes the shift and its two-sided interval at `confidence` for ascending, finite, non-empty
/// samples. `exact` (the law of U for these sizes) gives the exact order statistic k; without it
/// the normal approximation of k is used. A `confidence` of exactly 1 (a level too close to 1 to
/// be represented below it) gives the widest interval, every difference (`reachable` false).
pub fn hodges_lehmann(
    canary: &[f64],
    baseline: &[f64],
    confidence: f64,
    exact: Option<&ExactNull>,
) -> Result<ShiftEstimate, StatsError> {
    if !(confidence > 0.0 && confidence <= 1.0) {
        return Err(StatsError::BadConfidence(confidence));
    }
    if canary.is_empty() {
        return Err(StatsError::EmptySample("canary"));
    }
    if baseline.is_empty() {
        return Err(StatsError::EmptySample("baseline"));
    }
    let pairs = canary.len() as u64 * baseline.len() as u64;
    let half_alpha = (1.0 - confidence) / 2.0;
    let (k, achieved, interval_method) = match exact {
        Some(law) => {
            let k = law.lower_quantile(half_alpha);
            let achieved = if k == 0 { 0.0 } else { 1.0 - 2.0 * law.cdf(k - 1) };
            (k, achieved, super::MethodUsed::Exact)
        }
        None => {
            let (m, n) = (canary.len() as f64, baseline.len() as f64);
            let sd = (m * n * (m + n + 1.0) / 12.0).sqrt();
            let z = normal::upper_quantile(half_alpha);
            let k = (m * n / 2.0 + 0.5 - z * sd).floor().max(0.0) as u64;
            let achieved =
                if k == 0 { 0.0 } else { 1.0 - 2.0 * normal::lower_tail((k as f64 - 0.5 - m * n / 2.0) / sd) };
            (k, achieved, super::MethodUsed::Asymptotic)
        }
    };
    let reachable = k >= 1;
    let k = k.max(1);
    // Three independent selections: the interval's ends on a second thread.
    let ((lower_mid, upper_mid), (ci_low, ci_high)) = std::thread::scope(|scope| {
        let ends =
            scope.spawn(|| (kth_difference(canary, baseline, k), kth_difference(canary, baseline, pairs + 1 - k)));
        let middle = select_adjacent(canary, baseline, pairs.div_ceil(2), pairs.is_multiple_of(2));
        (middle, ends.join().expect("selection thread panicked"))
    });
    let estimate = if pairs.is_multiple_of(2) { lower_mid.midpoint(upper_mid) } else { lower_mid };
    Ok(ShiftEstimate {
        estimate: estimate + 0.0,
        ci_low,
        ci_high,
        confidence,
        achieved_confidence: if reachable { achieved } else { 1.0 },
        reachable,
        interval_method,
    })
}

/// The k-th smallest difference canary[i] − baseline[j] (1-based), by the same selection.
pub fn kth_difference(canary: &[f64], baseline: &[f64], k: u64) -> f64 {
    select_adjacent(canary, baseline, k, false).0
}

/// Maps a double to an integer key that orders like the IEEE total order.
fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

fn value(key: u64) -> f64 {
    if key >> 63 == 1 { f64::from_bits(key & !(1 << 63)) } else { f64::from_bits(!key) }
}

/// #{(i, j) : canary[i] − baseline[j] ≤ d}, by a two-pointer walk over the sorted samples.
/// The literal predicate `c - b > d` is what makes the count exact under rounding.
///
/// The walk is branch-free (one step of i or j per iteration), which makes each step wait for the
/// previous one; so the canary sample is cut into [`LANES`] chunks walked in lockstep, each from its
/// own starting j, letting the processor overlap the independent chains.
fn count_at_most(canary: &[f64], baseline: &[f64], d: f64) -> u64 {
    let n = baseline.len();
    let chunk = canary.len().div_ceil(LANES);
    if chunk < 1024 {
        return walk(canary, baseline, d, 0, 0, canary.len());
    }
    let mut i = [0usize; LANES];
    let mut end = [0usize; LANES];
    let mut j = [0usize; LANES];
    for lane in 0..LANES {
        i[lane] = (lane * chunk).min(canary.len());
        end[lane] = ((lane + 1) * chunk).min(canary.len());
        j[lane] = match canary.get(i[lane]) {
            Some(&c) => baseline.partition_point(|&b| c - b > d),
            None => n,
        };
    }
    let mut total = 0u64;
    while (0..LANES).all(|lane| i[lane] < end[lane] && j[lane] < n) {
        for lane in 0..LANES {
            let past = usize::from(canary[i[lane]] - baseline[j[lane]] > d);
            total += ((n - j[lane]) * (1 - past)) as u64;
            j[lane] += past;
            i[lane] += 1 - past;
        }
    }
    for lane in 0..LANES {
        total += walk(canary, baseline, d, i[lane], j[lane], end[lane]);
    }
    total
}

const LANES: usize = 4;

/// The serial walk over canary[i..end] starting at baseline index j.
fn walk(canary: &[f64], baseline: &[f64], d: f64, mut i: usize, mut j: usize, end: usize) -> u64 {
    let n = baseline.len();
    let mut total = 0u64;
    while i < end && j < n {
        let past = usize::from(canary[i] - baseline[j] > d);
        total += ((n - j) * (1 - past)) as u64;
        j += past;
        i += 1 - past;
    }
    total
}

/// A bracket (lo, hi] of difference values: `below` differences are ≤ lo, `up_to` are ≤ hi.
/// `lo = None` stands for "below every difference".
#[derive(Clone, Copy)]
struct Bracket {
    lo: Option<u64>,
    below: u64,
    hi: u64,
    up_to: u64,
}

/// D(k) and, when `with_next`, D(k+1) (otherwise the second value repeats D(k)).
fn select_adjacent(canary: &[f64], baseline: &[f64], k: u64, with_next: bool) -> (f64, f64) {
    let pairs = canary.len() as u64 * baseline.len() as u64;
    let smallest = canary[0] - baseline[baseline.len() - 1];
    let largest = canary[canary.len() - 1] - baseline[0];
    let last = if with_next { k + 1 } else { k };
    let mut bracket = Bracket { lo: None, below: 0, hi: key(largest), up_to: pairs };
    if canary.len() > GRID || baseline.len() > GRID {
        narrow_from_grids(canary, baseline, &mut bracket, k, last);
    }
    select_in(canary, baseline, bracket, smallest, k, last)
}

/// Evenly spaced order statistics per sample used to find a starting bracket.
const GRID: usize = 1 << 15;

/// Every `len / GRID`-th value of a sorted sample (block midpoints), or the sample itself.
fn grid(sorted: &[f64]) -> Vec<f64> {
    if sorted.len() <= GRID {
        return sorted.to_vec();
    }
    (0..GRID).map(|g| sorted[((2 * g + 1) * sorted.len()) / (2 * GRID)]).collect()
}

/// Narrows the bracket with the differences of the two grids: a monotone staircase crosses at most
/// (grid_c + grid_b) blocks, so grid ranks are within a fraction 1/grid_c + 1/grid_b of the true
/// ones. The candidate ends are verified with exact counts and kept only if they hold.
fn narrow_from_grids(canary: &[f64], baseline: &[f64], bracket: &mut Bracket, first: u64, last: u64) {
    let (canary_grid, baseline_grid) = (grid(canary), grid(baseline));
    let grid_pairs = canary_grid.len() as u64 * baseline_grid.len() as u64;
    let slack = 1.5 * (1.0 / canary_grid.len() as f64 + 1.0 / baseline_grid.len() as f64);
    let pairs = bracket.up_to as f64;
    let low_fraction = first as f64 / pairs - slack;
    let high_fraction = last as f64 / pairs + slack;
    if low_fraction > 0.0 {
        let rank = ((low_fraction * grid_pairs as f64).floor() as u64).max(1);
        let candidate = kth_difference(&canary_grid, &baseline_grid, rank);
        let below = count_at_most(canary, baseline, candidate);
        if below < first {
            bracket.lo = Some(key(candidate));
            bracket.below = below;
        }
    }
    if high_fraction < 1.0 {
        let rank = ((high_fraction * grid_pairs as f64).ceil() as u64).min(grid_pairs);
        let candidate = kth_difference(&canary_grid, &baseline_grid, rank);
        let up_to = count_at_most(canary, baseline, candidate);
        if up_to >= last && bracket.lo.is_none_or(|lo| key(candidate) > lo) {
            bracket.hi = key(candidate);
            bracket.up_to = up_to;
        }
    }
}

/// Narrows `bracket` (with `below < first` and `up_to ≥ last`, `last ≤ first + 1`) until its
/// differences can be collected.
fn select_in(
    canary: &[f64],
    baseline: &[f64],
    mut bracket: Bracket,
    smallest: f64,
    first: u64,
    last: u64,
) -> (f64, f64) {
    let collect_limit = ((canary.len() + baseline.len()) as u64).max(1 << 16);
    let mut interpolate = true;
    loop {
        let lo_key = bracket.lo.unwrap_or(key(smallest).wrapping_sub(1));
        if bracket.up_to - bracket.below <= collect_limit {
            return collect_and_select(canary, baseline, bracket, first, last);
        }
        if bracket.hi - lo_key <= 1 {
            // No double lies strictly inside: every difference in the bracket equals hi.
            let v = value(bracket.hi) + 0.0;
            return (v, v);
        }
        let pivot =
            if interpolate { interpolation_pivot(bracket, smallest, (first + last) as f64 / 2.0) } else { None }
                .unwrap_or(lo_key + (bracket.hi - lo_key) / 2);
        let count = count_at_most(canary, baseline, value(pivot));
        let gap_before = bracket.up_to - bracket.below;
        if count >= last {
            bracket.hi = pivot;
            bracket.up_to = count;
        } else if count < first {
            bracket.lo = Some(pivot);
            bracket.below = count;
        } else {
            // count == first < last: D(first) ≤ pivot < D(last); split into two single selections.
            let left = Bracket { hi: pivot, up_to: count, ..bracket };
            let right = Bracket { lo: Some(pivot), below: count, ..bracket };
            let a = select_in(canary, baseline, left, smallest, first, first).0;
            let b = select_in(canary, baseline, right, smallest, last, last).0;
            return (a, b);
        }
        // After an interpolation step that did not halve the bracket, bisect once.
        interpolate = !interpolate || (bracket.up_to - bracket.below) * 2 <= gap_before;
    }
}

/// A pivot by linear interpolation of the target rank between the bracket's values, strictly
/// inside the bracket, or `None` when the values do not allow it.
fn interpolation_pivot(bracket: Bracket, smallest: f64, target: f64) -> Option<u64> {
    let lo_value = bracket.lo.map_or(smallest, value);
    let hi_value = value(bracket.hi);
    let fraction = (target - bracket.below as f64) / (bracket.up_to - bracket.below) as f64;
    let guess = lo_value + (hi_value - lo_value) * fraction;
    if !guess.is_finite() {
        return None;
    }
    let lo_key = bracket.lo.unwrap_or(key(smallest).wrapping_sub(1));
    let guess_key = key(guess);
    (guess_key > lo_key && guess_key < bracket.hi).then_some(guess_key)
}

/// Collects the differences inside the bracket and picks the requested order statistics.
fn collect_and_select(canary: &[f64], baseline: &[f64], bracket: Bracket, first: u64, last: u64) -> (f64, f64) {
    let n = baseline.len();
    let hi = value(bracket.hi);
    let lo = bracket.lo.map(value);
    let mut inside = Vec::with_capacity((bracket.up_to - bracket.below) as usize);
    let (mut j_hi, mut j_lo) = (0usize, 0usize);
    for &c in canary {
        while j_hi < n && c - baseline[j_hi] > hi {
            j_hi += 1;
        }
        match lo {
            Some(lo) => {
                while j_lo < n && c - baseline[j_lo] > lo {
                    j_lo += 1;
                }
            }
            None => j_lo = n,
        }
        inside.extend(baseline[j_hi..j_lo.max(j_hi)].iter().map(|&b| c - b));
    }
    let first_index = (first - bracket.below - 1) as usize;
    let (_, &mut a, rest) = inside.select_nth_unstable_by(first_index, f64::total_cmp);
    let b =
        if last > first { rest.iter().copied().min_by(f64::total_cmp).expect("D(k+1) lies in the bracket") } else { a };
    (a + 0.0, b + 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The estimate of differences beyond half of `f64::MAX` is their finite midpoint, not an
    /// overflow to infinity (which the JSON report would write as `null`).
    #[test]
    fn the_estimate_of_huge_differences_does_not_overflow() {
        let baseline = sorted(&[1e308, 1.7e308, 1.79e308, -1.79e308, -1e308]);
        let canary = sorted(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let hl = hodges_lehmann(&canary, &baseline, 0.95, None).unwrap();
        let d = all_differences(&canary, &baseline);
        assert_eq!(hl.estimate, -1e308, "{:?}", &d[14..16]);
    }

    fn all_differences(c: &[f64], b: &[f64]) -> Vec<f64> {
        let mut d: Vec<f64> = c.iter().flat_map(|&x| b.iter().map(move |&y| x - y)).collect();
        d.sort_by(|a, b| a.partial_cmp(b).unwrap());
        d
    }

    /// A small deterministic generator for test data (SplitMix64).
    struct Mix(u64);
    impl Mix {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn sample(rng: &mut Mix, len: usize, kind: u32) -> Vec<f64> {
        (0..len)
            .map(|_| match kind {
                0 => rng.next() * 10.0 - 5.0,
                1 => (rng.next() * 6.0).floor(),
                2 => 1e6 + rng.next() * 1e-3,
                3 => {
                    if rng.next() < 0.5 {
                        -0.0
                    } else {
                        -1e-300 * rng.next()
                    }
                }
                _ => (rng.next() * 40.0 - 20.0).exp() * if rng.next() < 0.5 { -1.0 } else { 1.0 },
            })
            .collect()
    }

    #[test]
    fn selection_equals_sorting_all_differences() {
        let mut rng = Mix(7);
        for case in 0..300 {
            let kind = case % 5;
            let m = 1 + (rng.next() * 40.0) as usize;
            let n = 1 + (rng.next() * 40.0) as usize;
            let c = sorted(&sample(&mut rng, m, kind));
            let b = sorted(&sample(&mut rng, n, kind));
            let d = all_differences(&c, &b);
            for k in [1, d.len() as u64, d.len().div_ceil(2) as u64, 1 + (rng.next() * d.len() as f64) as u64] {
                let k = k.min(d.len() as u64);
                let got = kth_difference(&c, &b, k);
                assert_eq!(got, d[k as usize - 1] + 0.0, "case {case} kind {kind} k {k}");
            }
        }
    }

    #[test]
    fn selection_on_large_samples_matches_brute_force() {
        // Large enough that the bracket is narrowed before collecting (m·n ≫ 65 536).
        let mut rng = Mix(11);
        for kind in 0..5 {
            let c = sorted(&sample(&mut rng, 700, kind));
            let b = sorted(&sample(&mut rng, 500, kind));
            let d = all_differences(&c, &b);
            for k in [1u64, 17, 8_750, 175_000, 175_001, 349_999, 350_000] {
                assert_eq!(kth_difference(&c, &b, k), d[k as usize - 1] + 0.0, "kind {kind} k {k}");
            }
            let hl = hodges_lehmann(&c, &b, 0.95, None).unwrap();
            assert_eq!(hl.estimate, (d[174_999] + d[175_000]) / 2.0 + 0.0, "kind {kind}");
        }
    }

    #[test]
    fn permeability_interval_matches_exact_order_statistics() {
        let x = sorted(&[0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]);
        let y = sorted(&[1.15, 0.88, 0.90, 0.74, 1.21]);
        let law = ExactNull::new(10, 5).unwrap();
        let hl = hodges_lehmann(&x, &y, 0.95, Some(&law)).unwrap();
        assert!((hl.estimate - 0.305).abs() < 1e-12);
        assert!((hl.ci_low - -0.15).abs() < 1e-12 && (hl.ci_high - 0.76).abs() < 1e-12, "{hl:?}");
        assert!((hl.achieved_confidence - 0.960).abs() < 5e-4);
    }

    #[test]
    fn unreachable_confidence_is_reported() {
        let law = ExactNull::new(3, 3).unwrap();
        let hl = hodges_lehmann(&[1.0, 2.0, 3.0], &[1.5, 2.5, 3.5], 0.95, Some(&law)).unwrap();
        assert!(!hl.reachable);
        assert_eq!((hl.ci_low, hl.ci_high), (-2.5, 1.5));
    }

    #[test]
    fn interval_covers_a_known_shift_at_about_the_nominal_rate() {
        let mut rng = Mix(3);
        let normal = |rng: &mut Mix| {
            // Box-Muller
            let (u1, u2) = (rng.next().max(1e-300), rng.next());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        for (m, n, exact) in [(12usize, 9usize, true), (60, 80, false)] {
            let law = exact.then(|| ExactNull::new(m, n).unwrap());
            let (mut covered, runs) = (0, 2000);
            for _ in 0..runs {
                let c = sorted(&(0..m).map(|_| normal(&mut rng) + 1.5).collect::<Vec<_>>());
                let b = sorted(&(0..n).map(|_| normal(&mut rng)).collect::<Vec<_>>());
                let hl = hodges_lehmann(&c, &b, 0.95, law.as_ref()).unwrap();
                covered += usize::from(hl.ci_low <= 1.5 && 1.5 <= hl.ci_high);
            }
            let rate = covered as f64 / runs as f64;
            // Binomial sd at 2000 runs is 0.005; the achieved level is at least 0.95.
            assert!((0.935..=0.975).contains(&rate), "{m}x{n}: coverage {rate}");
        }
    }

    #[test]
    fn a_confidence_of_one_spans_every_difference() {
        let (c, b) = ([1.0, 2.0, 3.0, 4.0], [0.5, 1.5, 2.5]);
        let law = ExactNull::new(4, 3).unwrap();
        for exact in [Some(&law), None] {
            let hl = hodges_lehmann(&c, &b, 1.0, exact).unwrap();
            assert_eq!((hl.ci_low, hl.ci_high, hl.reachable), (-1.5, 3.5, false));
        }
    }
}
