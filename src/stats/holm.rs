//! Holm's step-down procedure: adjusted p-values that keep the family-wise false-alarm level
//! under any dependence between the tests (metrics move together).

/// Holm-adjusted p-values, in the order given: q_(r) = max over r' ≤ r of min(1, (M − r')·p_(r')).
/// A test is rejected at level α exactly when its adjusted p-value is at most α.
pub fn holm_adjust(p_values: &[f64]) -> Vec<f64> {
    let count = p_values.len();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; count];
    let mut running_max: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        let scaled = ((count - rank) as f64 * p_values[index]).min(1.0);
        running_max = running_max.max(scaled);
        adjusted[index] = running_max;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_step_down_definition() {
        // statsmodels multipletests([0.01, 0.04, 0.03, 0.005], method='holm')[1]
        let adjusted = holm_adjust(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (got, want) in adjusted.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm_adjust(&[0.7, 0.9]), vec![1.0, 1.0]);
        assert!(holm_adjust(&[]).is_empty());
    }
}
