#!/usr/bin/env bash
# The main job: install, build, tabulate the default problem, memorise it,
# measure the surrogate against the solver, and serve it over HTTP.
#
# Usage: scripts/run.sh [PROBLEM]     (default heat1d)
# Environment: PORT (8080), TRAIN_SECONDS (570), WORK (run/), TRAIN_ARGS
# (extra options for tabula train, e.g. --target 1e-3)
# The time limit governs training: there is no epoch limit, and the rate
# schedule is fitted to the time.  The network, its phases and the target
# are the problem's defaults (tabula train --help lists them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

problem=${1:-heat1d}
port=${PORT:-8080}
seconds=${TRAIN_SECONDS:-570}
work=${WORK:-$root/run}
read -r -a train_args <<<"${TRAIN_ARGS:-}"

# Find out now, not after minutes of training, that the port is taken.
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run.sh: port $port on 127.0.0.1 is in use; set PORT=..." >&2
    exit 1
fi

scripts/install-deps.sh

if [[ ! -d build-release ]]; then
    meson setup build-release -Dbuildtype=release >/dev/null
fi
ninja -C build-release >/dev/null
tabula=$root/build-release/cli/tabula

mkdir -p "$work/models"
table=$work/$problem-table.h5
model=$work/$problem.h5

echo "== tabulate $problem (default grid) -> $table"
"$tabula" tabulate "$problem" -o "$table"

echo "== train -> $model (at most $seconds s)"
"$tabula" train "$table" -o "$model" --time-limit "$seconds" \
    "${train_args[@]}"

echo "== compare surrogate and solver"
"$tabula" compare "$model"

# Install the model the way the regeneration script does: a rename.
cp "$model" "$work/models/.$problem.h5.tmp"
mv -f "$work/models/.$problem.h5.tmp" "$work/models/$problem.h5"

# The example asks for one point of every input, at the middle of its range.
example=$("$tabula" predict "$model" --example-json)

cat <<MSG

== serving on http://127.0.0.1:$port (Ctrl-C stops it). Try, in another shell:

curl -s http://127.0.0.1:$port/v2/models/$problem/infer \\
     -H 'Content-Type: application/json' \\
     -d '$example'

MSG
exec "$tabula" serve --models "$work/models" --listen "127.0.0.1:$port"
