#!/usr/bin/env python3
"""Repeated looks: `canary watch` over a canary's 60-minute lifetime, one look a minute.

Generates 60-minute scenarios with the model of bench/judgment_quality.py (per-minute Poisson
traffic, binomial errors and conversions, log-normal latencies, a drift shared by both sides and
a per-side AR(1) drift with a 10-minute time constant) and judges each, on the same recording,
three ways:

* the new monitor: `canary watch --looks sequential --promote-early --interval 1m` (always-valid
  confidence sequences; stops at the first fail, or with pass once every metric's sequence rules
  out a regression beyond its margin);
* today's O'Brien-Fleming watch: `canary watch --looks fixed --interval 1m` (alpha spent over
  the 60 planned looks, stopping at the first fail);
* one fixed-horizon judgment of the whole hour (`canary judge`).

Traffic levels (requests per minute): (a) 300 + 300, (b) a 10% canary: 2,700 baseline + 300
canary, (c) 30 + 30. Scenarios: healthy canaries without drift (the judgment model's 3% per-side
drift) and with drift (15% per-side drift on error and conversion rates, 10% on latency, the
judge's overdispersion model), and regressions of two sizes: error rate ×2 and ×5 (0.4% → 2%),
p99 latency ×1.2 and ×1.5, conversion −15% and −30%.

Reports per level and scenario: fails (lifetime false fails on healthy canaries), early
promotions (false passes on regressions), and the median minute of the decision.

`--drift 3%` judges with the analysis's `judgment.drift` set (the drift
allowance of the count sequences; default 15%).

    python3 bench/watch_quality.py [--aa-runs 340] [--runs 40] [--seed 13] [--jobs 2] [--drift 3%]
"""
from __future__ import annotations

import argparse
import calendar
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import judgment_quality as jq  # noqa: E402

MINUTES = 60
LEVELS = [
    ("a", "(a) 300 + 300 req/min", 300, 300),
    ("b", "(b) 10% canary: 2,700 + 300 req/min", 2700, 300),
    ("c", "(c) low: 30 + 30 req/min", 30, 30),
]
# key: (label, metric, factor, drift)
KINDS = {
    "aa": ("healthy, no drift", None, 1.0, False),
    "aa-drift": ("healthy, drift ±15%", None, 1.0, True),
    "err*2": ("error rate ×2", "error_rate", 2.0, False),
    "err*5": ("error rate ×5", "error_rate", 5.0, False),
    "lat*1.2": ("p99 latency ×1.2", "p99_latency", 1.2, False),
    "lat*1.5": ("p99 latency ×1.5", "p99_latency", 1.5, False),
    "conv-15": ("conversion −15%", "conversion", 0.85, False),
    "conv-30": ("conversion −30%", "conversion", 0.70, False),
}


def model(drift: bool) -> jq.Model:
    base = jq.Model(minutes=MINUTES, error_probability=0.004)
    if drift:
        return dataclasses.replace(base, instance_errors=0.15, instance_conversion=0.15, instance_latency=0.10)
    return base


def watch(binary: str, analysis: str, path: str, mode: list[str]) -> dict:
    proc = subprocess.run([binary, "watch", analysis, "--replay", path, "--lifetime", f"{MINUTES}m",
                           "--interval", "1m", "--format", "json", *mode], capture_output=True, text=True, timeout=600)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    looks = [e for e in events if e.get("event") == "look"]
    final = events[-1] if events and events[-1].get("event") == "final" else None
    if final is None:
        return {"verdict": f"error {proc.returncode}: {proc.stderr[-300:]}", "minute": None, "promoted": False}
    minute = None
    if looks:
        end = time.strptime(looks[-1]["window"]["end"], "%Y-%m-%dT%H:%M:%SZ")
        minute = (calendar.timegm(end) - jq.WINDOW_START) // 60
    promoted = any(e.get("event") == "promote" for e in events)
    return {"verdict": final["verdict"], "minute": minute, "promoted": promoted}


