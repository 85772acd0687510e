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

source "$(dirname "$0")/lib.sh"
trap cleanup EXIT

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

# SIGINT ends training cleanly, with the best weights saved.  Adam alone
# (heat1d's defaults would add a full-batch phase that may finish first).
"$tabula" train "$tmp/table.h5" -o "$tmp/int.h5" --hidden 8 --target 0 \
    --epochs 1000000000 --lbfgs-after -1 --probes 4 >"$tmp/int.out" 2>&1 &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
check "SIGINT stops training with exit 130 (got $rc)" test "$rc" -eq 130
check "an interrupted run says so" grep -q "stopped on request" "$tmp/int.out"
check "an interrupted run says where its weights are" \
    grep -q "interrupted; the best weights so far are saved" "$tmp/int.out"
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

# Axis spacings: --grid NAME=LO:HI:N[:log|cheb] and --grid-file.
expect 0 ": 12 nodes, 0 failed" "--grid with log and cheb spacings" -- \
    "$tabula" tabulate heat1d -o "$tmp/spaced.h5" --grid alpha=0.1:1:2:log \
    --grid x=0:1:3:cheb --grid t=0:0.5:2:cheb
expect 2 "SPACING" "--grid with an unknown spacing" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid alpha=0.1:1:3:linear
expect 2 "positive lower bound" "--grid log axis from 0" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid t=0:1:3:log
cat >"$tmp/grid.json" <<'JSON'
{"axes": [{"name": "alpha", "lo": 0.1, "hi": 1, "n": 2, "spacing": "log"},
          {"name": "x", "lo": 0, "hi": 1, "n": 3, "spacing": "cheb"},
          {"name": "t", "lo": 0.01, "hi": 0.5, "n": 2}]}
JSON
expect 0 "12 nodes, 0 failed" "--grid-file" -- \
    "$tabula" tabulate heat1d -o "$tmp/gridfile.h5" --grid-file "$tmp/grid.json"
# bad_grid_file TEXT WHAT JSON: the grid file JSON is refused with TEXT.
bad_grid_file() {
    printf '%s\n' "$3" >"$tmp/bad.json"
    expect 2 "$1" "$2" -- \
        "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid-file "$tmp/bad.json"
}
bad_grid_file "axis x runs from 1 to 0" "grid file with LO >= HI" \
    '{"axes": [{"name": "x", "lo": 1, "hi": 0, "n": 3}]}'
bad_grid_file "axis 'x' needs \"n\"" "grid file with N < 2" \
    '{"axes": [{"name": "x", "lo": 0, "hi": 1, "n": 1}]}'
bad_grid_file "axis t is logarithmic from 0" "grid file log from 0" \
    '{"axes": [{"name": "t", "lo": 0, "hi": 1, "n": 3, "spacing": "log"}]}'
bad_grid_file "unknown axis 'zeta'" "grid file unknown axis" \
    '{"axes": [{"name": "zeta", "lo": 0, "hi": 1, "n": 3}]}'
bad_grid_file "axis 'x' is given twice" "grid file duplicate axis" \
    '{"axes": [{"name": "x", "lo": 0, "hi": 1, "n": 3},
               {"name": "x", "lo": 0, "hi": 1, "n": 5}]}'
bad_grid_file "expected near end of file" "grid file that is not JSON" \
    '{"axes": ['
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
expect 1 "every one of the table's 324 nodes failed to solve" \
    "compare against a table with no solved node" -- \
    "$tabula" compare "$tmp/model.h5" --table "$tmp/failed.h5" --probes 0
expect 2 "the table's file name is empty" "train with an empty table name" \
    -- "$tabula" train "" -o "$tmp/m.h5"
expect 2 "the model's file name is empty" "predict with an empty model name" \
    -- "$tabula" predict "" alpha=0.5 x=0.5 t=0.5

# ----------------------------------------------------------------------
echo "== serve, regenerate, SIGHUP, SIGTERM"

mkdir -p "$tmp/models"
cp "$tmp/model.h5" "$tmp/models/heat1d.h5"
"$tabula" serve --models "$tmp/models" --listen 127.0.0.1:0 \
    --pid-file "$tmp/serve.pid" >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!

port=$(serve_port "$tmp/serve.out")
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
check "regenerate started from the installed model's weights" \
    grep -q "starting from $tmp/models/heat1d.h5" "$tmp/out"
