#!/usr/bin/env python3
"""Regenerate the recorded-data fixtures of analyses/checkout.yaml in fixtures/.

    python3 scripts/make_fixtures.py        # needs only numpy; paths are relative to the repository

Writes, and overwrites, fixtures/healthy.json, latency-regression.json,
error-spike-low-traffic.json, conversion-drop.json, improvement.json and no-canary-traffic.json:
recordings in the `canary-recording` format, version 1 (docs/recorded-data.md), that
`canary judge analyses/checkout.yaml --replay fixtures/NAME.json` judges without a backend.
The output depends only on the constants below (fixed seed): running it twice gives the same bytes.

What is simulated, per side (baseline and canary), in 15-second scrape slots:

* Both deployments start one minute before the window (a Kayenta-style fresh baseline next to
  the canary). Their traffic ramps up over ~30 s and their first minute is slow and error-prone
  (cold caches); the analysis's 5-minute warm-up keeps all of that out of the judgment.
* Traffic: Poisson requests (2500 a minute per side) and checkout sessions (400 a minute per
  side), equal on both sides unless a scenario says otherwise. The rate follows a daily pattern
  (a sine with its peak at 12:00 UTC) and a slow wobble (AR(1), time constant 10 min, sd 5%), both
  shared by the two sides, times a per-side AR(1) noise (uneven routing, sticky users).
* Latency: every request's duration is lognormal (median 0.18 s, sigma 0.5: p99 ~0.58 s). The
  median moves with load (load^0.5, shared) and with a per-side AR(1) noise (time constant 10 min,
  sd 3%: a pod on a slower host). Durations are counted into histogram buckets, and the p99 is
  computed exactly as PromQL `histogram_quantile` does (linear interpolation inside the bucket).
* Errors: each request fails (5xx) with probability 0.5% times a per-side AR(1) factor (sd 10%).
* Conversion: each session completes a checkout with probability 32% times a per-side AR(1)
  factor (sd 3%), after a geometric delay (mean 2 min), so completions lag sessions.

Every AR(1) noise has a time constant of 10 minutes (~a window's worth of slow drift). The noise
paths come from their own seeded generators, so every fixture has the same drift; the per-request
draws (counts, durations) are seeded too, and differ from `healthy` only where a scenario changes
their parameters.

What Prometheus would return, at the window's step (1 min), timestamps = interval ends:

* `sum(increase(counter[1m]))` at t: the samples in (t-60s, t] are 15 s apart and cover 45 s,
  which Prometheus extrapolates to the full minute, so the value is 4/3 x the events in
  (t-45s, t]: not an integer, as real `increase()` results are not.
* `histogram_quantile(0.99, sum by (le) (rate(bucket[2m])))` at t: the quantile of the bucket
  counts in (t-105s, t] (rate's extrapolation scales all buckets alike and cancels); NaN where
  there were no requests.

Points run from the window start to its end inclusive (31 per series), as `query_range` returns.
Queries are the analysis's templates rendered with its variables (baseline
`deployment="checkout-baseline"`, canary `deployment="checkout-canary"`); the script checks that
each template still appears verbatim in analyses/checkout.yaml.
"""

import datetime
import json
import math
import os
import re

import numpy as np

SEED = 20261123
ANALYSIS_FILE = "analyses/checkout.yaml"
OUT_DIR = "fixtures"

# The window the recordings cover (the analysis's `last: 30m`, `step: 1m`).
WINDOW_END = datetime.datetime(2026, 11, 23, 10, 30, tzinfo=datetime.timezone.utc)
WINDOW_SECONDS = 30 * 60
STEP = 60
SLOT = 15  # scrape interval
DEPLOYED_BEFORE_START = 60  # both deployments start this long before the window

