#!/usr/bin/env bash
# A live judgment in one command: starts a real local Prometheus on loopback, backfilled with the
# last 45 minutes of a simulated checkout service (a baseline and a canary deployment), runs
# `canary judge analyses/checkout.yaml --last 30m` against it, prints the report, then stops
# Prometheus and removes everything it made.
#
#   scripts/try-live.sh            # a healthy canary: exit 0 (pass)
#   scripts/try-live.sh slow       # the canary's latency x1.3: exit 1 (fail)
#
# Needs `canary` (cargo install --locked --path .) and Prometheus with promtool on PATH:
# `sudo apt-get install prometheus` on Debian/Ubuntu (installing does not start a service), or the
# release archive from https://prometheus.io/download/ (both binaries are in it). CANARY=PATH
# picks another canary binary (PROMETHEUS and PROMTOOL likewise). The exit code is canary's (0 pass, 1 fail, 3 inconclusive, ...);
# 2 when something this script needs is missing.
#
# The data are generated here (mawk/gawk, fixed seed): per 15-second scrape, ~625 requests per
# deployment with log-normal durations (median 0.18 s, p99 ~0.58 s) counted into the histogram
# `http_request_duration_seconds_bucket`, 0.5% of them answered 5xx (`http_requests_total`), and
# ~100 checkout sessions converting at 32% (`checkout_sessions_started_total`,
# `checkouts_completed_total`): the metrics analyses/checkout.yaml queries. They are written as
# OpenMetrics and turned into blocks by `promtool tsdb create-blocks-from openmetrics`, as the
# test suite does (tests/integration/servers.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${1:-healthy}
case "$scenario" in
  healthy) canary_slowdown=1.0 ;;
  slow) canary_slowdown=1.3 ;;
  *) echo "usage: $0 [healthy|slow]" >&2; exit 2 ;;
esac

canary=${CANARY:-canary}
missing() { echo "try-live: $1" >&2; exit 2; }
command -v "$canary" >/dev/null ||
  missing "no \`$canary\` on PATH: install it first with \`cargo install --locked --path .\` (or set CANARY=/path/to/canary)"
prometheus=${PROMETHEUS:-prometheus}
promtool=${PROMTOOL:-promtool}
for tool in "$prometheus" "$promtool"; do
  command -v "$tool" >/dev/null || missing "no \`$tool\` on PATH: install Prometheus, e.g. \`sudo apt-get install prometheus\` on Debian/Ubuntu, or put prometheus and promtool from a release archive of https://prometheus.io/download/ on PATH"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/canary-try-live.XXXXXX")
