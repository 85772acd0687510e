#!/usr/bin/env bash
# Load benchmark of the service against nginx on loopback, driven by wrk
# with keep-alive connections.  nginx (the distribution's package) answers
# every POST with a fixed JSON body of the same size as tabula's answer, so
# the ratio shows what tabula's work costs over a bare HTTP server.  A
# third server, tb-bench-bare (built beside tabula), is libmicrohttpd with
# the service's flags parsing each body with Jansson and answering the same
# fixed body: the floor the two libraries set on this machine.
#
# Measured, each for SECONDS:
#   1. single-point infer at 1 and 64 connections: req/s, p50 and p99;
#   2. 4096-point batches at 2 connections: points/s, against the
#      in-process rate of tb_model_predict (from tabula compare);
#   3. with --regenerate: scripts/regenerate.sh replaces the model and
#      signals the server while wrk drives it; any failed request is
#      reported and makes the script exit 1.
#
# Usage: scripts/bench-serve.sh [--tabula PATH] [--seconds N] [--threads N]
#                               [--regenerate]
#   --tabula PATH   the tabula command (default build/cli/tabula)
#   --seconds N     length of each wrk run (default 10)
#   --threads N     service threads and nginx workers (default 2)
#   --regenerate    also run the regeneration-under-load check
#
# Needs wrk, nginx and curl (scripts/install-deps.sh installs them).  The
# figures are noisy on a shared machine: the load average is printed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tabula=$root/build/cli/tabula
seconds=10
threads=2
regen=0

