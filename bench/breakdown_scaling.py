#!/usr/bin/env python3
"""Breakdown scaling benchmark (issue 16, item 5): the wall time of `canary judge --replay` on one
gauge metric with `breakdown: [route]` as the number of route values grows.

For each N in --values (default 100 1000 5000 10000) the script writes, into a temporary
directory, an analysis with one gauge metric `latency` (`breakdown: [route]`, margin 5%, one
query `sum by (route) (rate(latency_sum{ {{ selector }} }[1m]))`) and a recording of it: N routes
× 2 sides, a 30-minute window at step 1m (30 points per series, the first 5 minutes warm-up), the
values drawn from a seeded generator (identical bytes on every run; one route in ten is slower on
the canary, so the report has passes and failures). Each binary given with --canary NAME=PATH
judges every recording `--runs` times (`canary judge ANALYSIS --replay REC --format json
--timeout 10m`: the default overall timeout of 2 minutes would end the slowest runs); the script reports the median wall time, the median CPU time (user + system, from
getrusage of the children: what the judgment costs whatever else the machine runs) and the exit
code, and checks that every
binary gave the same verdict and the same classification per route (the grouped split must
judge exactly as the old per-value split did).

    python3 bench/breakdown_scaling.py --canary after=target/release/canary \
        [--canary before=/tmp/canary-before/target/release/canary] [--values 100 1000 5000 10000] \
        [--runs 3] [--skip-slow SECONDS]

--skip-slow skips larger N for a binary once one run took longer than SECONDS (default 60).
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = 1_795_428_000  # 2026-11-23T10:00:00Z
STEP = 60
POINTS = 30

ANALYSIS = """version: 1
name: breakdown-bench
source:
  kind: prometheus
  url: http://127.0.0.1:9
baseline:
  variables:
    selector: 'track="baseline"'
canary:
  variables:
    selector: 'track="canary"'
window:
  last: 30m
  step: 1m
  warmup: 5m
judgment:
  alpha: 0.01
  pass_score: 95
  marginal_score: 75
metrics:
  - name: latency
    query: 'sum by (route) (rate(latency_sum{ {{ selector }} }[1m]))'
    direction: increase
    margin: 5%
    breakdown: [route]
"""


def recording(values: int) -> dict:
    rng = random.Random(values)
    sides = {}
    for side in ("baseline", "canary"):
        series = []
        for route in range(values):
            base = 0.1 + (route % 50) / 100
            slower = 1.5 if side == "canary" and route % 10 == 0 else 1.0
            points = [
                [START + STEP * (i + 1), round(base * slower * (1 + rng.gauss(0, 0.02)), 6)] for i in range(POINTS)
            ]
            series.append({"labels": {"route": f"/r{route:05d}"}, "points": points})
        query = ANALYSIS.split("query: '")[1].split("'")[0].replace("{{ selector }}", f'track="{side}"')
        sides[side] = {"queries": {"value": {"query": query, "series": series}}}
    return {
        "format": "canary-recording",
        "version": 1,
        "analysis": "breakdown-bench",
        "source": {"kind": "synthetic"},
        "window": {"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:30:00Z", "step_seconds": STEP},
        "point_time": "interval_end",
        "metrics": {"latency": sides},
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def judge(binary: str, analysis: Path, rec: Path) -> tuple[float, float, int, dict]:
    cpu = cpu_seconds()
    began = time.perf_counter()
    done = subprocess.run(
        [binary, "judge", str(analysis), "--replay", str(rec), "--format", "json", "--timeout", "10m"],
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    cpu = cpu_seconds() - cpu
    if done.returncode not in (0, 1, 3):
        sys.exit(f"{binary} exited {done.returncode}: {done.stderr.decode(errors='replace')[:2000]}")
    report = json.loads(done.stdout)
    outcome = {
        "verdict": report["verdict"],
        "metrics": {m["name"]: m["classification"] for m in report["metrics"]},
    }
    return elapsed, cpu, done.returncode, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--canary", action="append", required=True, help="NAME=PATH of a canary binary")
    parser.add_argument("--values", type=int, nargs="+", default=[100, 1000, 5000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-slow", type=float, default=60.0)
    args = parser.parse_args()
    binaries = [tuple(c.split("=", 1)) for c in args.canary]
    rows = []
    with tempfile.TemporaryDirectory(prefix="canary-breakdown-") as tmp:
        directory = Path(tmp)
        analysis = directory / "analysis.yaml"
        analysis.write_text(ANALYSIS)
        slow: set[str] = set()
        for values in args.values:
            rec = directory / f"rec-{values}.json"
            rec.write_text(json.dumps(recording(values)))
            outcomes = {}
            row = [f"{values:,}"]
            for name, binary in binaries:
                if name in slow:
                    row.append("skipped")
                    continue
                times, cpus = [], []
                for _ in range(args.runs):
                    elapsed, cpu, code, outcome = judge(binary, analysis, rec)
                    times.append(elapsed)
                    cpus.append(cpu)
                    if elapsed > args.skip_slow:
                        slow.add(name)
                        break
                outcomes[name] = outcome
                assert len(outcome["metrics"]) == values, f"{name}: {len(outcome['metrics'])} parts, not {values}"
                row.append(
                    f"{statistics.median(times):.3f} s wall, {statistics.median(cpus):.3f} s CPU (exit {code})"
                )
            if len({json.dumps(o, sort_keys=True) for o in outcomes.values()}) > 1:
                sys.exit(f"the binaries judged {values} values differently")
            rows.append(row)
            print("progress: " + " | ".join(row), file=sys.stderr, flush=True)
    print("| label values | " + " | ".join(name for name, _ in binaries) + " |")
    print("|---|" + "---|" * len(binaries))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
