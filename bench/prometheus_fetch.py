#!/usr/bin/env python3
"""Prometheus fetch benchmark (issue 4, item 6): how long `canary judge` takes to fetch the 100
queries of a 50-metric analysis from a real Prometheus, with and without concurrency, against the
sum of the same queries' times one by one; and the peak memory of parsing an 11,000-point ×
200-series `query_range` response.

Part 1, a real Prometheus:

* Data: 50 counters `bench_metric_N_total{deployment="baseline"|"canary", pod="pod-K"}`
  (`--pods` pods per side, default 4), a sample every 15 s from 2026-11-19T08:00:00Z to 10:00:00Z,
  Poisson increments with a per-metric mean (seeded numpy, identical bytes on every run), written
  as OpenMetrics and loaded exactly as tests/integration/servers.rs does: `promtool tsdb
  create-blocks-from openmetrics` into a temporary directory, then `prometheus` over those blocks
  on a free loopback port with `--storage.tsdb.retention.time=100y`, polled on `/-/ready`. The
  server is killed and its directory removed at the end, also on errors and on SIGINT/SIGTERM.
* Analysis (written to the temporary directory, checked with `canary validate`): 50 gauges
  `sum(rate(bench_metric_N_total{ {{ selector }} }[1m]))`, selector `deployment="baseline"` or
  `deployment="canary"`; 100 queries a judgment. Window 08:02 to 10:00 at step 1m (119 points).
* Measured with hyperfine (`-N`, warm-up runs, then `--runs`; medians reported):
  (a) `canary judge ANALYSIS --source-url URL --start … --end … --format json` (concurrency 8,
      the default); (b) the same with `--concurrency 1`;
  the fetching alone: `canary validate ANALYSIS --live …` (every query once for both sides, a
      preview line each, no judgment) with concurrency 8 and 1, minus `canary validate ANALYSIS`
      (the same process without queries);
  (d) `canary judge ANALYSIS --replay REC` on a recording of the same window made by `canary
      record`: the judgment without fetching (process start, parsing, 50 judgments, JSON).
  (c) The single queries: the 100 queries exactly as the recording stores them (the strings canary
      sent), each POSTed alone to `/api/v1/query_range` from Python with canary's form
      (query, start, end, step, timeout, partial_response=false) over one keep-alive connection,
      timed from sending the request to the last byte of the body; `--query-reps` passes over all
      100 after one warm-up pass; the median of each query's times, summed. (Cleaner than one
      canary process per metric: no process start-up to subtract.)
* On loopback a query costs well under a millisecond, so the same measurements are repeated
  through a small proxy (in this script) that waits `--rtt-ms` (default 20 ms) before forwarding
  each request: Prometheus one network round trip away, where concurrency is meant to pay.

Part 2, peak memory: a tiny HTTP server in a thread (http.server on a free loopback port) answers
every `POST …/api/v1/query_range` with a precomputed Prometheus JSON matrix of 200 series × 11,000
points (timestamps as numbers, values as strings, as Prometheus writes them), written once to a
temporary file and streamed from it. `/usr/bin/time -f '%M KB %e s' canary validate ANALYSIS
--live …` runs a one-metric analysis over a window of exactly 11,000 points (step 60 s, 10,999
steps), so each side is one request. The URL's path prefix selects what the server answers:
`/one/` gives the canary the big body and the baseline a 1-series body (one big response
parsed); `/both/` gives both sides the big body (two, in flight together with the default
concurrency, one after the other with `--concurrency 1`). `validate` without `--live` gives the
process's floor. The server checks that every request asked for exactly the 11,000-point window
(canary did not split it).

    python3 bench/prometheus_fetch.py [--runs 30] [--query-reps 7] [--rtt-ms 20] [--mem-reps 3]
        [--output FILE]

Needs target/release/canary (`cargo build --release`), prometheus and promtool on PATH, hyperfine
and GNU time (/usr/bin/time). Prints a Markdown section (and writes it to --output).
"""
from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timezone

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CANARY = os.path.join(REPO, "target", "release", "canary")

