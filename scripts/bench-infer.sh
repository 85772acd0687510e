#!/usr/bin/env bash
# Inference speed in-process: points per second for batches of 1, 64, 4096
# and 65536 on 1 and 2 threads (batches of 8192 or more points are split
# among them), with the share of the machine's sgemm peak (measured first,
# with as many OpenBLAS threads).  Each figure is the fastest of 20 runs of
# 50 ms (the machine may be shared).
#
# Usage: scripts/bench-infer.sh [MODEL.h5]   (default: the default
#        3-64-64-64-1 network with seeded weights)
# Environment: BUILD (build-release)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
build=${BUILD:-$root/build-release}
if [[ ! -d $build ]]; then
    meson setup "$build" -Dbuildtype=release >/dev/null
fi
ninja -C "$build" model/tbm-bench-infer >/dev/null

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$build/model/tbm-bench-infer" "$@"