while [[ $# -gt 0 ]]; do
    case $1 in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0 ;;
    --tabula) tabula=${2:?--tabula needs a value}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --threads) threads=${2:?--threads needs a value}; shift 2 ;;
    --regenerate) regen=1; shift ;;
    *) echo "bench-serve: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null ||
        { echo "bench-serve: $tool is missing (scripts/install-deps.sh)" >&2
          exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tabula-bench-XXXXXX")
server_pid=
nginx_pid=
bare_pid=
cleanup() {
    [[ -z $server_pid ]] || kill -TERM "$server_pid" 2>/dev/null || true
    [[ -z $bare_pid ]] || kill -TERM "$bare_pid" 2>/dev/null || true
    [[ -z $nginx_pid ]] || kill -QUIT "$nginx_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- a model: heat1d on a 4 x 32 x 32 grid (4096 nodes), 3 x 64 tanh ------

echo "== model: heat1d, 4096-node table, 3 x 64 network"
grid=(--grid alpha=0.1:1:4 --grid x=0:1:32 --grid t=0:0.5:32)
mkdir -p "$tmp/models"
"$tabula" tabulate heat1d -o "$tmp/table.h5" "${grid[@]}" >/dev/null 2>&1
"$tabula" train "$tmp/table.h5" -o "$tmp/models/heat1d.h5" --epochs 5 \
    --hidden 64,64,64 --lbfgs-after -1 \
    --probes 16 >/dev/null 2>&1
inproc=$("$tabula" compare "$tmp/models/heat1d.h5" --probes 16 --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["timing"]; print(1 / s["surrogate_batch_s"])')

# ---- request bodies ----------------------------------------------------------

python3 - "$tmp" <<'EOF'
import json, sys
d = sys.argv[1]
def body(n):
    pts = [(0.1 + 0.9 * (i % 4) / 3, (i // 4 % 32) / 31, (i // 128) / 62)
           for i in range(n)]
    return json.dumps({"inputs": [
        {"name": k, "shape": [n], "datatype": "FP64",
         "data": [p[j] for p in pts]}
        for j, k in enumerate(["alpha", "x", "t"])]})
for n, name in ((1, "one"), (4096, "batch")):
    with open(f"{d}/{name}.json", "w") as f:
        f.write(body(n))
    with open(f"{d}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                f'local f = io.open("{d}/{name}.json")\n'
                'wrk.body = f:read("*a")\nf:close()\n')
EOF

# ---- the service and nginx -----------------------------------------------------

echo "== start tabula serve ($threads threads) and nginx ($threads workers)"
# Info level logs model loads only (the access log is off).
"$tabula" serve --models "$tmp/models" --threads "$threads" \
    --listen 127.0.0.1:0 --pid-file "$tmp/serve.pid" --conn-limit 4096 \
    --max-batch 65536 >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
port=
for _ in $(seq 300); do
    port=$(sed -n 's|^tabula: serving .* on http://127.0.0.1:\([0-9]*\)$|\1|p' \
        "$tmp/serve.out")
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || { echo "bench-serve: the service did not start" >&2
                    cat "$tmp/serve.err" >&2; exit 1; }
tb_url=http://127.0.0.1:$port/v2/models/heat1d/infer

# nginx answers each form with tabula's own answer to it, byte for byte:
# the single point from its config, the batch from a file.
curl -s -d @"$tmp/one.json" "$tb_url" >"$tmp/one.answer"
curl -s -d @"$tmp/batch.json" "$tb_url" >"$tmp/batch.answer"
nport=$(free_port)
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $threads;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx;
    client_max_body_size 16m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nport;
        default_type application/json;
        location = /one { return 200 '$(cat "$tmp/one.answer")'; }
        # Too long for a return: a static file, POST turned into GET.
        location = /batch.answer { root $tmp; error_page 405 =200 \$uri; }
    }
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
bare=$(dirname "$tabula")/../server/tb-bench-bare
bport=
if [[ -x $bare ]]; then
    bport=$(free_port)
    "$bare" "$bport" "$threads" "$tmp/one.answer" >"$tmp/bare.out" &
    bare_pid=$!
else
    echo "bench-serve: no $bare (build it with ninja): its rows are skipped"
fi
sleep 0.5

# ---- measuring ----------------------------------------------------------------

# run NAME CONNS SCRIPT URL: one wrk run; prints "req/s p50 p99 errors".
run() {
    local out=$tmp/wrk-$1-$2.txt
    wrk -t "$((threads < $2 ? threads : $2))" -c "$2" -d "${seconds}s" \
        --latency -s "$3" "$4" >"$out"
    python3 - "$out" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % label, t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
err = sum(int(x) for x in re.findall(r"(?:Non-2xx or 3xx responses|"
          r"connect|read|write|timeout):? (\d+)", t))
print(f"{rps:.0f} {ms('50%'):.3f} {ms('99%'):.3f} {err}")
EOF
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores;" \
    "wrk ${seconds}s per run"
printf '%-28s %10s %9s %9s %7s\n' run req/s p50_ms p99_ms errors
for c in 1 64; do
    read -r t_rps t_50 t_99 t_err < <(run tabula "$c" "$tmp/one.lua" "$tb_url")
    read -r n_rps n_50 n_99 n_err < <(run nginx "$c" "$tmp/one.lua" \
        "http://127.0.0.1:$nport/one")
    printf '%-28s %10s %9s %9s %7s\n' "tabula 1 point, $c conns" "$t_rps" \
        "$t_50" "$t_99" "$t_err" "nginx 1 point, $c conns" "$n_rps" "$n_50" \
        "$n_99" "$n_err"
    python3 -c "print('ratio tabula/nginx at $c conns: %.2f' % ($t_rps / $n_rps))"
    if [[ -n $bport ]]; then
        read -r m_rps m_50 m_99 m_err < <(run bare "$c" "$tmp/one.lua" \
            "http://127.0.0.1:$bport/one")
        printf '%-28s %10s %9s %9s %7s\n' "bare MHD+Jansson, $c conns" \
            "$m_rps" "$m_50" "$m_99" "$m_err"
        python3 -c "print('ratio bare/nginx at $c conns: %.2f; tabula/bare: %.2f' % ($m_rps / $n_rps, $t_rps / $m_rps))"
    fi
done

read -r b_rps b_50 b_99 b_err < <(run tabula 2 "$tmp/batch.lua" "$tb_url")
read -r nb_rps _ _ _ < <(run nginx 2 "$tmp/batch.lua" \
    "http://127.0.0.1:$nport/batch.answer")
python3 - "$b_rps" "$nb_rps" "$inproc" "$b_err" <<'EOF'
import sys
b, nb, inproc, err = map(float, sys.argv[1:])
print(f"4096-point batches, 2 conns: {b * 4096:,.0f} points/s over HTTP "
      f"({b:.1f} req/s, {err:.0f} errors); in process {inproc:,.0f} "
      f"points/s: ratio {inproc / (b * 4096):.2f}x; nginx with a body of "
      f"the same size {nb:.1f} req/s")
EOF

# ---- regeneration under load ----------------------------------------------------

if [[ $regen -eq 1 ]]; then
    echo "== regeneration under load: wrk (16 conns) while regenerate.sh" \
        "replaces heat1d and signals the server"
    wrk -t 2 -c 16 -d 60s -s "$tmp/one.lua" "$tb_url" >"$tmp/wrk-regen.txt" &
    wrk_pid=$!
    sleep 1
    "$root/scripts/regenerate.sh" --tabula "$tabula" --models "$tmp/models" \
        --work "$tmp/work" --target 1 --pid-file "$tmp/serve.pid" heat1d \
        --tabulate-args "${grid[*]}" --train-args "--epochs 5 --probes 16" \
        >"$tmp/regen.out" 2>&1 || { cat "$tmp/regen.out" >&2; exit 1; }
    sleep 1
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" || true
    total=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$tmp/wrk-regen.txt")
    bad=$({ grep -Eo '(Non-2xx or 3xx responses|connect|read|write|timeout):? [0-9]+' \
        "$tmp/wrk-regen.txt" || true; } | awk '{ n += $NF } END { print n + 0 }')
    # regenerate.sh installs the next version (heat1d@2.h5); a rescan that
    # replaces a version's file in place says "reloaded".
    swaps=$(grep -Ec 'reloaded model heat1d|loaded model heat1d version ([2-9]|[1-9][0-9]+) ' \
        "$tmp/serve.err" || true)
    echo "regeneration under load: ${total:-?} requests, $bad failed;" \
        "the model was swapped $swaps time(s) meanwhile"
    [[ $bad -eq 0 && -n $total && $swaps -ge 1 ]] || exit 1
fi