# Baseline behaviour (per side, at the window's load).
REQUESTS_PER_MIN = 2500.0
SESSIONS_PER_MIN = 400.0
LATENCY_MEDIAN = 0.18  # seconds
LATENCY_SIGMA = 0.5  # of log duration
ERROR_PROB = 0.005
CONVERSION_PROB = 0.32
CHECKOUT_DELAY_SLOTS = 8.0  # mean delay between session start and completed checkout

# Shared drift.
DAILY_AMPLITUDE = 0.30  # traffic = 1 + A sin(...), peak at 12:00 UTC
SHARED_LOAD_SD = 0.05  # AR(1) on log traffic, shared by both sides
LOAD_LATENCY_EXPONENT = 0.5  # latency median grows as load^0.5

# Per-side AR(1) noise (sd of the log factor), all with the same time constant.
AR_TIME_CONSTANT = 600.0  # seconds
TRAFFIC_SD = 0.03
LATENCY_SD = 0.03
ERROR_SD = 0.10
CONVERSION_SD = 0.03

# Cold start of a fresh deployment.
RAMP_TIME_CONSTANT = 30.0  # traffic share reaches 1 - e^-1 after 30 s
COLD_TIME_CONSTANT = 45.0
COLD_LATENCY = 1.0  # +100% right at start, decaying
COLD_ERRORS = 2.0  # x3 right at start, decaying

# Histogram buckets of http_request_duration_seconds (`le`), +Inf last.
BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, math.inf]

VARIABLES = {"baseline": 'deployment="checkout-baseline"', "canary": 'deployment="checkout-canary"'}
BUILTINS = {"step": "1m"}

# The analysis's query templates by metric and role (must match analyses/checkout.yaml).
METRICS = {
    "error_rate": {
        "numerator": 'sum(increase(http_requests_total{ {{ selector }}, code=~"5.." }[{{ step }}]))',
        "denominator": "sum(increase(http_requests_total{ {{ selector }} }[{{ step }}]))",
    },
    "p99_latency": {
        "value": "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{ {{ selector }} }[{{ range }}])))",
    },
    "conversion": {
        "numerator": "sum(increase(checkouts_completed_total{ {{ selector }} }[{{ step }}]))",
        "denominator": "sum(increase(checkout_sessions_started_total{ {{ selector }} }[{{ step }}]))",
    },
}
RANGES = {"p99_latency": "2m"}

# Scenarios: the canary's factors on the baseline's behaviour, and the traffic of both sides.
SCENARIOS = {
    "healthy": {
        "about": "Canary and baseline run the same code: every metric passes.",
    },
    "latency-regression": {
        "about": "Every canary request is 40% slower (p99 up ~40%); errors and conversion unchanged.",
        "latency": 1.4,
    },
    "error-spike-low-traffic": {
        "about": "A quiet service (~20 requests and ~3 sessions a minute per side); the canary fails"
        " 5% of requests against the baseline's 0.5%.",
        "requests_per_min": 20.0,
        "sessions_per_min": 3.0,
        "errors": 10.0,
    },
    "conversion-drop": {
        "about": "The canary converts 25% fewer checkout sessions; errors and latency unchanged.",
        "conversion": 0.75,
    },
    "improvement": {
        "about": "The canary is better on every metric: 60% fewer errors, 25% faster, 10% more conversions.",
        "errors": 0.4,
        "latency": 0.75,
        "conversion": 1.10,
    },
    "no-canary-traffic": {
        "about": "The canary receives no traffic (say, its pods are missing from the load balancer):"
        " its counters stay at 0 and its latency quantile is NaN.",
        "traffic": 0.0,
    },
}


def render(template, side, metric):
    """Renders `{{ name }}` like the crate's minijinja templates (strict: unknown names fail)."""
    context = dict(BUILTINS, selector=VARIABLES[side], side=side, range=RANGES.get(metric, BUILTINS["step"]))

    def value(match):
        return context[match.group(1)]

    return re.sub(r"\{\{\s*(\w+)\s*\}\}", value, template)


