#!/usr/bin/env bash
# Benchmark: the whole `canary compare` process against a whole Python process that loads the same
# files with numpy and runs scipy.stats.mannwhitneyu, on 1,000,000 + 1,000,000 values, in one
# hyperfine run; then peak memory of each with GNU time.
# Needs: pip install scipy numpy; hyperfine and time (apt-get install -y hyperfine time).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || apt-get install -y hyperfine
[ -x /usr/bin/time ] || apt-get install -y time
size=${SIZE:-1000000}
mkdir -p bench/data
python3 bench/make_samples.py "$size" bench/data/baseline.txt bench/data/canary.txt
cargo build --profile dist --quiet
hyperfine --warmup 2 --runs ${RUNS:-10} --ignore-failure \
  -n canary "target/dist/canary compare bench/data/baseline.txt bench/data/canary.txt --format json" \
  -n scipy "python3 bench/scipy_mannwhitneyu.py bench/data/baseline.txt bench/data/canary.txt"
echo "input: $(du -h bench/data/baseline.txt | cut -f1) + $(du -h bench/data/canary.txt | cut -f1)"
for cmd in "target/dist/canary compare bench/data/baseline.txt bench/data/canary.txt --format json" \
           "python3 bench/scipy_mannwhitneyu.py bench/data/baseline.txt bench/data/canary.txt"; do
  /usr/bin/time -f "peak RSS %M KB, %e s: $cmd" $cmd >/dev/null || true
done
