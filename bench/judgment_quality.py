#!/usr/bin/env python3
"""Judgment-quality benchmark: `canary judge` against Kayenta's NetflixACAJudge on synthetic
canary/baseline data shaped like Prometheus data.

Each scenario is a 30-minute window at 1-minute steps. Per side and minute the simulation draws
the requests (Poisson around the side's traffic, times a shared traffic drift), their log-normal
latencies, the binomial errors among them, and sessions with binomial conversions. It records:

* p99_latency: the p99 of the requests of the last 2 minutes (the default; an overlapping window
  like `histogram_quantile(0.99, rate(x_bucket[2m]))` at 1-minute steps) or of the last minute
  (`--latency-window 1`), computed from the simulated requests;
* error_rate: errors and requests per minute (numerator and denominator series);
* conversion: conversions and sessions per minute.

Drift: one shared by both sides (a slow sinusoid plus a random walk over the window, on traffic,
latency and the error/conversion probabilities), and per side a slowly drifting instance noise
(AR(1), time constant ~10 minutes, a few percent) on latency and on both probabilities, which is
what makes two deployments of identical code differ by more than Poisson noise.

Traffic levels: (a) equal baseline and canary, (b) a 10% canary against a production-sized
baseline, (c) low traffic. Scenario kinds: A/A, regressions (p99 latency up, error rate up,
conversion down, three sizes each) and improvements (latency down, errors halved).

Each scenario is written as a canary recording for bench/quality-analysis.yaml and judged by
`canary judge ANALYSIS --replay FILE --format json`, and on the same recording by the
Kayenta-compatible judge `canary judge ANALYSIS --replay FILE --judge kayenta --format json`
(src/kayenta/: NetflixACAJudge's classifier on the p99 series for latency and the
per-minute error and conversion ratio series for the counts, judge defaults, and its scorer with
pass 95, marginal 75; Marginal counts as not-a-pass). That is the report's Kayenta column. By
default the Python port bench/kayenta_judge.py judges the same per-minute series too, as a
cross-check: the report shows how often the two agree (`--kayenta python` uses the Python port
alone, `--kayenta rust` the Rust judge alone). Prints a Markdown report.

    python3 bench/judgment_quality.py [--runs 100] [--aa-runs 300] [--seed 1] [--jobs 2]
                                      [--kayenta both|rust|python] [--kayenta-only]
                                      [--minutes 30] [--traffic BASELINE,CANARY --levels x]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kayenta_judge as kj  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WINDOW_START = 1767225600  # 2026-01-01T00:00:00Z, a whole minute
STEP = 60
ANALYSIS_NAME = "judgment-quality"

# The analysis's metrics: query templates as written in bench/quality-analysis.yaml (checked at
# start-up), rendered with each side's selector into the recordings.
SELECTORS = {"baseline": 'deployment="quality-baseline"', "canary": 'deployment="quality-canary"'}
QUERIES = {
    "error_rate": {
        "numerator": 'sum(increase(http_requests_total{ {{ selector }}, code=~"5.." }[1m]))',
        "denominator": 'sum(increase(http_requests_total{ {{ selector }} }[1m]))',
    },
    "p99_latency": {
        "value": "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
                 "{ {{ selector }} }[2m])))",
    },
    "conversion": {
        "numerator": "sum(increase(checkouts_completed_total{ {{ selector }} }[1m]))",
        "denominator": "sum(increase(sessions_started_total{ {{ selector }} }[1m]))",
    },
}
# Kayenta's metric configs: direction, groups (one per metric, no weights: 33.3 each)
KAYENTA_METRICS = {
    "error_rate": {"direction": "increase", "group": "errors"},
    "p99_latency": {"direction": "increase", "group": "latency"},
    "conversion": {"direction": "decrease", "group": "business"},
}
BAD_DIRECTION = {"error_rate": "high", "p99_latency": "high", "conversion": "low"}

LEVELS = [
    # key, label, baseline req/min, canary req/min
    ("a", "(a) equal: 600 + 600 req/min", 600, 600),
    ("b", "(b) 10% canary: 1800 baseline + 200 canary req/min", 1800, 200),
    ("c", "(c) low traffic: 30 + 30 req/min", 30, 30),
]

# key, label, category, metric, factor on the canary (latencies, error or conversion probability)
KINDS = [
    ("aa", "A/A (no change)", "aa", None, 1.0),
    ("lat+10", "p99 latency +10%", "regression", "p99_latency", 1.10),
    ("lat+25", "p99 latency +25%", "regression", "p99_latency", 1.25),
    ("lat+50", "p99 latency +50%", "regression", "p99_latency", 1.50),
    ("err*1.5", "error rate ×1.5", "regression", "error_rate", 1.5),
    ("err*2", "error rate ×2", "regression", "error_rate", 2.0),
    ("err*4", "error rate ×4", "regression", "error_rate", 4.0),
    ("conv-5", "conversion −5%", "regression", "conversion", 0.95),
    ("conv-10", "conversion −10%", "regression", "conversion", 0.90),
    ("conv-25", "conversion −25%", "regression", "conversion", 0.75),
    ("lat-25", "p99 latency −25% (improvement)", "improvement", "p99_latency", 0.75),
    ("err*0.5", "error rate ×0.5 (improvement)", "improvement", "error_rate", 0.5),
]


@dataclass(frozen=True)
class Model:
    minutes: int = 30
    latency_window: int = 2  # minutes of requests behind each p99 point
    latency_median: float = 0.100  # seconds
    latency_sigma: float = 0.5  # log-normal shape: p99 = median * exp(2.326 sigma) ~ 0.32 s
    error_probability: float = 0.005
    conversion_probability: float = 0.08
    sessions_per_request: float = 0.25
    # shared drift (both sides): sinusoid amplitude (log scale) with a period of 45-180 minutes,
    # plus a random walk (log scale, sd per minute)
    shared_traffic: float = 0.15
    shared_latency: float = 0.05
    shared_errors: float = 0.15
    shared_conversion: float = 0.05
    shared_walk: float = 0.005
    # per-side instance noise: AR(1) with this time constant (minutes) and stationary sd (log scale)
    instance_tau: float = 10.0
    instance_latency: float = 0.03
    instance_errors: float = 0.03
    instance_conversion: float = 0.03


# --------------------------------------------------------------------------------------------------
# Simulation


def _ar1(rng: np.random.Generator, n: int, tau: float, sd: float) -> np.ndarray:
    phi = math.exp(-1.0 / tau)
    out = np.empty(n)
    out[0] = rng.normal(0.0, sd)
    innovation = sd * math.sqrt(1.0 - phi * phi)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + rng.normal(0.0, innovation)
    return out


def _shared(rng: np.random.Generator, n: int, amplitude: float, walk: float) -> np.ndarray:
    t = np.arange(n)
    period = rng.uniform(45.0, 180.0)
    phase = rng.uniform(0.0, 2 * math.pi)
    steps = rng.normal(0.0, walk, n)
    steps[0] = 0.0
    return amplitude * np.sin(2 * math.pi * t / period + phase) + np.cumsum(steps)


def simulate(model: Model, rng: np.random.Generator, baseline_rate: float, canary_rate: float,
             metric: str | None, factor: float) -> dict:
    """Per-minute series of both sides. Index 0 of the simulated minutes lies before the window
    (needed by the overlapping latency window); the window's minutes are 1..minutes."""
    lead = model.latency_window - 1
    n = model.minutes + lead
    shared = {
        "traffic": _shared(rng, n, model.shared_traffic, model.shared_walk),
        "latency": _shared(rng, n, model.shared_latency, model.shared_walk),
        "errors": _shared(rng, n, model.shared_errors, model.shared_walk),
        "conversion": _shared(rng, n, model.shared_conversion, model.shared_walk),
    }
    sides = {}
    for side, rate in (("baseline", baseline_rate), ("canary", canary_rate)):
        changed = side == "canary"
        lat_factor = factor if changed and metric == "p99_latency" else 1.0
        err_factor = factor if changed and metric == "error_rate" else 1.0
        conv_factor = factor if changed and metric == "conversion" else 1.0
        noise_lat = _ar1(rng, n, model.instance_tau, model.instance_latency)
        noise_err = _ar1(rng, n, model.instance_tau, model.instance_errors)
        noise_conv = _ar1(rng, n, model.instance_tau, model.instance_conversion)
        traffic = np.exp(shared["traffic"])
        requests = rng.poisson(rate * traffic)
        sessions = rng.poisson(rate * model.sessions_per_request * traffic)
        p_err = np.clip(model.error_probability * err_factor * np.exp(shared["errors"] + noise_err), 0, 1)
        p_conv = np.clip(model.conversion_probability * conv_factor * np.exp(shared["conversion"] + noise_conv), 0, 1)
        errors = rng.binomial(requests, p_err)
        conversions = rng.binomial(sessions, p_conv)
        log_median = math.log(model.latency_median * lat_factor) + shared["latency"] + noise_lat
        latencies = [np.exp(rng.normal(log_median[t], model.latency_sigma, requests[t])) for t in range(n)]
        p99 = np.empty(model.minutes)
        for i in range(model.minutes):
            t = i + lead
            window = np.concatenate(latencies[t - lead:t + 1])
            p99[i] = np.quantile(window, 0.99) if window.size else float("nan")
        sides[side] = {
            "requests": requests[lead:].astype(float),
            "errors": errors[lead:].astype(float),
            "sessions": sessions[lead:].astype(float),
            "conversions": conversions[lead:].astype(float),
            "p99": p99,
        }
    return sides


