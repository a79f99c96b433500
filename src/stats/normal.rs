//! The standard normal tail and quantile, computed the way SciPy does (tails via erfc, never 1 − Φ).

use statrs::function::erf::{erfc, erfc_inv};
use std::f64::consts::{FRAC_1_SQRT_2, SQRT_2};

/// Upper tail P(Z > z).
pub fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z * FRAC_1_SQRT_2)
}

/// Lower tail P(Z ≤ z).
pub fn lower_tail(z: f64) -> f64 {
    0.5 * erfc(-z * FRAC_1_SQRT_2)
}

/// The z with P(Z > z) = p, for 0 < p < 1.
pub fn upper_quantile(p: f64) -> f64 {
    SQRT_2 * erfc_inv(2.0 * p)
}
