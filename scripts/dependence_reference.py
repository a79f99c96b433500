#!/usr/bin/env python3
"""Reference values for src/stats/dependence.rs, computed with SciPy and by brute force in numpy:

    python3 scripts/dependence_reference.py > tests/data/dependence_reference.json

student_t: scipy.stats.t.sf / t.isf; calibration: t.sf(norm.isf(p), df); batch_dispersion: the
Pearson statistic of per-batch canary events around the fitted share over batches − 1, less
√(2/(batches − 1)) (floored at 1), and its Welch-Satterthwaite df; inflation: 1 + 2 Σ Bartlett-weighted max(0, ρ_k − 1/√n) (no shrinking of the known lags);
drift_interval: the per-side drift σ solved from the batches' Pearson excess beyond two standard
errors under the AR(1) model (dense matrices Φ = φ^|i−j|, clamped to [0.03, 0.10]) and the ratios
whose drift-aware score z(r) lies within scipy.stats.norm.isf((1 − confidence)/2) (brentq)."""
import json
import math

import numpy as np
from scipy import stats


def informative_batches(canary, baseline, fitted, batches):
    """(lo, hi, canary events, events, fitted share) of each batch with events and exposure."""
    n = len(canary)
    for b in range(batches):
        lo, hi = b * n // batches, (b + 1) * n // batches
        x1, n1 = sum(c[0] for c in canary[lo:hi]), sum(c[1] for c in canary[lo:hi])
        x2, n2 = sum(c[0] for c in baseline[lo:hi]), sum(c[1] for c in baseline[lo:hi])
        if x1 + x2 > 0 and n1 > 0 and n2 > 0:
            yield lo, hi, x1, x1 + x2, fitted * n1 / (fitted * n1 + n2)


def batch_dispersion(canary, baseline, fitted, batches):
    pearson, informative = 0.0, 0
    for _, _, x1, events, share in informative_batches(canary, baseline, fitted, batches):
        pearson += (x1 - events * share) ** 2 / (events * share * (1 - share))
        informative += 1
    phi = max(1.0, pearson / (informative - 1) - math.sqrt(2 / (informative - 1))) if informative >= 3 else 1.0
    df = None if phi <= 1.0 else (informative - 1) * (phi / (phi - 1)) ** 2
    return phi, df


def inflation(series, lags, known):
    x = np.asarray(series, float)
    n = len(x)
    c = x - x.mean()
    g0 = np.dot(c, c) / n
    lags = min(lags, n - 2)
    total = 0.0
    for k in range(1, lags + 1):
        rho = np.dot(c[:-k], c[k:]) / n / g0
        total += (1 - k / (lags + 1)) * max(0.0, rho - (0.0 if k <= known else 1 / math.sqrt(n)))
    return float(min(max(1 + 2 * total, 1.0), n))


def batch_drift(canary, baseline, fitted, batches, phi):
    """σ from E[Pearson] = (B − 1) + 2σ² Σ_b v_bᵀΦv_b / D_b, with dense Φ; None without excess."""
    n = len(canary)
    idx = np.arange(n)
    big_phi = phi ** np.abs(idx[:, None] - idx[None, :])
    h = np.zeros(n)
    ranges, pearson = [], 0.0
    for lo, hi, x1, events, share in informative_batches(canary, baseline, fitted, batches):
        binomial = events * share * (1 - share)
        pearson += (x1 - events * share) ** 2 / binomial
        ranges.append((lo, hi, binomial))
        for i in range(lo, hi):
            events = canary[i][0] + baseline[i][0]
            s_i = fitted * canary[i][1] / (fitted * canary[i][1] + baseline[i][1])
            h[i] = events * s_i * (1 - s_i) if events > 0 else 0.0
    df = len(ranges) - 1
    if df < 2:
        return None
    excess = pearson - df - 2 * math.sqrt(2 * df)
    if excess <= 0:
        return None
    expected = 0.0
    for lo, hi, binomial in ranges:
        inside = np.zeros(n)
        inside[lo:hi] = h[lo:hi]
        v = inside - inside.sum() / h.sum() * h
        expected += v @ big_phi @ v / binomial
    return min(max(math.sqrt(excess / (2 * expected)), 0.03), 0.10)


