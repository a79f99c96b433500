#!/usr/bin/env python3
"""What the cron watchdog asks its backend for, per run, with and without its state (issue 16,
item 3): backend requests and points asked for per run, counted at the local stub of
bench/requests_per_judgment.py (Prometheus `query_range`, Datadog v2 `query/timeseries`).

Schedules (an hour of runs, windows given with --start/--end so the clock is the stub's):
* `*/5` over `--last 30m`: 12 runs, each judging the 30 minutes before it;
* `--looks sequential` every minute: 60 runs, each judging from the sequence's start to its end.

Each schedule runs twice: without `--state-dir` (every run fetches its whole window, as before
this change) and with `--state-dir` (each run fetches only the points its state does not hold).
A point is one value of one query at one instant; for Prometheus it is counted from each
request's start, end and step, for Datadog from its from, to and interval.

    python3 bench/watchdog_fetch.py [--binary target/release/canary]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import requests_per_judgment as rpj  # noqa: E402

REPO = rpj.REPO
START = rpj.START


class CountingStub(rpj.Stub):
    """The stub, also counting the points of every range asked for (one a minute)."""

    def reset(self) -> None:
        super().reset()
        self.points = 0

    def count(self, queries: list[str], start: int, end: int) -> None:
        super().count(queries, start, end)
        with self.lock:
            # Prometheus ranges include their end; Datadog's `to` is exclusive.
            self.points += len(queries) * max(0, (end - start) // 60 + 1)


def runs(schedule: str) -> list[tuple[int, int]]:
    if schedule == "cron5":
        return [(START + 300 * k, START + 300 * k + 1800) for k in range(12)]
    return [(START, START + 60 * k) for k in range(6, 66)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "canary"))
    options = parser.parse_args()
    stub = CountingStub()
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{stub.server_address[1]}"
    env = {"DD_API_KEY": "bench-api-key", "DD_APP_KEY": "bench-app-key", "PROMETHEUS_TOKEN": "bench-token",
           "PATH": "/usr/bin:/bin"}
    cases = [("Prometheus, analyses/checkout.yaml (10 queries)", "analyses/checkout.yaml"),
             ("Datadog v2, analyses/checkout-datadog.yaml (10 queries)", "analyses/checkout-datadog.yaml")]
    schedules = [("`*/5`, `--last 30m` (window)", "cron5", []),
                 ("every minute, `--looks sequential`", "minute", ["--looks", "sequential"])]
    print("| backend | schedule | runs | without state: requests / run | points / run | with `--state-dir`: "
          "requests / run | points / run | points, whole hour: without → with |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for title, analysis in cases:
        for label, schedule, extra in schedules:
            totals = {}
            for mode in ("without", "with"):
                with tempfile.TemporaryDirectory(prefix="canary-watchdog-fetch-") as state:
                    requests, points = [], []
                    for start, end in runs(schedule):
                        stub.reset()
                        command = [options.binary, "judge", analysis, "--source-url", url, "--start", rpj.iso(start),
                                   "--end", rpj.iso(end), "--format", "json"]
                        if mode == "with":
                            command += ["--state-dir", state, *extra]
                        done = subprocess.run(command, cwd=REPO, capture_output=True, env=env, check=False)
                        if done.returncode not in (0, 1, 3):
                            sys.exit(f"{title} {label} {mode}: exit {done.returncode}: "
                                     f"{done.stderr.decode(errors='replace')[:1500]}")
                        requests.append(stub.requests)
                        points.append(stub.points)
                    totals[mode] = (requests, points)
            (r0, p0), (r1, p1) = totals["without"], totals["with"]
            # Per run after the first (the first run of both fetches everything).
            mean = lambda xs: sum(xs[1:]) / max(1, len(xs) - 1)  # noqa: E731
            print(f"| {title} | {label} | {len(r0)} | {mean(r0):.1f} | {mean(p0):.0f} | {mean(r1):.1f} | {mean(p1):.0f} "
                  f"| {sum(p0):,} → {sum(p1):,} |")
    stub.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
