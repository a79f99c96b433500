#!/usr/bin/env python3
"""Judgment quality on dependent, drifting data (issue 12): `canary judge` of this tree, the same
judge of an earlier build (`--main-binary`, e.g. main before the dependence-robust tests), and
Kayenta's classifier (`canary judge --judge kayenta`), on the same synthetic recordings.

Builds on bench/judgment_quality.py (its traffic shapes, analysis, recordings and judges) and adds:

* per-side rate drift: each side's error and conversion probabilities are multiplied by their own
  slowly drifting factor exp(AR(1)), with an autocorrelation time of 5, 10 or 30 minutes and a
  stationary sd of 0.04 or 0.08 on the log scale (about ±10% or ±20% of the rate at its widest
  over a window);
* autocorrelated per-instance latency (AR(1), 10 minutes, sd 0.03 on the log scale, as in
  judgment_quality.py) with the overlapping p99 window (`[2m]` at a 1m step, the analysis's
  `range: 2m`) or boundary-sharing windows: `max_over_time(p99[1m])` at a 1m step of a p99 gauge
  scraped every 15 s (each over its quarter minute), where each point also reads the previous
  minute's last scrape, as Prometheus 2.x's closed ranges do;
* the three traffic shapes (equal, 10% canary, low traffic), 30-minute windows, and 120-minute
  windows (clean, and drift of 10 and 30 minutes) for the equal traffic shape.

Per cell: healthy (A/A) false fails, and for drift-free cells the detection of a regressed metric
(p99 +25%, errors ×2, conversion −10%) and the pass/inconclusive split of healthy canaries; how
often the `inconclusive: drift` rule fired, and behind each false fail of this tree the dispersion
its rate test allowed for (whether the window's batches showed the drift at all). Prints a
Markdown report.

    python3 bench/dependence_quality.py --main-binary /tmp/canary-main [--aa-runs 300] [--runs 100]

`--drift 8%` also judges every scenario with this tree's binary on the same analysis declaring
`judgment.drift: 8%` (column "declared 8%"), beside the analysis without it ("canary"): the
one-look count test then re-checks a failed rate test under that per-side drift.
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
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import judgment_quality as jq  # noqa: E402


@dataclass(frozen=True)
class Cell:
    key: str
    level: int  # index into jq.LEVELS
    minutes: int
    drift_tau: float  # minutes; 0: no per-side rate drift
    drift_sd: float
    latency: str  # "overlap" ([2m] at 1m) or "boundary" ([1m] at 1m, shared boundary scrape)
    latency_sd: float = 0.03  # per-instance latency wobble (AR(1), 10 minutes)


def cells() -> list[Cell]:
    out = []
    for level, (lk, *_rest) in enumerate(jq.LEVELS):
        tag = f"{lk}30"
        out.append(Cell(f"{tag}-clean", level, 30, 0.0, 0.0, "overlap"))
        out.append(Cell(f"{tag}-boundary", level, 30, 0.0, 0.0, "boundary"))
        for tau in (5, 10, 30):
            out.append(Cell(f"{tag}-drift{tau}", level, 30, float(tau), 0.08, "overlap"))
    out.append(Cell("a30-drift10-small", 0, 30, 10.0, 0.04, "overlap"))
    out.append(Cell("a120-clean", 0, 120, 0.0, 0.0, "overlap"))
    for tau in (10, 30):
        out.append(Cell(f"a120-drift{tau}", 0, 120, float(tau), 0.08, "overlap"))
    return out


REGRESSIONS = [("lat+25", "p99_latency", 1.25), ("err*2", "error_rate", 2.0), ("conv-10", "conversion", 0.90)]


def simulate(cell: Cell, rng: np.random.Generator, metric: str | None, factor: float) -> dict:
    """jq.simulate's model with the cell's per-side drift and latency windows."""
    model = jq.Model(minutes=cell.minutes, instance_latency=cell.latency_sd)
    _, _, baseline_rate, canary_rate = jq.LEVELS[cell.level]
    n = cell.minutes + 1  # index 0 lies before the window
    shared = {k: jq._shared(rng, n, a, model.shared_walk) for k, a in
              (("traffic", model.shared_traffic), ("latency", model.shared_latency),
               ("errors", model.shared_errors), ("conversion", model.shared_conversion))}
    sides = {}
    for side, rate in (("baseline", baseline_rate), ("canary", canary_rate)):
        changed = side == "canary"
        f = {m: (factor if changed and metric == m else 1.0) for m in ("p99_latency", "error_rate", "conversion")}
        drift = [jq._ar1(rng, n, cell.drift_tau, cell.drift_sd) if cell.drift_tau > 0 else np.zeros(n)
                 for _ in range(2)]
        noise_lat = jq._ar1(rng, n, model.instance_tau, model.instance_latency)
        noise_err = jq._ar1(rng, n, model.instance_tau, model.instance_errors)
        noise_conv = jq._ar1(rng, n, model.instance_tau, model.instance_conversion)
        traffic = np.exp(shared["traffic"])
        requests = rng.poisson(rate * traffic)
        sessions = rng.poisson(rate * model.sessions_per_request * traffic)
        p_err = np.clip(model.error_probability * f["error_rate"] * np.exp(shared["errors"] + noise_err + drift[0]),
                        0, 1)
        p_conv = np.clip(model.conversion_probability * f["conversion"]
                         * np.exp(shared["conversion"] + noise_conv + drift[1]), 0, 1)
        errors = rng.binomial(requests, p_err)
        conversions = rng.binomial(sessions, p_conv)
        log_median = math.log(model.latency_median * f["p99_latency"]) + shared["latency"] + noise_lat
        latencies = [np.exp(rng.normal(log_median[t], model.latency_sigma, requests[t])) for t in range(n)]
        p99 = np.empty(cell.minutes)
        for i in range(cell.minutes):
            t = i + 1
            if cell.latency == "overlap":
                window = np.concatenate(latencies[t - 1:t + 1])
                p99[i] = np.quantile(window, 0.99) if window.size else float("nan")
            else:  # max_over_time(p99[1m]): 4 scrapes a minute, the previous minute's last one shared
                scrapes = [quarter_p99(latencies[t - 1])[-1]] + quarter_p99(latencies[t])
                p99[i] = np.nanmax(scrapes) if not np.all(np.isnan(scrapes)) else float("nan")
        sides[side] = {"requests": requests[1:].astype(float), "errors": errors[1:].astype(float),
                       "sessions": sessions[1:].astype(float), "conversions": conversions[1:].astype(float),
                       "p99": p99}
    return sides


def quarter_p99(requests: np.ndarray) -> list[float]:
    """The p99 gauge an application exports over each quarter of a minute (one scrape each)."""
    quarters = np.array_split(requests, 4)
    return [float(np.quantile(q, 0.99)) if q.size else float("nan") for q in quarters]


# The boundary cells' p99 query: a gauge scraped every 15 s, its maximum over closed 1m ranges.
BOUNDARY_P99 = "max_over_time(http_request_p99_seconds{ {{ selector }} }[1m])"


def boundary_analysis(workdir: str) -> str:
    """bench/quality-analysis.yaml with the boundary cells' p99 query and no declared range."""
    with open(os.path.join(jq.HERE, "quality-analysis.yaml")) as f:
        text = f.read()
    text = text.replace(f"'{jq.QUERIES['p99_latency']['value']}'", f"'{BOUNDARY_P99}'").replace("    range: 2m\n", "")
    path = os.path.join(workdir, "quality-max-over-time.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


@dataclass(frozen=True)
class Task:
    cell: Cell
    kind: str  # "aa" or a REGRESSIONS key
    run: int
    seed: int
    binaries: tuple  # (label, path, analysis variant) triples: "" or "declared"
    analyses: dict
    workdir: str


def run_task(task: Task) -> dict:
    regression = {k: (m, f) for k, m, f in REGRESSIONS}.get(task.kind)
    metric, factor = regression if regression else (None, 1.0)
    rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=(
        sum(map(ord, task.cell.key)), len(task.cell.key), sum(map(ord, task.kind)), task.run)))
    sides = simulate(task.cell, rng, metric, factor)
    queries = jq.QUERIES
    if task.cell.latency == "boundary":
        queries = {**jq.QUERIES, "p99_latency": {"value": BOUNDARY_P99}}
    path = os.path.join(task.workdir, f"{task.cell.key}-{task.kind}-{task.run:04d}-{os.getpid()}.json")
    with open(path, "w") as f:
        json.dump(jq.recording(jq.Model(minutes=task.cell.minutes), sides, queries), f)
    analysis = task.analyses[task.cell.latency]
    record = {"cell": task.cell.key, "kind": task.kind, "metric": metric, "run": task.run}
    for label, binary, variant in task.binaries:
        record[label] = jq.judge_canary(binary, task.analyses[task.cell.latency + variant], path)
    record["kayenta"] = jq.judge_kayenta_rust(task.binaries[0][1], analysis, path)
    if task.kind == "aa" and record[task.binaries[0][0]]["verdict"] == "fail":
        record["false_fail_evidence"] = rate_evidence(task.binaries[0][1], analysis, path)
    os.unlink(path)
    return record


