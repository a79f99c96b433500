#!/usr/bin/env python3
"""Many analyses in one run (issue 16, items 4 and 7): 1, 10 and 100 analyses of one shape judged
by one `canary judge --fleet` process, against a single judgment, on a real local Prometheus and
on a Datadog v2 stand-in: backend requests, wall time and peak memory.

* Prometheus data: `--services` canary deployments `svc-000`… and one `baseline`, each with
  `http_requests_total{deployment, code="200"|"500"}` and a 6-bucket latency histogram
  `http_request_duration_seconds_bucket{deployment, le}`, a sample every 15 s from
  2026-11-20T10:00:00Z to 10:40:00Z (seeded numpy: identical bytes on every run), loaded exactly
  as tests/integration/servers.rs does (promtool blocks, then prometheus on a free loopback port;
  the server class is bench/prometheus_fetch.py's).
* The analysis (one shape): error_rate (a count: `sum(increase(…{code="500"}[1m]))` over
  `sum(increase(…[1m]))`) and p99_latency (`histogram_quantile(0.99, sum by (le) (rate(…[2m])))`),
  canary selected by `deployment="{{ canary }}"`, baseline `deployment="baseline"`: 3 queries a
  side, 6 a judgment. A fleet file of N services sets `canary: svc-NNN` for each.
* Requests are counted by Prometheus itself: `prometheus_http_requests_total{handler=
  "/api/v1/query_range"}` read from its `/metrics` before and after each run (canary's own JSON also reports
  `backend_queries`). Wall time: the median of `--runs` runs of the whole process; peak RSS:
  `/usr/bin/time -v`'s maximum resident set size, the median over the same runs.
* Datadog: a stand-in `POST /api/v2/query/timeseries` server in this script (answers every query
  of a request, one series each, or one per value of a grouped `version IN (…)} by {version}`
  query, and counts requests), with the same fleet over a Datadog analysis
  (`sum:trace.http.request.errors{service:checkout,version:{{ canary }}}.as_count()`…).

    python3 bench/fleet.py [--canary target/release/canary] [--before OTHER_CANARY] [--runs 10] [--output FILE]

With `--before` (e.g. main's build), every row is measured for both binaries back to back in the
same run (before, then after), so that both see the same load; the table gets a `canary` column.
Prometheus's own time for each canary query is measured with curl (`time_total`, the query POSTed
alone), the part of the wall time no client can remove.

Needs prometheus and promtool on PATH, curl and GNU time (/usr/bin/time). Prints a Markdown section.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from prometheus_fetch import Prometheus, free_port  # noqa: E402

SEED = 16
DATA_START = 1_795_168_800  # 2026-11-20T10:00:00Z
DATA_END = DATA_START + 40 * 60
SCRAPE = 15
WINDOW = ["--start", "2026-11-20T10:10:00Z", "--end", "2026-11-20T10:40:00Z"]
BUCKETS = [0.1, 0.25, 0.5, 1.0, 2.5, float("inf")]
SIZES = (1, 10, 100)

ANALYSIS = """version: 1
name: fleet-bench
source:
  kind: {kind}
  url: http://127.0.0.1:9
variables:
  canary: svc-000
baseline:
  variables:
    selector: '{baseline}'
canary:
  variables:
    selector: '{canary}'
window:
  last: 30m
  step: 1m
  warmup: 0s
judgment:
  alpha: 0.01
metrics:
  - name: error_rate
    numerator: '{errors}'
    denominator: '{requests}'
    direction: increase
    margin: 20%
  - name: p99_latency
    query: '{p99}'
    range: 2m
    direction: increase
    margin: 10%