check "the new model is installed as version 2" test -f "$tmp/models/heat1d@2.h5"
check "the old version is kept" cmp -s "$tmp/model.h5" "$tmp/models/heat1d.h5"
version=$(json_get "$tmp/meta2.json" versions.1 2>/dev/null)
check "the server lists version 2 (got '$version')" test "$version" = 2

# Once more, from scratch and keeping one version: version 3 alone is left.
expect 0 "installed $tmp/models/heat1d@3.h5" \
    "regenerate --keep 1 --cold installs version 3 and removes the others" -- \
    "$root/scripts/regenerate.sh" --tabula "$tabula" --models "$tmp/models" \
    --work "$tmp/work" --target 0.3 --keep 1 --cold heat1d \
    --tabulate-args "--grid alpha=0.2:1:3 --grid x=0:1:5 --grid t=0:0.5:5" \
    --train-args "--hidden 16,16 --epochs 2000 --batch 25 --lr 1e-2 --probes 8"
check "--cold does not start from the installed model" \
    test "$(grep -c "starting from" "$tmp/out")" = 0
check "--keep 1 leaves only the new version" \
    test "$(ls "$tmp/models" | grep -c 'heat1d')" = 1
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
echo "== serve from a config file: plain form, metrics, repository, SIGINT"

expect 0 "error report" "train --cells measures per-cell certificates" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/models/cellular.h5" --hidden 8 \
    --epochs 20 --probes 8 --cells
cat >"$tmp/serve.conf" <<'EOF'
# tabula serve options: name = value, as the flags without dashes
listen = 127.0.0.1:0
threads = 1
access-log = on
shutdown-ms = 2000
EOF
"$tabula" serve --models "$tmp/models" --config "$tmp/serve.conf" \
    >"$tmp/serve2.out" 2>"$tmp/serve2.err" &
server_pid=$!
port=$(serve_port "$tmp/serve2.out")
check "serve --config listens where the file says" test -n "$port"
url=http://127.0.0.1:${port:-1}

code=$(curl -s -o "$tmp/plain.json" -w '%{http_code}' \
    -d '{"alpha": 0.5, "x": 0.5, "t": 0.25}' "$url/v1/models/heat1d/predict")
check "POST /v1/models/heat1d/predict answers 200 (got $code)" \
    test "$code" = 200
check "the plain answer gives u and its max error" \
    grep -q '"u.max_abs_error"' "$tmp/plain.json"
curl -s -d '{"alpha": 0.5, "x": 0.5, "t": 0.25}' \
    "$url/v1/models/cellular/predict" >"$tmp/cell.json"
check "a model trained with --cells certifies per cell" \
    test "$(json_get "$tmp/cell.json" certificate)" = cell
curl -s "$url/metrics" >"$tmp/metrics.txt"
check "GET /metrics counts the plain requests" grep -q \
    'tabula_requests_total{route="/v1/models/\*/predict",status="200"} 2' \
    "$tmp/metrics.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    "$url/v2/repository/models/heat1d/unload")
check "unload answers 200 (got $code)" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/models/heat1d")
check "an unloaded model is 404 (got $code)" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    "$url/v2/repository/models/heat1d/load")
check "load answers 200 (got $code)" test "$code" = 200

kill -INT "$server_pid"
wait "$server_pid"
rc=$?
server_pid=
check "SIGINT stops the server with exit 0 (got $rc)" test "$rc" -eq 0
check "the access log has a key=value line per request" grep -q \
    'request method=POST path=/v1/models/heat1d/predict status=200 points=1 us=' \
    "$tmp/serve2.err"
printf 'threads = 2\nspeed = fast\n' >"$tmp/bad.conf"
expect 2 "bad.conf:2: unknown option 'speed'" "a config file with a bad key" \
    -- "$tabula" serve --models "$tmp/models" --config "$tmp/bad.conf"

# ----------------------------------------------------------------------
echo "== output files are checked before any work"

expect 2 "is not a regular file" "tabulate -o a device is refused" -- \
    "$tabula" tabulate heat1d -o /dev/null "${grid[@]}"
check "/dev/null is still a character device" test -c /dev/null
ln -s "$tmp/table.h5" "$tmp/link.h5"
expect 2 "is not a regular file" "tabulate -o a symlink is refused" -- \
    "$tabula" tabulate heat1d -o "$tmp/link.h5" "${grid[@]}"