def drift_interval(canary, baseline, confidence, batches, phi):
    from scipy.optimize import brentq
    x1, n1 = sum(c[0] for c in canary), sum(c[1] for c in canary)
    x2, n2 = sum(c[0] for c in baseline), sum(c[1] for c in baseline)
    fitted = ((x1 + 0.5) / n1) / ((x2 + 0.5) / n2)
    sigma = batch_drift(canary, baseline, fitted, batches, phi)
    if sigma is None:
        return None
    n = len(canary)
    idx = np.arange(n)
    big_phi = phi ** np.abs(idx[:, None] - idx[None, :])

    def z(ratio):
        total, weights = 0.0, np.zeros(n)
        for i, (c, b) in enumerate(zip(canary, baseline)):
            events = c[0] + b[0]
            if events <= 0:
                continue
            share = ratio * c[1] / (ratio * c[1] + b[1])
            total += c[0] - share * events
            weights[i] = share * (1 - share) * events
        return total / math.sqrt(weights.sum() + 2 * sigma ** 2 * weights @ big_phi @ weights)

    critical = stats.norm.isf((1 - confidence) / 2)
    low = brentq(lambda r: z(r) - critical, 1e-6, fitted)
    high = brentq(lambda r: z(r) + critical, fitted, 1e6)
    return sigma, low, high


def main():
    rng = np.random.default_rng(12)
    out = {"student_t": [], "calibration": [], "batch_dispersion": [], "inflation": []}
    for t, df, p in [(2.5, 4.0, 0.001), (0.7, 9.3, 0.2), (-1.2, 30.0, 0.01), (3.9, 2.0, 0.003), (1.0, 150.0, 0.4),
                     (6.0, 4.5, 1e-6)]:
        out["student_t"].append({"t": t, "df": df, "sf": float(stats.t.sf(t, df)), "p": p,
                                 "isf": float(stats.t.isf(p, df))})
    for p, df in [(0.003, 4.0), (0.01, 36.0), (1e-6, 9.0), (0.3, 5.5), (0.0033, 250.0)]:
        out["calibration"].append({"p": p, "df": df, "calibrated": float(stats.t.sf(stats.norm.isf(p), df))})
    for n, batches, drift in [(30, 5, 0.3), (12, 5, 0.0), (120, 5, 0.15), (7, 5, 0.5)]:
        walk = np.cumsum(rng.normal(0, drift, n))
        exposure_c = rng.poisson(150, n).astype(float)
        exposure_b = rng.poisson(150, n).astype(float)
        canary = [[float(rng.poisson(e * 0.08 * math.exp(w))), e] for e, w in zip(exposure_c, walk)]
        baseline = [[float(rng.poisson(e * 0.08)), e] for e in exposure_b]
        x1 = sum(c[0] for c in canary); n1 = sum(c[1] for c in canary)
        x2 = sum(c[0] for c in baseline); n2 = sum(c[1] for c in baseline)
        fitted = ((x1 + 0.5) / n1) / ((x2 + 0.5) / n2)
        phi, df = batch_dispersion(canary, baseline, fitted, batches)
        out["batch_dispersion"].append({"canary": canary, "baseline": baseline, "fitted": fitted,
                                        "batches": batches, "dispersion": phi, "df": df})
    for n, phi, lags, known in [(30, 0.0, 4, 0), (30, 0.7, 4, 1), (120, 0.9, 5, 0), (15, -0.5, 3, 0), (30, 0.2, 4, 1)]:
        x = np.empty(n)
        x[0] = rng.normal()
        for i in range(1, n):
            x[i] = phi * x[i - 1] + rng.normal()
        out["inflation"].append({"series": [float(v) for v in x], "lags": lags, "known": known,
                                 "inflation": inflation(x, lags, known)})
    out["drift_interval"] = []
    drift_rng = np.random.default_rng(21)
    for n, tau, sd, ratio in [(30, 10.0, 0.15, 0.8), (30, 30.0, 0.2, 1.0), (60, 10.0, 0.1, 1.1), (30, 10.0, 0.0, 1.0), (30, 10.0, 0.0, 0.9)]:
        a = np.empty(n)
        a[0] = drift_rng.normal(0, sd)
        rho = math.exp(-1 / tau)
        for i in range(1, n):
            a[i] = rho * a[i - 1] + drift_rng.normal(0, sd * math.sqrt(1 - rho * rho))
        canary = [[float(drift_rng.poisson(120 * ratio * math.exp(w))), 1500.0] for w in a]
        baseline = [[float(drift_rng.poisson(120)), 1500.0] for _ in range(n)]
        phi = math.exp(-60 / 600)
        found = drift_interval(canary, baseline, 0.98, 5, phi)
        out["drift_interval"].append({"canary": canary, "baseline": baseline, "confidence": 0.98, "batches": 5,
                                      "phi": phi, "drift": None if found is None else found[0],
                                      "ci_low": None if found is None else found[1],
                                      "ci_high": None if found is None else found[2]})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