"""


def prometheus_analysis() -> str:
    return ANALYSIS.format(
        kind="prometheus",
        baseline='deployment="baseline"',
        canary='deployment="{{ canary }}"',
        errors='sum(increase(http_requests_total{ {{ selector }}, code="500" }[{{ step }}]))',
        requests="sum(increase(http_requests_total{ {{ selector }} }[{{ step }}]))",
        p99="histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{ {{ selector }} }[{{ range }}])))",
    )


def datadog_analysis() -> str:
    return ANALYSIS.format(
        kind="datadog",
        baseline="version:baseline",
        canary="version:{{ canary }}",
        errors="sum:trace.http.request.errors{service:checkout,{{ selector }}}.as_count()",
        requests="sum:trace.http.request.hits{service:checkout,{{ selector }}}.as_count()",
        p99="p99:trace.http.request.duration{service:checkout,{{ selector }}}",
    )


def openmetrics(services: int) -> str:
    rng = np.random.default_rng(SEED)
    times = np.arange(DATA_START, DATA_END + 1, SCRAPE)
    names = ["baseline"] + [f"svc-{i:03d}" for i in range(services)]
    # Share of requests at or under each bucket bound: log-normal latency, median 180 ms, sigma 0.5.
    from math import erf, log, sqrt

    cdf = [1.0 if b == float("inf") else 0.5 * (1 + erf((log(b) - log(0.18)) / (0.5 * sqrt(2)))) for b in BUCKETS]
    probs = np.diff([0.0] + cdf)
    requests, buckets = [], []
    for name in names:
        n = rng.poisson(225, size=len(times))
        n[0] = 0
        errors = rng.binomial(n, 0.02)
        for code, counts in (("200", n - errors), ("500", errors)):
            values = np.cumsum(counts)
            label = f'http_requests_total{{deployment="{name}",code="{code}"}}'
            requests.extend(f"{label} {v} {t}" for t, v in zip(times.tolist(), values.tolist()))
        per_bin = np.array([rng.multinomial(k, probs) for k in n])
        cumulative = np.cumsum(np.cumsum(per_bin, axis=1), axis=0)
        for j, bound in enumerate(BUCKETS):
            le = "+Inf" if bound == float("inf") else f"{bound}"
            label = f'http_request_duration_seconds_bucket{{deployment="{name}",le="{le}"}}'
            buckets.extend(f"{label} {v} {t}" for t, v in zip(times.tolist(), cumulative[:, j].tolist()))
    lines = ["# TYPE http_requests counter", *requests, "# TYPE http_request_duration_seconds histogram"]
    # OpenMetrics wants a histogram point's lines together; one series after another is accepted
    # by promtool for buckets alone (no _sum/_count here).
    lines.extend(buckets)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def fleet_yaml(directory: str, analysis: str, size: int) -> str:
    path = os.path.join(directory, f"fleet-{os.path.basename(analysis)}-{size}.yaml")
    with open(path, "w") as f:
        f.write("version: 1\nservices:\n")
        for i in range(size):
            f.write(f"  - name: svc-{i:03d}\n    analysis: {analysis}\n    vars: {{canary: svc-{i:03d}}}\n")
    return path


def query_range_requests(url: str) -> float:
    """Prometheus' own count of `query_range` requests, from its `/metrics` (it scrapes nothing,
    so the counter is read where it is exposed, not through PromQL)."""
    with urllib.request.urlopen(f"{url}/metrics") as answer:
        text = answer.read().decode()
    pattern = r'^prometheus_http_requests_total\{[^}]*handler="/api/v1/query_range"[^}]*\} (\S+)$'
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))


def measure(cmd: list, runs: int, env: dict, count, parse=json.loads) -> dict:
    """Median wall time and peak RSS of `cmd` over `runs` runs, the backend requests of each run
    (by `count()` before and after), and the last run's JSON document."""
    walls, rss, cpu, requests, document = [], [], [], [], None
    for _ in range(runs):
        before = count()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - started)
        # CPU of the child (canary, and GNU time's own, well under a millisecond) to the microsecond.
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(used.ru_utime - usage.ru_utime + used.ru_stime - usage.ru_stime)
        requests.append(count() - before)
        if result.returncode not in (0, 1, 3):
            raise RuntimeError(f"{shlex.join(cmd)} exited {result.returncode}:\n{result.stderr[-3000:]}")
        rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)))
        document = parse(result.stdout)
    return {
        "wall": statistics.median(walls),
        "wall_range": (min(walls), max(walls)),
        "rss_kb": statistics.median(rss),
        "cpu": statistics.median(cpu),
        "requests": sorted(set(requests)),
        "document": document,
    }


