#!/usr/bin/env bash
# Training speed, tabula against PyTorch on the CPU, in one run: the same
# network (3 x 64 tanh, Adam) on heat1d's default grid (65,536 nodes), one
# thread each.  Prints seconds per epoch at batch 1024 and at full batch for
# both (the fastest of three measurements each) and their ratio, then the
# time each takes to bring the grid max error / range to TARGET (batch 256,
# lr 3e-3).  Without PyTorch (Debian's python3-torch) its half is skipped
# with a message.
#
# Usage: scripts/bench-train.sh
# Environment: BUILD (build-release), EPOCHS (30), TARGET (1e-2),
#              LIMIT (seconds per time-to-target run, 180), PYTHON (the
#              first of python3, /usr/bin/python3 that has torch)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
build=${BUILD:-$root/build-release}
epochs=${EPOCHS:-30}
target=${TARGET:-1e-2}
limit=${LIMIT:-180}
if [[ ! -d $build ]]; then
    meson setup "$build" -Dbuildtype=release >/dev/null
fi
ninja -C "$build" cli/tabula >/dev/null
tabula=$build/cli/tabula
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$tabula" tabulate heat1d -o "$work/t.h5" --log-level warn >/dev/null

# Seconds per epoch from tabula's closing line "... after N epochs, S s":
# runs of N and 2N epochs, differenced, so that the first epoch's page
# faults and the closing measurement drop out (PyTorch's half likewise
# leaves a warm-up epoch untimed).
tabula_seconds() {
    "$tabula" train "$work/t.h5" -o "$work/m.h5" --batch "$1" --lr 1e-3 \
        --hidden 64,64,64 --lbfgs-after -1 --epochs "$2" --time-limit 0 --eval-every 1000000 --probes 0 \
        --threads 1 --target 0 --log-level warn |
        sed -n 's/.*after [0-9]* epochs, \([0-9.]*\) s$/\1/p'
}

# The fastest of three such differences (PyTorch's half likewise keeps the
# fastest of three runs): the machine may be shared.
tabula_epoch() {
    local one two best=
    for _ in 1 2 3; do
        one=$(tabula_seconds "$1" "$epochs")
        two=$(tabula_seconds "$1" $((2 * epochs)))
        best=$(awk -v a="$one" -v b="$two" -v n="$epochs" -v m="$best" \
            'BEGIN { t = (b - a) / n; if (m != "" && m < t) t = m
                     printf "%.4f", t }')
    done
    echo "$best"
}

# The first Python that has torch (Debian's is /usr/bin/python3).
python=${PYTHON:-}
if [[ -z $python ]]; then
    python=python3
    for p in python3 /usr/bin/python3; do
        if "$p" -c 'import torch' 2>/dev/null; then
            python=$p
            break
        fi
    done
fi

torch_run() {
    "$python" "$root/scripts/bench_train_torch.py" "$@" 2>/dev/null ||
        echo "torch-failed"
}

have_torch=1
if [[ $(torch_run epochs-1024 1) == torch-missing ]]; then
    have_torch=0
    echo "PyTorch is not installed (apt-get install python3-torch):" \
        "its half is skipped"
fi

printf '%-22s %14s %14s %10s\n' "" "tabula s/ep" "torch s/ep" "ratio"
for batch in 1024 65536; do
    ours=$(tabula_epoch "$batch")
    theirs=n/a
    ratio=n/a
    if ((have_torch)); then
        mode="epochs-1024"
        [[ $batch == 65536 ]] && mode="epochs-full"
        theirs=$(torch_run "$mode" "$epochs" | awk '/s_per_epoch/ { print $3 }')
        ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f x", b / a }')
    fi
    printf '%-22s %14s %14s %10s\n' "epoch, batch $batch" "$ours" "$theirs" \
        "$ratio"
done

echo "time to grid max error / range <= $target (batch 256, lr 3e-3, at most ${limit} s):"
start=$(date +%s.%N)
line=$("$tabula" train "$work/t.h5" -o "$work/m.h5" --batch 256 --lr 3e-3 \
    --hidden 64,64,64 --lbfgs-after -1 --epochs 1000000 --time-limit "$limit" --target "$target" --probes 0 \
    --threads 1 --log-level warn | grep 'grid max error')
echo "  tabula: $(awk -v s="$start" -v e="$(date +%s.%N)" \
    'BEGIN { printf "%.1f s", e - s }') ($line)"
if ((have_torch)); then
    torch_run target "$target" "$limit" |
        awk '/to_target/ { printf "  torch:  %s s, %s epochs, max error / range %s\n", $3, $4, $5 }'
fi
