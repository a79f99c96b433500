//! Several order statistics of the m·n differences canary[i] − baseline[j] of two ascending
//! samples at once (the Hodges-Lehmann estimate and both ends of its interval), without
//! materialising the differences, sharing every pass over the data between them.
//!
//! 1. **Targets.** The requested ranks, sorted; ranks close together (D(mn/2) and D(mn/2 + 1))
//!    form one target with one bracket (lo, hi] of values: count(lo) < first rank,
//!    count(hi) ≥ last rank, where count(d) = #{(i, j) : c_i − b_j ≤ d}.
//! 2. **Grid candidates.** Every 32nd order statistic of each sample (block midpoints, at most
//!    2^15) forms two small samples whose difference ranks lie within a fraction
//!    1/g_c + 1/g_b of the true ones (a monotone staircase crosses at most g_c + g_b blocks). Their
//!    order statistics around each target (both ends, with 1.5× that slack) are found by this same
//!    selection, recursively.
//! 3. **Counting passes.** One two-pointer walk per candidate gives its exact count (O(m + n);
//!    `reference/algorithms.md` §3a: the literal predicate `c - b > d` makes it exact under
//!    rounding). All candidates are walked in one pass, four walks in lockstep so that the
//!    processor overlaps their independent chains, the rows split over both cores. Each target
//!    keeps the tightest confirmed bracket.
//! 4. **Collection.** Linear interpolation of the count between a bracket's ends proposes a
//!    narrower one (reaching `limit / 8` ranks beyond the target on each side). One pass walks each
//!    proposal's upper end (its exact count) and records, per row, where the row's differences
//!    above the lower end start; gathered, they give the lower end's exact count too. When the
//!    proposal holds the target, its ranks are selected among the gathered differences; otherwise
//!    the confirmed ends narrow the bracket and the next proposal reaches further.
//!
//! Only confirmed counts decide a bracket, so the proposals change the speed, never the result:
//! a target that stops narrowing (heavy ties, values spread over hundreds of decades) is finished
//! by the one-rank bisection of [`super::differences::select_in`]. Each result is the computed
//! difference of that rank, `-0.0` returned as `0.0`.

use super::differences::{Bracket, key, run_walks, select_in, value, walks_for};
use std::ops::Range;

/// A bracket holding at most this many differences is gathered whole; a proposal gathers at most
/// four times as many.
const COLLECT_LIMIT: u64 = 1 << 17;
/// Largest grid taken from one sample.
const GRID: usize = 1 << 15;
/// Rows from which a pass is split over two threads.
const PARALLEL_ROWS: usize = 1 << 15;
/// Collecting passes after which a target still unresolved is bisected alone.
const MAX_ROUNDS: usize = 6;

/// D(r) for each rank r (1-based, 1 ≤ r ≤ m·n), in the order given, of two ascending, finite,
/// non-empty samples.
pub(crate) fn order_statistics(canary: &[f64], baseline: &[f64], ranks: &[u64]) -> Vec<f64> {
    order_statistics_with(canary, baseline, ranks, COLLECT_LIMIT)
}

/// [`order_statistics`] gathering at most about `limit` differences per target (small in tests,
/// so that every stage runs on small samples).
pub(crate) fn order_statistics_with(canary: &[f64], baseline: &[f64], ranks: &[u64], limit: u64) -> Vec<f64> {
    let pairs = canary.len() as u64 * baseline.len() as u64;
    assert!(ranks.iter().all(|&r| (1..=pairs).contains(&r)), "ranks lie in 1..={pairs}");
    let mut results = vec![0.0; ranks.len()];
    if pairs <= limit {
        let mut all: Vec<f64> = canary.iter().flat_map(|&c| baseline.iter().map(move |&b| c - b)).collect();
        select_ranks(&mut all, 0, ranks, &mut results);
        return results;
    }
    let smallest = canary[0] - baseline[baseline.len() - 1];
    let largest = canary[canary.len() - 1] - baseline[0];
    let mut targets = group(ranks, limit, Bracket { lo: None, below: 0, hi: key(largest), up_to: pairs });
    grid_candidates(canary, baseline, &mut targets, limit);
    for round in 0.. {
        let open: Vec<usize> = (0..targets.len()).filter(|&t| targets[t].open(smallest)).collect();
        if open.is_empty() {
            break;
        }
        if round == MAX_ROUNDS {
            for &t in &open {
                let target = &mut targets[t];
                let found =
                    target.ranks.iter().map(|&r| (r, select_in(canary, baseline, target.bracket, smallest, r, r).0));
                target.resolved = found.collect();
            }
            break;
        }
        let proposals: Vec<(Option<f64>, f64)> = open.iter().map(|&t| targets[t].proposal(smallest, limit)).collect();
        for (&t, (proposal, gathered)) in
            open.iter().zip(proposals.iter().zip(gather(canary, baseline, &proposals, limit)))
        {
            targets[t].settle(*proposal, gathered, limit);
        }
    }
    for target in &targets {
        for &(rank, found) in &target.resolved {
            for (slot, _) in results.iter_mut().zip(ranks).filter(|(_, r)| **r == rank) {
                *slot = found;
            }
        }
    }
    results
}