def recording(model: Model, sides: dict, queries: dict) -> dict:
    times = [WINDOW_START + STEP * (i + 1) for i in range(model.minutes)]  # interval ends

    def series(values):
        points = [[t, (float(v) if math.isfinite(v) else "NaN")] for t, v in zip(times, values)]
        return [{"labels": {}, "points": points}]

    def render(template, side):
        return template.replace("{{ selector }}", SELECTORS[side])

    metrics = {}
    for side in ("baseline", "canary"):
        data = sides[side]
        by_metric = {
            "error_rate": {"numerator": data["errors"], "denominator": data["requests"]},
            "p99_latency": {"value": data["p99"]},
            "conversion": {"numerator": data["conversions"], "denominator": data["sessions"]},
        }
        for name, roles in by_metric.items():
            side_doc = metrics.setdefault(name, {}).setdefault(side, {"queries": {}})
            for role, values in roles.items():
                side_doc["queries"][role] = {"query": render(queries[name][role], side), "series": series(values)}
    end = WINDOW_START + STEP * model.minutes
    return {
        "format": "canary-recording",
        "version": 1,
        "analysis": ANALYSIS_NAME,
        "source": {"kind": "synthetic"},
        "window": {"start": _rfc3339(WINDOW_START), "end": _rfc3339(end), "step_seconds": STEP},
        "point_time": "interval_end",
        "metrics": metrics,
    }