check "the symlink is kept" test -L "$tmp/link.h5"
expect 2 "cannot write into folder" "tabulate into a missing folder" -- \
    "$tabula" tabulate heat1d -o "$tmp/none/t.h5" "${grid[@]}"
expect 2 "an output file name is required" "tabulate -o ''" -- \
    "$tabula" tabulate heat1d -o "" "${grid[@]}"
expect 2 "-o given more than once" "tabulate with two -o" -- \
    "$tabula" tabulate heat1d -o "$tmp/a.h5" -o "$tmp/b.h5" "${grid[@]}"
expect 2 "is the input file" "train -o its own table is refused" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/table.h5"
expect 2 "is the input file" "train -o a link to its table is refused" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/link.h5"
expect 2 "cannot write into folder" "train into a missing folder" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/none/m.h5"
check "no temporary file is left beside the table" \
    test -z "$(find "$tmp" -maxdepth 1 -name '*.tmp*' -print -quit)"

# ----------------------------------------------------------------------
echo "== full-batch phase, linear baseline, warm starts, tune"

expect 0 "Levenberg-Marquardt" "train with a full-batch phase" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/lm.h5" --hidden 8,8 \
    --epochs 30 --lbfgs-after 10 --target 0 --probes 0
expect 0 "Levenberg-Marquardt" "train sine + Fourier, worst-case objective" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/sine.h5" --hidden 8,8 \
    --epochs 30 --lbfgs-after 10 --target 0 --probes 16 --activation sine \
    --fourier 4:0.5 --objective worst
expect 0 "grid" "compare a sine + Fourier model" -- \
    "$tabula" compare "$tmp/sine.h5" --probes 16
expect 2 "expected tanh, silu or sine" "train --activation relu" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/x.h5" --activation relu
expect 2 "--fourier" "train --fourier with a bad scale" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/x.h5" --fourier 8:-1
# A built-in problem's table brings its measured defaults; options given
# on the command line win over them.
expect 0 "heat1d's defaults: --hidden 16,16,16 --lbfgs-after 30 --target 0.0001" \
    "train takes heat1d's defaults" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/pd.h5" --epochs 2 --probes 0
"$tabula" compare "$tmp/pd.h5" --probes 0 --baseline linear --json \
    >"$tmp/pd.json"
check "the defaults' network is 3 x 16: 625 weights" \
    test "$(json_get "$tmp/pd.json" baseline.model_bytes)" = 2500
expect 0 "heat1d's defaults: --lbfgs-after 30 --target 0.0001" \
    "train --hidden wins over heat1d's defaults" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/pd.h5" --epochs 2 --probes 0 \
    --hidden 8
expect 0 "stopped" "train with every default given applies none" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/pd.h5" --epochs 2 --probes 0 \
    --hidden 8 --lbfgs-after -1 --target 0.5
check "... and says none" test "$(grep -c "defaults:" "$tmp/out")" = 0
expect 2 "expected mse or worst" "train --objective max" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/x.h5" --objective max
expect 2 "give --lbfgs-after" "train --objective worst without LM" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/x.h5" --objective worst \
    --lbfgs-after -1
expect 2 "no output called 'nosuch'" "train --log-outputs nosuch" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/x.h5" --log-outputs nosuch
expect 2 "expected auto or none" "train --log-inputs maybe" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/x.h5" --log-inputs maybe
expect 0 "baseline: multilinear interpolation" "compare --baseline linear" -- \
    "$tabula" compare "$tmp/model.h5" --probes 16 --baseline linear
"$tabula" compare "$tmp/model.h5" --json --probes 16 --baseline linear \
    >"$tmp/baseline.json"
for key in baseline.probe.0.max_rel baseline.bytes baseline.query_s; do
    check "compare --baseline --json has $key" \
        is_number "$(json_get "$tmp/baseline.json" "$key")"
done
# On a log-spaced axis the interpolator must find the cell where the
# nodes really are: placing them uniformly erred by 0.52 here, the true
# cells by 0.052.
"$tabula" tabulate heat1d -o "$tmp/logtable.h5" --grid alpha=0.01:1:6:log \
    --grid x=0:1:9 --grid t=0:0.5:9 >/dev/null 2>&1
