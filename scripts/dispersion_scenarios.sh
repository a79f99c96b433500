#!/bin/bash
# The reviewer's scenarios of BENCHMARKS.md, "A pass widened by dispersion": N seeds of one metric
# (conversion or error_rate) judged with analyses/checkout.yaml by BINARY, counted by
# classification and inconclusive rule. SPIKE (side:start:len:factor) adds dips.
#   SPIKE=baseline:15:2:0.3 scripts/dispersion_scenarios.sh target/debug/canary conversion 0.8 0 40
set -euo pipefail
binary=$1; metric=$2; after=$3; start=$4; runs=$5
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for seed in $(seq 1 "$runs"); do
    python3 scripts/dispersion_step.py "$seed" "$metric" "$after" "$start" "$work/r.json"
    "$binary" judge analyses/checkout.yaml --replay "$work/r.json" --format json > "$work/o.json" || true
    python3 -c "
import json, sys
for m in json.load(open('$work/o.json'))['metrics']:
    if m['name'] == sys.argv[1]: print(m['classification'], (m.get('inconclusive') or {}).get('rule'))" "$metric"
done | sort | uniq -c
