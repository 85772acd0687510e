#!/usr/bin/env bash
# test_cli.sh - the tabula command end to end, as a user drives it: every
# command on a tiny grid, the exit codes of bad input, and the server over
# real HTTP picking up a model that regenerate.sh installs.
#
# Usage: tests/test_cli.sh PATH/TO/tabula
set -u

tabula=${1:?usage: tests/test_cli.sh PATH/TO/tabula}
root=${TB_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tabula-cli-XXXXXX")
passed=0
failed=0
server_pid=

# A tiny heat1d grid: 4 x 9 x 9 nodes, solved in well under a second.
grid=(--grid alpha=0.1:1:4 --grid x=0:1:9 --grid t=0:0.5:9)

cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" 2>/dev/null
    fi
}
trap cleanup EXIT

# check WHAT COMMAND...: one check that passes when COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $what" >&2
    fi
}

# expect CODE TEXT WHAT -- COMMAND...: COMMAND exits with CODE and its
# output (both streams) contains TEXT.
expect() {
    local code=$1 text=$2 what=$3 rc
    shift 4
    "$@" >"$tmp/out" 2>&1
    rc=$?
    if [[ $rc -eq $code ]] && grep -qF -- "$text" "$tmp/out"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $what: exit $rc (want $code), output:" >&2
        sed 's/^/    /' "$tmp/out" | head -20 >&2
    fi
}

# json_get FILE a.0.b: print one value of a JSON file by its path, with jq
# or python3; without either, print "?" when the last key is present.
json_get() {
    local file=$1 path=$2
    if command -v jq >/dev/null; then
        jq -r --arg p "$path" \
            'getpath($p | split(".") | map(tonumber? // .))' "$file"
    elif command -v python3 >/dev/null; then
        python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$file" "$path"
    else
        grep -q "\"${path##*.}\"" "$file" && echo "?"
    fi
}

# is_number S: S is a finite number (or "?" when no JSON tool is present).
is_number() {
    [[ $1 == "?" ]] || [[ $1 =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]]
}

# near A B TOL: |A - B| <= TOL.
near() {
    awk -v a="$1" -v b="$2" -v t="$3" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'
}

# ----------------------------------------------------------------------
echo "== help, problems, solve"

expect 0 "exit status" "tabula --help" -- "$tabula" --help
expect 0 "tabula " "tabula --version" -- "$tabula" --version
for c in problems solve tabulate train compare predict serve; do
    expect 0 "example:" "tabula $c --help" -- "$tabula" "$c" --help
done
expect 0 "heat1d" "problems lists heat1d" -- "$tabula" problems
expect 0 "burgers1d" "problems lists burgers1d" -- "$tabula" problems
"$tabula" problems --json >"$tmp/problems.json"
check "problems --json names heat1d" \
    test "$(json_get "$tmp/problems.json" 0.name)" != ""

# The exact heat solution: exp(-alpha pi^2 t) sin(pi x).
u=$("$tabula" solve heat1d alpha=0.5 x=0.3 t=0.2 | sed -n 's/^u = //p')
exact=$(awk 'BEGIN { pi = atan2(0, -1)
    print exp(-0.5 * pi * pi * 0.2) * sin(pi * 0.3) }')
check "solve heat1d off-node matches the exact solution ($u vs $exact)" \
    near "$u" "$exact" 1e-5
"$tabula" solve heat1d alpha=0.5 x=0.3 t=0.2 --json >"$tmp/solve.json"
check "solve --json gives u" near "$(json_get "$tmp/solve.json" outputs.u)" \
    "$exact" 1e-5

# ----------------------------------------------------------------------
echo "== tabulate, train, compare, predict"

expect 0 "324 nodes, 0 failed" "tabulate a tiny heat1d grid" -- \
    "$tabula" tabulate heat1d -o "$tmp/table.h5" "${grid[@]}" --jobs 2
check "the table exists" test -s "$tmp/table.h5"

expect 0 "error report" "train to a loose target" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/model.h5" --hidden 16,16 \
    --epochs 400 --batch 64 --lr 1e-2 --target 0.05 --probes 64
check "the model exists" test -s "$tmp/model.h5"
check "train printed the probe figures" \
    grep -q "off-grid probes *64 " "$tmp/out"

"$tabula" compare "$tmp/model.h5" --json --probes 32 >"$tmp/compare.json"
check "compare --json exits 0" test $? -eq 0
for key in outputs.0.grid.max_abs outputs.0.grid.max_rel \
    outputs.0.grid.mean_abs outputs.0.grid.rms outputs.0.probe.max_abs \
    outputs.0.probe.max_rel timing.surrogate_single_s \
    timing.surrogate_batch_s timing.solver_s timing.speedup; do
    check "compare --json has $key" \
        is_number "$(json_get "$tmp/compare.json" "$key")"
done
if command -v python3 >/dev/null; then
    check "compare --json is valid JSON" \
        python3 -m json.tool "$tmp/compare.json" /dev/null
fi
expect 0 "time per query" "compare prints text" -- \
    "$tabula" compare "$tmp/model.h5" --probes 8
