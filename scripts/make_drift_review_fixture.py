#!/usr/bin/env python3
"""Writes tests/data/dependence/drift-ignored.json: fixtures/healthy.json with its conversion
counts replaced by drift-free Poisson sessions and binomial conversions (30% on both sides), the
canary converting at 0.8x the baseline for the whole window and at a further 0.3x for two minutes
(minutes 20-21). The rate test fails it; the drift rule leaves the fail open (the dip reads as
drift); with `no_data: ignore` the judge before the fix let the canary pass.

    python3 scripts/make_drift_review_fixture.py
"""
import json

import numpy as np

SEED = 1


def main():
    rng = np.random.default_rng(SEED)
    recording = json.load(open("fixtures/healthy.json"))
    for side, data in recording["metrics"]["conversion"].items():
        sessions = data["queries"]["denominator"]["series"][0]["points"]
        conversions = data["queries"]["numerator"]["series"][0]["points"]
        for i, (session, conversion) in enumerate(zip(sessions, conversions)):
            n = rng.poisson(430)
            rate = 0.30
            if side == "canary":
                rate *= 0.8 * (0.3 if 20 <= i < 22 else 1.0)
            session[1] = float(n)
            conversion[1] = float(rng.binomial(n, rate))
    with open("tests/data/dependence/drift-ignored.json", "w") as out:
        json.dump(recording, out)


if __name__ == "__main__":
    main()