def _rfc3339(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# --------------------------------------------------------------------------------------------------
# The two judges


def judge_kayenta(sides: dict) -> dict:
    """The Python port of Kayenta (bench/kayenta_judge.py) on the per-minute series: the p99 series, and the per-minute error and
    conversion ratios (NaN where the minute had no requests/sessions; nanStrategy remove)."""

    def ratio(numerator, denominator):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)

    values = {}
    for side in ("baseline", "canary"):
        d = sides[side]
        values[side] = {
            "error_rate": ratio(d["errors"], d["requests"]),
            "p99_latency": d["p99"],
            "conversion": ratio(d["conversions"], d["sessions"]),
        }
    results = []
    metrics = {}
    for name, config in KAYENTA_METRICS.items():
        r = kj.classify(values["canary"][name], values["baseline"][name], name=name, direction=config["direction"])
        results.append({"name": name, "classification": r["classification"], "groups": [config["group"]],
                        "critical": r["critical"], "reason": r["reason"]})
        metrics[name] = {k: r.get(k) for k in ("classification", "ci_lower", "ci_upper", "estimate", "ratio")}
    summary = kj.score(results)
    return {"verdict": kj.kayenta_verdict(summary), "classification": summary["classification"],
            "score": summary["score"], "metrics": metrics}


