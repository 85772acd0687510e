#!/usr/bin/env bash
# Fuzz the request decoders and the model-file loader with libFuzzer
# (clang from the distribution, -fsanitize=fuzzer,address).  Builds the
# targets in build-fuzz/ (or --build DIR), runs each for SECONDS, keeps the
# grown corpora in build-fuzz/corpus/ and any crashing input beside them.
#
# Usage: scripts/fuzz.sh [--seconds N] [--build DIR] [--raw] [TARGET...]
#   --seconds N   run time per target (default 300)
#   --build DIR   the clang build folder (default build-fuzz)
#   --raw         feed the model loader raw bytes as the file: this finds
#                 crashes inside Debian's HDF5 1.10.8 itself within seconds,
#                 which tabula cannot prevent; the default edits a valid
#                 model file through HDF5's writer instead
#   TARGET        fuzz_request and/or fuzz_model (default both)
#
# Exits non-zero when a target found a crash, a leak or a sanitizer report.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=300
build=$root/build-fuzz
targets=()

while [[ $# -gt 0 ]]; do
    case $1 in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --build) build=${2:?--build needs a value}; shift 2 ;;
    --raw) export TB_FUZZ_RAW=1; shift ;;
    fuzz_request | fuzz_model) targets+=("$1"); shift ;;
    *) echo "fuzz: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_request fuzz_model)
build=$(realpath -m "$build")

# Every library is instrumented for coverage; only the targets link
# libFuzzer's main.
if [[ ! -d $build ]]; then
    CC=clang meson setup "$build" -Db_sanitize=address -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
ninja -C "$build" "${targets[@]/#/fuzz/}" >/dev/null

# Seeds: one request of each form, so that the fuzzer starts inside the
# decoders rather than at the JSON parser's first byte.
seed_requests() {
    local dir=$1
    printf '\000{"id":"s","parameters":{"domain_policy":"clamp","tolerance":0.1},"inputs":[{"name":"alpha","shape":[2],"datatype":"FP64","data":[0.5,2]},{"name":"x","shape":[2,1],"datatype":"FP32","data":[0,1]},{"name":"t","shape":[2],"datatype":"INT64","data":[0,1]}]}' \
        >"$dir/v2"
    printf '\001[{"alpha":0.5,"x":0.5,"t":0.5},{"alpha":1,"x":-0.0,"t":1e-3}]' \
        >"$dir/v1"
}

export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp:print_suppressions=0
status=0
for t in "${targets[@]}"; do
    corpus=$build/corpus/$t
    mkdir -p "$corpus"
    [[ $t != fuzz_request || -n $(ls -A "$corpus") ]] || seed_requests "$corpus"
    echo "== $t for ${seconds}s (corpus $corpus)"
    if (cd "$build/corpus" &&
        "$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
            -print_final_stats=1 "$corpus" >"$build/corpus/$t.log" 2>&1); then
        grep -E '^stat::number_of_executed_units|^Done' "$build/corpus/$t.log" |
            sed "s/^/$t: /"
    else
        echo "fuzz: $t FAILED; see $build/corpus/$t.log and the crash-* file" \
            "in $build/corpus" >&2
        grep -E 'ERROR|SUMMARY' "$build/corpus/$t.log" | head -5 >&2 || true
        status=1
    fi
done
exit $status
