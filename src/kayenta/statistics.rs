//! Kayenta's transforms, summary statistics, outlier detectors and effect sizes (the parts of
//! `kayenta-judge` the classifier builds on), as Kayenta computes them. Pure.

use std::cmp::Ordering;

/// `{min, max, mean, std, count}` of one side (sample standard deviation; all zeros when empty).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    pub count: usize,
}

/// Drops NaNs.
pub fn remove_nans(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| !v.is_nan()).collect()
}

/// Replaces NaNs by `with`.
pub fn replace_nans(values: &[f64], with: f64) -> Vec<f64> {
    values.iter().map(|&v| if v.is_nan() { with } else { v }).collect()
}

pub(super) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Summary statistics as Kayenta reports them.
pub fn summary_stats(values: &[f64]) -> Stats {
    let n = values.len();
    if n == 0 {
        return Stats::default();
    }
    let m = mean(values);
    let std = if n > 1 { (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    Stats {
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: m,
        std,
        count: n,
    }
}

pub(super) fn sorted(values: &[f64]) -> Vec<f64> {
    let mut s = values.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    s
}

/// The R-7 percentile (linear interpolation, `h = (n − 1)·p/100`), `p` in 0..=100.
pub fn percentile_r7(values: &[f64], p: f64) -> f64 {
    let s = sorted(values);
    percentile_sorted(&s, p)
}

/// Kayenta's own interpolation, kept apart from [`crate::stats::descriptive::percentile_sorted`]
/// (numpy's): both are R-7, but this one places the point at `(n − 1)·p/100` and interpolates
/// from below only, numpy's at `(n − 1)·q` and from the nearer neighbour, so about 3% of random
/// samples differ in the last bit (see the test `not_numpys_percentile_to_the_bit`).
fn percentile_sorted(s: &[f64], p: f64) -> f64 {
    if s.is_empty() {
        return f64::NAN;
    }
    let h = (s.len() - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    if lo + 1 >= s.len() {
        return s[s.len() - 1];
    }
    s[lo] + (h - lo as f64) * (s[lo + 1] - s[lo])
}

/// Indices of the outliers by Tukey's fences `[Q1 − k·IQR, Q3 + k·IQR]`; with `reduce_sensitivity`
/// (what the judge uses) the fences are widened to at least P1 and P99.
pub fn iqr_outliers(values: &[f64], factor: f64, reduce_sensitivity: bool) -> Vec<usize> {
    if values.is_empty() {
        return Vec::new();
    }
    let s = sorted(values);
    let (q1, q3) = (percentile_sorted(&s, 25.0), percentile_sorted(&s, 75.0));
    let iqr = q3 - q1;
    let (mut lower, mut upper) = (q1 - factor * iqr, q3 + factor * iqr);
    if reduce_sensitivity {
        lower = lower.min(percentile_sorted(&s, 1.0));
        upper = upper.max(percentile_sorted(&s, 99.0));
    }
    values.iter().enumerate().filter(|(_, v)| **v < lower || **v > upper).map(|(i, _)| i).collect()
}

/// Indices of the points more than `k` population standard deviations from the mean.
pub fn ksigma_outliers(values: &[f64], k: f64) -> Vec<usize> {
    if values.is_empty() {
        return Vec::new();
    }
    let m = mean(values);
    let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    values.iter().enumerate().filter(|(_, v)| (**v - m).abs() > k * sd).map(|(i, _)| i).collect()
}

/// mean(experiment)/mean(control); NaN when either mean is exactly 0.
pub fn mean_ratio(experiment: &[f64], control: &[f64]) -> f64 {
    let (e, c) = (mean(experiment), mean(control));
    if e == 0.0 || c == 0.0 { f64::NAN } else { e / c }
}

/// Vargha–Delaney A: P(E > C) + ½·P(E = C), from pooled average ranks.
pub fn cles(experiment: &[f64], control: &[f64]) -> f64 {
    let (m, n) = (experiment.len() as f64, control.len() as f64);
    let pooled: Vec<f64> = experiment.iter().chain(control).copied().collect();
    let (ranks, _) = average_ranks(&pooled);
    let rank_sum: f64 = ranks[..experiment.len()].iter().sum();
    (2.0 * rank_sum - m * (m + 1.0)) / (2.0 * m * n)
}

/// Cohen's d with the pooled standard deviation (in Kayenta's code, unused by the judge).
pub fn cohen_d(a: &[f64], b: &[f64]) -> f64 {
    let (sa, sb) = (summary_stats(a), summary_stats(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled = (((na - 1.0) * sa.std.powi(2) + (nb - 1.0) * sb.std.powi(2)) / (na + nb - 2.0)).sqrt();
    (sa.mean - sb.mean) / pooled
}

/// Average ranks (1-based, ties share their mean rank) and Σ(t³ − t) over the tie groups.
pub(super) fn average_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].partial_cmp(&values[b]).unwrap_or(Ordering::Equal));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0; // mean of i+1 ..= j
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    (ranks, ties)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why there are two R-7 percentiles: sharing numpy's would move Kayenta's fences and
    /// quartiles in the last bit.
    #[test]
    fn not_numpys_percentile_to_the_bit() {
        let sample = [-213.764_257_656_543_24, 385.356_359_404_160_23];
        let kayenta = percentile_sorted(&sample, 75.0);
        let numpy = crate::stats::descriptive::percentile_sorted(&sample, 0.75);
        assert_eq!(kayenta, 235.576_205_138_984_4);
        assert_eq!(numpy, 235.576_205_138_984_36);
    }
}
