#!/usr/bin/env python3
"""The sequential cron watchdog stepped minute by minute: lifetime false fails on healthy
canaries, and agreement with `canary watch --looks sequential` on the same recordings.

Each scenario is a 60-minute recording of bench/watch_quality.py's model (traffic levels (a)
300 + 300, (b) 2,700 + 300, (c) 30 + 30 requests a minute; healthy without and with ±15% per-side
drift). The watchdog runs once per simulated minute, as cron would:

    canary judge bench/quality-analysis.yaml --replay REC --start T0 --end T0+m --state-dir DIR \
        --looks sequential --format json          (m = 1, 2, ..., 60 minutes)

stopping at its first fail. Each run starts from the state the run before left (the sequence
is carried in DIR). On the same recording `canary watch --looks sequential --interval 1m`
(without early promotion) is run once; the report counts the minutes at which the two first
fail and how often they agree.

    python3 bench/watchdog_quality.py [--aa-runs 600] [--seed 21] [--jobs 2]
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
import watch_quality as wq  # noqa: E402

KINDS = ["aa", "aa-drift"]


def watchdog(binary: str, analysis: str, path: str, state: str) -> dict:
    """Runs the sequential watchdog once a minute over the recording; the minute of its first fail."""
    for minute in range(1, wq.MINUTES + 1):
        command = [binary, "judge", analysis, "--replay", path, "--start", jq._rfc3339(jq.WINDOW_START),
                   "--end", jq._rfc3339(jq.WINDOW_START + 60 * minute), "--state-dir", state,
                   "--looks", "sequential", "--format", "json"]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if proc.returncode not in (0, 1, 3):
            return {"verdict": f"error {proc.returncode}: {proc.stderr[-300:]}", "minute": minute, "runs": minute}
        report = json.loads(proc.stdout)
        if report["watchdog"]["runs"] != minute:
            return {"verdict": f"error: the sequence restarted at minute {minute}", "minute": minute, "runs": minute}
        if proc.returncode == 1:
            return {"verdict": "fail", "minute": minute, "runs": minute}
    return {"verdict": report["verdict"], "minute": None, "runs": wq.MINUTES}


def run_one(task: tuple) -> dict:
    binary, analysis, workdir, level, kind, run, seed = task
    _, _, baseline_rate, canary_rate = next(l for l in wq.LEVELS if l[0] == level)
    _, metric, factor, drift = wq.KINDS[kind]
    m = wq.model(drift)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ord(level), KINDS.index(kind), run)))
    sides = jq.simulate(m, rng, baseline_rate, canary_rate, metric, factor)
    path = os.path.join(workdir, f"{level}-{kind}-{run}.json")
    with open(path, "w") as f:
        json.dump(jq.recording(m, sides, jq.QUERIES), f)
    watched = wq.watch(binary, analysis, path, ["--looks", "sequential"])
    with tempfile.TemporaryDirectory(dir=workdir) as state:
        cron = watchdog(binary, analysis, path, state)
    os.unlink(path)
    watch_fail = watched["minute"] if watched["verdict"] == "fail" else None
    return {"level": level, "kind": kind, "watchdog": cron, "watch_fail": watch_fail,
            "watch_verdict": watched["verdict"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa-runs", type=int, default=600)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--binary", default=os.path.join(jq.REPO, "target", "release", "canary"))
    parser.add_argument("--analysis", default=os.path.join(jq.HERE, "quality-analysis.yaml"))
    options = parser.parse_args()
    started = time.time()
    # The state directories on a memory file system where there is one: every run syncs its state
    # file, and the disk's sync, not canary, would set the pace.
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=scratch) as workdir:
        tasks = [(options.binary, options.analysis, workdir, level[0], kind, run, options.seed)
                 for level in wq.LEVELS for kind in KINDS for run in range(options.aa_runs)]
        with ProcessPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            records = list(pool.map(run_one, tasks, chunksize=2))
    seconds = time.time() - started
    runs = sum(r["watchdog"]["runs"] for r in records)
    print("## The sequential cron watchdog, one run a minute over a 60-minute lifetime\n")
    print(f"Command: `python3 bench/watchdog_quality.py --aa-runs {options.aa_runs} --seed {options.seed}`; "
          f"{len(records)} healthy canaries, {runs:,} watchdog runs in {seconds:.0f} s (2 cores). Alpha 0.01.\n")
    print("| traffic | scenario | canaries | watchdog: lifetime false fails | watch: lifetime false fails "
          "| same first-fail minute as watch |")
    print("|---|---|---:|---:|---:|---:|")
    for level in wq.LEVELS:
        for kind in KINDS:
            rs = [r for r in records if r["level"] == level[0] and r["kind"] == kind]
            fails = sum(1 for r in rs if r["watchdog"]["verdict"] == "fail")
            watch_fails = sum(1 for r in rs if r["watch_fail"] is not None)
            same = sum(1 for r in rs if (r["watchdog"]["minute"] if r["watchdog"]["verdict"] == "fail" else None)
                       == r["watch_fail"])
            print(f"| {level[1]} | {wq.KINDS[kind][0]} | {len(rs)} | {100 * fails / len(rs):.2f}% ({fails}) "
                  f"| {100 * watch_fails / len(rs):.2f}% ({watch_fails}) | {same} of {len(rs)} |")
    fails = sum(1 for r in records if r["watchdog"]["verdict"] == "fail")
    low, high = jq.binomtest(fails, len(records)).proportion_ci(0.95)
    print(f"\nPooled lifetime false fails of the watchdog: {fails}/{len(records)} = {100 * fails / len(records):.2f}% "
          f"(95% CI {100 * low:.2f}–{100 * high:.2f}%).")
    errors = [r for r in records if str(r["watchdog"]["verdict"]).startswith("error")]
    if errors:
        print(f"\n{len(errors)} run(s) ended in an error, e.g. {errors[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
