#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and prints, per target, the seconds it
# ran, the inputs libFuzzer tried (its `#N` count) and the crashes it found; exits 1 when any
# target crashed, timed out or ran out of memory, 2 on a usage or build error.
#
#   scripts/fuzz.sh                      every target, 60 s each
#   scripts/fuzz.sh recording analysis   only these targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh     longer runs
#
# Settings (environment): FUZZ_SECONDS (per target, default 60), FUZZ_MAX_LEN (bytes of one
# input, default 65536), FUZZ_RSS_LIMIT_MB (default 2048), FUZZ_TIMEOUT (seconds for one input
# before it counts as a hang, default 10).
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Targets are
# built with optimisations plus debug assertions and overflow checks, without a sanitizer: the
# crate forbids unsafe code, so panics (including arithmetic overflow) are what there is to find.
# Each target starts from its checked-in seeds (fuzz/corpus/<target>/) copied to a scratch
# directory, so generated inputs never land in git. A crashing input is kept under
# fuzz/artifacts/<target>/ and its panic message printed; reproduce it with
#   cd fuzz && cargo +nightly fuzz run -s none <target> artifacts/<target>/<file>
set -euo pipefail

seconds=${FUZZ_SECONDS:-60}
max_len=${FUZZ_MAX_LEN:-65536}
rss_limit_mb=${FUZZ_RSS_LIMIT_MB:-2048}
timeout=${FUZZ_TIMEOUT:-10}

for value in "$seconds" "$max_len" "$rss_limit_mb" "$timeout"; do
    if ! [[ $value =~ ^[1-9][0-9]*$ ]]; then
        echo "fuzz.sh: FUZZ_* settings must be positive whole numbers, got \`$value\`" >&2
        exit 2
    fi
done

cd "$(dirname "$0")/../fuzz"
fuzz=(cargo +nightly fuzz)
if ! "${fuzz[@]}" --version >/dev/null 2>&1; then
    echo "fuzz.sh: needs the nightly toolchain and cargo-fuzz: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

mapfile -t available < <("${fuzz[@]}" list)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${available[@]}")
fi
for target in "${targets[@]}"; do
    if ! printf '%s\n' "${available[@]}" | grep -qx -- "$target"; then
        echo "fuzz.sh: no fuzz target \`$target\` (have: ${available[*]})" >&2
        exit 2
    fi
done

if ! build_log=$("${fuzz[@]}" build -s none 2>&1); then
    echo "$build_log" >&2
    echo "fuzz.sh: the fuzz targets do not build (log above)" >&2
    exit 2
fi
binaries="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/canary-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

failed=0
summary=()
for target in "${targets[@]}"; do
    corpus="$scratch/$target"
    mkdir -p "$corpus" "artifacts/$target"
    if [ -d "corpus/$target" ]; then
        cp -- corpus/"$target"/* "$corpus"/ 2>/dev/null || true
    fi
    log="$scratch/$target.log"
    before=$(find "artifacts/$target" -type f | wc -l)
    touch "$scratch/$target.start"
    started=$(date +%s)
    echo "== $target: ${seconds}s, max_len $max_len, rss limit ${rss_limit_mb} MB, timeout ${timeout}s" >&2
    status=0
    # -close_fd_mask=3: the targets' own warnings (stderr) would drown libFuzzer's progress;
    # libFuzzer keeps its own copy of stderr for its reports.
    "${fuzz[@]}" run -s none "$target" "$corpus" -- \
        -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb="$rss_limit_mb" \
        -timeout="$timeout" -close_fd_mask=3 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - started))
    # libFuzzer's final stats, or else its last progress line (`#123456 pulse ...`).
    tried=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    if [ -z "$tried" ]; then
        tried=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)
    fi
    after=$(find "artifacts/$target" -type f | wc -l)
    crashes=$((after - before))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        # libFuzzer stopped with an error but kept no input: show why.
        tail -20 "$log" >&2
        crashes=1
    fi
    summary+=("$(printf '%-22s %8s %14s %8s' "$target" "$elapsed" "${tried:-?}" "$crashes")")
    if [ "$crashes" -gt 0 ]; then
        failed=1
        find "artifacts/$target" -type f -newer "$scratch/$target.start" | while read -r artifact; do
            echo "-- $target crashed on $artifact (base64: $(base64 -w0 <"$artifact" | head -c 400))" >&2
            grep -m1 -E "ERROR: libFuzzer|SUMMARY" "$log" >&2 || true
            # The panic message (hidden by -close_fd_mask above), from one bounded rerun.
            timeout $((timeout * 2 + 10)) "$binaries/$target" -timeout="$timeout" -rss_limit_mb="$rss_limit_mb" \
                "$artifact" 2>&1 | grep -m3 -E "panicked|overflow|index out of|unwrap|ERROR: libFuzzer" >&2 || true
        done
    fi
done

printf '%-22s %8s %14s %8s\n' target seconds inputs crashes
printf '%s\n' "${summary[@]}"
exit "$failed"
