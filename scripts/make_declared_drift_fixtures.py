#!/usr/bin/env python3
"""Writes the recordings of tests/integration/dependence.rs (`a_declared_drift_*`) into tests/data/dependence/, with
the simulator of bench/dependence_quality.py on its a30-drift30 cell (equal traffic, 30 minutes,
each side's rates drifting on their own: AR(1), 30 minutes, sd 0.08 on the log scale):

* declared-drift-healthy.json: a healthy canary that this tree's judge falsely fails on
  `conversion` with bench/quality-analysis.yaml as is (quality.yaml), and judges inconclusive
  (exit 3) with `judgment: {drift: 8%}` (quality-declared-drift.yaml). Seeds are tried in order;
  the first such one is kept.
* declared-drift-regression.json: the same cell with the canary's conversion ×0.7; the first seed
  whose verdict with the declaration is a fail on `conversion`.

    cargo build && python3 scripts/make_declared_drift_fixtures.py [--binary target/debug/canary]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "bench"))
import dependence_quality as dq  # noqa: E402
import judgment_quality as jq  # noqa: E402
from make_dependence_fixtures import keep_first_seed  # noqa: E402

OUT = os.path.join(REPO, "tests", "data", "dependence")
CELL = dq.Cell("a30-drift30", 0, 30, 30.0, 0.08, "overlap")


def judged(binary, analysis, path):
    proc = subprocess.run([binary, "judge", analysis, "--replay", path, "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout)
    conversion = next(m for m in report["metrics"] if m["name"] == "conversion")
    return proc.returncode, report["verdict"], conversion["classification"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(REPO, "target", "debug", "canary"))
    parser.add_argument("--tries", type=int, default=1000)
    options = parser.parse_args()
    plain, declared = os.path.join(OUT, "quality.yaml"), os.path.join(OUT, "quality-declared-drift.yaml")
    with open(os.path.join(REPO, "bench", "quality-analysis.yaml")) as f:
        text = f.read()
    with open(plain, "w") as f:
        f.write(text)
    with open(declared, "w") as f:
        f.write(text.rstrip() + "\njudgment:\n  drift: 8%\n")
    cases = [
        ("declared-drift-healthy", None, 1.0,
         lambda path: judged(options.binary, plain, path)[2] == "fail_low"
         and judged(options.binary, declared, path)[:2] == (3, "inconclusive")),
        ("declared-drift-regression", "conversion", 0.7,
         lambda path: judged(options.binary, declared, path)[1:] == ("fail", "fail_low")),
    ]
    for name, metric, factor, wanted in cases:
        keep_first_seed(name, options.tries, lambda rng, metric=metric, factor=factor: jq.recording(
            jq.Model(minutes=CELL.minutes), dq.simulate(CELL, rng, metric, factor), jq.QUERIES), wanted)

if __name__ == "__main__":
    main()
