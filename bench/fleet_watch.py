#!/usr/bin/env python3
"""`canary watch` with several analyses (issue 16 part 4): a plain `canary watch ANALYSIS` of one
service against `canary watch --fleet` of 1, 10 and 100 services of one shape, on the real local
Prometheus and the data of bench/fleet.py (its analysis: error_rate and p99_latency, 3 queries a
side), with a fixed clock (`--now 2026-11-20T10:10:00Z --lifetime 30m --interval 5m`: 6 looks
back to back, none waiting, each fetching only its new points).

* Backend requests per look: Prometheus's own `query_range` count over the run, divided by the
  rounds of looks (canary's `summary` event also reports each round's `backend_queries`).
* Wall time per look: the median wall time of `--runs` runs of the whole process, divided by the
  rounds (start-up included). Peak RSS: `/usr/bin/time -v`'s maximum resident set size.
* Every `svc-NNN` is drawn like the baseline, so every service is watched to its last look.

    python3 bench/fleet_watch.py [--canary target/release/canary] [--runs 10] [--output FILE]

Needs prometheus and promtool on PATH and GNU time (/usr/bin/time). Prints a Markdown section.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from fleet import SIZES, emit, fleet_yaml, machine, measure, openmetrics, prometheus_analysis, query_range_requests  # noqa: E402
from prometheus_fetch import Prometheus  # noqa: E402


def single_and_fleets(args, command: str, files: tuple, common: list, how: tuple) -> tuple:
    """`canary COMMAND ANALYSIS` of one service, and `canary COMMAND --fleet` of each size."""
    directory, analysis = files
    env, count, parse = how
    single = measure([args.canary, command, analysis, "--var", "canary=svc-000", *common], args.runs, env, count, parse)
    fleets = {
        size: measure(
            [args.canary, command, "--fleet", fleet_yaml(directory, analysis, size), *common], args.runs, env, count, parse
        )
        for size in SIZES
    }
    return single, fleets


WATCH = ["--now", "2026-11-20T10:10:00Z", "--lifetime", "30m", "--interval", "5m", "--format", "json"]


def watch_events(stdout: str) -> dict:
    """A watch's JSON events: the looks, and the outcome (the summary's, or the one final verdict)."""
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    looks = [e for e in events if e["event"] == "look"]
    last = events[-1]
    outcome = last["outcome"] if last["event"] == "summary" else last["verdict"]
    rounds = len(last["rounds"]) if last["event"] == "summary" else len(looks)
    return {"outcome": outcome, "rounds": rounds, "looks": len(looks), "summary": last}


def watch_rows(single: dict, fleets: dict) -> list:
    out = []
    base = single["requests"][-1] / single["document"]["rounds"]
    base_wall = single["wall"] / single["document"]["rounds"]
    for name, result in [("1 analysis, plain `canary watch`", single)] + [
        (f"{size} {'analysis' if size == 1 else 'analyses'}, `watch --fleet`", fleets[size]) for size in SIZES
    ]:
        doc = result["document"]
        rounds = doc["rounds"]
        per_look = [r / rounds for r in result["requests"]]
        shown = "/".join(f"{r:g}" for r in per_look)
        wall = result["wall"] / rounds
        out.append(
            f"| {name} | {rounds} | {doc['looks']} | {shown} | {per_look[-1] / base:.2f}× | "
            f"{wall * 1000:.1f} ms ({result['wall_range'][0] / rounds * 1000:.1f} – {result['wall_range'][1] / rounds * 1000:.1f}) | "
            f"{wall / base_wall:.2f}× | {result['rss_kb'] / 1024:.1f} MiB | {doc['outcome']} |"
        )
    return out


def watch_main(args) -> list:
    directory = tempfile.mkdtemp(prefix="canary-fleet-watch-bench-")
    prometheus = None
    try:
        prometheus = Prometheus(directory, openmetrics(max(SIZES)))
        env = dict(os.environ, NO_COLOR="1")
        env.pop("CANARY_SOURCE_URL", None)
        analysis = os.path.join(directory, "prometheus.yaml")
        with open(analysis, "w") as f:
            f.write(prometheus_analysis())
        count = lambda: query_range_requests(prometheus.url)  # noqa: E731
        common = ["--source-url", prometheus.url, *WATCH]
        single, fleets = single_and_fleets(args, "watch", (directory, analysis), common, (env, count, watch_events))
        table = [
            "| run | rounds of looks | looks judged | backend requests per look | ÷ single | wall time per look, median (min – max) | ÷ single | peak RSS | outcome |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
            *watch_rows(single, fleets),
        ]
        version = subprocess.run([args.canary, "--version"], capture_output=True, text=True).stdout.strip()
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        return [
            f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `python3 bench/fleet_watch.py --runs {args.runs}"
            f" --canary {os.path.relpath(args.canary, REPO)}` ({version}, commit `{commit.stdout.strip()}`); "
            f"load average (1 min) at the end {os.getloadavg()[0]:.2f}.",
            "",
            f"Machine: {machine()}.",
            "",
            *table,
        ]
    finally:
        if prometheus:
            prometheus.stop()
        subprocess.run(["rm", "-rf", directory])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--canary", default=os.path.join(REPO, "target/release/canary"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--output")
    args = parser.parse_args()
    return emit(watch_main(args), args.output)


if __name__ == "__main__":
    sys.exit(main())
