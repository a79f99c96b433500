#!/usr/bin/env python3
"""Writes the hand-made recordings the Kayenta import tests judge (deterministic, seeded):

* prometheus-recording.json for the analysis imported from prometheus-canary-config.json: CPU and
  p99 latency alike on both sides; the canary's error rate three times the baseline's (Kayenta: a
  critical High, score 0, Fail).
* datadog-recording.json for datadog-canary-config.json: both metrics alike on both sides (Pass).

    python3 tests/data/kayenta/make_recordings.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
START = 1795428000  # 2026-11-23T10:00:00Z
STEP = 60
N = 61


def series(values):
    return [{"labels": {}, "points": [[START + i * STEP, round(v, 6)] for i, v in enumerate(values)]}]


def metric(baseline_query, canary_query, baseline, canary):
    return {
        "baseline": {"queries": {"value": {"query": baseline_query, "series": series(baseline)}}},
        "canary": {"queries": {"value": {"query": canary_query, "series": series(canary)}}},
    }


def recording(analysis, metrics, source):
    return {
        "format": "canary-recording",
        "version": 1,
        "analysis": analysis,
        "source": {"kind": source},
        "window": {"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T11:00:00Z", "step_seconds": STEP},
        "point_time": "interval_end" if source == "prometheus" else "interval_start",
        "metrics": metrics,
    }


def main():
    rng = random.Random(8)
    g = lambda mu, sd: [max(0.0, rng.gauss(mu, sd)) for _ in range(N)]  # noqa: E731
    cpu = "avg(container_cpu_usage_seconds_rate{{pod=~\"{s}.*\",namespace=\"\"}})"
    err = ("sum(rate(http_requests_total{{pod=~\"{s}.*\",code=~\"5..\"}}[1m])) / "
           "sum(rate(http_requests_total{{pod=~\"{s}.*\"}}[1m]))")
    lat = ("histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
           "{{pod=~\"{s}.*\",region=\"\"}}[1m])))")
    prom = {
        "cpu_usage": metric(cpu.format(s="baseline"), cpu.format(s="canary"), g(0.40, 0.03), g(0.40, 0.03)),
        "error_rate": metric(err.format(s="baseline"), err.format(s="canary"), g(0.01, 0.002), g(0.03, 0.004)),
        "latency_p99": metric(lat.format(s="baseline"), lat.format(s="canary"), g(0.25, 0.02), g(0.25, 0.02)),
    }
    with open(os.path.join(HERE, "prometheus-recording.json"), "w") as f:
        json.dump(recording("checkout-prometheus", prom, "prometheus"), f, indent=1)
        f.write("\n")
    errors = "avg:trace.http.request.errors{{service:checkout,version:{s}}}.as_count()"
    cpu_dd = "avg:system.cpu.user{{{s}}}"
    dd = {
        "errors": metric(errors.format(s="baseline"), errors.format(s="canary"), g(3.0, 1.0), g(3.0, 1.0)),
        "cpu": metric(cpu_dd.format(s="baseline"), cpu_dd.format(s="canary"), g(35.0, 3.0), g(35.0, 3.0)),
    }
    with open(os.path.join(HERE, "datadog-recording.json"), "w") as f:
        json.dump(recording("checkout-datadog", dd, "datadog"), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