def judge_kayenta_rust(binary: str, analysis: str, path: str) -> dict:
    """The Kayenta-compatible judge of canary (`--judge kayenta`) on the recording: the same shape
    as judge_kayenta's result (verdict pass only for a Pass summary, Kayenta's own per-metric
    labels). A run without a usable report is verdict "error" with every metric "Error"."""
    proc = subprocess.run([binary, "judge", analysis, "--replay", path, "--judge", "kayenta", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    failed = {"verdict": "error", "classification": None, "score": None, "exit": proc.returncode,
              "stderr": proc.stderr[-2000:], "metrics": {name: {"classification": "Error"} for name in KAYENTA_METRICS}}
    try:
        report = json.loads(proc.stdout)
        summary = report["kayenta_verdict"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return failed
    expected = {0: "pass", 1: "fail", 3: "inconclusive"}
    out = {"verdict": "pass" if summary.get("classification") == "Pass" else "fail",
           "classification": summary.get("classification"), "score": summary.get("score"),
           "exit": proc.returncode, "metrics": {}}
    if report.get("judge") != "kayenta" or expected.get(proc.returncode) != report.get("verdict"):
        out["exit_mismatch"] = True
        out["stderr"] = proc.stderr[-2000:]
    for metric in report.get("metrics", []):
        k = metric.get("kayenta") or {}
        out["metrics"][metric.get("name")] = {key: k.get(key) for key in
                                              ("classification", "ci_lower", "ci_upper", "estimate", "ratio")}
    for name in KAYENTA_METRICS:
        out["metrics"].setdefault(name, {"classification": "Error"})
    return out


def judge_canary(binary: str, analysis: str, path: str) -> dict:
    proc = subprocess.run([binary, "judge", analysis, "--replay", path, "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    expected = {0: "pass", 1: "fail", 3: "inconclusive"}
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"verdict": "error", "exit": proc.returncode, "stderr": proc.stderr[-2000:], "metrics": {}}
    verdict = report.get("verdict")
    out = {"verdict": verdict, "exit": proc.returncode, "score": report.get("score"),
           "reason": report.get("reason"), "metrics": {}}
    if expected.get(proc.returncode) != verdict:
        out["exit_mismatch"] = True
        out["stderr"] = proc.stderr[-2000:]
    for metric in report.get("metrics", []):
        out["metrics"][metric.get("name")] = {
            "classification": metric.get("classification"),
            "reason": metric.get("reason"),
            "samples": [metric.get("baseline", {}).get("samples"), metric.get("canary", {}).get("samples")],
            "findings": sorted({f.get("kind") for f in metric.get("findings", [])}),
            "tests": [
                {k: t.get(k) for k in ("test", "outcome", "p_value", "adjusted_p_value", "estimate", "ci_low",
                                       "ci_high", "margin")}
                for t in metric.get("tests", [])
            ],
        }
    return out


# --------------------------------------------------------------------------------------------------
# One scenario (runs in a worker process)


@dataclass(frozen=True)
class Task:
    level: int
    kind: int
    run: int
    seed: int
    model: Model
    binary: str | None  # canary's binary: needed when canary or the Rust Kayenta judge runs
    run_canary: bool  # the default judge (not with --kayenta-only)
    kayenta: str  # both | rust | python
    analysis: str
    workdir: str
    keep: bool


def run_task(task: Task) -> dict:
    level_key, _, baseline_rate, canary_rate = LEVELS[task.level]
    kind_key, _, category, metric, factor = KINDS[task.kind]
    rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=(task.level, task.kind, task.run)))
    sides = simulate(task.model, rng, baseline_rate, canary_rate, metric, factor)
    record = {"level": level_key, "kind": kind_key, "category": category, "metric": metric, "run": task.run}
    rust = task.kayenta in ("both", "rust")
    if task.kayenta in ("both", "python"):
        t0 = time.perf_counter()
        python_result = judge_kayenta(sides)
        record["kayenta_python_seconds"] = time.perf_counter() - t0
        record["kayenta_python" if rust else "kayenta"] = python_result
    if task.run_canary or rust:
        queries = QUERIES
        if task.model.latency_window != 2:
            queries = {**QUERIES, "p99_latency": {"value": QUERIES["p99_latency"]["value"].replace(
                "[2m]", f"[{task.model.latency_window}m]")}}
        path = os.path.join(task.workdir, f"{level_key}-{kind_key}-{task.run:04d}.json")
        with open(path, "w") as f:
            json.dump(recording(task.model, sides, queries), f)
        if rust:
            t0 = time.perf_counter()
            record["kayenta"] = judge_kayenta_rust(task.binary, task.analysis, path)
            record["kayenta_seconds"] = time.perf_counter() - t0
        if task.run_canary:
            t0 = time.perf_counter()
            record["canary"] = judge_canary(task.binary, task.analysis, path)
            record["canary_seconds"] = time.perf_counter() - t0
        if not task.keep:
            os.unlink(path)
    return record


# --------------------------------------------------------------------------------------------------
# Report


def pct(count: int, total: int) -> str:
    if total == 0:
        return "–"
    return f"{100.0 * count / total:.1f}% ({count})"


def wilson_upper(count: int, total: int, z: float = 1.959964) -> float:
    if total == 0:
        return float("nan")
    p = count / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre + spread) / (1 + z * z / total)


def canary_detected(r: dict) -> bool:
    c = r.get("canary", {})
    cls = c.get("metrics", {}).get(r["metric"], {}).get("classification")
    return c.get("verdict") == "fail" and cls == "fail_" + BAD_DIRECTION[r["metric"]]


def mcnemar(rs: list[dict]) -> float:
    """Two-sided exact McNemar p-value of canary vs Kayenta detection on the same scenarios."""
    only_kayenta = sum(kayenta_detected(r) and not canary_detected(r) for r in rs)
    only_canary = sum(canary_detected(r) and not kayenta_detected(r) for r in rs)
    if only_kayenta + only_canary == 0:
        return 1.0
    return float(binomtest(only_kayenta, only_kayenta + only_canary, 0.5).pvalue)


def kayenta_detected(r: dict) -> bool:
    k = r["kayenta"]
    want = "High" if BAD_DIRECTION[r["metric"]] == "high" else "Low"
    return k["verdict"] == "fail" and k["metrics"][r["metric"]]["classification"] == want


def scenario_key(r: dict) -> str:
    """The scenario's name, as in its recording's file name (with --keep DIR: DIR/KEY.json)."""
    return f"{r['level']}-{r['kind']}-{r['run']:04d}"


def kayenta_agreement(records: list[dict]) -> list[str]:
    """The Rust Kayenta judge against the Python port, per traffic level (records with both)."""
    lines = []
    out = lines.append
    both = [r for r in records if "kayenta_python" in r]
    if not both:
        return lines
    out("### Kayenta column: the Rust judge against the Python port")
    out("")
    out("The Kayenta column above is `canary judge --judge kayenta` on each scenario's recording; "
        "`bench/kayenta_judge.py` judged the same per-minute series as a cross-check. Verdicts agree "
        "when Kayenta's summary classification (Pass/Marginal/Fail) is the same; metrics agree when "
        "Kayenta's classification (Pass/High/Low/Nodata/NodataFailMetric/Error) of every metric is the same.")
    out("")
    out("| traffic | runs | verdicts agree | every metric agrees | "
        + " | ".join(f"{name} agrees" for name in KAYENTA_METRICS) + " | Rust judge errors |")
    out("|---|---:|---:|---:|" + "---:|" * len(KAYENTA_METRICS) + "---:|")

    def verdict_agrees(r):
        return r["kayenta"]["classification"] == r["kayenta_python"]["classification"]

    def metric_agrees(r, name):
        return (r["kayenta"]["metrics"][name]["classification"]
                == r["kayenta_python"]["metrics"][name]["classification"])

    groups = [(label, [r for r in both if r["level"] == key]) for key, label, _, _ in LEVELS]
    if sum(bool(rs) for _, rs in groups) > 1:
        groups.append(("all", both))
    for label, rs in groups:
        if not rs:
            continue
        n = len(rs)
        cells = [pct(sum(verdict_agrees(r) for r in rs), n),
                 pct(sum(all(metric_agrees(r, m) for m in KAYENTA_METRICS) for r in rs), n)]
        cells += [pct(sum(metric_agrees(r, m) for r in rs), n) for m in KAYENTA_METRICS]
        cells.append(pct(sum(r["kayenta"]["verdict"] == "error" or r["kayenta"].get("exit_mismatch", False)
                             for r in rs), n))
        out(f"| {label} | {n} | " + " | ".join(cells) + " |")
    out("")
    disagreements = [r for r in both if not verdict_agrees(r)
                     or not all(metric_agrees(r, m) for m in KAYENTA_METRICS)]
    if not disagreements:
        out("No disagreements.")
        out("")
        return lines
    shown = 5
    out(f"{len(disagreements)} disagreement(s)" + (f"; the first {shown}" if len(disagreements) > shown else "")
        + " (scenario: Rust / Python):")
    out("")

    def score(k):
        return "–" if k.get("score") is None else f"{k['score']:.1f}"

    for r in disagreements[:shown]:
        k, p = r["kayenta"], r["kayenta_python"]
        parts = [f"summary {k['classification']} ({score(k)}) / {p['classification']} ({score(p)})"]
        for name in KAYENTA_METRICS:
            if not metric_agrees(r, name):
                km, pm = k["metrics"][name], p["metrics"][name]
                detail = ""
                if km.get("ci_lower") is not None and pm.get("ci_lower") is not None:
                    detail = (f" (interval [{km['ci_lower']:.4g}, {km['ci_upper']:.4g}] / "
                              f"[{pm['ci_lower']:.4g}, {pm['ci_upper']:.4g}])")
                parts.append(f"{name} {km['classification']} / {pm['classification']}{detail}")
        out(f"- `{scenario_key(r)}`: " + "; ".join(parts))
    out("")
    return lines


def report(records: list[dict], options, command: str, seconds: float, canary_version: str) -> str:
    with_canary = options.run_canary
    by = {}
    for r in records:
        by.setdefault((r["level"], r["kind"]), []).append(r)
    lines = []
    out = lines.append
    out("## Judgment quality: `canary judge` against Kayenta's NetflixACAJudge")
    out("")
    out(f"Command: `{command}`  ")
    port = ("`bench/kayenta_judge.py` (the Python port, checked against Kayenta's own test cases by "
            "`bench/test_kayenta_judge.py`)")
    rust_judge = ("`canary judge --judge kayenta` (src/kayenta/, checked against Kayenta's own test "
                  "cases by tests/integration/kayenta.rs) on the same recording")
    kayenta_source = {"python": port, "rust": rust_judge,
                      "both": f"{rust_judge}, cross-checked with {port}"}[options.kayenta]
    out(f"Took {seconds:.0f} s with {options.jobs} worker(s) ({len(records)} scenarios); "
        f"canary: {canary_version if with_canary else 'not run'}; Kayenta: {kayenta_source}"
        + (f" with {canary_version}" if options.kayenta != "python" and not with_canary else "") + ".")
    out("")
    m = options.model
    out(f"Scenarios: {m.minutes}-minute window at 1-minute steps ({m.minutes} points per series, "
        f"timestamped at the end of their minute) judged with `bench/quality-analysis.yaml` (error_rate: count, "
        f"increase, margin 20%; p99_latency: gauge, increase, margin 5%, "
        f"{'range 2m' if m.latency_window == 2 else 'no range'}; conversion: count, decrease, margin 5%; "
        f"three groups, none critical, alpha 0.01, pass 95, marginal 75). "
        f"Per side and minute: Poisson requests, log-normal latencies (median {m.latency_median * 1000:g} ms, "
        f"σ {m.latency_sigma:g}; p99 of the last {m.latency_window} minute(s) of requests), binomial errors "
        f"(p = {m.error_probability:g}), sessions = {m.sessions_per_request:g} × requests with binomial "
        f"conversions (p = {m.conversion_probability:g}). Shared drift (both sides): sinusoid of period "
        f"45–180 min, log amplitude traffic {m.shared_traffic:g}, latency {m.shared_latency:g}, "
        f"errors {m.shared_errors:g}, conversion {m.shared_conversion:g}, plus a random walk "
        f"({m.shared_walk:g}/min). Per-side instance noise: AR(1), τ = {m.instance_tau:g} min, "
        f"sd latency {m.instance_latency:g}, error probability {m.instance_errors:g}, "
        f"conversion probability {m.instance_conversion:g} (log scale). Regressions and improvements "
        "scale the canary's latencies, error probability or conversion probability.")
    out("")
    out("Kayenta: MannWhitneyClassifier with the judge's defaults (tolerance 0.25, confidence 0.98, "
        "meanRatio thresholds 1.0, nanStrategy remove, no outlier removal) on the per-minute series "
        "(p99 series; error and conversion ratios per minute), the same three groups with equal "
        "weights, WeightedSumScorer, pass 95 / marginal 75; Marginal counts as fail (not a pass).")
    out("")
    out("Detection = verdict fail **and** the changed metric classified as failing in the bad "
        "direction (canary `fail_high`/`fail_low`, Kayenta High/Low).")
    out("")

    # A/A
    out("### A/A (no change): false fails (target ≤ 1%)")
    out("")
    header = "| traffic | runs | Kayenta fail |"
    sep = "|---|---:|---:|"
    if with_canary:
        header = ("| traffic | runs | canary fail | canary fail, 95% upper | canary inconclusive | "
                  "canary pass | Kayenta fail | Kayenta fail, 95% upper |")
        sep = "|---|---:|---:|---:|---:|---:|---:|---:|"
    out(header)
    out(sep)
    for level_key, label, _, _ in LEVELS:
        rs = by.get((level_key, "aa"), [])
        if not rs:
            continue
        n = len(rs)
        kf = sum(r["kayenta"]["verdict"] == "fail" for r in rs)
        if with_canary:
            cf = sum(r["canary"]["verdict"] == "fail" for r in rs)
            ci = sum(r["canary"]["verdict"] == "inconclusive" for r in rs)
            cp = sum(r["canary"]["verdict"] == "pass" for r in rs)
            out(f"| {label} | {n} | {pct(cf, n)} | {100 * wilson_upper(cf, n):.1f}% | {pct(ci, n)} | "
                f"{pct(cp, n)} | {pct(kf, n)} | {100 * wilson_upper(kf, n):.1f}% |")
        else:
            out(f"| {label} | {n} | {pct(kf, n)} |")
    out("")

    # per-metric A/A diagnosis
    out("A/A, per metric (which metric fails or cannot be judged):")
    out("")
    if with_canary:
        out("| traffic | metric | canary fail | canary no_data | canary error | Kayenta High/Low | Kayenta Nodata/Error |")
        out("|---|---|---:|---:|---:|---:|---:|")
    else:
        out("| traffic | metric | Kayenta High/Low | Kayenta Nodata/Error |")
        out("|---|---|---:|---:|")
    for level_key, label, _, _ in LEVELS:
        rs = by.get((level_key, "aa"), [])
        if not rs:
            continue
        n = len(rs)
        for name in KAYENTA_METRICS:
            kcls = [r["kayenta"]["metrics"][name]["classification"] for r in rs]
            kfail = sum(c in ("High", "Low") for c in kcls)
            kno = sum(c in ("Nodata", "Error") for c in kcls)
            if with_canary:
                ccls = [r["canary"]["metrics"].get(name, {}).get("classification") for r in rs]
                out(f"| {label} | {name} | {pct(sum(c in ('fail_high', 'fail_low') for c in ccls), n)} | "
                    f"{pct(sum(c == 'no_data' for c in ccls), n)} | {pct(sum(c == 'error' for c in ccls), n)} | "
                    f"{pct(kfail, n)} | {pct(kno, n)} |")
            else:
                out(f"| {label} | {name} | {pct(kfail, n)} | {pct(kno, n)} |")
    out("")

    # detection
    out("### Detection of regressions (target: canary ≥ Kayenta in every cell)")
    out("")
    levels_present = [lv for lv in LEVELS if any(k[0] == lv[0] for k in by)]
    if with_canary:
        head = "| change | " + " | ".join(f"{lv[0]}: canary | {lv[0]}: canary inconcl. | {lv[0]}: Kayenta"
                                          for lv in levels_present) + " |"
        out(head)
        out("|---|" + "---:|---:|---:|" * len(levels_present))
    else:
        out("| change | " + " | ".join(f"{lv[0]}: Kayenta" for lv in levels_present) + " |")
        out("|---|" + "---:|" * len(levels_present))
    shortfalls = []
    for kind_key, kind_label, category, _, _ in KINDS:
        if category != "regression":
            continue
        cells = []
        for level_key, _, _, _ in levels_present:
            rs = by.get((level_key, kind_key), [])
            n = len(rs)
            if n == 0:
                cells += ["–"] * (3 if with_canary else 1)
                continue
            kd = sum(kayenta_detected(r) for r in rs)
            if with_canary:
                cd = sum(canary_detected(r) for r in rs)
                ci = sum(r["canary"]["verdict"] == "inconclusive" for r in rs)
                mark = "" if cd >= kd else " ⚠"
                if cd < kd:
                    shortfalls.append((level_key, kind_label, cd, kd, n, mcnemar(rs)))
                cells += [f"{pct(cd, n)}{mark}", pct(ci, n), pct(kd, n)]
            else:
                cells.append(pct(kd, n))
        out(f"| {kind_label} | " + " | ".join(cells) + " |")
    out("")
    out("Traffic levels: " + "; ".join(f"{lv[0]} = {lv[1][4:]}" for lv in levels_present) + ". "
        "Runs per cell as in the improvement table. ⚠ marks a cell where canary detects less than Kayenta.")
    out("")

    # improvements
    out("### Improvements (target: never fail)")
    out("")
    if with_canary:
        out("| change | traffic | runs | canary verdict fail | canary: improved metric failed | "
            "canary inconclusive | Kayenta fail | Kayenta: improved metric High/Low |")
        out("|---|---|---:|---:|---:|---:|---:|---:|")
    else:
        out("| change | traffic | runs | Kayenta fail | Kayenta: improved metric High/Low |")
        out("|---|---|---:|---:|---:|")
    improvement_failures = 0
    for kind_key, kind_label, category, metric, _ in KINDS:
        if category != "improvement":
            continue
        for level_key, label, _, _ in LEVELS:
            rs = by.get((level_key, kind_key), [])
            n = len(rs)
            if n == 0:
                continue
            kf = sum(r["kayenta"]["verdict"] == "fail" for r in rs)
            km = sum(r["kayenta"]["metrics"][metric]["classification"] in ("High", "Low") for r in rs)
            if with_canary:
                cf = sum(r["canary"]["verdict"] == "fail" for r in rs)
                cm = sum(r["canary"]["metrics"].get(metric, {}).get("classification") in ("fail_high", "fail_low")
                         for r in rs)
                ci = sum(r["canary"]["verdict"] == "inconclusive" for r in rs)
                improvement_failures += cm
                out(f"| {kind_label} | {label} | {n} | {pct(cf, n)} | {pct(cm, n)} | {pct(ci, n)} | "
                    f"{pct(kf, n)} | {pct(km, n)} |")
            else:
                out(f"| {kind_label} | {label} | {n} | {pct(kf, n)} | {pct(km, n)} |")
    out("")

    lines.extend(kayenta_agreement(records))

    if with_canary:
        out("### Inconclusive rate of canary, all scenarios per traffic level")
        out("")
        out("| traffic | runs | inconclusive | error (no report or exit code ≠ verdict) |")
        out("|---|---:|---:|---:|")
        for level_key, label, _, _ in LEVELS:
            rs = [r for r in records if r["level"] == level_key]
            if not rs:
                continue
            n = len(rs)
            ci = sum(r["canary"]["verdict"] == "inconclusive" for r in rs)
            ce = sum(r["canary"]["verdict"] == "error" or r["canary"].get("exit_mismatch", False) for r in rs)
            out(f"| {label} | {n} | {pct(ci, n)} | {pct(ce, n)} |")
        out("")
        out("### Diagnosis: the changed metric in canary's report")
        out("")
        out("Per regression cell, how canary classified the changed metric: `fail` in the bad direction; "
            "`no_data` (the 'too little data to call it healthy' rule or too few samples); `pass`. "
            "The last columns are counterfactuals read from the same JSON: the changed metric's test "
            f"with its raw p-value ≤ alpha (no Holm adjustment over the {len(KAYENTA_METRICS)} gating tests), "
            "and its reported confidence interval lying wholly beyond the margin in the bad direction.")
        out("")
        out("| traffic | change | fail | no_data | pass | raw p ≤ alpha | CI beyond margin | Kayenta detects |")
        out("|---|---|---:|---:|---:|---:|---:|---:|")
        for kind_key, kind_label, category, metric, _ in KINDS:
            if category != "regression":
                continue
            for level_key, _, _, _ in levels_present:
                rs = by.get((level_key, kind_key), [])
                n = len(rs)
                if n == 0:
                    continue
                high = BAD_DIRECTION[metric] == "high"
                classes = [r["canary"]["metrics"].get(metric, {}).get("classification") for r in rs]
                tests = [(r["canary"]["metrics"].get(metric, {}).get("tests") or [{}])[0] for r in rs]
                raw = sum((t.get("p_value") is not None and t["p_value"] <= options.alpha) for t in tests)

                def beyond(t):
                    low, up, margin = t.get("ci_low"), t.get("ci_high"), t.get("margin")
                    if None in (low, up, margin):
                        return False
                    return low > margin if high else up < margin

                out(f"| {level_key} | {kind_label} | {pct(sum(c in ('fail_high', 'fail_low') for c in classes), n)} | "
                    f"{pct(sum(c == 'no_data' for c in classes), n)} | {pct(sum(c == 'pass' for c in classes), n)} | "
                    f"{pct(raw, n)} | {pct(sum(beyond(t) for t in tests), n)} | "
                    f"{pct(sum(kayenta_detected(r) for r in rs), n)} |")
        out("")
        out("### Targets")
        out("")
        for level_key, label, _, _ in LEVELS:
            rs = by.get((level_key, "aa"), [])
            if rs:
                cf = sum(r["canary"]["verdict"] == "fail" for r in rs)
                ok = cf <= 0.01 * len(rs)
                out(f"- A/A false fails ≤ 1%, {label}: {'met' if ok else 'NOT met'} "
                    f"({pct(cf, len(rs))})")
        if shortfalls:
            significant = sum(p <= 0.05 for *_, p in shortfalls)
            out(f"- Detection ≥ Kayenta in every cell: NOT met in {len(shortfalls)} cell(s), {significant} of them "
                "significant (paired exact McNemar test on the same scenarios, p ≤ 0.05): " + "; ".join(
                    f"{lk}: {kl} {cd}/{n} vs {kd}/{n} (p = {p:.2g})" for lk, kl, cd, kd, n, p in shortfalls))
        else:
            out("- Detection ≥ Kayenta in every cell: met")
        improvement_verdicts = sum(
            r["canary"]["verdict"] == "fail"
            and r["canary"]["metrics"].get(r["metric"], {}).get("classification") not in ("fail_high", "fail_low")
            for r in records if r["category"] == "improvement")
        out(f"- An improvement never fails: {'met' if improvement_failures == 0 else 'NOT met'} for the improved "
            f"metric ({improvement_failures} run(s) with it classified as failing); {improvement_verdicts} "
            "improvement run(s) failed on the verdict, through a false fail of an unchanged metric")
        out("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------


def check_analysis(path: str) -> None:
    with open(path) as f:
        text = f.read()
    for name, roles in QUERIES.items():
        for role, template in roles.items():
            if f"'{template}'" not in text:
                sys.exit(f"{path}: the {role} query of {name} differs from judgment_quality.py's QUERIES")


def analysis_for_window(path: str, latency_window: int, workdir: str) -> str:
    """The analysis as given, or (for --latency-window 1) a copy with a 1-minute p99 and no range."""
    if latency_window == 2:
        return path
    with open(path) as f:
        text = f.read()
    text = text.replace("[2m])))'", f"[{latency_window}m])))'").replace("    range: 2m\n", "")
    copy = os.path.join(workdir, "quality-analysis.yaml")
    with open(copy, "w") as f:
        f.write(text)
    return copy


def main() -> int:
    parser = argparse.ArgumentParser(description="Judgment-quality benchmark: canary judge vs Kayenta.")
    parser.add_argument("--runs", type=int, default=100, help="runs per regression/improvement cell (default 100)")
    parser.add_argument("--aa-runs", type=int, default=None, help="A/A runs per traffic level (default 3 × --runs)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    parser.add_argument("--binary", default=os.path.join(REPO, "target", "release", "canary"))
    parser.add_argument("--analysis", default=os.path.join(HERE, "quality-analysis.yaml"))
    parser.add_argument("--kayenta-only", action="store_true",
                        help="do not run canary's default judge (Kayenta side only)")
    parser.add_argument("--kayenta", choices=("both", "rust", "python"), default="both",
                        help="the Kayenta column: rust (`canary judge --judge kayenta` on the recording), python "
                             "(bench/kayenta_judge.py alone), or both (default: rust in the report, python as a "
                             "cross-check, with their agreement reported)")
    parser.add_argument("--levels", default="a,b,c", help="traffic levels to run (a,b,c; x with --traffic)")
    parser.add_argument("--traffic", metavar="BASELINE,CANARY", default=None,
                        help="an extra traffic level x: requests/min of baseline and canary (e.g. 300,300)")
    parser.add_argument("--minutes", type=int, default=30, help="length of the window in minutes (default 30)")
    parser.add_argument("--kinds", default=None, help="scenario kinds to run (default all): "
                        + ",".join(k[0] for k in KINDS))
    parser.add_argument("--latency-window", type=int, default=2, choices=(1, 2),
                        help="minutes of requests behind each p99 point (2: overlapping, range 2m)")
    parser.add_argument("--alpha", type=float, default=0.01, help=argparse.SUPPRESS)  # the analysis's alpha
    parser.add_argument("--keep", metavar="DIR", help="keep the recordings in DIR")
    parser.add_argument("--jsonl", metavar="FILE", help="write one JSON record per scenario to FILE")
    parser.add_argument("--output", metavar="FILE", help="also write the Markdown report to FILE")
    for field, default in asdict(Model()).items():
        if field in ("minutes", "latency_window"):
            continue
        parser.add_argument("--" + field.replace("_", "-"), type=float, default=default, help=argparse.SUPPRESS)
    options = parser.parse_args()
    options.jobs = max(1, min(options.jobs, 2))
    aa_runs = options.aa_runs if options.aa_runs is not None else 3 * options.runs
    model_fields = {f: getattr(options, f) for f in asdict(Model()) if f not in ("minutes", "latency_window")}
    if not 10 <= options.minutes <= 1440:
        sys.exit(f"--minutes {options.minutes}: expected 10 to 1440")
    options.model = Model(minutes=options.minutes, latency_window=options.latency_window, **model_fields)
    if options.traffic:
        try:
            baseline_rate, canary_rate = (float(v) for v in options.traffic.split(","))
        except ValueError:
            sys.exit(f"--traffic {options.traffic!r}: expected BASELINE,CANARY requests/min, e.g. 300,300")
        if not (0 < baseline_rate <= 1e6 and 0 < canary_rate <= 1e6):
            sys.exit(f"--traffic {options.traffic!r}: rates must lie in (0, 1e6] requests/min")
        LEVELS.append(("x", f"(x) {baseline_rate:g} + {canary_rate:g} req/min", baseline_rate, canary_rate))

    check_analysis(options.analysis)
    options.run_canary = not options.kayenta_only
    canary_version = "not run"
    if options.run_canary or options.kayenta != "python":
        options.binary = os.path.abspath(options.binary)
        try:
            probe = subprocess.run([options.binary, "judge", "--help"], capture_output=True, text=True)
        except OSError as e:
            sys.exit(f"{options.binary}: {e}; build it (cargo build --release) or use --kayenta-only --kayenta python")
        if probe.returncode != 0:
            sys.exit(f"{options.binary} judge --help failed (exit {probe.returncode}); build the judge or use "
                     f"--kayenta-only --kayenta python\n{probe.stderr}")
        if options.kayenta != "python" and "--judge" not in probe.stdout:
            sys.exit(f"{options.binary} has no `judge --judge kayenta`; rebuild it or use --kayenta python")
        version = subprocess.run([options.binary, "--version"], capture_output=True, text=True).stdout.strip()
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        canary_version = f"`{version or 'canary'}` at commit {head or '?'}"
    else:
        options.binary = None

    levels = [i for i, lv in enumerate(LEVELS) if lv[0] in options.levels.split(",")]
    wanted = options.kinds.split(",") if options.kinds else [k[0] for k in KINDS]
    kinds = [i for i, k in enumerate(KINDS) if k[0] in wanted]

    workdir = options.keep or tempfile.mkdtemp(prefix="canary-quality-")
    os.makedirs(workdir, exist_ok=True)
    analysis = os.path.abspath(analysis_for_window(options.analysis, options.latency_window, workdir))
    tasks = [
        Task(level, kind, run, options.seed, options.model, options.binary, options.run_canary, options.kayenta,
             analysis, workdir, bool(options.keep))
        for level in levels for kind in kinds
        for run in range(aa_runs if KINDS[kind][2] == "aa" else options.runs)
    ]
    started = time.time()
    records = []
    try:
        with ProcessPoolExecutor(max_workers=options.jobs) as pool:
            for i, record in enumerate(pool.map(run_task, tasks, chunksize=4), 1):
                records.append(record)
                if sys.stderr.isatty() and (i % 50 == 0 or i == len(tasks)):
                    print(f"\r{i}/{len(tasks)} scenarios, {time.time() - started:.0f} s", end="", file=sys.stderr)
    finally:
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    seconds = time.time() - started

    errors = [r for r in records if r.get("canary", {}).get("verdict") == "error" or r.get("canary", {}).get("exit_mismatch")]
    for r in errors[:3]:
        print(f"canary problem in {scenario_key(r)}: exit {r['canary'].get('exit')}: "
              f"{r['canary'].get('stderr', '').strip()[:500]}", file=sys.stderr)
    if options.kayenta != "python":
        kayenta_errors = [r for r in records if r["kayenta"]["verdict"] == "error" or r["kayenta"].get("exit_mismatch")]
        for r in kayenta_errors[:3]:
            print(f"canary --judge kayenta problem in {scenario_key(r)}: exit {r['kayenta'].get('exit')}: "
                  f"{r['kayenta'].get('stderr', '').strip()[:500]}", file=sys.stderr)
    command = "python3 bench/judgment_quality.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    write_outputs(records, report(records, options, command.strip(), seconds, canary_version), options)
    return 0


def write_outputs(records: list[dict], text: str, options) -> None:
    """Prints the Markdown report; writes it to --output and the records to --jsonl when asked."""
    if options.jsonl:
        with open(options.jsonl, "w") as f:
            for r in records:
                f.write(json.dumps(r, default=float) + "\n")
    print(text)
    if options.output:
        with open(options.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
