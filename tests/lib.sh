# lib.sh - helpers the shell tests share; source it after setting tmp,
# passed, failed and (for tests that serve) server_pid.

# Stop a server the test left running; for `trap cleanup EXIT`.
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" 2>/dev/null
    fi
}

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

# serve_port LOG: wait for the "serving" line of server_pid in LOG (ASan
# builds start slowly) and print its port; nothing if the server died or
# 30 s passed.
serve_port() {
    local port=
    for _ in $(seq 300); do
        port=$(sed -n \
            's|^tabula: serving .* on http://127.0.0.1:\([0-9]*\)$|\1|p' "$1")
        [[ -n $port ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$port"
}