prometheus_pid=""
cleanup() {
  if [ -n "$prometheus_pid" ]; then
    kill "$prometheus_pid" 2>/dev/null || true
    wait "$prometheus_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scrape=15
end=$(( $(date +%s) / scrape * scrape ))
start=$(( end - 45 * 60 ))

echo "try-live: generating 45 minutes of checkout metrics ($scenario canary)..." >&2
awk -v start="$start" -v end="$end" -v scrape="$scrape" -v slowdown="$canary_slowdown" '
  function normal() { return sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand()) }
  function count(mean) { n = int(mean + sqrt(mean) * normal() + 0.5); return n < 0 ? 0 : n }
  BEGIN {
    srand(20261130)
    split("0.05 0.1 0.15 0.2 0.25 0.3 0.4 0.5 0.6 0.75 1 1.5 2.5 5 +Inf", le, " ")
    buckets = 15
    deployment[1] = "checkout-baseline"; factor[1] = 1.0
    deployment[2] = "checkout-canary"; factor[2] = slowdown
    slots = 0
    for (t = start; t <= end; t += scrape) {
      slots++
      time[slots] = t
      # Traffic shared by both deployments: a slow wave of +-10% over 20 minutes.
      load = 1 + 0.1 * sin(6.283185307179586 * (t - start) / 1200)
      for (d = 1; d <= 2; d++) {
        requests = count(625 * load)
        for (r = 0; r < requests; r++) {
          duration = 0.18 * factor[d] * exp(0.5 * normal())
          for (b = 1; b <= buckets; b++) if (b == buckets || duration <= le[b]) bucket[d, b]++
          if (rand() < 0.005) errors[d]++; else ok[d]++
          sum[d] += duration
        }
        sessions = count(100 * load)
        for (s = 0; s < sessions; s++) if (rand() < 0.32) done[d]++
        started[d] += sessions
        v_ok[d, slots] = ok[d] + 0; v_err[d, slots] = errors[d] + 0
        v_sessions[d, slots] = started[d]; v_done[d, slots] = done[d] + 0
        v_sum[d, slots] = sum[d]
        for (b = 1; b <= buckets; b++) v_bucket[d, b, slots] = bucket[d, b] + 0
      }
    }
    print "# TYPE http_requests counter"
    for (d = 1; d <= 2; d++) for (i = 1; i <= slots; i++) {
      printf "http_requests_total{deployment=\"%s\",code=\"200\"} %d %d\n", deployment[d], v_ok[d, i], time[i]
      printf "http_requests_total{deployment=\"%s\",code=\"500\"} %d %d\n", deployment[d], v_err[d, i], time[i]
    }
    print "# TYPE checkout_sessions_started counter"
    for (d = 1; d <= 2; d++) for (i = 1; i <= slots; i++)
      printf "checkout_sessions_started_total{deployment=\"%s\"} %d %d\n", deployment[d], v_sessions[d, i], time[i]
    print "# TYPE checkouts_completed counter"
    for (d = 1; d <= 2; d++) for (i = 1; i <= slots; i++)
      printf "checkouts_completed_total{deployment=\"%s\"} %d %d\n", deployment[d], v_done[d, i], time[i]
    print "# TYPE http_request_duration_seconds histogram"
    for (d = 1; d <= 2; d++) for (i = 1; i <= slots; i++) {
      for (b = 1; b <= buckets; b++)
        printf "http_request_duration_seconds_bucket{deployment=\"%s\",le=\"%s\"} %d %d\n", deployment[d], le[b], v_bucket[d, b, i], time[i]
      printf "http_request_duration_seconds_sum{deployment=\"%s\"} %.6f %d\n", deployment[d], v_sum[d, i], time[i]
      printf "http_request_duration_seconds_count{deployment=\"%s\"} %d %d\n", deployment[d], v_bucket[d, buckets, i], time[i]
    }
    print "# EOF"
  }' >"$work/data.om"

"$promtool" tsdb create-blocks-from openmetrics "$work/data.om" "$work/tsdb" >"$work/promtool.log" 2>&1 ||
  { cat "$work/promtool.log" >&2; missing "promtool could not build blocks from the generated data (its output is above)"; }
printf '# No scrape targets: the data comes from the blocks promtool made.\nglobal:\n  scrape_interval: 15s\n' >"$work/prometheus.yml"

# A free loopback port: try a few, Prometheus exits at once when its port is taken.
for attempt in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 20000 ))
  "$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$port" --log.level=warn \
    >"$work/prometheus.log" 2>&1 </dev/null &
  prometheus_pid=$!
  for _ in $(seq 1 300); do
    if ! kill -0 "$prometheus_pid" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /-/ready HTTP/1.0\r\n\r\n' >&3 && grep -q ' 200 ' <&3) 2>/dev/null; then
      break 2
    fi
    sleep 0.1
  done
  kill "$prometheus_pid" 2>/dev/null || true
  wait "$prometheus_pid" 2>/dev/null || true
  prometheus_pid=""
  grep -q "address already in use" "$work/prometheus.log" || { cat "$work/prometheus.log" >&2; missing "Prometheus did not start (its log is above)"; }
done
[ -n "$prometheus_pid" ] || missing "no free loopback port for Prometheus after 5 attempts"
echo "try-live: Prometheus ready on http://127.0.0.1:$port (pid $prometheus_pid); judging the last 30 minutes..." >&2

# The shipped analysis reads a token from $PROMETHEUS_TOKEN; this Prometheus has no
# authentication, so the copy judged here has no token_env.
grep -v '^ *token_env:' analyses/checkout.yaml >"$work/checkout.yaml"
echo "+ canary judge analyses/checkout.yaml --var canary=checkout-canary --last 30m --source-url http://127.0.0.1:$port" >&2
status=0
env -u CANARY_SOURCE_TOKEN "$canary" judge "$work/checkout.yaml" --var canary=checkout-canary --last 30m \
  --source-url "http://127.0.0.1:$port" || status=$?
echo "try-live: canary exited $status; stopping Prometheus and removing $work" >&2
exit "$status"