def shown_path(path: str) -> str:
    """`path` relative to the repository when it is inside it, else as given."""
    relative = os.path.relpath(path, REPO)
    return path if relative.startswith("..") else relative


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name:")), "?")
    mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
    prometheus = subprocess.run(["prometheus", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return f"{model}, {os.cpu_count()} CPUs, {mem_kb / 1048576:.1f} GiB RAM; {prometheus}; Python {sys.version.split()[0]}"


class DatadogStandIn:
    """`POST /api/v2/query/timeseries`: one series per query of the request (one per value of a
    grouped query), counted."""

    def __init__(self):
        self.requests = 0
        lock = threading.Lock()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    stand_in.requests += 1
                attributes = body["data"]["attributes"]
                start, end = attributes["from"] // 1000, attributes["to"] // 1000
                interval = attributes.get("interval", 60000) // 1000
                times = list(range(start, end, interval))
                series, values = [], []
                for index, query in enumerate(attributes["queries"]):
                    for tags, text in DatadogStandIn.groups(query["query"]):
                        seed = sum(map(ord, text))
                        if "duration" in text:
                            row = [0.25 + ((i * 7 + seed) % 11) * 0.002 for i in range(len(times))]
                        elif "errors" in text:
                            row = [float(((i * 7 + seed) % 11) * 4) for i in range(len(times))]
                        else:
                            row = [2000.0 + ((t // 60) % 5) * 10.0 for t in times]
                        series.append({"group_tags": tags, "query_index": index, "unit": None})
                        values.append(row)
                answer = json.dumps(
                    {
                        "data": {
                            "id": "0",
                            "type": "timeseries_response",
                            "attributes": {"series": series, "times": [t * 1000 for t in times], "values": values},
                        }
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.api+json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def groups(text: str) -> list:
        """The series a query asks for: `(group_tags, own query)`. A grouped query (`… AND version
        IN (a, b)} by {version}…`, as canary sends it for a fleet) answers one series per listed
        value, tagged `version:value`, with the data of that value's own query (the query
        narrowed back to it), so a fleet run and each service alone see the same numbers."""
        grouped = re.search(r"(\w+) IN \(([^)]*)\)", text)
        if not grouped:
            return [([], text)]
        tag, listed = grouped.group(1), grouped.group(2).split(", ")
        out = []
        for value in listed:
            own = text[: grouped.start()] + f"{tag}:{value}" + text[grouped.end() :]
            own = own.replace(" AND ", ",").replace(f",{tag}}}", "}").replace(f" by {{{tag}}}", "")
            out.append(([f"{tag}:{value}"], own))
        return out

    def stop(self):
        self.server.shutdown()


def rows(label: str, single: dict, fleets: dict, binary: str = "") -> list:
    out = []
    base_requests = single["requests"][-1]
    for name, result in [("1 analysis, plain `canary judge`", single)] + [
        (f"{size} {'analysis' if size == 1 else 'analyses'}, `--fleet`", fleets[size]) for size in SIZES
    ]:
        requests = result["requests"]
        shown = "/".join(str(int(r)) for r in requests)
        doc = result["document"]
        outcome = doc.get("outcome", doc.get("verdict"))
        out.append(
            f"| {label} |{binary} {name} | {shown} | {requests[-1] / base_requests:.2f}× | "
            f"{result['wall'] * 1000:.1f} ms ({result['wall_range'][0] * 1000:.1f} – {result['wall_range'][1] * 1000:.1f}) | "
            f"{result['wall'] / single['wall']:.2f}× | {result['cpu'] * 1000:.1f} ms | {result['rss_kb'] / 1024:.1f} MiB | {outcome} |"
        )
    return out


def prometheus_query_times(url: str, runs: int) -> list:
    """How long Prometheus takes to answer each canary query for one service and, grouped as
    canary sends it, for 100 services."""
    values = "|".join(f"svc-{i:03d}" for i in range(100))
    shapes = {
        "error_rate numerator": (
            'sum(increase(http_requests_total{ deployment="svc-000", code="500" }[1m]))',
            f'sum by (deployment)(increase(http_requests_total{{ deployment=~"{values}", code="500" }}[1m]))',
        ),
        "error_rate denominator": (
            'sum(increase(http_requests_total{ deployment="svc-000" }[1m]))',
            f'sum by (deployment)(increase(http_requests_total{{ deployment=~"{values}" }}[1m]))',
        ),
        "p99_latency": (
            'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{ deployment="svc-000" }[2m])))',
            "histogram_quantile(0.99, sum by (le, deployment) (rate(http_request_duration_seconds_bucket"
            f'{{ deployment=~"{values}" }}[2m])))',
        ),
    }

    def timed(query: str) -> str:
        times = []
        form = {"query": query, "start": DATA_START + 600, "end": DATA_END, "step": 60}
        body = urllib.parse.urlencode(form)
        curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", "--data", body, f"{url}/api/v1/query_range"]
        for _ in range(runs):
            answer = subprocess.run(curl, capture_output=True, text=True, check=True)
            times.append(float(answer.stdout) * 1000)
        return f"{statistics.median(times):.1f} ms ({min(times):.1f} – {max(times):.1f})"

    return [f"| {name} | {timed(one)} | {timed(grouped)} |" for name, (one, grouped) in shapes.items()]


def p99_forms(url: str, runs: int) -> list:
    """Prometheus's time (curl `time_total`, the median) for other ways of writing the grouped p99
    query of 100 services, each checked to give exactly the same series (values compared as text)."""
    values = "|".join(f"svc-{i:03d}" for i in range(100))
    selector = f'http_request_duration_seconds_bucket{{ deployment=~"{values}" }}'
    forms = {
        "`histogram_quantile(0.99, sum by (le, deployment) (rate(…[2m])))` (canary's)":
            f"histogram_quantile(0.99, sum by (le, deployment) (rate({selector}[2m])))",
        "`… sum by (deployment, le) (…)`": f"histogram_quantile(0.99, sum by (deployment, le) (rate({selector}[2m])))",
        "`… sum(rate(…[2m])) by (le, deployment)`":
            f"histogram_quantile(0.99, sum(rate({selector}[2m])) by (le, deployment))",
        "no label matcher (all 101 deployments, the baseline's series dropped)":
            "histogram_quantile(0.99, sum by (le, deployment) (rate(http_request_duration_seconds_bucket[2m])))",
    }
    body = lambda query: urllib.parse.urlencode(  # noqa: E731
        {"query": query, "start": DATA_START + 600, "end": DATA_END, "step": 60}
    )
    out, reference = [], None
    for name, query in forms.items():
        curl = ["curl", "-s", "-w", "\n%{time_total}", "--data", body(query), f"{url}/api/v1/query_range"]
        times, answer = [], None
        for _ in range(runs):
            printed = subprocess.run(curl, capture_output=True, text=True, check=True).stdout
            answer, seconds = printed.rsplit("\n", 1)
            times.append(float(seconds) * 1000)
        series = json.loads(answer)["data"]["result"]
        kept = sorted(
            (json.dumps(s["metric"], sort_keys=True), s["values"])
            for s in series
            if s["metric"].get("deployment", "").startswith("svc-")
        )
        reference = reference or kept
        same = "identical" if kept == reference else "DIFFERENT"
        out.append(f"| {name} | {statistics.median(times):.1f} ms ({min(times):.1f} – {max(times):.1f}) | {same} |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--canary", default=os.path.join(REPO, "target/release/canary"))
    parser.add_argument("--before", help="another canary binary measured side by side (e.g. main's)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--output")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    directory = tempfile.mkdtemp(prefix="canary-fleet-bench-")
    prometheus = standin = None
    lines = []
    try:
        prometheus = Prometheus(directory, openmetrics(max(SIZES)))
        standin = DatadogStandIn()
        env = dict(os.environ, NO_COLOR="1", DD_API_KEY="bench-api-key", DD_APP_KEY="bench-app-key")
        env.pop("CANARY_SOURCE_URL", None)
        binaries = [("", args.canary)]
        if args.before:
            binaries = [(" before:", args.before), (" after:", args.canary)]
        table = [
            "| backend | run | backend requests per run | ÷ single | wall time, median (min – max) | ÷ single | canary CPU (user + sys) | peak RSS | outcome |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for label, text, url, count in [
            ("Prometheus", prometheus_analysis(), prometheus.url, lambda: query_range_requests(prometheus.url)),
            ("Datadog stand-in", datadog_analysis(), standin.url, lambda: standin.requests),
        ]:
            analysis = os.path.join(directory, f"{label.split()[0].lower()}.yaml")
            with open(analysis, "w") as f:
                f.write(text)
            common = ["--source-url", url, *WINDOW, "--format", "json"]
            # Each configuration measured for every binary back to back: the same load for both.
            singles = {
                name: measure([binary, "judge", analysis, "--var", "canary=svc-000", *common], args.runs, env, count)
                for name, binary in binaries
            }
            fleets = {name: {} for name, _ in binaries}
            for size in SIZES:
                fleet = fleet_yaml(directory, analysis, size)
                for name, binary in binaries:
                    fleets[name][size] = measure([binary, "judge", "--fleet", fleet, *common], args.runs, env, count)
            for name, _ in binaries:
                table.extend(rows(label, singles[name], fleets[name], name))
        backend_lines = prometheus_query_times(prometheus.url, args.runs)
        form_lines = p99_forms(prometheus.url, args.runs)
        version = subprocess.run([args.canary, "--version"], capture_output=True, text=True).stdout.strip()
        before_version = args.before and subprocess.run([args.before, "--version"], capture_output=True, text=True).stdout.strip()
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        lines = [
            f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `python3 bench/fleet.py --runs {args.runs}"
            f" --canary {shown_path(args.canary)}"
            + (f" --before {args.before}" if args.before else "")
            + f"` ({version}, commit `{commit.stdout.strip()}`"
            + (f"; before: {before_version}" if args.before else "")
            + f"); load average (1 min) at the start {load_at_start:.2f}, at the end {os.getloadavg()[0]:.2f}.",
            "",
            f"Machine: {machine()}.",
            "",
            *table,
            "",
            "Prometheus's own time for the canary queries of the 100-service run, each POSTed alone with",
            f"curl to `/api/v1/query_range` (`time_total`, median of {args.runs}, min – max), against one service's query:",
            "",
            "| query | 1 service | 100 services, grouped |",
            "|---|---:|---:|",
            *backend_lines,
            "",
            "The grouped p99 query written other ways (curl `time_total`, median, min – max; the answer",
            "compared with canary's form):",
            "",
            "| form | Prometheus's time | series |",
            "|---|---:|---|",
            *form_lines,
        ]
    finally:
        if prometheus:
            prometheus.stop()
        if standin:
            standin.stop()
        subprocess.run(["rm", "-rf", directory])
    return emit(lines, args.output)


def emit(lines: list[str], output: str | None) -> int:
    """Prints the report's lines, and writes them to `output` when one is given."""
    text = "\n".join(lines) + "\n"
    print(text)
    if output:
        with open(output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
