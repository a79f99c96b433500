#!/usr/bin/env python3
"""Backend requests per judgment (issue 16, item 7): how many HTTP requests one `canary judge`
sends to each backend, counted at a local stub, for each canary binary given.

The stub (http.server on a free loopback port, one thread per connection, keep-alive) answers
* `POST /api/v2/query/timeseries` (Datadog v2): every query of the request, each with a series
  of `query_index` its position, a value every `interval` from `from` (inclusive) to `to`
  (exclusive), sparse where the query names errors;
* `GET /api/v1/query` (Datadog v1): one series with a point every 60 s;
* `POST /api/v1/query_range` (Prometheus): one series with a point every `step` from `start`
  through `end`;
* `GET /api/v1/validate`: `{"valid": true}`.
Values are drawn from a generator seeded by the query text (identical on every run, different
between the two sides). The stub counts every request and the distinct (query, range) pairs
asked for; a request of several Datadog queries counts once.

Cases (analysis, window, extra flags):
* analyses/checkout-datadog.yaml (Datadog v2, 3 metrics, 10 queries), 30 minutes at 1m;
* the same over 1,500 one-minute buckets (more than Datadog's 1,440 per request);
* the same through v1 (`--datadog-api v1` is not a flag: the analysis is copied with `api: v1`);
* tests/data/fetch/datadog-shared.yaml (two count metrics sharing a denominator, 10 queries,
  8 distinct);
* tests/data/datadog/before-after.yaml (an `offset: 1h` baseline: two ranges);
* analyses/checkout.yaml (Prometheus, 10 queries), and tests/data/fetch/prometheus-shared.yaml
  (Prometheus, two metrics sharing a denominator: 8 queries, 6 distinct).

    python3 bench/requests_per_judgment.py --canary after=target/release/canary \
        [--canary before=/tmp/canary-before/target/release/canary]

Prints a Markdown table: requests per judgment for each binary, the distinct queries, and the
exit codes (the judgment's verdict does not matter here, only what was fetched).
"""
from __future__ import annotations

import argparse
import http.server
import json
import random
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START = 1_795_168_800  # 2026-11-20T10:00:00Z


def series_values(query: str, times: list[int]) -> list[float | None]:
    rng = random.Random(query)
    sparse = "error" in query
    values = []
    for _ in times:
        value = rng.uniform(10, 20) if ("hits" in query or "sessions" in query or "requests" in query) else rng.uniform(0.1, 0.3)
        if "error" in query or "orders" in query or "completed" in query:
            value = float(rng.randint(0, 5))
        values.append(None if sparse and value == 0 else value)
    return values


class Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.asked: set[tuple[str, int, int]] = set()

    def count(self, queries: list[str], start: int, end: int) -> None:
        with self.lock:
            self.requests += 1
            for query in queries:
                self.asked.add((query, start, end))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        if url.path.endswith("/api/v1/validate"):
            self.reply({"valid": True})
            return
        start, end, query = int(params["from"]), int(params["to"]), params["query"]
        self.server.count([query], start, end)
        times = list(range(start, end, 60))
        points = [[t * 1000.0, v] for t, v in zip(times, series_values(query, times))]
        self.reply({"status": "ok", "res_type": "time_series", "series": [
            {"tag_set": [], "interval": 60, "pointlist": points, "query_index": 0}]})

    def do_POST(self) -> None:
        raw = self.body()
        if self.path.endswith("/api/v2/query/timeseries"):
            attributes = json.loads(raw)["data"]["attributes"]
            start, end, interval = attributes["from"] // 1000, attributes["to"] // 1000, attributes["interval"] // 1000
            queries = [q["query"] for q in attributes["queries"]]
            self.server.count(queries, start, end)
            times = list(range(start, end, interval))
            values = [series_values(q, times) for q in queries]
            series = [{"group_tags": [], "query_index": i, "unit": None} for i in range(len(queries))]
            self.reply({"data": {"id": "0", "type": "timeseries_response", "attributes": {
                "series": series, "times": [t * 1000 for t in times], "values": values}}})
            return
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        start, end, step, query = int(form["start"]), int(form["end"]), int(form["step"]), form["query"]
        self.server.count([query], start, end)
        times = list(range(start, end + 1, step))
        values = [[t, repr(v if v is not None else 0.0)] for t, v in zip(times, series_values(query, times))]
        self.reply({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}})


def iso(seconds: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--canary", action="append", required=True, help="NAME=PATH of a canary binary")
    args = parser.parse_args()
    binaries = [tuple(c.split("=", 1)) for c in args.canary]
    stub = Stub()
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{stub.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="canary-requests-") as tmp:
        v1 = Path(tmp) / "checkout-datadog-v1.yaml"
        v1.write_text((REPO / "analyses/checkout-datadog.yaml").read_text().replace("  site: datadoghq.eu\n", "  site: datadoghq.eu\n  api: v1\n"))
        cases = [
            ("Datadog v2, analyses/checkout-datadog.yaml, 30 min", "analyses/checkout-datadog.yaml", 30, []),
            ("Datadog v2, the same over 1,500 buckets", "analyses/checkout-datadog.yaml", 1500, []),
            ("Datadog v2, tests/data/fetch/datadog-shared.yaml (shared denominator)", "tests/data/fetch/datadog-shared.yaml", 30, []),
            ("Datadog v2, tests/data/datadog/before-after.yaml (offset 1h)", "tests/data/datadog/before-after.yaml", 30, []),
            ("Datadog v1, analyses/checkout-datadog.yaml with api: v1", str(v1), 30, []),
            ("Prometheus, analyses/checkout.yaml", "analyses/checkout.yaml", 30, []),
            ("Prometheus, tests/data/fetch/prometheus-shared.yaml (shared denominator)", "tests/data/fetch/prometheus-shared.yaml", 30, []),
        ]
        env = {"DD_API_KEY": "bench-api-key", "DD_APP_KEY": "bench-app-key", "PROMETHEUS_TOKEN": "bench-token", "PATH": "/usr/bin:/bin"}
        print("| case | " + " | ".join(f"{name}: requests" for name, _ in binaries) + " | distinct queries | exit codes |")
        print("|---|" + "---|" * len(binaries) + "---|---|")
        for title, analysis, minutes, extra in cases:
            row, distinct, codes = [], set(), []
            for name, binary in binaries:
                stub.reset()
                command = [binary, "judge", analysis, "--source-url", url, "--start", iso(START),
                           "--end", iso(START + minutes * 60), "--format", "json", *extra]
                done = subprocess.run(command, cwd=REPO, capture_output=True, env=env, check=False)
                if done.returncode not in (0, 1, 3):
                    sys.exit(f"{name}: {title}: exit {done.returncode}: {done.stderr.decode(errors='replace')[:1500]}")
                row.append(str(stub.requests))
                distinct.add(len(stub.asked))
                codes.append(str(done.returncode))
            print(f"| {title} | " + " | ".join(row) + f" | {', '.join(map(str, sorted(distinct)))} | {', '.join(codes)} |")
    stub.shutdown()


if __name__ == "__main__":
    main()