def run_one(task: tuple) -> dict:
    binary, analysis, workdir, level, kind, run, seed = task
    _, _, baseline_rate, canary_rate = next(l for l in LEVELS if l[0] == level)
    _, metric, factor, drift = KINDS[kind]
    m = model(drift)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ord(level), list(KINDS).index(kind), run)))
    sides = jq.simulate(m, rng, baseline_rate, canary_rate, metric, factor)
    path = os.path.join(workdir, f"{level}-{kind}-{run}.json")
    with open(path, "w") as f:
        json.dump(jq.recording(m, sides, jq.QUERIES), f)
    sequential = watch(binary, analysis, path, ["--looks", "sequential", "--promote-early"])
    fixed = watch(binary, analysis, path, ["--looks", "fixed"])
    proc = subprocess.run([binary, "judge", analysis, "--replay", path, "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    single = {0: "pass", 1: "fail", 3: "inconclusive"}.get(proc.returncode, f"error {proc.returncode}")
    os.unlink(path)
    return {"level": level, "kind": kind, "sequential": sequential, "fixed": fixed, "single": single}


def median(values: list) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa-runs", type=int, default=340)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--binary", default=os.path.join(jq.REPO, "target", "release", "canary"))
    parser.add_argument("--analysis", default=os.path.join(jq.HERE, "quality-analysis.yaml"))
    parser.add_argument("--drift", help="judgment.drift of the analysis, e.g. 3%%")
    options = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        if options.drift:
            with open(options.analysis) as f:
                text = f.read()
            if "\njudgment:" in text:
                raise SystemExit("--drift: the analysis already has a judgment section")
            options.analysis = os.path.join(workdir, "analysis.yaml")
            with open(options.analysis, "w") as f:
                f.write(f"{text}\njudgment:\n  drift: '{options.drift}'\n")
        tasks = [(options.binary, options.analysis, workdir, level[0], kind, run, options.seed)
                 for level in LEVELS for kind in KINDS
                 for run in range(options.aa_runs if kind.startswith("aa") else options.runs)]
        with ProcessPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            records = list(pool.map(run_one, tasks, chunksize=4))
    seconds = time.time() - started
    print(f"## Repeated looks: `canary watch` over a {MINUTES}-minute lifetime, one look a minute\n")
    print(f"Command: `python3 bench/watch_quality.py --aa-runs {options.aa_runs} --runs {options.runs} "
          f"--seed {options.seed}"
          f"{' --drift ' + options.drift if options.drift else ''}`; {len(records)} scenarios in {seconds:.0f} s (2 cores). Alpha 0.01; "
          "minutes counted from the canary's start.\n")
    print("| traffic | scenario | runs | new: fail | new: median minute of the fail | new: promoted early "
          "| new: median minute of the promotion | O'Brien-Fleming: fail | OBF: median minute of the fail "
          "| one judgment at 60 min: fail |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def share(rs, test):
        k = sum(1 for r in rs if test(r))
        return f"{100 * k / len(rs):.1f}% ({k})"

    for level in LEVELS:
        for kind, (label, _, _, _) in KINDS.items():
            rs = [r for r in records if r["level"] == level[0] and r["kind"] == kind]
            if not rs:
                continue
            new_fail = [r["sequential"]["minute"] for r in rs if r["sequential"]["verdict"] == "fail"]
            promoted = [r["sequential"]["minute"] for r in rs if r["sequential"]["promoted"]]
            old_fail = [r["fixed"]["minute"] for r in rs if r["fixed"]["verdict"] == "fail"]
            print(f"| {level[1]} | {label} | {len(rs)} | {share(rs, lambda r: r['sequential']['verdict'] == 'fail')} "
                  f"| {median(new_fail)} | {share(rs, lambda r: r['sequential']['promoted'])} | {median(promoted)} "
                  f"| {share(rs, lambda r: r['fixed']['verdict'] == 'fail')} | {median(old_fail)} "
                  f"| {share(rs, lambda r: r['single'] == 'fail')} |")
    for kind in ("aa", "aa-drift"):
        rs = [r for r in records if r["kind"] == kind]
        k = sum(1 for r in rs if r["sequential"]["verdict"] == "fail")
        j = sum(1 for r in rs if r["fixed"]["verdict"] == "fail")
        if rs:
            low, high = jq.binomtest(k, len(rs)).proportion_ci(0.95)
            print(f"\nPooled lifetime false fails, {KINDS[kind][0]}: new monitor {k}/{len(rs)} = {100 * k / len(rs):.2f}% "
                  f"(95% CI {100 * low:.2f}–{100 * high:.2f}%); O'Brien-Fleming {j}/{len(rs)}.")
    errors = [r for r in records if str(r["sequential"]["verdict"]).startswith("error")
              or str(r["fixed"]["verdict"]).startswith("error")]
    if errors:
        print(f"\n{len(errors)} run(s) ended in an error, e.g. {errors[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
