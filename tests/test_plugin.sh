#!/usr/bin/env bash
# test_plugin.sh - the example plugin (examples/allen_cahn.c) end to end:
# loaded by --plugin it is listed, solved, tabulated, trained and served
# like a built-in problem; a plugin built for another interface version
# and a missing file are refused with clear messages.
#
# Usage: tests/test_plugin.sh PATH/TO/tabula PATH/TO/allen_cahn.so
#        PATH/TO/bad_version.so
set -u

tabula=${1:?usage: tests/test_plugin.sh TABULA PLUGIN BAD_PLUGIN}
plugin=${2:?missing the plugin}
bad=${3:?missing the wrong-version plugin}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tabula-plugin-XXXXXX")
passed=0
failed=0
server_pid=

source "$(dirname "$0")/lib.sh"
trap cleanup EXIT

t=("$tabula" --plugin "$plugin")
grid=(--grid epsilon=0.05:0.1:3 --grid x=0:1:9 --grid t=0:2:5)

expect 0 "allencahn" "problems lists the plugin's problem" -- \
    "${t[@]}" problems
expect 2 "unknown problem 'allencahn'" "without --plugin it is unknown" -- \
    "$tabula" solve allencahn epsilon=0.05 x=0.5 t=1
# At x = 1/2 the initial 0.6 sin(3 pi x) is a minimum, -0.6, which grows
# towards the phase u = -1.
expect 0 "u = -0.9" "solve the plugin's problem" -- \
    "${t[@]}" solve allencahn epsilon=0.05 x=0.5 t=5
expect 0 "135 nodes, 0 failed" "tabulate the plugin's problem" -- \
    "${t[@]}" tabulate allencahn -o "$tmp/table.h5" "${grid[@]}"
expect 0 "error report" "train on it, with probes solved by the plugin" -- \
    "${t[@]}" train "$tmp/table.h5" -o "$tmp/model.h5" --hidden 8,8 \
    --epochs 100 --batch 32 --lr 1e-2 --target 0.5 --probes 16
expect 1 "interface version 99" "a plugin of another version is refused" -- \
    "$tabula" --plugin "$bad" problems
expect 1 "cannot load plugin" "a missing plugin file is refused" -- \
    "$tabula" --plugin "$tmp/none.so" problems
expect 1 "already exists" "the same plugin twice clashes by name" -- \
    "${t[@]}" --plugin "$plugin" problems

# Serve the model, with the plugin loaded so that verification can solve.
mkdir -p "$tmp/models"
cp "$tmp/model.h5" "$tmp/models/allencahn.h5"
"${t[@]}" serve --models "$tmp/models" --listen 127.0.0.1:0 \
    >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
port=$(serve_port "$tmp/serve.out")
if [[ -n $port ]]; then
    passed=$((passed + 1))
    "$tabula" predict "$tmp/model.h5" --example-json >"$tmp/request.json"
    code=$(curl -s -o "$tmp/infer.json" -w '%{http_code}' \
        -H 'Content-Type: application/json' \
        --data-binary @"$tmp/request.json" \
        "http://127.0.0.1:$port/v2/models/allencahn/infer")
    if [[ $code == 200 ]] && grep -q '"outputs"' "$tmp/infer.json"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: infer on the plugin's model answered $code" >&2
        head -c 600 "$tmp/infer.json" >&2
    fi
else
    failed=$((failed + 1))
    echo "FAIL: serve did not start; its log:" >&2
    head -20 "$tmp/serve.err" >&2
fi

echo "plugin: $passed passed, $failed failed"
if [[ $failed -eq 0 ]]; then
    rm -rf "$tmp"
    exit 0
fi
echo "plugin: scratch files kept in $tmp" >&2
exit 1
