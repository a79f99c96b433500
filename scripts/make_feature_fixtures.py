#!/usr/bin/env python3
"""Regenerate the recorded-data fixtures of analyses/grocery-features.yaml in fixtures/.

    python3 scripts/make_feature_fixtures.py   # needs only numpy; paths relative to the repository

A grocery app's canary carries two features behind flags: "organic" product search
(`organic-search`) and "locally sourced" product search (`locally-sourced-search`). Writes, and
overwrites:

* fixtures/grocery-organic-regression.json: only the organic-search metrics regress (its search
  errors x6, its p99 latency x1.6); checkout and locally-sourced search are healthy. Expected:
  the organic-search flag is turned off, no rollback, exit 5.
* fixtures/grocery-organic-and-checkout-regression.json: the same, and the deployment-level
  checkout error rate x5. Expected: the flag is turned off and the deployment rolled back, exit 1.

Per side and minute (30-minute window, 1-minute step, interval-end timestamps): Poisson request
counts (checkout 3000/min, each search 1500/min) with a shared slow wobble (AR(1), sd 5%),
binomial errors (checkout 0.5%, searches 0.4%), and per-minute search p99 latencies (lognormal
around 0.35 s, sd 6%). Fixed seed: running it twice gives the same bytes. The queries are the
analysis's templates rendered with its variables.
"""

import datetime
import json
import os
import re

import numpy as np

SEED = 20261124
WINDOW_END = datetime.datetime(2026, 11, 24, 10, 30, tzinfo=datetime.timezone.utc)
WINDOW_SECONDS = 30 * 60
STEP = 60
SELECTORS = {"baseline": 'deployment="grocery-baseline"', "canary": 'deployment="grocery-canary"'}

# metric -> role -> template (as in analyses/grocery-features.yaml)
METRICS = {
    "checkout_error_rate": {
        "numerator": 'sum(increase(http_requests_total{ {{ selector }}, route="/checkout", code=~"5.." }[{{ step }}]))',
        "denominator": 'sum(increase(http_requests_total{ {{ selector }}, route="/checkout" }[{{ step }}]))',
    },
    "organic_search_errors": {
        "numerator": 'sum(increase(search_requests_total{ {{ selector }}, filter="organic", code=~"5.." }[{{ step }}]))',
        "denominator": 'sum(increase(search_requests_total{ {{ selector }}, filter="organic" }[{{ step }}]))',
    },
    "organic_search_p99": {
        "value": 'histogram_quantile(0.99, sum by (le) (rate(search_duration_seconds_bucket{ {{ selector }}, filter="organic" }[{{ step }}])))',
    },
    "local_search_errors": {
        "numerator": 'sum(increase(search_requests_total{ {{ selector }}, filter="local", code=~"5.." }[{{ step }}]))',
        "denominator": 'sum(increase(search_requests_total{ {{ selector }}, filter="local" }[{{ step }}]))',
    },
    "local_search_p99": {
        "value": 'histogram_quantile(0.99, sum by (le) (rate(search_duration_seconds_bucket{ {{ selector }}, filter="local" }[{{ step }}])))',
    },
}

SCENARIOS = {
    "grocery-organic-regression": {
        "about": "Only organic search regresses (errors x6, p99 x1.6): turn its flag off, no rollback.",
        "organic_errors": 6.0,
        "organic_latency": 1.6,
    },
    "grocery-organic-and-checkout-regression": {
        "about": "Organic search regresses and so does checkout (errors x5): flag off and rollback.",
        "organic_errors": 6.0,
        "organic_latency": 1.6,
        "checkout_errors": 5.0,
    },
}


def render(template, side):
    text = template.replace("{{ selector }}", SELECTORS[side]).replace("{{ step }}", "1m")
    assert "{{" not in text, text
    return text


def ar1(rng, n, sd, tau=10.0):
    phi = np.exp(-1.0 / tau)
    path = np.empty(n)
    path[0] = rng.normal(0, sd)
    for i in range(1, n):
        path[i] = phi * path[i - 1] + rng.normal(0, sd * np.sqrt(1 - phi * phi))
    return path


def simulate(scenario):
    end = int(WINDOW_END.timestamp())
    times = list(range(end - WINDOW_SECONDS, end + 1, STEP))
    n = len(times)
    shared = np.exp(ar1(np.random.default_rng(SEED), n, 0.05))
    out = {}
    for index, side in enumerate(("baseline", "canary")):
        rng = np.random.default_rng(SEED + 1 + index)
        canary = side == "canary"
        factor = lambda key: scenario.get(key, 1.0) if canary else 1.0
        values = {}

        def count(requests_per_min, error_prob):
            requests = rng.poisson(requests_per_min * shared)
            errors = rng.binomial(requests, min(error_prob, 1.0))
            return {
                "numerator": [[t, int(e)] for t, e in zip(times, errors)],
                "denominator": [[t, int(r)] for t, r in zip(times, requests)],
            }

        def gauge(median, latency_factor):
            noise = np.exp(rng.normal(0, 0.06, n))
            return {"value": [[t, round(float(median * latency_factor * x), 6)] for t, x in zip(times, noise)]}

        values["checkout_error_rate"] = count(3000, 0.005 * factor("checkout_errors"))
        values["organic_search_errors"] = count(1500, 0.004 * factor("organic_errors"))
        values["organic_search_p99"] = gauge(0.35, factor("organic_latency"))
        values["local_search_errors"] = count(1500, 0.004)
        values["local_search_p99"] = gauge(0.35, 1.0)
        out[side] = values
    return out


def recording(values):
    start = WINDOW_END - datetime.timedelta(seconds=WINDOW_SECONDS)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    metrics = {
        metric: {
            side: {
                "queries": {
                    role: {"query": render(template, side), "series": [{"labels": {}, "points": values[side][metric][role]}]}
                    for role, template in sorted(roles.items())
                }
            }
            for side in ("baseline", "canary")
        }
        for metric, roles in METRICS.items()
    }
    return {
        "format": "canary-recording",
        "version": 1,
        "analysis": "grocery-features",
        "source": {"kind": "synthetic"},
        "window": {"start": stamp(start), "end": stamp(WINDOW_END), "step_seconds": STEP},
        "point_time": "interval_end",
        "metrics": metrics,
    }


def dump(document):
    text = json.dumps(document, indent=2, allow_nan=False)
    return re.sub(r"\[\s+(-?\d+),\s+([^\s\[\]]+)\s+\]", r"[\1, \2]", text) + "\n"


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    analysis = open("analyses/grocery-features.yaml").read()
    for roles in METRICS.values():
        for template in roles.values():
            assert template in analysis, f"template not in analyses/grocery-features.yaml: {template}"
    for name, scenario in SCENARIOS.items():
        path = os.path.join("fixtures", f"{name}.json")
        with open(path, "w") as f:
            f.write(dump(recording(simulate(scenario))))
        print(f"{path}: {scenario['about']}")


if __name__ == "__main__":
    main()
