//! The Mann-Whitney interval and location estimate Kayenta gets from R's `wilcox.test(x, y,
//! conf.int = TRUE, exact = FALSE, correct = TRUE)`: the normal approximation, with its roots
//! found by a port of R's `zeroin` (tolerance 1e-4). Pure.

use super::statistics::{average_ranks, summary_stats};
use statrs::function::erf::erfc_inv;

const ZEROIN_TOL: f64 = 1e-4;
const ZEROIN_MAXIT: usize = 1000;
const EPSILON: f64 = f64::EPSILON;

/// W(μ, z_q) = (dz − corr)/σ − z_q on the ranks of (x − μ, y): a decreasing step function of μ.
/// Errs when every observation is tied (σ = 0).
pub fn wilcoxon_diff(x: &[f64], y: &[f64], mu: f64, zq: f64) -> Result<f64, String> {
    let (m, n) = (x.len() as f64, y.len() as f64);
    let pooled: Vec<f64> = x.iter().map(|v| v - mu).chain(y.iter().copied()).collect();
    let (ranks, ties) = average_ranks(&pooled);
    let dz = ranks[..x.len()].iter().sum::<f64>() - m * (m + 1.0) / 2.0 - m * n / 2.0;
    let corr = if dz == 0.0 { 0.0 } else { 0.5 * dz.signum() };
    let sigma = ((m * n / 12.0) * ((m + n + 1.0) - ties / ((m + n) * (m + n - 1.0)))).sqrt();
    if sigma == 0.0 || sigma.is_nan() {
        return Err("cannot compute confidence interval when all observations are tied".into());
    }
    Ok((dz - corr) / sigma - zq)
}

/// "Equals 0 within 1 ulp", as R's zeroin tests f(a) and f(b).
fn is_zero(value: f64) -> bool {
    value.abs() <= 5e-324
}

/// R's `R_zeroin2` (stats/src/zeroin.c): Brent's root finder on [ax, bx] with f(ax), f(bx) known.
pub fn zeroin<F>(mut f: F, ax: f64, bx: f64, fa: f64, fb: f64, tol: f64, maxit: usize) -> Result<f64, String>
where
    F: FnMut(f64) -> Result<f64, String>,
{
    let (mut a, mut b, mut fa, mut fb) = (ax, bx, fa, fb);
    let (mut c, mut fc) = (a, fa);
    if is_zero(fa) {
        return Ok(a);
    }
    if is_zero(fb) {
        return Ok(b);
    }
    let mut remaining = maxit + 1;
    while remaining > 0 {
        remaining -= 1;
        let prev_step = b - a;
        if fc.abs() < fb.abs() {
            // make b the best approximation
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol_act = 2.0 * EPSILON * b.abs() + tol / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || fb == 0.0 {
            return Ok(b);
        }
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                // linear interpolation (secant)
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // inverse quadratic interpolation
                let qq = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * qq * (qq - t1) - (b - a) * (t1 - 1.0));
                q = (qq - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < (0.75 * cb * q - (tol_act * q).abs() / 2.0) && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        a = b;
        fa = fb;
        b += new_step;
        fb = f(b)?;
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            c = a;
            fc = fa;
        }
    }
    Ok(b) // not converged: R returns the last approximation too
}

/// Φ⁻¹(α/2) for `confidence` = 1 − α: negative (−2.326348 for 0.98).
pub fn z_quantile(confidence: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(1.0 - confidence)
}

/// `(ci_lower, ci_upper, estimate)` of the shift x − y (x: canary, y: baseline), exactly as
/// Kayenta (R's `wilcox.test` with `exact = FALSE, correct = TRUE`). When the confidence cannot be
/// reached the interval falls back to an end of `[min(x) − max(y), max(x) − min(y)]`, silently.
pub fn mann_whitney_interval(x: &[f64], y: &[f64], confidence: f64) -> Result<(f64, f64, f64), String> {
    if x.is_empty() || y.is_empty() {
        return Err("empty sample".into());
    }
    let z = z_quantile(confidence);
    let (sx, sy) = (summary_stats(x), summary_stats(y));
    let mu_min = sx.min - sy.max;
    let mu_max = sx.max - sy.min;
    let root = |zq: f64| -> Result<f64, String> {
        let f = |mu: f64| wilcoxon_diff(x, y, mu, zq);
        let (f_lower, f_upper) = (f(mu_min)?, f(mu_max)?);
        if f_lower <= 0.0 {
            return Ok(mu_min);
        }
        if f_upper >= 0.0 {
            return Ok(mu_max);
        }
        zeroin(f, mu_min, mu_max, f_lower, f_upper, ZEROIN_TOL, ZEROIN_MAXIT)
    };
    let ci_lower = root(-z)?;
    let ci_upper = root(z)?;
    let f0 = |mu: f64| wilcoxon_diff(x, y, mu, 0.0);
    let estimate = zeroin(f0, mu_min, mu_max, f0(mu_min)?, f0(mu_max)?, ZEROIN_TOL, ZEROIN_MAXIT)?;
    Ok((ci_lower, ci_upper, estimate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol, "got {got}, want {want} (±{tol})");
    }

    #[test]
    fn the_r_reference_interval() {
        let (lo, hi, est) = mann_whitney_interval(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
        approx(lo, 6.0, 1e-6);
        approx(hi, 39.0, 1e-6);
        approx(est, 22.5, 1e-6);
        approx(z_quantile(0.98), -2.326348, 1e-6);
    }
}
