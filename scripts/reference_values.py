#!/usr/bin/env python3
"""Generate the SciPy/numpy reference values that the statistics tests assert against.

Usage:  pip install scipy numpy && python3 scripts/reference_values.py > tests/data/scipy_reference.json

Deterministic (fixed seed). Covers Mann-Whitney U for sizes 1 to 5,000 with and without ties,
heavy ties (90% zeros), negative and very large values, all three alternatives and both methods
(exact only where there are no ties and canary's exact law is allowed); the Hodges-Lehmann
estimate (median of all pairwise differences) where the m*n differences fit in memory;
numpy's descriptive statistics (mean, std with ddof=1, percentiles by linear interpolation);
and scipy.stats.binomtest p-values with Clopper-Pearson intervals.
"""
import json
import sys

import numpy as np
import scipy
from scipy.special import betaincinv
from scipy.stats import binomtest, mannwhitneyu

rng = np.random.default_rng(20261123)
ALTERNATIVES = ("two-sided", "greater", "less")
# canary's explicit exact law: smaller sample <= 300 and smaller^2 * larger <= 1e9.
def exact_allowed(m, n):
    k, l = min(m, n), max(m, n)
    return k <= 300 and k * k * l <= 1e9

def draw(kind, size):
    if kind == "continuous":
        return rng.normal(100.0, 15.0, size)
    if kind == "integers":
        return rng.integers(0, 12, size).astype(float)
    if kind == "zeros90":
        return np.where(rng.random(size) < 0.9, 0.0, rng.integers(1, 6, size).astype(float))
    if kind == "negative":
        return -rng.lognormal(2.0, 1.0, size)
    if kind == "huge":
        return rng.normal(1e15, 1e13, size)
    if kind == "tiny":
        return rng.lognormal(-30.0, 2.0, size)
    raise ValueError(kind)

SIZES = [(1, 1), (1, 7), (3, 3), (4, 5), (8, 8), (9, 12), (20, 20), (1, 200), (30, 400), (60, 55),
         (120, 150), (250, 250), (300, 40), (7, 5000), (500, 700), (1500, 1200), (5000, 5000), (3000, 40)]
KINDS = ["continuous", "integers", "zeros90", "negative", "huge", "tiny"]

def mwu_cases():
    cases = []
    for index, (m, n) in enumerate(SIZES):
        for kind in KINDS:
            if m * n > 1_000_000 and kind not in ("continuous", "zeros90"):
                continue  # keep the file small: the largest sizes once with and once without ties
            canary = draw(kind, m)
            baseline = draw(kind, n)
            if kind in ("continuous", "negative", "huge", "tiny") and index % 2 == 0:
                canary = canary + np.std(baseline) * 0.3  # a real shift in half the cases
            ties = len(np.unique(np.concatenate([canary, baseline]))) < m + n
            results = []
            for alternative in ALTERNATIVES:
                methods = ["asymptotic"] + (["exact"] if not ties and exact_allowed(m, n) else [])
                for method in methods:
                    r = mannwhitneyu(canary, baseline, alternative=alternative, method=method)
                    results.append({"alternative": alternative, "method": method,
                                    "u": float(r.statistic), "p_value": float(r.pvalue)})
            case = {"kind": kind, "canary": canary.tolist(), "baseline": baseline.tolist(), "results": results}
            if m * n <= 4_000_000:
                case["hl_estimate"] = float(np.median(np.subtract.outer(canary, baseline)))
            cases.append(case)
    return cases

def descriptive_cases():
    cases = []
    for size in (1, 2, 5, 10, 101, 1000):
        for kind in ("continuous", "integers", "huge"):
            values = draw(kind, size)
            p50, p90, p99 = np.percentile(values, [50, 90, 99])
            cases.append({"values": values.tolist(), "mean": float(np.mean(values)),
                          "std": float(np.std(values, ddof=1)) if size > 1 else None,
                          "p50": float(p50), "p90": float(p90), "p99": float(p99)})
    return cases

def binomial_cases():
    cases = []
    for _ in range(300):
        n = int(rng.choice([1, 5, 20, 100, 1000, 20000]))
        p = float(rng.choice([0.001, 0.01, 0.1, 0.3, 0.5, 0.77, float(rng.random())]))
        k = int(min(n, max(0, rng.binomial(n, min(1.0, p * rng.choice([0.5, 1.0, 1.5, 3.0]))))))
        for alternative in ALTERNATIVES:
            r = binomtest(k, n, p, alternative=alternative)
            # Clopper-Pearson by its definition (beta quantiles). binomtest's proportion_ci finds the
            # same bounds with brentq at an absolute tolerance of about 2e-12, too coarse for 1e-9
            # relative on small proportions.
            tail = 0.05 if alternative != "two-sided" else 0.025
            low = 0.0 if k == 0 or alternative == "less" else betaincinv(k, n - k + 1, tail)
            high = 1.0 if k == n or alternative == "greater" else betaincinv(k + 1, n - k, 1 - tail)
            cases.append({"k": k, "n": n, "p": p, "alternative": alternative, "p_value": float(r.pvalue),
                          "ci_low": float(low), "ci_high": float(high)})
    return cases

json.dump({"generator": "scripts/reference_values.py", "scipy": scipy.__version__, "numpy": np.__version__,
           "mann_whitney": mwu_cases(), "descriptive": descriptive_cases(), "binomial": binomial_cases()},
          sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