"$tabula" train "$tmp/logtable.h5" -o "$tmp/logmodel.h5" --hidden 8 \
    --epochs 5 --probes 0 --lbfgs-after -1 --target 0 >/dev/null 2>&1
"$tabula" compare "$tmp/logmodel.h5" --json --probes 64 --baseline linear \
    >"$tmp/logbase.json"
lin=$(json_get "$tmp/logbase.json" baseline.probe.0.max_rel)
check "interpolation on a log axis errs by 0.052, not 0.52 ($lin)" \
    near "$lin" 0.052 0.01
expect 2 "expected 'linear'" "compare --baseline cubic is refused" -- \
    "$tabula" compare "$tmp/model.h5" --baseline cubic

"$tabula" tabulate heat1d -o "$tmp/table2.h5" --grid alpha=0.1:1.05:4 \
    --grid x=0:1:9 --grid t=0:0.5:9 >/dev/null 2>&1
expect 0 "starting from" "train --init on a changed table" -- \
    "$tabula" train "$tmp/table2.h5" -o "$tmp/warm.h5" --init "$tmp/model.h5" \
    --epochs 20 --batch 64 --probes 0 --target 0
expect 0 "first layers frozen" "train --init --freeze 1" -- \
    "$tabula" train "$tmp/table2.h5" -o "$tmp/warm.h5" --init "$tmp/model.h5" \
    --freeze 1 --epochs 5 --probes 0 --target 0
expect 2 "no --activation or --fourier" "train --init --fourier" -- \
    "$tabula" train "$tmp/table2.h5" -o "$tmp/warm.h5" --init "$tmp/model.h5" \
    --fourier 4
expect 2 "--freeze needs --init" "train --freeze alone is refused" -- \
    "$tabula" train "$tmp/table2.h5" -o "$tmp/warm.h5" --freeze 1

expect 0 "the winner is" "tune a tiny table" -- \
    "$tabula" tune "$tmp/table.h5" --target 0.3 --budget 6 -o "$tmp/tuned.h5"
check "tune wrote the model" test -s "$tmp/tuned.h5"
check "tune kept its trials" test -s "$tmp/tuned.h5.trials.txt"
# A target no trial meets: the search goes through the encoded and the
# Levenberg-Marquardt candidates, and the final training is told which.
expect 0 "3x16+f16+LM" "tune tries a Fourier encoding and LM" -- \
    "$tabula" tune "$tmp/table.h5" --target 1e-12 --budget 10 \
    -o "$tmp/tuned2.h5"
check "tune's trials file has a row per trial" \
    test "$(wc -l <"$tmp/tuned2.h5.trials.txt")" -ge 3
expect 2 "--target" "tune without a target is refused" -- \
    "$tabula" tune "$tmp/table.h5" -o "$tmp/tuned.h5"

# ----------------------------------------------------------------------
echo "== what a fresh user tried"

expect 2 "unknown option '--bogus'" "an option before any command" -- \
    "$tabula" --bogus
expect 2 "axis 'alpha' is given twice" "--grid repeats an axis" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid alpha=0.1:1:4 \
    --grid alpha=0.2:0.3:5
expect 2 "--grid-file given more than once" "--grid-file twice" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid-file "$tmp/grid.json" \
    --grid-file "$tmp/grid.json"
# grid.json gives x 3 nodes; --grid x wins: 2 x 5 x 2 nodes.
expect 0 ": 20 nodes, 0 failed" "--grid wins over --grid-file" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid-file "$tmp/grid.json" \
    --grid x=0:1:5
expect 2 "--grid-file: the name is empty" "--grid-file ''" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --grid-file ""
expect 2 "no file given" "--plugin ''" -- "$tabula" --plugin "" problems

# The option parser states the solver's own limits.
expect 2 "--rtol: '0.5' is not a number in [1e-14, 0.1]" "--rtol over 0.1" \
    -- "$tabula" tabulate heat1d -o "$tmp/x.h5" --rtol 0.5
expect 2 "--atol: '1e-25' is not a number in [1e-20, 1]" "--atol too small" \
    -- "$tabula" solve heat1d alpha=0.5 x=0.3 t=0.2 --atol 1e-25
expect 2 "--mesh: '500000' is not a whole number of intervals up to 100000" \
    "--mesh over the solver's maximum" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --mesh 500000