/// Ranks sharing one bracket, and what is known of them.
struct Target {
    ranks: Vec<u64>,
    bracket: Bracket,
    /// How far (in ranks) beyond the target the next proposal reaches on each side.
    spread: f64,
    /// (rank, value) once found.
    resolved: Vec<(u64, f64)>,
}

impl Target {
    fn first(&self) -> u64 {
        self.ranks[0]
    }

    fn last(&self) -> u64 {
        self.ranks[self.ranks.len() - 1]
    }

    fn lo_key(&self, smallest: f64) -> u64 {
        self.bracket.lo.unwrap_or(key(smallest).wrapping_sub(1))
    }

    /// Whether the target is still unresolved; a bracket with no double strictly inside holds
    /// only differences equal to its upper end, which resolves every rank.
    fn open(&mut self, smallest: f64) -> bool {
        if self.resolved.is_empty() && self.bracket.hi - self.lo_key(smallest) <= 1 {
            let found = value(self.bracket.hi) + 0.0;
            self.resolved = self.ranks.iter().map(|&r| (r, found)).collect();
        }
        self.resolved.is_empty()
    }

    /// Narrows the bracket with a confirmed count.
    fn tighten(&mut self, threshold: f64, count: u64) {
        let at = key(threshold);
        if count < self.first() && self.bracket.lo.is_none_or(|lo| at > lo) {
            (self.bracket.lo, self.bracket.below) = (Some(at), count);
        } else if count >= self.last() && at < self.bracket.hi {
            (self.bracket.hi, self.bracket.up_to) = (at, count);
        }
    }

    /// The range (lo, hi] to gather next: the whole bracket when it is small enough, otherwise the
    /// values where the count is expected to reach `first − spread` and `last + spread`, by linear
    /// interpolation between the bracket's ends (a bracket's end where that falls outside it, the
    /// bracket's middle key where both do).
    fn proposal(&self, smallest: f64, limit: u64) -> (Option<f64>, f64) {
        let Bracket { lo, below, hi, up_to } = self.bracket;
        let whole = (lo.map(value), value(hi));
        if up_to - below <= limit {
            return whole;
        }
        let (lo_value, hi_value) = (lo.map_or(smallest, value), value(hi));
        let spread = self.spread.max(limit as f64 / 8.0);
        let lo_key = self.lo_key(smallest);
        let at_rank = |rank: f64| {
            let fraction = (rank - below as f64) / (up_to - below) as f64;
            let guess = lo_value + (hi_value - lo_value) * fraction;
            (guess.is_finite() && key(guess) > lo_key && key(guess) < hi).then_some(guess)
        };
        match (at_rank(self.first() as f64 - spread), at_rank(self.last() as f64 + spread)) {
            (None, None) => (whole.0, value(lo_key + (hi - lo_key) / 2)),
            (low, high) => (low.or(whole.0), high.unwrap_or(whole.1)),
        }
    }

    /// Takes in what one pass gathered for `proposal`: confirmed counts narrow the bracket, and a
    /// proposal that holds every rank resolves them; one that does not reaches further next time.
    fn settle(&mut self, proposal: (Option<f64>, f64), gathered: Gathered, limit: u64) {
        let (lo, hi) = proposal;
        self.tighten(hi, gathered.up_to);
        let Some(mut inside) = gathered.inside else {
            self.spread = self.spread.max(limit as f64 / 8.0) * 8.0;
            return;
        };
        let below = gathered.up_to - inside.len() as u64;
        if let Some(lo) = lo {
            self.tighten(lo, below);
        }
        if below < self.first() && gathered.up_to >= self.last() {
            let mut found = vec![0.0; self.ranks.len()];
            select_ranks(&mut inside, below, &self.ranks, &mut found);
            self.resolved = self.ranks.iter().copied().zip(found).collect();
        } else {
            self.spread = self.spread.max(limit as f64 / 8.0) * 8.0;
        }
    }
}