# Part 1: data and window.
DATA_START = 1795075200  # 2026-11-19T08:00:00Z
DATA_END = DATA_START + 2 * 3600  # 2026-11-19T10:00:00Z
SCRAPE = 15
METRICS = 50
SEED = 20261119
JUDGE_START = "2026-11-19T08:02:00Z"  # rate(...[1m]) has data from 08:01 on
JUDGE_END = "2026-11-19T10:00:00Z"

# Part 2: an 11,000-point window at step 60 s (10,999 steps).
MEM_POINTS = 11_000
MEM_SERIES = 200
MEM_STEP = 60
MEM_START = 1794412800  # 2026-11-11T16:00:00Z, a whole minute
MEM_END = MEM_START + (MEM_POINTS - 1) * MEM_STEP


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Data


def openmetrics(pods: int) -> str:
    """50 counter families, `pods` pods per side, Poisson increments every 15 s, seeded."""
    rng = np.random.default_rng(SEED)
    times = np.arange(DATA_START, DATA_END + 1, SCRAPE)
    lines = []
    for m in range(METRICS):
        lines.append(f"# TYPE bench_metric_{m} counter")
        mean = 20 + 5 * m  # events per 15 s per pod: 80 to 1060 a minute
        for deployment in ("baseline", "canary"):
            for pod in range(pods):
                increments = rng.poisson(mean, size=len(times))
                increments[0] = 0
                values = np.cumsum(increments)
                name = f'bench_metric_{m}_total{{deployment="{deployment}",pod="pod-{pod}"}}'
                lines.extend(f"{name} {v} {t}" for t, v in zip(times.tolist(), values.tolist()))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def analysis_yaml() -> str:
    metrics = "".join(
        f"  - name: metric_{m}\n"
        f"    query: 'sum(rate(bench_metric_{m}_total{{ {{{{ selector }}}} }}[1m]))'\n"
        f"    direction: increase\n"
        f"    margin: 10%\n"
        for m in range(METRICS)
    )
    return (
        "# Generated by bench/prometheus_fetch.py: 50 gauges, 100 queries a judgment.\n"
        "version: 1\n"
        "name: prometheus-fetch-bench\n"
        "source:\n  kind: prometheus\n"
        "baseline:\n  variables:\n    selector: 'deployment=\"baseline\"'\n"
        "canary:\n  variables:\n    selector: 'deployment=\"canary\"'\n"
        "window:\n  last: 2h\n  step: 1m\n"
        "metrics:\n" + metrics
    )


def memory_analysis_yaml() -> str:
    return (
        "# Generated by bench/prometheus_fetch.py: one gauge, answered by a canned 200-series body.\n"
        "version: 1\n"
        "name: prometheus-parse-memory\n"
        "source:\n  kind: prometheus\n"
        "baseline:\n  variables:\n    selector: 'deployment=\"baseline\"'\n"
        "canary:\n  variables:\n    selector: 'deployment=\"canary\"'\n"
        "window:\n  last: 1h\n  step: 1m\n"
        "metrics:\n"
        "  - name: per_pod_rate\n"
        "    query: 'sum by (pod) (rate(bench_big_total{ {{ selector }} }[1m]))'\n"
        "    direction: increase\n"
    )


def matrix_body(series: int, points: int) -> bytes:
    """A Prometheus `query_range` answer: `series` series of `points` points at MEM_STEP, values
    as strings in Go's shortest float format (rate-like k/60 values, mostly 16-17 digits)."""
    rng = np.random.default_rng(SEED + series)
    times = [str(MEM_START + i * MEM_STEP) for i in range(points)]
    parts = []
    for s in range(series):
        counts = rng.poisson(300 + s, size=points) / 60.0
        values = ",".join(f'[{t},"{v!r}"]' for t, v in zip(times, counts.tolist()))
        labels = json.dumps({"deployment": "canary", "pod": f"pod-{s:03d}"}, separators=(",", ":"))
        parts.append(f'{{"metric":{labels},"values":[{values}]}}')
    return ('{"status":"success","data":{"resultType":"matrix","result":[' + ",".join(parts) + "]}}").encode()


# ---------------------------------------------------------------------------------------------
# Processes


