#!/usr/bin/env python3
"""Sustained-breach rules: does a short bad stretch fire, and do single-point spikes not?

Scenarios use the model of bench/judgment_quality.py (same traffic levels, drift and noise). On the
canary's per-minute p99 series: "burst" multiplies 6 consecutive minutes by 1.5 at a random place;
"spikes" multiplies 3 isolated minutes (at least 3 apart) by 3; "A/A" changes nothing. Each
recording is judged with bench/quality-analysis.yaml plus the rule
`sustained: [{max_ratio: 1.3, for: 5m}]` on p99_latency (p99 above 1.3x the baseline's, minute by
minute, for 5 minutes). Reports how often the sustained rule fired and how often the verdict failed.

    python3 bench/sustained_quality.py [--runs 100] [--seed 3] [--jobs 2]
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

RULE = "    sustained:\n      - {max_ratio: 1.3, for: 5m}\n"
KINDS = {"aa": "A/A (no change)", "burst": "a 6-minute burst, p99 ×1.5", "spikes": "3 single-minute spikes, p99 ×3"}


def analysis_with_rule(workdir: str) -> str:
    with open(os.path.join(jq.HERE, "quality-analysis.yaml")) as f:
        text = f.read()
    marker = "    range: 2m\n"
    assert marker in text, "quality-analysis.yaml changed: p99_latency has no `range: 2m` line"
    path = os.path.join(workdir, "sustained-analysis.yaml")
    with open(path, "w") as f:
        f.write(text.replace(marker, marker + RULE, 1))
    return path


def run_one(task: tuple) -> dict:
    binary, analysis, workdir, level, kind, run, seed = task
    _, _, baseline_rate, canary_rate = next(l for l in jq.LEVELS if l[0] == level)
    model = jq.Model()
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ord(level), list(KINDS).index(kind), run)))
    sides = jq.simulate(model, rng, baseline_rate, canary_rate, None, 1.0)
    p99 = sides["canary"]["p99"]
    if kind == "burst":
        start = int(rng.integers(2, model.minutes - 7))
        p99[start:start + 6] *= 1.5
    elif kind == "spikes":
        for minute in (int(rng.integers(2, 8)), int(rng.integers(12, 18)), int(rng.integers(22, 28))):
            p99[minute] *= 3.0
    path = os.path.join(workdir, f"{level}-{kind}-{run}.json")
    with open(path, "w") as f:
        json.dump(jq.recording(model, sides, jq.QUERIES), f)
    proc = subprocess.run([binary, "judge", analysis, "--replay", path, "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    os.unlink(path)
    report = json.loads(proc.stdout)
    latency = next(m for m in report["metrics"] if m["name"] == "p99_latency")
    fired = any(t["test"] == "sustained" and t["outcome"] == "fail" for t in latency["tests"])
    return {"level": level, "kind": kind, "fired": fired, "verdict": report["verdict"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--binary", default=os.path.join(jq.REPO, "target", "release", "canary"))
    options = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        analysis = analysis_with_rule(workdir)
        tasks = [(options.binary, analysis, workdir, level[0], kind, run, options.seed)
                 for level in jq.LEVELS for kind in KINDS for run in range(options.runs)]
        with ProcessPoolExecutor(max_workers=min(2, options.jobs)) as pool:
            records = list(pool.map(run_one, tasks, chunksize=8))
    print("## Sustained-breach rules: bursts fire, spikes do not (issue 7)\n")
    print(f"Command: `python3 bench/sustained_quality.py --runs {options.runs} --seed {options.seed}`; "
          f"{len(records)} scenarios in {time.time() - started:.0f} s. Model as in the judgment-quality benchmark; "
          "rule `{max_ratio: 1.3, for: 5m}` on the canary's per-minute p99 (2-minute windows).\n")
    print("| traffic | scenario | runs | sustained rule fired | verdict fail |")
    print("|---|---|---:|---:|---:|")
    for level in jq.LEVELS:
        for kind, label in KINDS.items():
            rs = [r for r in records if r["level"] == level[0] and r["kind"] == kind]
            fired = sum(r["fired"] for r in rs)
            failed = sum(r["verdict"] == "fail" for r in rs)
            print(f"| {level[1]} | {label} | {len(rs)} | {100 * fired / len(rs):.1f}% ({fired}) | "
                  f"{100 * failed / len(rs):.1f}% ({failed}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