def check_templates():
    with open(ANALYSIS_FILE) as f:
        text = f.read()
    for metric, roles in METRICS.items():
        for role, template in roles.items():
            if f"'{template}'" not in text:
                raise SystemExit(f"{ANALYSIS_FILE} no longer has the {role} query of {metric}: {template}")


def ar1(rng, n, sd):
    """A stationary AR(1) path of n slots with the given sd and time constant AR_TIME_CONSTANT."""
    phi = math.exp(-SLOT / AR_TIME_CONSTANT)
    shocks = rng.normal(0.0, sd * math.sqrt(1 - phi * phi), n)
    path = np.empty(n)
    path[0] = rng.normal(0.0, sd)
    for i in range(1, n):
        path[i] = phi * path[i - 1] + shocks[i]
    return path


def daily_load(seconds):
    """Traffic relative to its level at the window's middle (peak at 12:00 UTC)."""
    def level(t):
        return 1 + DAILY_AMPLITUDE * np.sin(2 * np.pi * ((t % 86400) - 6 * 3600) / 86400)

    middle = WINDOW_END.timestamp() - WINDOW_SECONDS / 2
    return level(seconds) / level(middle)


def histogram_quantile(q, cumulative):
    """PromQL histogram_quantile over cumulative bucket counts (BUCKETS order, +Inf last)."""
    total = cumulative[-1]
    if total == 0:
        return math.nan
    rank = q * total
    # first bucket below +Inf whose count reaches the rank; +Inf when none does
    b = next((i for i in range(len(cumulative) - 1) if cumulative[i] >= rank), len(cumulative) - 1)
    if b == len(cumulative) - 1:
        return BUCKETS[-2]
    start, count = 0.0, cumulative[b]
    if b > 0:
        start = BUCKETS[b - 1]
        count -= cumulative[b - 1]
        rank -= cumulative[b - 1]
    return start + (BUCKETS[b] - start) * (rank / count)


def simulate(scenario):
    """Per-slot requests, errors, bucket counts, sessions and checkouts of both sides."""
    end = int(WINDOW_END.timestamp())
    deployed = end - WINDOW_SECONDS - DEPLOYED_BEFORE_START
    slots = (end - deployed) // SLOT
    slot_end = deployed + SLOT * (np.arange(slots) + 1)
    age = slot_end - deployed - SLOT / 2  # age of the deployment in the middle of each slot
    shared = np.random.default_rng([SEED, 0])
    load = daily_load(slot_end) * np.exp(ar1(shared, slots, SHARED_LOAD_SD))
    ramp = 1 - np.exp(-age / RAMP_TIME_CONSTANT)
    cold = np.exp(-age / COLD_TIME_CONSTANT)
    requests_per_min = scenario.get("requests_per_min", REQUESTS_PER_MIN)
    sessions_per_min = scenario.get("sessions_per_min", SESSIONS_PER_MIN)
    sides = {}
    for index, side in enumerate(["baseline", "canary"], start=1):
        factor = (lambda key: scenario.get(key, 1.0)) if side == "canary" else (lambda key: 1.0)
        noise = np.random.default_rng([SEED, index, 0])
        traffic = load * np.exp(ar1(noise, slots, TRAFFIC_SD)) * ramp * factor("traffic")
        latency_median = (
            LATENCY_MEDIAN
            * load**LOAD_LATENCY_EXPONENT
            * np.exp(ar1(noise, slots, LATENCY_SD))
            * (1 + COLD_LATENCY * cold)
            * factor("latency")
        )
        error_prob = np.minimum(
            1.0, ERROR_PROB * np.exp(ar1(noise, slots, ERROR_SD)) * (1 + COLD_ERRORS * cold) * factor("errors")
        )
        conversion_prob = np.minimum(1.0, CONVERSION_PROB * np.exp(ar1(noise, slots, CONVERSION_SD)) * factor("conversion"))

        draws = np.random.default_rng([SEED, index, 1])
        requests = draws.poisson(requests_per_min * SLOT / 60 * traffic)
        errors = draws.binomial(requests, error_prob)
        sessions = draws.poisson(sessions_per_min * SLOT / 60 * traffic)
        converting = draws.binomial(sessions, conversion_prob)
        checkouts = np.zeros(slots, dtype=np.int64)
        for i, k in enumerate(converting):
            if k:
                later = i + draws.geometric(1 / CHECKOUT_DELAY_SLOTS, size=k) - 1
                np.add.at(checkouts, later[later < slots], 1)

        durations = np.random.default_rng([SEED, index, 2])
        buckets = np.zeros((slots, len(BUCKETS)), dtype=np.int64)
        for i, n in enumerate(requests):
            seconds = durations.lognormal(math.log(latency_median[i]), LATENCY_SIGMA, n)
            # cumulative counts per `le`: requests with duration <= le
            buckets[i] = np.searchsorted(np.sort(seconds), BUCKETS, side="right")
        sides[side] = {
            "requests": requests,
            "errors": errors,
            "buckets": buckets,
            "sessions": sessions,
            "checkouts": checkouts,
        }
    return slot_end, sides