expect 2 "mesh is 5; expected an integer in [8, 100000]" \
    "--mesh under heat1d's minimum" -- \
    "$tabula" tabulate heat1d -o "$tmp/x.h5" --mesh 5
expect 2 "empty width" "--hidden with a trailing comma" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/m.h5" --hidden 64, --epochs 2 \
    --probes 0
expect 0 "100000000 asked for, but the grid has only 192 cells" \
    "--probes over the cell count says so" -- \
    "$tabula" train "$tmp/table.h5" -o "$tmp/m.h5" --hidden 8 --epochs 2 \
    --probes 100000000

# serve checks its address and folder before loading anything.
expect 2 "'999.1.1.1' is not an IPv4 address" "serve --listen 999.1.1.1:0" \
    -- "$tabula" serve --models "$tmp/nosuch" --listen 999.1.1.1:0
expect 2 "IPv6 is not supported" "serve --listen [::1]:0" -- \
    "$tabula" serve --models "$tmp/nosuch" --listen "[::1]:0"
expect 2 "--models: the name is empty" "serve --models ''" -- \
    "$tabula" serve --models ""
expect 2 "expected a folder of model files" "serve --models a missing folder" \
    -- "$tabula" serve --models "$tmp/nosuch"

# serve loads the folder once: a broken file is reported once.
mkdir -p "$tmp/models2"
cp "$tmp/model.h5" "$tmp/models2/heat1d.h5"
cp "$tmp/junk.h5" "$tmp/models2/broken.h5"
"$tabula" serve --models "$tmp/models2" --listen localhost:0 \
    >"$tmp/serve2.out" 2>"$tmp/serve2.err" &
pid2=$!
for _ in $(seq 300); do
    grep -q "^tabula: serving" "$tmp/serve2.out" && break
    kill -0 "$pid2" 2>/dev/null || break
    sleep 0.1
done
kill -TERM "$pid2" 2>/dev/null
wait "$pid2" 2>/dev/null
check "serve --listen localhost:0 serves 1 model" \
    grep -q "^tabula: serving 1 model on http://127.0.0.1:" "$tmp/serve2.out"
check "serve warns once about a broken model file" \
    test "$(grep -c "broken.h5" "$tmp/serve2.err")" -eq 1

# SIGINT stops a long tabulation: exit 130, a message, no table.  Job
# control keeps SIGINT from being ignored in the background job; the signal
# is sent once the command catches it (bit 2 of SigCgt), and a command that
# never does is killed.
set -m
"$tabula" tabulate heat1d -o "$tmp/int-table.h5" --jobs 1 \
    --grid alpha=0.1:1:100000 --grid x=0:1:2 --grid t=0:0.5:2 \
    >"$tmp/tint.out" 2>&1 &
pid3=$!
set +m
caught=0
for _ in $(seq 300); do
    mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$pid3/status" 2>/dev/null)
    [[ -n $mask ]] && (((16#$mask >> 1) & 1)) && caught=1 && break
    sleep 0.1
done
sleep 0.3
[[ $caught -eq 1 ]] && kill -INT "$pid3" || kill -KILL "$pid3"
for _ in $(seq 300); do
    kill -0 "$pid3" 2>/dev/null || break
    sleep 0.1
done
kill -KILL "$pid3" 2>/dev/null
wait "$pid3"
rc=$?
check "SIGINT stops tabulate with exit 130 (got $rc)" test "$rc" -eq 130
check "an interrupted tabulate says so" \
    grep -q "tabula tabulate: interrupted; no table written" "$tmp/tint.out"
check "an interrupted tabulate writes no table" \
    test ! -e "$tmp/int-table.h5"
check "an interrupted tabulate leaves no temporary file" \
    test -z "$(ls "$tmp" | grep int-table)"

expect 1 "magic is 'tabula-table'; expected 'tabula-model'" \
    "a table given as a model is named as a table" -- \
    "$tabula" predict "$tmp/table.h5" alpha=0.5 x=0.5 t=0.5

# ----------------------------------------------------------------------
echo "cli: $passed passed, $failed failed"
if [[ $failed -eq 0 ]]; then
    rm -rf "$tmp"
    exit 0
fi
echo "cli: scratch files kept in $tmp" >&2
exit 1