def run(cmd, check=True) -> subprocess.CompletedProcess:
    """Runs `cmd` in its own process group; on an error or a signal here, the whole group (e.g.
    hyperfine and the canary it runs) is killed."""
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        raise
    result = subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


class Prometheus:
    """`prometheus` over promtool blocks in `directory`, on a free loopback port."""

    def __init__(self, directory: str, om_text: str):
        self.process = None
        self.url = ""
        om = os.path.join(directory, "data.om")
        with open(om, "w") as f:
            f.write(om_text)
        tsdb = os.path.join(directory, "tsdb")
        started = time.monotonic()
        run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, tsdb])
        self.load_seconds = time.monotonic() - started
        config = os.path.join(directory, "prometheus.yml")
        with open(config, "w") as f:
            f.write("# No scrape targets: the data comes from blocks made by promtool.\nglobal:\n  scrape_interval: 15s\n")
        self.log = os.path.join(directory, "server.log")
        for _ in range(5):
            port = free_port()
            with open(self.log, "w") as log:
                self.process = subprocess.Popen(
                    [
                        "prometheus",
                        f"--config.file={config}",
                        f"--storage.tsdb.path={tsdb}",
                        f"--web.listen-address=127.0.0.1:{port}",
                        "--storage.tsdb.retention.time=100y",
                        "--log.level=warn",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                self.start_seconds = time.monotonic() - started
                return
            self.stop()
        raise RuntimeError("prometheus: no free port after 5 attempts")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 60
        host, port = self.url[len("http://"):].split(":")
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
                conn.request("GET", "/-/ready")
                if conn.getresponse().status == 200:
                    conn.close()
                    return True
                conn.close()
            except OSError:
                pass
            if self.process.poll() is not None:
                text = open(self.log).read()
                if "address already in use" in text:
                    return False
                raise RuntimeError(f"prometheus exited during start-up; its log:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"prometheus not ready on {self.url} within 60 s; its log:\n{open(self.log).read()}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class DelayProxy:
    """Forwards every `POST /api/v1/query_range` to `upstream` after sleeping `delay` seconds: a
    Prometheus one network round trip away (a thread per client connection, a keep-alive
    connection upstream per thread)."""

    def __init__(self, upstream: str, delay: float):
        host, port = upstream[len("http://"):].split(":")
        local = threading.local()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every response.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(delay)
                if getattr(local, "conn", None) is None:
                    local.conn = http.client.HTTPConnection(host, int(port), timeout=60)
                local.conn.request("POST", self.path, body=body, headers={"Content-Type": self.headers["Content-Type"]})
                response = local.conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                self.send_header("Content-Type", response.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class CannedServer:
    """Answers `POST <prefix>/api/v1/query_range` with a body from a file, chosen by the prefix
    (`/one/`: big body for the canary's query, small for the baseline's; `/both/`: big for both).
    Records every request's form."""

    def __init__(self, big_path: str, small_path: str):
        self.requests = []
        server_self = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every response.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                form = {k: v[0] for k, v in form.items()}
                prefix = self.path.split("/")[1]
                server_self.requests.append((prefix, self.path, form))
                canary_side = 'deployment="canary"' in form.get("query", "")
                if not self.path.endswith("/api/v1/query_range") or prefix not in ("one", "both"):
                    self.send_error(404)
                    return
                path = big_path if (prefix == "both" or canary_side) else small_path
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(os.path.getsize(path)))
                self.end_headers()
                with open(path, "rb") as f:
                    shutil.copyfileobj(f, self.wfile, 1 << 20)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


# ---------------------------------------------------------------------------------------------
# Measurements


def hyperfine(commands: dict, runs: int, warmup: int, directory: str, ignore_failure: bool) -> dict:
    """Median, mean, sd, min and max (seconds) per named command (an argument list), run without
    a shell."""
    out = os.path.join(directory, "hyperfine.json")
    cmd = ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs), "--export-json", out]
    if ignore_failure:
        cmd.append("--ignore-failure")
    for name, command in commands.items():
        cmd += ["-n", name, shlex.join(command)]
    run(cmd)
    with open(out) as f:
        results = json.load(f)["results"]
    return {
        r["command"]: {
            "median": r["median"],
            "mean": r["mean"],
            "stddev": r["stddev"] or 0.0,
            "min": r["min"],
            "max": r["max"],
            "exit_codes": sorted(set(r.get("exit_codes", []))),
        }
        for r in results
    }


def single_query_times(url: str, queries: list, start: int, end: int, step: int, reps: int) -> dict:
    """Each query POSTed alone over one keep-alive connection, as canary's form; times from
    sending the request to the body's last byte. One warm-up pass, then `reps` passes."""
    host, port = url[len("http://"):].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    times = [[] for _ in queries]
    points = []
    for rep in range(reps + 1):
        for i, query in enumerate(queries):
            body = urllib.parse.urlencode(
                {"query": query, "start": start, "end": end, "step": step, "timeout": "30s", "partial_response": "false"}
            )
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1/query_range", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - t0
            if response.status != 200:
                raise RuntimeError(f"{query}: HTTP {response.status}: {data[:300]!r}")
            if rep == 0:
                result = json.loads(data)["data"]["result"]
                if len(result) != 1:
                    raise RuntimeError(f"{query}: {len(result)} series")
                points.append(len(result[0]["values"]))
            else:
                times[i].append(elapsed)
    conn.close()
    medians = [statistics.median(t) for t in times]
    return {
        "sum_of_medians": sum(medians),
        "sum_of_minima": sum(min(t) for t in times),
        "pass_median": statistics.median(sum(t[r] for t in times) for r in range(reps)),
        "query_median": statistics.median(medians),
        "query_max": max(medians),
        "points": sorted(set(points)),
    }


def peak_rss(cmd: list, reps: int, expect_codes=(0,)) -> dict:
    """Median peak RSS (KB) and wall time (s) of `cmd` under GNU time over `reps` runs."""
    rss, wall, last = [], [], None
    for _ in range(reps):
        result = run(["/usr/bin/time", "-f", "%M KB %e s"] + cmd, check=False)
        if result.returncode not in expect_codes:
            raise RuntimeError(f"{shlex.join(cmd)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
        match = re.search(r"(\d+) KB ([\d.]+) s\s*$", result.stderr)
        if not match:
            raise RuntimeError(f"no GNU time line in: {result.stderr}")
        rss.append(int(match.group(1)))
        wall.append(float(match.group(2)))
        last = result
    return {"rss_kb": statistics.median(rss), "rss_all": rss, "wall": statistics.median(wall), "stdout": last.stdout}


# ---------------------------------------------------------------------------------------------
# Report


def machine() -> str:
    lscpu = run(["lscpu"]).stdout
    field = lambda name: next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith(name + ":")), "?")
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
    versions = [
        run(["prometheus", "--version"]).stdout.splitlines()[0] if shutil.which("prometheus") else "",
        run(["hyperfine", "--version"]).stdout.strip(),
        f"Python {platform.python_version()}, numpy {np.__version__}",
    ]
    return (
        f"{field('Model name')}, {field('CPU(s)')} CPUs ({field('Core(s) per socket')} cores per socket, "
        f"{field('Thread(s) per core')} thread per core), {mem_kb / 1048576:.1f} GiB RAM; "
        f"{platform.system()} {platform.release()}; " + "; ".join(v for v in versions if v)
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mb(kb: float) -> str:
    return f"{kb * 1024 / 1e6:.1f} MB"


def main() -> int:
    global CANARY
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="hyperfine runs per command on loopback (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="hyperfine warm-up runs (default 3)")
    parser.add_argument("--query-reps", type=int, default=7, help="passes over the single queries (default 7)")
    parser.add_argument("--rtt-ms", type=float, default=20, help="delay of the proxy scenario in ms; 0 skips it (default 20)")
    parser.add_argument("--rtt-runs", type=int, default=5, help="hyperfine runs per command through the proxy (default 5)")
    parser.add_argument("--rtt-query-reps", type=int, default=3, help="passes over the single queries through the proxy (default 3)")
    parser.add_argument("--mem-reps", type=int, default=3, help="runs per memory measurement (default 3)")
    parser.add_argument("--pods", type=int, default=4, help="pods per side and metric (default 4)")
    parser.add_argument("--output", help="also write the Markdown section to this file")
    parser.add_argument("--canary", default=CANARY, help="the canary binary (default target/release/canary)")
    args = parser.parse_args()
    CANARY = os.path.abspath(args.canary)
    default_binary = CANARY == os.path.join(REPO, "target", "release", "canary")

    if not os.access(CANARY, os.X_OK):
        print(f"{CANARY} is missing: cargo build --release", file=sys.stderr)
        return 2
    for tool in ("prometheus", "promtool", "hyperfine"):
        if not shutil.which(tool):
            print(f"{tool} is not on PATH", file=sys.stderr)
            return 2
    if not os.access("/usr/bin/time", os.X_OK):
        print("GNU time is missing (apt-get install time)", file=sys.stderr)
        return 2
    # SIGTERM/SIGHUP unwind through the finally block below, which stops the servers.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    busy = [p for p in run(["pgrep", "-f", "judgment_quality"], check=False).stdout.split() if int(p) != os.getpid()]
    load_start = os.getloadavg()[0]
    say = lambda text: print(text, file=sys.stderr, flush=True)

    directory = tempfile.mkdtemp(prefix="canary-prometheus-fetch-")
    prometheus = proxy = canned = None
    try:
        # ---- Part 1: a real Prometheus.
        say(f"generating data ({METRICS} metrics x 2 sides x {args.pods} pods) ...")
        om_text = openmetrics(args.pods)
        series_count = METRICS * 2 * args.pods
        samples = series_count * ((DATA_END - DATA_START) // SCRAPE + 1)
        prometheus = Prometheus(directory, om_text)
        url = prometheus.url
        say(f"prometheus ready at {url} in {prometheus.start_seconds:.1f} s (promtool {prometheus.load_seconds:.1f} s)")
        analysis = os.path.join(directory, "analysis.yaml")
        with open(analysis, "w") as f:
            f.write(analysis_yaml())
        validate = [CANARY, "validate", analysis]
        run(validate)
        window = ["--start", JUDGE_START, "--end", JUDGE_END]
        recording = os.path.join(directory, "recording.json")
        run([CANARY, "record", analysis, "--out", recording, "--source-url", url] + window)
        with open(recording) as f:
            rec = json.load(f)
        queries = [
            side["queries"]["value"]["query"]
            for metric in rec["metrics"].values()
            for side in (metric["baseline"], metric["canary"])
        ]
        assert len(queries) == 2 * METRICS, len(queries)
        rec_start = int(datetime.fromisoformat(rec["window"]["start"].replace("Z", "+00:00")).timestamp())
        rec_end = int(datetime.fromisoformat(rec["window"]["end"].replace("Z", "+00:00")).timestamp())
        step = rec["window"]["step_seconds"]
        judge = lambda u: [CANARY, "judge", analysis, "--source-url", u] + window + ["--format", "json"]
        live = lambda u: validate + ["--live", "--source-url", u] + window
        replay = [CANARY, "judge", analysis, "--replay", recording, "--format", "json"]
        verdict = run(judge(url), check=False)
        if verdict.returncode not in (0, 1, 3):
            raise RuntimeError(f"judge exited {verdict.returncode}: {verdict.stderr}")
        report = json.loads(verdict.stdout)
        # hyperfine counts a non-zero exit as a failure; the verdict's exit code is checked above.
        failing = verdict.returncode != 0

        def scenario(u: str, runs: int, warmup: int, reps: int, extra: dict) -> tuple:
            commands = dict(extra)
            commands.update(
                {
                    "judge8": judge(u),
                    "judge1": judge(u) + ["--concurrency", "1"],
                    "live8": live(u),
                    "live1": live(u) + ["--concurrency", "1"],
                }
            )
            timing = hyperfine(commands, runs, warmup, directory, failing)
            return timing, single_query_times(u, queries, rec_start, rec_end, step, reps)

        say("loopback: hyperfine and the single queries ...")
        direct, direct_single = scenario(url, args.runs, args.warmup, args.query_reps, {"validate": validate, "replay": replay})
        delayed = delayed_single = None
        if args.rtt_ms > 0:
            proxy = DelayProxy(url, args.rtt_ms / 1000)
            say(f"{args.rtt_ms:g} ms proxy at {proxy.url}: hyperfine and the single queries ...")
            delayed, delayed_single = scenario(proxy.url, args.rtt_runs, 1, args.rtt_query_reps, {})
            proxy.stop()
            proxy = None
        prometheus.stop()
        prometheus = None

        # ---- Part 2: peak memory against a canned 11,000 x 200 body.
        say(f"building the {MEM_SERIES} x {MEM_POINTS} body ...")
        big = os.path.join(directory, "big.json")
        small = os.path.join(directory, "small.json")
        with open(big, "wb") as f:
            f.write(matrix_body(MEM_SERIES, MEM_POINTS))
        with open(small, "wb") as f:
            f.write(matrix_body(1, MEM_POINTS))
        big_size, small_size = os.path.getsize(big), os.path.getsize(small)
        canned = CannedServer(big, small)
        canned_url = canned.url
        mem_analysis = os.path.join(directory, "memory-analysis.yaml")
        with open(mem_analysis, "w") as f:
            f.write(memory_analysis_yaml())
        mem_window = ["--start", iso(MEM_START), "--end", iso(MEM_END), "--step", "1m"]
        mem_validate = [CANARY, "validate", mem_analysis]
        say("measuring peak RSS ...")
        floor = peak_rss(mem_validate, args.mem_reps)
        one = peak_rss(mem_validate + ["--live", "--source-url", canned.url + "/one"] + mem_window, args.mem_reps)
        both8 = peak_rss(mem_validate + ["--live", "--source-url", canned.url + "/both"] + mem_window, args.mem_reps)
        both1 = peak_rss(
            mem_validate + ["--live", "--source-url", canned.url + "/both", "--concurrency", "1"] + mem_window,
            args.mem_reps,
        )
        expected = (str(MEM_START), str(MEM_END), "60")
        bad = [r for r in canned.requests if (r[2].get("start"), r[2].get("end"), r[2].get("step")) != expected]
        if bad or len(canned.requests) != 6 * args.mem_reps:
            raise RuntimeError(f"{len(canned.requests)} requests, not all for the 11,000-point window: {bad[:3]}")
        canary_lines = [l for l in one["stdout"].splitlines() if " canary " in l and "matrix" in l]
        if not canary_lines or f"matrix, {MEM_SERIES} series" not in canary_lines[0]:
            raise RuntimeError(f"unexpected preview:\n{one['stdout']}")
        preview = " ".join(canary_lines[0].split())
        canned.stop()
        canned = None
    finally:
        for server in (prometheus, proxy, canned):
            if server is not None:
                server.stop()
        shutil.rmtree(directory, ignore_errors=True)

    # ---- Report.
    shown_binary = "target/release/canary" if default_binary else "$CANARY"
    show = lambda cmd: shlex.join(cmd).replace(CANARY, shown_binary).replace(directory, "$TMP").replace(url, "$URL")
    fetch = lambda t, n: t[f"live{n}"]["median"] - direct["validate"]["median"]
    cell = lambda r: f"{ms(r['median'])} ({ms(r['min'])} – {ms(r['max'])})"
    lines = [
        "## Prometheus fetch: 50 metrics against a real Prometheus, and parsing memory",
        "",
        f"Run {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}: `python3 bench/prometheus_fetch.py "
        f"--runs {args.runs} --warmup {args.warmup} --query-reps {args.query_reps} --rtt-ms {args.rtt_ms:g} "
        f"--rtt-runs {args.rtt_runs} --rtt-query-reps {args.rtt_query_reps} --mem-reps {args.mem_reps} --pods {args.pods}"
        + ("" if default_binary else f" --canary {CANARY}")
        + f"` (repository at commit `{run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD']).stdout.strip()}`"
        + (", with uncommitted changes in src/" if run(["git", "-C", REPO, "status", "--porcelain", "src"]).stdout.strip() else "")
        + "; "
        + ("release binary" if default_binary else "the binary")
        + f" built {datetime.fromtimestamp(os.path.getmtime(CANARY), timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}).",
        "",
        f"Machine: {machine()}. Load average (1 min) at start {load_start:.2f}, at the end {os.getloadavg()[0]:.2f} "
        "(the machine is shared; on loopback a busy neighbour shows in the min – max spread).",
    ]
    if busy:
        lines += ["", f"**Note:** another benchmark (`judgment_quality`, pids {', '.join(busy)}) was running at the start; timings may be noisy."]
    lines += [
        "",
        "### Concurrency: one judgment of 50 metrics (100 queries)",
        "",
        f"Data: {series_count} counter series ({METRICS} metrics × baseline/canary × {args.pods} pods), a sample every "
        f"15 s over 2 hours ({samples:,} samples), loaded with `promtool tsdb create-blocks-from openmetrics` into "
        f"{prometheus_version()} on loopback (`--storage.tsdb.retention.time=100y`, a free port, ready on `/-/ready`). "
        f"Each query is `sum(rate(bench_metric_N_total{{ deployment=\"baseline\"|\"canary\" }}[1m]))` over "
        f"{JUDGE_START} to {JUDGE_END} at step {step} s: {', '.join(map(str, direct_single['points']))} points, one series. "
        f"The judgment's verdict: `{report.get('verdict', '?')}` (exit {verdict.returncode}).",
        "",
        "Commands (`$TMP` is the script's temporary directory with the generated analysis and the recording, "
        "`$URL` the server" + ("" if default_binary else ", `$CANARY` the binary given with `--canary`") + "; hyperfine `-N`):",
        "",
        "```sh",
        f"# (a), (b): hyperfine --warmup {args.warmup} --runs {args.runs} (through the proxy: --warmup 1 --runs {args.rtt_runs})",
        show(judge(url)),
        show(judge(url) + ["--concurrency", "1"]),
        "# fetching alone: every query once for both sides, no judgment; minus the same without --live",
        show(live(url)),
        show(live(url) + ["--concurrency", "1"]),
        show(validate),
        "# (d) the same judgment without fetching, on a recording of the same window made by `canary record`",
        show(replay),
        "# (c) each of the 100 queries of the recording alone: POST $URL/api/v1/query_range with",
        f"#     query=…&start={rec_start}&end={rec_end}&step={step}&timeout=30s&partial_response=false",
        "#     from Python (http.client, one keep-alive connection, request sent to last body byte);",
        f"#     {args.query_reps} passes (through the proxy: {args.rtt_query_reps}) after a warm-up pass; per-query medians, summed",
        "```",
        "",
    ]
    if delayed:
        lines += [
            f"Second column: the same Prometheus behind a small Python proxy (in the script) that waits {args.rtt_ms:g} ms "
            "before forwarding each request, as if Prometheus were one network round trip away (a CI runner querying a "
            "cluster). Times are medians, with min – max.",
            "",
            f"| measurement | loopback | + {args.rtt_ms:g} ms a request |",
            "|---|---|---|",
        ]
    else:
        lines += ["| measurement | loopback |", "|---|---|"]
    rows = [
        ("(a) `canary judge`, `--concurrency 8` (default), whole process", "judge8"),
        ("(b) `canary judge`, `--concurrency 1`, whole process", "judge1"),
        ("`canary validate --live`, concurrency 8 (fetch only)", "live8"),
        ("`canary validate --live`, `--concurrency 1`", "live1"),
    ]
    for label, key in rows:
        lines.append(f"| {label} | {cell(direct[key])} |" + (f" {cell(delayed[key])} |" if delayed else ""))
    for label, key in (("`canary validate` without `--live` (process floor)", "validate"), ("(d) `canary judge --replay` (the judgment without fetching)", "replay")):
        lines.append(f"| {label} | {cell(direct[key])} |" + (" same |" if delayed else ""))
    both = [(direct, direct_single)] + ([(delayed, delayed_single)] if delayed else [])
    lines.append(
        "| (c) **sum of the 100 single-query times** | "
        + " | ".join(f"**{ms(s['sum_of_medians'])}** (one query {ms(s['query_median'])})" for _, s in both)
        + " |"
    )
    lines.append("| **fetching, concurrency 8**: `--live` − floor | " + " | ".join(f"**{ms(fetch(t, 8))}**" for t, _ in both) + " |")
    lines.append("| fetching, concurrency 1: `--live --concurrency 1` − floor | " + " | ".join(ms(fetch(t, 1)) for t, _ in both) + " |")
    lines.append("| (c) ÷ fetching at concurrency 8 | " + " | ".join(f"**{s['sum_of_medians'] / fetch(t, 8):.2f}×**" for t, s in both) + " |")
    lines.append("| fetching at 1 ÷ at 8 | " + " | ".join(f"{fetch(t, 1) / fetch(t, 8):.2f}×" for t, _ in both) + " |")
    lines.append("| (c) ÷ (a), single-query sum against the whole concurrent judgment | " + " | ".join(f"{s['sum_of_medians'] / t['judge8']['median']:.2f}×" for t, s in both) + " |")
    lines.append("| (b) ÷ (a) | " + " | ".join(f"{t['judge1']['median'] / t['judge8']['median']:.2f}×" for t, _ in both) + " |")
    points_parsed = MEM_SERIES * MEM_POINTS
    mem_show = lambda cmd: shlex.join(["/usr/bin/time", "-f", "%M KB %e s"] + cmd).replace(CANARY, shown_binary).replace(directory, "$TMP").replace(canned_url, "$URL")
    lines += [
        "",
        "### Peak memory: one 11,000-point × 200-series response",
        "",
        f"A Python `http.server` on loopback answers every `POST …/api/v1/query_range` with a precomputed matrix "
        f"({MEM_SERIES} series × {MEM_POINTS:,} points = {points_parsed:,} points, timestamps as integers, values as "
        f"strings in shortest float form, mostly 16–17 digits), streamed from a file: **{big_size / 1e6:.1f} MB** "
        f"({big_size / points_parsed:.1f} bytes a point). The window {iso(MEM_START)} to {iso(MEM_END)} at step 60 s is "
        f"exactly {MEM_POINTS:,} points, so each side is one request (checked on the server: every request asked for "
        f"start={MEM_START}, end={MEM_END}, step=60). `/one` gives the canary the big body and the baseline a 1-series "
        f"body ({small_size / 1e6:.2f} MB); `/both` gives both sides the big body. Peak RSS is GNU time's `%M`, "
        f"median of {args.mem_reps} runs.",
        "",
        "```sh",
        mem_show(mem_validate),
        mem_show(mem_validate + ["--live", "--source-url", canned_url + "/one"] + mem_window),
        mem_show(mem_validate + ["--live", "--source-url", canned_url + "/both"] + mem_window),
        mem_show(mem_validate + ["--live", "--source-url", canned_url + "/both", "--concurrency", "1"] + mem_window),
        "```",
        "",
        f"canary's preview line for the big response: `{preview}`",
        "",
        "| run | responses parsed | peak RSS | above the floor | ÷ body size | wall |",
        "|---|---|---|---|---|---|",
    ]
    for label, parsed, r in (
        ("`validate` without `--live` (process floor)", "none", floor),
        ("`--live`, `/one`", f"1 × {big_size / 1e6:.1f} MB (+ 1 series)", one),
        ("`--live`, `/both`, concurrency 8", f"2 × {big_size / 1e6:.1f} MB, together", both8),
        ("`--live`, `/both`, `--concurrency 1`", f"2 × {big_size / 1e6:.1f} MB, in turn", both1),
    ):
        above = r["rss_kb"] - floor["rss_kb"]
        ratio = "" if r is floor else f"{above * 1024 / big_size:.2f}× one body"
        lines.append(
            f"| {label} | {parsed} | **{mb(r['rss_kb'])}** | {'' if r is floor else mb(above)} | {ratio} | {r['wall']:.2f} s |"
        )
    lines += [
        "",
        f"For scale: {points_parsed:,} parsed points as canary's `Point` (i64 time, f64 value) take "
        f"{points_parsed * 16 / 1e6:.1f} MB; the body is {big_size / 1e6:.1f} MB.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


def prometheus_version() -> str:
    return run(["prometheus", "--version"]).stdout.split(" (")[0].replace("prometheus, version ", "Prometheus ")


if __name__ == "__main__":
    sys.exit(main())
