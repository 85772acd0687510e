#!/usr/bin/env bash
# test_byo.sh - bring your own table: a table written by another program
# (write_foreign_table, from docs/table-format.md alone) for a problem
# tabula does not know is trained on; the model's report is grid-only and
# says so.
#
# Usage: tests/test_byo.sh PATH/TO/tabula PATH/TO/write_foreign_table
set -u

tabula=${1:?usage: tests/test_byo.sh TABULA WRITER}
writer=${2:?missing write_foreign_table}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tabula-byo-XXXXXX")
passed=0
failed=0

source "$(dirname "$0")/lib.sh"

check "another program writes a table" "$writer" "$tmp/foreign.h5"
"$tabula" train "$tmp/foreign.h5" -o "$tmp/model.h5" --hidden 8,8 \
    --epochs 200 --batch 16 --lr 1e-2 --target 0.3 >"$tmp/train.out" 2>&1
rc=$?
check "train accepts the foreign table (exit $rc)" test "$rc" -eq 0
check "train says the report is grid-only" \
    grep -q "error report is grid-only" "$tmp/train.out"
check "the grid figures are measured on all 84 nodes" \
    grep -q "grid nodes *84 " "$tmp/train.out"
check "the probe figures are marked not measured" \
    grep -q "off-grid probes .*not measured" "$tmp/train.out"

echo "byo: $passed passed, $failed failed"
if [[ $failed -eq 0 ]]; then
    rm -rf "$tmp"
    exit 0
fi
echo "byo: scratch files kept in $tmp" >&2
sed 's/^/    /' "$tmp/train.out" | head -30 >&2
exit 1