/// Sorts and groups the ranks: ranks within a quarter of `limit` of each other share a target.
fn group(ranks: &[u64], limit: u64, whole: Bracket) -> Vec<Target> {
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut targets: Vec<Target> = Vec::new();
    for rank in sorted {
        match targets.last_mut() {
            Some(target) if rank - target.last() <= limit / 4 => target.ranks.push(rank),
            _ => targets.push(Target { ranks: vec![rank], bracket: whole, spread: 0.0, resolved: Vec::new() }),
        }
    }
    targets
}

/// How many values a grid of `len` sorted values keeps.
fn grid_len(len: usize) -> usize {
    if len >= 64 { (len / 32).min(GRID) } else { len }
}

/// Every `len / size`-th value of a sorted sample (block midpoints).
fn grid(sorted: &[f64], size: usize) -> Vec<f64> {
    (0..size).map(|g| sorted[((2 * g + 1) * sorted.len()) / (2 * size)]).collect()
}

/// Brackets every target with the differences of the two grids (step 2), confirmed by one
/// counting pass.
fn grid_candidates(canary: &[f64], baseline: &[f64], targets: &mut [Target], limit: u64) {
    let (canary_size, baseline_size) = (grid_len(canary.len()), grid_len(baseline.len()));
    if canary_size == canary.len() && baseline_size == baseline.len() {
        return;
    }
    let pairs = canary.len() as f64 * baseline.len() as f64;
    let (canary_grid, baseline_grid) = (grid(canary, canary_size), grid(baseline, baseline_size));
    let grid_pairs = (canary_size * baseline_size) as f64;
    let slack = 1.5 * (1.0 / canary_size as f64 + 1.0 / baseline_size as f64);
    let to_grid = |fraction: f64| (fraction * grid_pairs).clamp(1.0, grid_pairs);
    let grid_ranks: Vec<u64> = targets
        .iter()
        .flat_map(|target| {
            let (first, last) = (target.first() as f64 / pairs, target.last() as f64 / pairs);
            [to_grid(first - slack).floor() as u64, to_grid(last + slack).ceil() as u64]
        })
        .collect();
    let candidates = order_statistics_with(&canary_grid, &baseline_grid, &grid_ranks, limit);
    let counts = count_many(canary, baseline, &candidates);
    for target in targets.iter_mut() {
        for (&threshold, &count) in candidates.iter().zip(&counts) {
            target.tighten(threshold, count);
        }
    }
}

/// Runs `work` on the rows, in two halves on two threads when there are enough of them.
fn on_both_cores<T: Send>(rows: usize, work: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    if rows < PARALLEL_ROWS {
        return vec![work(0..rows)];
    }
    std::thread::scope(|scope| {
        let second = scope.spawn(|| work(rows / 2..rows));
        vec![work(0..rows / 2), second.join().expect("counting thread panicked")]
    })
}

/// count(d) for each threshold d: one pass over the data, on both cores.
fn count_many(canary: &[f64], baseline: &[f64], thresholds: &[f64]) -> Vec<u64> {
    let ranges: Vec<(f64, f64)> = thresholds.iter().map(|&threshold| (f64::INFINITY, threshold)).collect();
    let mut totals = vec![0u64; thresholds.len()];
    for part in on_both_cores(canary.len(), |rows| {
        run_walks::<false>(canary, baseline, &walks_for(canary, baseline, &ranges, rows), |_, _, _| {})
    }) {
        for (walk, count) in part.into_iter().enumerate() {
            totals[walk % thresholds.len()] += count;
        }
    }
    totals
}

/// What one pass found for a proposal (lo, hi]: the exact count at hi, and the differences
/// inside unless there were more than the pass gathers.
struct Gathered {
    up_to: u64,
    inside: Option<Vec<f64>>,
}

/// One pass for all proposals (step 4): each upper end walked, and for each row the first
/// baseline index of its differences inside the proposal recorded; then the differences
/// gathered row by row, at most `4 · limit` per proposal.
fn gather(canary: &[f64], baseline: &[f64], proposals: &[(Option<f64>, f64)], limit: u64) -> Vec<Gathered> {
    let cap = 4 * limit as usize;
    let ranges: Vec<(f64, f64)> = proposals.iter().map(|&(lo, hi)| (lo.unwrap_or(f64::NAN), hi)).collect();
    let parts = on_both_cores(canary.len(), |rows| {
        let walks = walks_for(canary, baseline, &ranges, rows);
        let mut starts: Vec<Vec<(usize, usize)>> = vec![Vec::new(); walks.len()];
        let counts = run_walks::<true>(canary, baseline, &walks, |walk, i, j| {
            if starts[walk].len() <= cap {
                starts[walk].push((i, j));
            }
        });
        (counts, starts)
    });
    let mut gathered: Vec<Gathered> =
        proposals.iter().map(|_| Gathered { up_to: 0, inside: Some(Vec::new()) }).collect();
    for (counts, starts) in parts {
        for (walk, (count, rows)) in counts.into_iter().zip(starts).enumerate() {
            let (lo, _) = proposals[walk % proposals.len()];
            let entry = &mut gathered[walk % proposals.len()];
            entry.up_to += count;
            if rows.len() > cap {
                entry.inside = None;
            }
            let Some(inside) = &mut entry.inside else { continue };
            for (i, start) in rows {
                let c = canary[i];
                // At most one past the cap, so that a proposal that missed never gathers more.
                let row = baseline[start..].iter().map(|&b| c - b).take(cap + 1 - inside.len());
                match lo {
                    Some(lo) => inside.extend(row.take_while(|&difference| difference > lo)),
                    None => inside.extend(row),
                }
                if inside.len() > cap {
                    entry.inside = None;
                    break;
                }
            }
        }
    }
    gathered
}

