#!/usr/bin/env python3
"""How fast can an anytime-valid test catch a 5x error rate at all? (issue 13's detection target)

Simulates the error-rate metric of bench/watch_quality.py at 300 requests/min a side (0.4% ->
2%, Poisson counts, one look a minute, no drift) and reports the median minute at which each
test first rejects "canary rate <= margin x baseline rate" at alpha 0.01 / 3 metrics:

* the normal-mixture e-process of src/stats/confidence_sequence.rs WITHOUT its drift allowance
  (mixture scales 0.5, 1, 2);
* an exact mixture of the conditional binomial likelihood ratio (Beta prior truncated to the
  alternative), also anytime-valid;
* one fixed z-test at each minute (NOT valid under repeated looks: the no-sequential-cost floor).

    python3 bench/sequential_floor.py [--runs 4000] [--margin 1.2]
"""
import argparse

import numpy as np
from scipy.special import betaln
from scipy.stats import beta, norm


def log_normal_mixture(s, v, rho):
    a = v + 1 / rho**2
    return np.log(2) - np.log(rho) - 0.5 * np.log(a) + s * s / (2 * a) + norm.logcdf(s / np.sqrt(a))


def first_minute(hit):
    return np.where(hit.any(1), hit.argmax(1) + 1, 999)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--margin", type=float, default=1.2)
    parser.add_argument("--factor", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    o = parser.parse_args()
    rng = np.random.default_rng(o.seed)
    minutes, rate = 60, 0.004 * 300
    threshold = np.log(300)  # alpha 0.01 over 3 metrics (Bonferroni)
    x1 = rng.poisson(rate * o.factor, (o.runs, minutes)).cumsum(1)
    x2 = rng.poisson(rate, (o.runs, minutes)).cumsum(1)
    pi0 = o.margin / (1 + o.margin)
    s, v = x1 - pi0 * (x1 + x2), pi0 * (1 - pi0) * (x1 + x2)
    print(f"x{o.factor} error rate, margin x{o.margin}, {o.runs} runs, median minute of the first rejection:")
    for rho in (0.5, 1.0, 2.0):
        m = first_minute(log_normal_mixture(s, v, rho) >= threshold)
        print(f"  normal mixture, rho {rho}, no drift allowance: {np.median(m):g} (by minute 5: {np.mean(m <= 5):.1%})")
    a, b = 1.0, 1.0
    z = beta.sf(pi0, a, b)
    num = betaln(x1 + a, x2 + b) - betaln(a, b) + np.log(np.maximum(beta.sf(pi0, x1 + a, x2 + b), 1e-300)) - np.log(z)
    den = x1 * np.log(pi0) + x2 * np.log(1 - pi0)
    m = first_minute(num - den >= threshold)
    print(f"  exact conditional-binomial mixture, Beta(1,1) on [pi0, 1]: {np.median(m):g} (by minute 5: {np.mean(m <= 5):.1%})")
    m = first_minute(s / np.sqrt(np.maximum(v, 1e-9)) >= norm.isf(0.01 / 3))
    print(f"  fixed z-test at each minute (not anytime-valid): {np.median(m):g}")


if __name__ == "__main__":
    main()
