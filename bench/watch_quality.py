#!/usr/bin/env python3
"""Repeated looks: does `canary watch` keep the false-alarm level over a canary's lifetime?

Generates 60-minute scenarios with the model of bench/judgment_quality.py (same traffic levels,
drift and noise) and judges each three ways on the same recording:

* `canary watch --lifetime 60m --interval 5m` (alpha spent O'Brien-Fleming style over the looks,
  stopping at the first fail);
* naive repeated looks: `canary judge` on the growing window at every look at the full alpha,
  failing if any look fails (what a pipeline that re-runs a judgment every 5 minutes would do);
* one judgment of the whole hour.

Reports the false-fail rate on A/A and the detection rate and mean stopping time on regressions.

    python3 bench/watch_quality.py [--aa-runs 200] [--runs 50] [--seed 7] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import judgment_quality as jq  # noqa: E402

MINUTES = 60
INTERVAL = 5
KINDS = {"aa": ("A/A (no change)", None, 1.0), "lat+25": ("p99 latency +25%", "p99_latency", 1.25),
         "err*2": ("error rate ×2", "error_rate", 2.0), "conv-25": ("conversion −25%", "conversion", 0.75)}


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def verdict(binary: str, args: list[str]) -> str:
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    return {0: "pass", 1: "fail", 3: "inconclusive"}.get(proc.returncode, f"error {proc.returncode}: {proc.stderr[-300:]}")


def run_one(task: tuple) -> dict:
    binary, analysis, workdir, level, kind, run, seed = task
    _, _, baseline_rate, canary_rate = next(l for l in jq.LEVELS if l[0] == level)
    _, metric, factor = KINDS[kind]
    model = jq.Model(minutes=MINUTES)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ord(level), list(KINDS).index(kind), run)))
    sides = jq.simulate(model, rng, baseline_rate, canary_rate, metric, factor)
    path = os.path.join(workdir, f"{level}-{kind}-{run}.json")
    with open(path, "w") as f:
        json.dump(jq.recording(model, sides, jq.QUERIES), f)
    proc = subprocess.run([binary, "watch", analysis, "--replay", path, "--lifetime", f"{MINUTES}m",
                           "--interval", f"{INTERVAL}m", "--format", "json"], capture_output=True, text=True, timeout=300)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    looks = [e for e in events if e.get("event") == "look"]
    watch = events[-1]["verdict"] if events and events[-1].get("event") == "final" else f"error {proc.returncode}"
    stop = looks[-1]["look"] if watch == "fail" else None
    naive = "pass"
    for end in range(INTERVAL, MINUTES + 1, INTERVAL):
        v = verdict(binary, ["judge", analysis, "--replay", path, "--start", iso(jq.WINDOW_START),
                             "--end", iso(jq.WINDOW_START + 60 * end), "--format", "json"])
        if v == "fail":
            naive = "fail"
            break
    single = verdict(binary, ["judge", analysis, "--replay", path, "--format", "json"])
    os.unlink(path)
    return {"level": level, "kind": kind, "watch": watch, "stop": stop, "looks": len(looks), "naive": naive, "single": single}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa-runs", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--binary", default=os.path.join(jq.REPO, "target", "release", "canary"))
    parser.add_argument("--analysis", default=os.path.join(jq.HERE, "quality-analysis.yaml"))
    options = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        tasks = [(options.binary, options.analysis, workdir, level[0], kind, run, options.seed)
                 for level in jq.LEVELS for kind in KINDS
                 for run in range(options.aa_runs if kind == "aa" else options.runs)]
        with ProcessPoolExecutor(max_workers=min(2, options.jobs)) as pool:
            records = list(pool.map(run_one, tasks, chunksize=4))
    seconds = time.time() - started
    print(f"## Repeated looks: `canary watch` over a {MINUTES}-minute lifetime\n")
    print(f"Command: `python3 bench/watch_quality.py --aa-runs {options.aa_runs} --runs {options.runs} "
          f"--seed {options.seed}`; {len(records)} scenarios in {seconds:.0f} s. Model and analysis as in the "
          f"judgment-quality benchmark, 60 minutes long; looks every {INTERVAL} minutes (12 looks).\n")
    print("| traffic | scenario | runs | watch: fail | naive repeated looks: fail | one judgment at 60 min: fail | watch: mean look of the fail |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for level in jq.LEVELS:
        for kind, (label, _, _) in KINDS.items():
            rs = [r for r in records if r["level"] == level[0] and r["kind"] == kind]
            n = len(rs)
            def rate(key):
                k = sum(1 for r in rs if r[key] == "fail")
                return f"{100 * k / n:.1f}% ({k})"
            stops = [r["stop"] for r in rs if r["stop"]]
            mean_stop = f"{sum(stops) / len(stops):.1f}" if stops else "-"
            print(f"| {level[1]} | {label} | {n} | {rate('watch')} | {rate('naive')} | {rate('single')} | {mean_stop} |")
    errors = [r for r in records if str(r["watch"]).startswith("error") or str(r["single"]).startswith("error")]
    if errors:
        print(f"\n{len(errors)} run(s) ended in an error, e.g. {errors[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
