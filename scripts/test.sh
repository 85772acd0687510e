#!/usr/bin/env bash
# Install, build and run every test: the formatting check, then the whole
# suite built plainly and again with AddressSanitizer and UBSan, then a
# bounded libFuzzer run of each fuzz target.
# Usage: scripts/test.sh        (from anywhere in the checkout)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    sed -n '2,5p' "$0" | sed 's/^# //'
    exit 0
fi

scripts/install-deps.sh

# Keep the kernel OpenBLAS picks as the environment sets it, and keep test
# runs from spawning more BLAS threads than the machine has cores.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

passed=0
failed=0

# Add one build's meson test counts to the totals.
count_results() {
    local log=$1/meson-logs/testlog.txt
    local ok fail
    ok=$(grep -c '^ *result: *exit status 0$' "$log" 2>/dev/null || true)
    fail=$(grep -E -c '^ *result: ' "$log" 2>/dev/null || true)
    passed=$((passed + ok))
    failed=$((failed + fail - ok))
}

echo "== formatting (clang-format, .clang-format)"
mapfile -t sources < <(git ls-files '*.c' '*.h')
if clang-format --dry-run --Werror "${sources[@]}"; then
    passed=$((passed + 1))
else
    echo "formatting: run clang-format -i on the files above" >&2
    failed=$((failed + 1))
fi

run_suite() {
    local dir=$1
    shift
    echo "== build $dir $*"
    if [[ ! -d $dir ]]; then
        meson setup "$dir" -Dwerror=true "$@" >/dev/null
    fi
    ninja -C "$dir" >/dev/null
    echo "== tests $dir"
    meson test -C "$dir" --print-errorlogs --num-processes 1 || true
    count_results "$dir"
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false

# The request decoders and the model loader under libFuzzer, bounded to
# about 20 s each (scripts/fuzz.sh runs them longer).
echo "== fuzz (20 s per target)"
if scripts/fuzz.sh --seconds 20; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