def rate_evidence(binary: str, analysis: str, path: str) -> dict:
    """For a false fail: per failing count metric, the dispersion its rate test allowed for (events
    over effective events; 1 = the exact binomial test) and whether the drift interval was there."""
    proc = subprocess.run([binary, "judge", analysis, "--replay", path, "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    out = {}
    for metric in json.loads(proc.stdout).get("metrics", []):
        rate = next((t for t in metric.get("tests", []) if t.get("test") == "rate"), None)
        if rate is None or not metric.get("classification", "").startswith("fail"):
            continue
        events = sum(metric[side]["totals"]["numerator"] for side in ("baseline", "canary"))
        effective = rate.get("effective_samples")
        out[metric["name"]] = {"dispersion": events / effective if effective else 1.0, "drift": "drift" in rate}
    return out


def drift_rule_fired(judged: dict) -> bool:
    reasons = [m.get("reason") or "" for m in judged.get("metrics", {}).values()]
    return any("within what drift of the observed size produces" in r
               or "within what the declared drift (judgment.drift) could produce" in r for r in reasons)


def declaring(path: str, drift: str, workdir: str) -> str:
    """A copy of the analysis at `path` that declares `judgment.drift: DRIFT`."""
    with open(path) as f:
        text = f.read()
    if "\njudgment:" in text:
        raise SystemExit(f"--drift: {path} already has a judgment section")
    out = os.path.join(workdir, "declared-" + os.path.basename(path))
    with open(out, "w") as f:
        f.write(f"{text.rstrip()}\njudgment:\n  drift: '{drift}'\n")
    return out


def detected(judged: dict, metric: str) -> bool:
    cls = judged.get("metrics", {}).get(metric, {}).get("classification")
    return judged.get("verdict") == "fail" and cls == "fail_" + jq.BAD_DIRECTION[metric]


def kayenta_detected(r: dict) -> bool:
    want = "High" if jq.BAD_DIRECTION[r["metric"]] == "high" else "Low"
    return r["kayenta"]["verdict"] == "fail" and r["kayenta"]["metrics"][r["metric"]]["classification"] == want


def pct(count: int, total: int) -> str:
    return "–" if total == 0 else f"{100.0 * count / total:.1f}%"


def report(records: list[dict], labels: list[str], command: str, seconds: float) -> str:
    lines = []
    out = lines.append
    out("### Dependent and drifting data (issue 12): `bench/dependence_quality.py`")
    out("")
    out(f"Command: `{command}`; took {seconds:.0f} s on this machine (2 cores shared), {len(records)} scenarios.")
    out("")
    out("Healthy canaries (A/A): false fails (verdict fail), with the Wilson 95% upper bound, and the "
        "pass / inconclusive split; metrics failing in A/A runs in brackets (e = error_rate, "
        "l = p99_latency, c = conversion).")
    out("")
    head = "| cell | runs | " + " | ".join(f"{lb}: false fails | {lb}: pass / inconclusive" for lb in labels)
    out(head + " | Kayenta: false fails |")
    out("|---|---:|" + "---:|---:|" * len(labels) + "---:|")
    by = {}
    for r in records:
        by.setdefault((r["cell"], r["kind"]), []).append(r)
    pooled = {lb: [0, 0] for lb in labels}
    for cell in cells():
        rs = by.get((cell.key, "aa"), [])
        if not rs:
            continue
        n = len(rs)
        row = [cell.key, str(n)]
        for lb in labels:
            fails = [r for r in rs if r[lb]["verdict"] == "fail"]
            pooled[lb][0] += len(fails)
            pooled[lb][1] += n
            which = "".join(
                sorted({m[0] for r in fails for m, v in r[lb]["metrics"].items() if v["classification"].startswith("fail")}))
            row.append(f"{pct(len(fails), n)} (≤ {100 * jq.wilson_upper(len(fails), n):.1f}%)"
                       + (f" [{which.replace('p', 'l')}]" if which else ""))
            passes = sum(r[lb]["verdict"] == "pass" for r in rs)
            inconclusive = sum(r[lb]["verdict"] == "inconclusive" for r in rs)
            row.append(f"{pct(passes, n)} / {pct(inconclusive, n)}")
        row.append(pct(sum(r["kayenta"]["verdict"] == "fail" for r in rs), n))
        out("| " + " | ".join(row) + " |")
    aa = [r for r in records if r["kind"] == "aa"]
    out("| pooled | " + str(len(aa)) + " | " + " | ".join(
        f"{pct(f, n)} (≤ {100 * jq.wilson_upper(f, n):.1f}%) | " for f, n in pooled.values())
        + f" | {pct(sum(r['kayenta']['verdict'] == 'fail' for r in aa), len(aa))} |")
    out("")
    out("Regressions on drift-free data (cells `*-clean`): detection (verdict fail with the regressed "
        "metric failing in its bad direction) / inconclusive.")
    out("")
    out("| cell | change | runs | " + " | ".join(f"{lb}: detected / inconclusive" for lb in labels)
        + " | Kayenta: detected |")
    out("|---|---|---:|" + "---:|" * len(labels) + "---:|")
    for cell in cells():
        for kind, metric, _ in REGRESSIONS:
            rs = by.get((cell.key, kind), [])
            if not rs:
                continue
            n = len(rs)
            row = [cell.key, kind, str(n)]
            for lb in labels:
                row.append(f"{pct(sum(detected(r[lb], metric) for r in rs), n)} / "
                           f"{pct(sum(r[lb]['verdict'] == 'inconclusive' for r in rs), n)}")
            row.append(pct(sum(kayenta_detected(r) for r in rs), n))
            out("| " + " | ".join(row) + " |")
    out("")
    for label in labels:
        fired = [r for r in records if drift_rule_fired(r[label])]
        out(f"`inconclusive: drift` ({label}): fired in {sum(r['kind'] == 'aa' for r in fired)} healthy runs and "
            f"{sum(r['kind'] != 'aa' for r in fired)} regression runs of {len(records)}.")
        out("")
    label = labels[0]
    evidence = [e for r in records for e in r.get("false_fail_evidence", {}).values()]
    if evidence:
        shown = sum(e["dispersion"] > 1.0 for e in evidence)
        out(f"False fails ({label}), per failing count metric: {len(evidence)}; the batches showed dispersion "
            f"(rate test widened) in {shown}, the drift interval was computed in "
            f"{sum(e['drift'] for e in evidence)}; the others were judged by the exact binomial test: their "
            "batches varied no more than binomial noise.")
        out("")
    errors = {lb: sum(r[lb]["verdict"] == "error" or r[lb].get("exit_mismatch", False) for r in records)
              for lb in labels}
    out("Runs without a usable report (error, or exit code ≠ verdict): "
        + ", ".join(f"{lb} {e}" for lb, e in errors.items()) + ".")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=os.path.join(jq.REPO, "target", "release", "canary"))
    parser.add_argument("--main-binary", help="an earlier build to judge side by side (e.g. /tmp/canary-main)")
    parser.add_argument("--aa-runs", type=int, default=300, help="healthy runs per cell (default 300)")
    parser.add_argument("--runs", type=int, default=100, help="runs per regression on drift-free cells (default 100)")
    parser.add_argument("--cells", default=None, help="comma-separated cell keys (default all): "
                        + ",".join(c.key for c in cells()))
    parser.add_argument("--drift", help="also judge with the analysis declaring judgment.drift, e.g. 8%%")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--jsonl", metavar="FILE", help="write one JSON record per scenario to FILE")
    parser.add_argument("--output", metavar="FILE", help="also write the Markdown report to FILE")
    options = parser.parse_args()
    binaries = [("canary", os.path.abspath(options.binary), "")]
    if options.drift:
        binaries.append((f"declared {options.drift}", os.path.abspath(options.binary), "-declared"))
    if options.main_binary:
        binaries.append(("main", os.path.abspath(options.main_binary), ""))
    for _, binary, _ in binaries:
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary}: not an executable; build it (cargo build --release)")
    wanted = set(options.cells.split(",")) if options.cells else None
    chosen = [c for c in cells() if wanted is None or c.key in wanted]
    workdir = tempfile.mkdtemp(prefix="canary-dependence-")
    analyses = {"overlap": os.path.abspath(os.path.join(jq.HERE, "quality-analysis.yaml")),
                "boundary": boundary_analysis(workdir)}
    if options.drift:
        analyses.update({f"{key}-declared": declaring(path, options.drift, workdir) for key, path in list(analyses.items())})
    tasks = []
    for cell in chosen:
        tasks += [Task(cell, "aa", run, options.seed, tuple(binaries), analyses, workdir)
                  for run in range(options.aa_runs)]
        if cell.drift_tau == 0 and cell.latency == "overlap":
            tasks += [Task(cell, kind, run, options.seed, tuple(binaries), analyses, workdir)
                      for kind, _, _ in REGRESSIONS for run in range(options.runs)]
    started = time.time()
    records = []
    try:
        with ProcessPoolExecutor(max_workers=max(1, min(options.jobs, 2))) as pool:
            for i, record in enumerate(pool.map(run_task, tasks, chunksize=4), 1):
                records.append(record)
                if i % 200 == 0:
                    print(f"{i}/{len(tasks)} scenarios, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    command = "python3 bench/dependence_quality.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    jq.write_outputs(records, report(records, [lb for lb, _, _ in binaries], command.strip(), time.time() - started),
                     options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
