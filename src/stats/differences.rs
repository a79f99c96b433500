//! Counting and bisecting the m·n differences canary[i] − baseline[j] of two ascending samples,
//! one rank at a time: the exact count of differences at most a value (a two-pointer walk, O(m + n);
//! `reference/algorithms.md` §3a explains why the literal predicate `c - b > d` makes it exact),
//! the IEEE total order of doubles as integer keys, and the narrowing of a bracket by interpolation
//! and bisection until its differences can be collected ([`select_in`]). The shared selection of
//! several ranks (`difference_selection`) uses the keys and falls back to [`select_in`] for a rank
//! whose bracket stops narrowing; it walks several thresholds at once with [`run_walks`].

use std::ops::Range;

/// Maps a double to an integer key that orders like the IEEE total order.
pub(crate) fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

pub(crate) fn value(key: u64) -> f64 {
    if key >> 63 == 1 { f64::from_bits(key & !(1 << 63)) } else { f64::from_bits(!key) }
}

/// #{(i, j) : canary[i] − baseline[j] ≤ d}, by a two-pointer walk over the sorted samples.
/// The literal predicate `c - b > d` is what makes the count exact under rounding.
///
/// The walk is branch-free (one step of i or j per iteration), which makes each step wait for the
/// previous one; so the canary sample is cut into [`LANES`] chunks walked in lockstep, each from its
/// own starting j, letting the processor overlap the independent chains.
pub(crate) fn count_at_most(canary: &[f64], baseline: &[f64], d: f64) -> u64 {
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

/// Walks run in lockstep (by `count_at_most` and [`run_walks`]).
const LANES: usize = 4;
/// Steps of [`run_walks`] between two hand-overs of the rows it marked.
const BLOCK: usize = 256;

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
pub(crate) struct Bracket {
    pub(crate) lo: Option<u64>,
    pub(crate) below: u64,
    pub(crate) hi: u64,
    pub(crate) up_to: u64,
}

/// Narrows `bracket` (with `below < first` and `up_to ≥ last`, `last ≤ first + 1`) until its
/// differences can be collected.
pub(crate) fn select_in(
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

/// One two-pointer walk: rows `i..end` against `threshold`, from baseline index `j`; the rows'
/// differences in (floor, threshold] are recorded (`floor` NaN: every difference up to the
/// threshold; +∞: none).
#[derive(Clone, Copy)]
pub(crate) struct Walk {
    threshold: f64,
    floor: f64,
    i: usize,
    end: usize,
    j: usize,
}

impl Walk {
    const DONE: Walk = Walk { threshold: 0.0, floor: f64::INFINITY, i: 0, end: 0, j: 0 };

    /// Starts at `rows.start`, from the first baseline index where c − b ≤ threshold.
    pub(crate) fn new(canary: &[f64], baseline: &[f64], (floor, threshold): (f64, f64), rows: Range<usize>) -> Walk {
        let j = canary.get(rows.start).map_or(baseline.len(), |&c| baseline.partition_point(|&b| c - b > threshold));
        Walk { threshold, floor, i: rows.start, end: rows.end, j }
    }

    fn steps_left(&self, n: usize) -> usize {
        (self.end - self.i).min(n - self.j)
    }
}

/// The walks for `ranges` (floor, threshold) over `rows`, each range's rows cut into chunks so
/// that the walks come in whole groups of [`LANES`] (walk `w` belongs to range `w % ranges.len()`).
pub(crate) fn walks_for(canary: &[f64], baseline: &[f64], ranges: &[(f64, f64)], rows: Range<usize>) -> Vec<Walk> {
    let chunks = LANES / gcd(ranges.len().max(1), LANES);
    let size = rows.len().div_ceil(chunks);
    (0..chunks)
        .flat_map(|chunk| {
            let part = (rows.start + chunk * size).min(rows.end)..(rows.start + (chunk + 1) * size).min(rows.end);
            ranges.iter().map(move |&range| Walk::new(canary, baseline, range, part.clone()))
        })
        .collect()
}

/// Whether a difference lies above a walk's floor (a NaN floor: every difference does).
fn above(difference: f64, floor: f64) -> bool {
    (difference > floor) | floor.is_nan()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Runs every walk to its end, [`LANES`] at a time in lockstep (branch-free steps whose
/// independent chains the processor overlaps), and returns each walk's count of differences at
/// most its threshold; when `RECORD`, `record(walk, i, j)` is called for each row i that has
/// differences above the floor, b_j being where they start. Rows left when j reaches the end have
/// no difference at most the threshold.
pub(crate) fn run_walks<const RECORD: bool>(
    canary: &[f64],
    baseline: &[f64],
    walks: &[Walk],
    mut record: impl FnMut(usize, usize, usize),
) -> Vec<u64> {
    let n = baseline.len();
    let mut totals = vec![0u64; walks.len()];
    let mut slots = [Walk::DONE; LANES];
    let mut owner = [usize::MAX; LANES];
    let mut next = 0;
    loop {
        for slot in 0..LANES {
            if slots[slot].steps_left(n) == 0 {
                owner[slot] = usize::MAX;
                while next < walks.len() && owner[slot] == usize::MAX {
                    if walks[next].steps_left(n) > 0 {
                        (slots[slot], owner[slot]) = (walks[next], next);
                    }
                    next += 1;
                }
            }
        }
        let lockstep = !owner.contains(&usize::MAX);
        let steps = if lockstep { slots.iter().map(|walk| walk.steps_left(n)).min().unwrap_or(0) } else { 0 };
        let (mut i, mut j) = (slots.map(|walk| walk.i), slots.map(|walk| walk.j));
        let (thresholds, floors) = (slots.map(|walk| walk.threshold), slots.map(|walk| walk.floor));
        let mut sums = [0u64; LANES];
        // Rows to record are marked branch-free in a small buffer, handed over after each block.
        let mut marks = [[(0usize, 0usize); BLOCK]; LANES];
        for block in (0..steps).step_by(BLOCK) {
            let mut marked = [0usize; LANES];
            for _ in block..steps.min(block + BLOCK) {
                for lane in 0..LANES {
                    let difference = canary[i[lane]] - baseline[j[lane]];
                    let past = difference > thresholds[lane];
                    sums[lane] += if past { 0 } else { (n - j[lane]) as u64 };
                    if RECORD {
                        marks[lane][marked[lane]] = (i[lane], j[lane]);
                        marked[lane] += usize::from(!past) & usize::from(above(difference, floors[lane]));
                    }
                    j[lane] += usize::from(past);
                    i[lane] += usize::from(!past);
                }
            }
            for lane in 0..LANES {
                for &(row, start) in &marks[lane][..marked[lane]] {
                    record(owner[lane], row, start);
                }
            }
        }
        for lane in 0..LANES {
            (slots[lane].i, slots[lane].j) = (i[lane], j[lane]);
            if owner[lane] != usize::MAX {
                totals[owner[lane]] += sums[lane];
            }
        }
        if !lockstep {
            // Fewer walks than lanes are left: finish them one by one.
            for lane in (0..LANES).filter(|&lane| owner[lane] != usize::MAX) {
                let walk = &mut slots[lane];
                while walk.steps_left(n) > 0 {
                    let difference = canary[walk.i] - baseline[walk.j];
                    let past = difference > walk.threshold;
                    if !past {
                        totals[owner[lane]] += (n - walk.j) as u64;
                        if RECORD && above(difference, walk.floor) {
                            record(owner[lane], walk.i, walk.j);
                        }
                    }
                    walk.j += usize::from(past);
                    walk.i += usize::from(!past);
                }
            }
            return totals;
        }
    }
}
