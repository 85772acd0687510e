#!/usr/bin/env bash
# One row of the README's accuracy table: tabulate a problem on its default
# grid, train with the default command line, then compare the model with
# the solver and with multilinear interpolation on the same table.
#
# Usage: scripts/accuracy.sh PROBLEM [TRAIN OPTIONS...]
# Environment: TABULA (build-release/cli/tabula), WORK (run/accuracy)
# Prints the training summary, the comparison, and a Markdown table row.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
problem=$1
shift
tabula=${TABULA:-$root/build-release/cli/tabula}
work=${WORK:-$root/run/accuracy}
mkdir -p "$work"
table=$work/$problem-table.h5
model=$work/$problem.h5

"$tabula" tabulate "$problem" -o "$table" >/dev/null
"$tabula" train "$table" -o "$model" "$@" | tee "$work/$problem-train.txt"
seconds=$(sed -n 's/.*epochs, \([0-9.]*\) s$/\1/p' "$work/$problem-train.txt")
"$tabula" compare "$model" --baseline linear --json >"$work/$problem.json"

# One row: worst output's figures (max error / range).
python3 - "$work/$problem.json" "$model" "$table" "$seconds" \
    "$problem" "$*" <<'PY'
import json, os, sys
j = json.load(open(sys.argv[1]))
outs = j["outputs"]
def worst(key, part):
    return max(o[part][key] for o in outs if o[part])
lin = max(e["max_rel"] for e in j["baseline"]["probe"] if e)
args = sys.argv[6]
print("| %s | %d weights | %d / %d | %.0f s | %.2e | %.2e | 0 | %.2e | "
      "`scripts/accuracy.sh %s%s` |" % (
          sys.argv[5], j["baseline"]["model_bytes"] // 4,
          os.path.getsize(sys.argv[2]), os.path.getsize(sys.argv[3]),
          float(sys.argv[4]),
          worst("max_rel", "grid"), worst("max_rel", "probe"), lin,
          sys.argv[5], (" " + args) if args else ""))
PY
