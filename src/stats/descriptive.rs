//! Descriptive statistics of one sample: count, mean, sample standard deviation (n − 1), extremes
//! and percentiles by linear interpolation between order statistics (R type 7, numpy's default).

use serde::Serialize;

/// Summary of one sample, as reported side by side for baseline and canary.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1); `None` for fewer than two values.
    pub std: Option<f64>,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises an ascending, finite, non-empty sample.
    pub fn of_sorted(sorted: &[f64]) -> Summary {
        assert!(!sorted.is_empty(), "Summary::of_sorted needs at least one value");
        let count = sorted.len();
        let mean = mean(sorted);
        let std = (count > 1).then(|| {
            let squares: f64 = sorted.iter().map(|v| (v - mean) * (v - mean)).sum();
            (squares / (count - 1) as f64).sqrt()
        });
        Summary {
            count,
            mean,
            std,
            min: sorted[0],
            p50: percentile_sorted(sorted, 0.50),
            p90: percentile_sorted(sorted, 0.90),
            p99: percentile_sorted(sorted, 0.99),
            max: sorted[count - 1],
        }
    }
}

/// Arithmetic mean (0 values give NaN).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Percentile `q` in [0, 1] of an ascending sample by linear interpolation (R type 7), with
/// numpy's two-sided interpolation so that results match `numpy.percentile` to the last bit.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of an empty sample");
    let h = (sorted.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let t = h - below as f64;
    let a = sorted[below];
    if below + 1 >= sorted.len() {
        return a;
    }
    let b = sorted[below + 1];
    let diff = b - a;
    if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
}

/// Median of an ascending sample.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    percentile_sorted(sorted, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_on_a_small_sample() {
        // numpy: np.percentile([1, 2, 3, 4, 10], [50, 90, 99]) = [3, 7.6, 9.76]; std(ddof=1)
        let s = Summary::of_sorted(&[1.0, 2.0, 3.0, 4.0, 10.0]);
        assert_eq!(s.count, 5);
        assert_eq!(s.mean, 4.0);
        assert!((s.std.unwrap() - 3.535_533_905_932_737_6).abs() < 1e-15);
        assert_eq!(s.p50, 3.0);
        assert!((s.p90 - 7.6).abs() < 1e-12);
        assert!((s.p99 - 9.76).abs() < 1e-12);
        assert_eq!((s.min, s.max), (1.0, 10.0));
    }

    #[test]
    fn single_value_has_no_standard_deviation() {
        let s = Summary::of_sorted(&[7.0]);
        assert_eq!(s.std, None);
        assert_eq!((s.p50, s.p99), (7.0, 7.0));
    }

    #[test]
    fn percentile_extremes_are_min_and_max() {
        let v = [-3.0, 0.5, 2.0];
        assert_eq!(percentile_sorted(&v, 0.0), -3.0);
        assert_eq!(percentile_sorted(&v, 1.0), 2.0);
        assert_eq!(median_sorted(&[1.0, 2.0]), 1.5);
    }
}