expect 0 "met" "compare --max-rel 1 passes" -- \
    "$tabula" compare "$tmp/model.h5" --probes 8 --max-rel 1
expect 3 "max-rel" "compare --max-rel 1e-12 exits 3" -- \
    "$tabula" compare "$tmp/model.h5" --probes 8 --max-rel 1e-12

expect 0 "u = " "predict one point" -- \
    "$tabula" predict "$tmp/model.h5" alpha=0.5 x=0.5 t=0.25
pred=$(sed -n 's/^u = \([^ ]*\).*/\1/p' "$tmp/out")
exact=$(awk 'BEGIN { pi = atan2(0, -1); print exp(-0.5*pi*pi*0.25) }')
check "predict is near the exact solution ($pred vs $exact)" \
    near "$pred" "$exact" 0.1
"$tabula" predict "$tmp/model.h5" alpha=0.5 x=0.5 t=0.25 --json \
    >"$tmp/predict.json"
check "predict --json gives the grid max error" \
    is_number "$(json_get "$tmp/predict.json" outputs.u.grid_max_abs)"

# Checkpoints, then a resumed run that goes on from them.
expect 0 "error report" "train with checkpoints" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/ck.h5" --hidden 8 --epochs 40 \
    --checkpoint "$tmp/ck" --probes 0
check "checkpoints are written" test -n "$(ls -A "$tmp/ck" 2>/dev/null)"
expect 0 "error report" "train --resume" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/ck.h5" --hidden 8 --epochs 80 \
    --checkpoint "$tmp/ck" --resume --probes 0

# SIGINT ends training cleanly, with the best weights saved.
"$tabula" train "$tmp/table.h5" -o "$tmp/int.h5" --hidden 8 --target 0 \
    --epochs 1000000000 --probes 4 >"$tmp/int.out" 2>&1 &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
check "SIGINT stops training with exit 0 (got $rc)" test "$rc" -eq 0
check "an interrupted run says so" grep -q "stopped on request" "$tmp/int.out"
check "an interrupted run saves its model" test -s "$tmp/int.h5"

# --log-level applies to every command, before or after its name.
"$tabula" --log-level warn tabulate heat1d -o "$tmp/quiet.h5" "${grid[@]}" \
    2>"$tmp/quiet.err" >/dev/null
check "--log-level warn silences info records" \
    test ! -s "$tmp/quiet.err"
"$tabula" tabulate heat1d -o "$tmp/quiet.h5" "${grid[@]}" \
    --log-level=debug 2>"$tmp/debug.err" >/dev/null
check "--log-level=debug after the command is taken" \
    grep -q " info " "$tmp/debug.err"

# ----------------------------------------------------------------------
echo "== bad input"

expect 2 "loud" "a bad --log-level" -- "$tabula" --log-level loud problems

echo "not an HDF5 file" >"$tmp/junk.h5"
expect 2 "frobnicate" "unknown command" -- "$tabula" frobnicate
expect 2 "--frob" "unknown option" -- "$tabula" problems --frob
expect 2 "nosuch" "unknown problem" -- "$tabula" solve nosuch a=1
expect 2 "nosuch" "tabulate an unknown problem" -- \
    "$tabula" tabulate nosuch -o "$tmp/x.h5"
expect 2 "alpha=0.1:1" "--grid without N" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid alpha=0.1:1
expect 2 "zeta" "--grid with an unknown input" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid zeta=0:1:3
expect 2 "alpha" "--grid outside the problem's limits" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid alpha=-1:1:3
expect 2 "-o" "tabulate without -o" -- "$tabula" tabulate heat1d
expect 2 "max-steps" "a bad option value" -- \
    "$tabula" solve heat1d alpha=0.5 x=0.3 t=0.2 --max-steps lots
expect 2 "t" "solve with a missing input" -- \
    "$tabula" solve heat1d alpha=0.5 x=0.3
expect 2 "beta" "solve with an unknown input" -- \
    "$tabula" solve heat1d alpha=0.5 x=0.3 t=0.2 beta=1
expect 2 "x" "solve outside the problem's limits" -- \
    "$tabula" solve heat1d alpha=0.5 x=2 t=0.2
expect 1 "nosuch.h5" "train a missing table" -- \
    "$tabula" train "$tmp/nosuch.h5" -o "$tmp/m.h5"
expect 1 "junk.h5" "train on a file that is not HDF5" -- \
    "$tabula" train "$tmp/junk.h5" -o "$tmp/m.h5"
expect 2 "-o" "train without -o" -- "$tabula" train "$tmp/table.h5"
expect 1 "junk.h5" "compare a model that is not HDF5" -- \
    "$tabula" compare "$tmp/junk.h5"
expect 1 "junk.h5" "predict with a model that is not HDF5" -- \
    "$tabula" predict "$tmp/junk.h5" alpha=0.5 x=0.5 t=0.25
expect 2 "beta" "predict with an unknown input" -- \
    "$tabula" predict "$tmp/model.h5" alpha=0.5 x=0.5 t=0.25 beta=1
