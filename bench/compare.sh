#!/usr/bin/env bash
# Benchmark: the whole `canary compare` process, side by side in one hyperfine run, against
#   * the naive floor (bench/naive_floor.rs, compiled here with rustc -O): a plain
#     single-threaded program that reads both files, parses them with the standard library, sorts
#     them and counts U by merging;
#   * a whole Python process that loads the same files with numpy and runs
#     scipy.stats.mannwhitneyu;
# on 1,000,000 + 1,000,000 values; then wall and CPU (user + sys) per command from hyperfine's
# JSON export, and peak memory of each with GNU time.
# Needs: pip install scipy numpy; hyperfine and time (apt-get install -y hyperfine time).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || apt-get install -y hyperfine
[ -x /usr/bin/time ] || apt-get install -y time
size=${SIZE:-1000000}
mkdir -p bench/data
python3 bench/make_samples.py "$size" bench/data/baseline.txt bench/data/canary.txt
cargo build --locked --profile dist --quiet
rustc -O --edition 2021 bench/naive_floor.rs -o target/naive_floor
files="bench/data/baseline.txt bench/data/canary.txt"
canary="target/dist/canary compare $files --format json"
floor="target/naive_floor $files"
scipy="python3 bench/scipy_mannwhitneyu.py $files"
# BEFORE=path/to/an/older/canary adds that binary to the same run ("canary before").
before=()
if [ -n "${BEFORE:-}" ]; then before=(-n "canary before" "$BEFORE compare $files --format json"); fi
hyperfine --warmup 2 --runs "${RUNS:-10}" --ignore-failure --export-json bench/data/compare.json \
  -n canary "$canary" "${before[@]}" -n "naive floor" "$floor" -n scipy "$scipy"
python3 - <<'PY'
import json
results = {r["command"]: r for r in json.load(open("bench/data/compare.json"))["results"]}
floor = results["naive floor"]
floor_cpu = floor["user"] + floor["system"]
print(f"{'command':<14} {'wall mean':>10} {'CPU (user+sys)':>15} {'wall / floor':>13} {'CPU / floor':>12}")
for name, r in results.items():
    cpu = r["user"] + r["system"]
    print(f"{name:<14} {r['mean'] * 1e3:>8.1f} ms {cpu * 1e3:>12.1f} ms {r['mean'] / floor['mean']:>12.2f}x {cpu / floor_cpu:>11.2f}x")
PY
echo "input: $(du -h bench/data/baseline.txt | cut -f1) + $(du -h bench/data/canary.txt | cut -f1)"
for cmd in "$canary" ${BEFORE:+"$BEFORE compare $files --format json"} "$floor" "$scipy"; do
  /usr/bin/time -f "peak RSS %M KB, %e s: $cmd" $cmd >/dev/null || true
done