def number(value, digits):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    value = round(value, digits)
    return int(value) if value == int(value) else value


def series_of(slot_end, sides):
    """The Prometheus answer of every query: {side: {metric: {role: [[t, value], ...]}}}."""
    end = int(WINDOW_END.timestamp())
    times = range(end - WINDOW_SECONDS, end + 1, STEP)
    per_step = STEP // SLOT

    def increase(counts, t):
        covered = (slot_end > t - (per_step - 1) * SLOT) & (slot_end <= t)  # (t-45s, t]
        return counts[covered].sum() * per_step / (per_step - 1)

    def p99(buckets, t):
        covered = (slot_end > t - 2 * STEP + SLOT) & (slot_end <= t)  # (t-105s, t]
        return histogram_quantile(0.99, buckets[covered].sum(axis=0))

    out = {}
    for side, data in sides.items():
        out[side] = {
            "error_rate": {
                "numerator": [[t, number(increase(data["errors"], t), 4)] for t in times],
                "denominator": [[t, number(increase(data["requests"], t), 4)] for t in times],
            },
            "p99_latency": {"value": [[t, number(p99(data["buckets"], t), 6)] for t in times]},
            "conversion": {
                "numerator": [[t, number(increase(data["checkouts"], t), 4)] for t in times],
                "denominator": [[t, number(increase(data["sessions"], t), 4)] for t in times],
            },
        }
    return out


def recording(values):
    start = WINDOW_END - datetime.timedelta(seconds=WINDOW_SECONDS)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    metrics = {}
    for metric, roles in METRICS.items():
        metrics[metric] = {
            side: {
                "queries": {
                    role: {
                        "query": render(template, side, metric),
                        "series": [{"labels": {}, "points": values[side][metric][role]}],
                    }
                    for role, template in sorted(roles.items())
                }
            }
            for side in ("baseline", "canary")
        }
    return {
        "format": "canary-recording",
        "version": 1,
        "analysis": "checkout",
        "source": {"kind": "synthetic"},
        "window": {"start": stamp(start), "end": stamp(WINDOW_END), "step_seconds": STEP},
        "point_time": "interval_end",
        "metrics": metrics,
    }


def dump(document):
    """Indented JSON with each [time, value] point on one line."""
    text = json.dumps(document, indent=2, allow_nan=False)
    return re.sub(r"\[\s+(-?\d+),\s+([^\s\[\]]+)\s+\]", r"[\1, \2]", text) + "\n"


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    check_templates()
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, scenario in SCENARIOS.items():
        slot_end, sides = simulate(scenario)
        path = os.path.join(OUT_DIR, f"{name}.json")
        with open(path, "w") as f:
            f.write(dump(recording(series_of(slot_end, sides))))
        print(f"{path}: {scenario['about']}")


if __name__ == "__main__":
    main()