expect 2 "t" "predict with a missing input" -- \
    "$tabula" predict "$tmp/model.h5" alpha=0.5 x=0.5
expect 2 "0.1" "predict outside the domain names the range" -- \
    "$tabula" predict "$tmp/model.h5" alpha=0.05 x=0.5 t=0.25
expect 2 "not a finite number" "predict with a bad number" -- \
    "$tabula" predict "$tmp/model.h5" alpha=half x=0.5 t=0.25

# One CVODE step between outputs cannot reach them: every node fails.
expect 1 "failed" "tabulate with failing nodes exits 1" -- \
    "$tabula" tabulate heat1d -o "$tmp/failed.h5" "${grid[@]}" --max-steps 1
check "a table with failures is still written" test -s "$tmp/failed.h5"
expect 1 "failed" "train refuses a table with failed nodes" -- \
    "$tabula" train "$tmp/failed.h5" -o "$tmp/m.h5"
expect 0 "failed" "tabulate --allow-failures exits 0" -- \
    "$tabula" tabulate heat1d -o "$tmp/failed.h5" "${grid[@]}" \
    --max-steps 1 --allow-failures

# ----------------------------------------------------------------------
echo "== serve, regenerate, SIGHUP, SIGTERM"

mkdir -p "$tmp/models"
cp "$tmp/model.h5" "$tmp/models/heat1d.h5"
"$tabula" serve --models "$tmp/models" --listen 127.0.0.1:0 \
    --pid-file "$tmp/serve.pid" >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!

# Wait for the "serving" line (ASan builds start slowly).
port=
for _ in $(seq 300); do
    port=$(sed -n 's|^tabula: serving .* on http://127.0.0.1:\([0-9]*\)$|\1|p' \
        "$tmp/serve.out")
    [[ -n $port ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
check "serve prints its port" test -n "$port"
check "serve writes its pid file" test "$(cat "$tmp/serve.pid" 2>/dev/null)" \
    = "$server_pid"
url=http://127.0.0.1:${port:-1}

code=$(curl -s -o "$tmp/ready.json" -w '%{http_code}' "$url/v2/health/ready")
check "GET /v2/health/ready answers 200 (got $code)" test "$code" = 200

"$tabula" predict "$tmp/model.h5" --example-json >"$tmp/request.json"
code=$(curl -s -o "$tmp/infer.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary @"$tmp/request.json" \
    "$url/v2/models/heat1d/infer")
check "POST infer answers 200 (got $code)" test "$code" = 200
check "the infer answer has outputs" grep -q '"outputs"' "$tmp/infer.json"

curl -s "$url/v2/models/heat1d" >"$tmp/meta1.json"
check "the served model's alpha starts at 0.1" \
    near "$(json_get "$tmp/meta1.json" domain.alpha.lo)" 0.1 1e-12

# A target no model meets: nothing is installed and the script says so.
expect 1 "heat1d" "regenerate with an impossible target fails" -- \
    "$root/scripts/regenerate.sh" --tabula "$tabula" --models "$tmp/models" \
    --work "$tmp/work" --target 1e-12 heat1d \
    --tabulate-args "--grid alpha=0.2:1:3 --grid x=0:1:5 --grid t=0:0.5:5" \
    --train-args "--hidden 8 --epochs 20 --probes 8"
check "a failed regeneration leaves the model alone" \
    cmp -s "$tmp/model.h5" "$tmp/models/heat1d.h5"

# A loose target: the new model (alpha from 0.2) is installed and served.
expect 0 "SIGHUP" "regenerate installs a model and signals the server" -- \
    "$root/scripts/regenerate.sh" --tabula "$tabula" --models "$tmp/models" \
    --work "$tmp/work" --target 0.3 --pid-file "$tmp/serve.pid" heat1d \
    --tabulate-args "--grid alpha=0.2:1:3 --grid x=0:1:5 --grid t=0:0.5:5" \
    --train-args "--hidden 16,16 --epochs 2000 --batch 25 --lr 1e-2 --probes 8"
lo=
for _ in $(seq 100); do
    curl -s "$url/v2/models/heat1d" >"$tmp/meta2.json"
    lo=$(json_get "$tmp/meta2.json" domain.alpha.lo 2>/dev/null)
    near "$lo" 0.2 1e-12 && break
    sleep 0.1
done
check "after SIGHUP the server serves the new model (alpha lo $lo)" \
    near "$lo" 0.2 1e-12
check "no temporary file is left in the models directory" \
    test -z "$(find "$tmp/models" -name '.*' -type f)"

kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
server_pid=
check "SIGTERM stops the server with exit 0 (got $rc)" test "$rc" -eq 0
check "the pid file is removed" test ! -e "$tmp/serve.pid"
check "the server logged the reload" grep -q "reload" "$tmp/serve.err"

# ----------------------------------------------------------------------
echo "cli: $passed passed, $failed failed"
if [[ $failed -eq 0 ]]; then
    rm -rf "$tmp"
    exit 0
fi
echo "cli: scratch files kept in $tmp" >&2
exit 1