/// Writes into `results[r]` the value of rank `ranks[r]` among `values`, the differences of ranks
/// `below + 1 ..= below + values.len()` in any order.
fn select_ranks(values: &mut [f64], below: u64, ranks: &[u64], results: &mut [f64]) {
    let mut order: Vec<usize> = (0..ranks.len()).collect();
    order.sort_unstable_by_key(|&r| ranks[r]);
    let mut done = 0usize;
    for r in order {
        let index = (ranks[r] - below - 1) as usize;
        let (_, &mut found, _) = values[done..].select_nth_unstable_by(index - done, f64::total_cmp);
        done = index;
        results[r] = found + 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every difference, sorted: what each rank must return.
    fn brute_force(canary: &[f64], baseline: &[f64]) -> Vec<f64> {
        let mut all: Vec<f64> = canary.iter().flat_map(|&c| baseline.iter().map(move |&b| c - b)).collect();
        all.sort_by(f64::total_cmp);
        all.into_iter().map(|d| d + 0.0).collect()
    }

    /// Values with many ties (a few levels), signed zeros, tiny and huge magnitudes.
    fn value_strategy() -> impl Strategy<Value = f64> {
        prop_oneof![
            (0i32..6).prop_map(f64::from),
            Just(-0.0),
            -1e3..1e3f64,
            (-1e-300..1e-300f64),
            (0.0..1e-3f64).prop_map(|x| 1e6 + x),
            prop::num::f64::NORMAL,
        ]
    }

    fn sorted_sample() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(value_strategy(), 1..90).prop_map(|mut v| {
            v.sort_by(f64::total_cmp);
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        #[test]
        fn equals_sorting_every_difference(
            canary in sorted_sample(),
            baseline in sorted_sample(),
            picks in prop::collection::vec(0.0..1.0f64, 1..6),
            limit in prop_oneof![Just(1u64), Just(7), Just(64), Just(1000)],
        ) {
            let all = brute_force(&canary, &baseline);
            let pairs = all.len() as u64;
            let mut ranks: Vec<u64> = picks.iter().map(|p| 1 + (p * pairs as f64) as u64).map(|r| r.min(pairs)).collect();
            ranks.extend([1, pairs, pairs.div_ceil(2)]);
            let found = order_statistics_with(&canary, &baseline, &ranks, limit);
            for (rank, value) in ranks.iter().zip(found) {
                prop_assert_eq!(value.to_bits(), all[*rank as usize - 1].to_bits(), "rank {} of {}", rank, pairs);
            }
        }
    }

    #[test]
    fn every_stage_runs_on_larger_samples() {
        // Smooth data (grid, interpolation, collection) and two-level data (bisection fallback).
        let smooth = |len: usize, shift: f64| -> Vec<f64> {
            (0..len).map(|i| ((i as f64 + 0.5) / len as f64 * 6.0 - 3.0).exp() + shift).collect()
        };
        let levels = |len: usize| -> Vec<f64> { (0..len).map(|i| if i < len / 3 { 1.0 } else { 2.0 }).collect() };
        for (canary, baseline) in [(smooth(900, 0.1), smooth(700, 0.0)), (levels(800), levels(600))] {
            let all = brute_force(&canary, &baseline);
            let pairs = all.len() as u64;
            let ranks = [1, 2, 17_000, pairs / 2, pairs / 2 + 1, pairs - 17_000, pairs];
            for limit in [1 << 10, COLLECT_LIMIT] {
                let found = order_statistics_with(&canary, &baseline, &ranks, limit);
                let expected: Vec<f64> = ranks.iter().map(|&r| all[r as usize - 1]).collect();
                assert_eq!(found, expected, "limit {limit}");
            }
        }
    }
}
