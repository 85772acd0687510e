#!/usr/bin/env bash
# Regenerate surrogates in batch: for each problem, tabulate its grid, train
# a model, compare it with the solver, and only if it meets the target
# install it in the models directory as the problem's next version
# (NAME@V.h5, by an atomic rename), then tell a running server to pick it up
# (SIGHUP); the server answers with the newest version by default.
#
# Training starts from the newest installed version's weights (tabula train
# --init) when there is one; when its network does not fit the new table,
# training starts from scratch instead.
#
# Usage: scripts/regenerate.sh [options] [PROBLEM...]   (default: every one)
#
# Options:
#   --tabula PATH         the tabula command (default: build/cli/tabula, or
#                         build-release/cli/tabula when only that exists)
#   --models DIR          where the server's models live (default: run/models)
#   --work DIR            tables, candidate models and logs (default: run/work)
#   --target E            max error / output range a model must meet, on the
#                         grid and at the probes (default 1e-3)
#   --pid-file FILE       the server's pid file; SIGHUP it after installing
#   --tabulate-args "..." extra arguments for tabula tabulate
#   --train-args "..."    extra arguments for tabula train (after --target)
#   --keep N              versions of each model kept in --models, the new
#                         one included (default 3; 0 keeps every one)
#   --cold                never start from an installed model's weights
#   -h, --help            print this help
#
# Exits non-zero, naming them, if any problem failed; the models of the
# others are installed all the same.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tabula=$root/build/cli/tabula
[[ -x $tabula || ! -x $root/build-release/cli/tabula ]] ||
    tabula=$root/build-release/cli/tabula
models=$root/run/models
work=$root/run/work
target=1e-3
pid_file=
tabulate_args=
train_args=
keep=3
cold=0
problems=()

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
    echo "regenerate: $*" >&2
    exit 2
}

# Each option takes a value, checked to be there.
while [[ $# -gt 0 ]]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --cold) cold=1; shift ;;
    --tabula | --models | --work | --target | --pid-file | --tabulate-args | \
        --train-args | --keep)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        case $1 in
        --tabula) tabula=$2 ;;
        --models) models=$2 ;;
        --work) work=$2 ;;
        --target) target=$2 ;;
        --pid-file) pid_file=$2 ;;
        --tabulate-args) tabulate_args=$2 ;;
        --train-args) train_args=$2 ;;
        --keep) keep=$2 ;;
        esac
        shift 2
        ;;
    -*) die "unknown option '$1'; try --help" ;;
    *) problems+=("$1"); shift ;;
    esac
done

[[ $keep =~ ^[0-9]+$ ]] || die "--keep '$keep': expected a whole number"
[[ -x $tabula ]] ||
    die "no tabula command at '$tabula'; build it or give --tabula"
mkdir -p "$models" "$work"

if [[ ${#problems[@]} -eq 0 ]]; then
    # Each problem's block in `tabula problems` starts "NAME: summary".
    mapfile -t problems < <("$tabula" problems |
        sed -n 's/^\([A-Za-z0-9_]*\): .*/\1/p')
    [[ ${#problems[@]} -gt 0 ]] || die "'$tabula problems' listed no problem"
fi

# The extra arguments are split on blanks on purpose, as a shell would.
read -r -a tabulate_extra <<<"$tabulate_args"
read -r -a train_extra <<<"$train_args"

# The installed versions of model $1, one "VERSION FILE" line each, newest
# first: NAME.h5 is version 1, NAME@V.h5 version V (as the server reads them).
versions() {
    local f v
    for f in "$models/$1.h5" "$models/$1"@*.h5; do
        [[ -f $f ]] || continue
        v=${f##*/$1}
        v=${v%.h5}
        v=${v#@}
        [[ -z $v ]] && v=1
        [[ $v =~ ^[1-9][0-9]*$ ]] && echo "$v $f"
    done | sort -rn
}

# Train $2 from table $1 with the extra arguments, warm from the newest
# installed version of problem $3 when there is one and it fits.
train() {
    local table=$1 model=$2 p=$3 old rc=0
    local args=(train "$table" -o "$model" --target "$target" "${train_extra[@]}")

    old=$(versions "$p" | head -n 1 | cut -d' ' -f2-)
    if [[ $cold -eq 0 && -n $old ]]; then
        echo "regenerate: $p: train, starting from $old"
        "$tabula" "${args[@]}" --init "$old" || rc=$?
        # An interrupted run stops here; any other failure of the warm
        # start (a network that does not fit) falls back to a cold one.
        [[ $rc -eq 0 || $rc -ge 128 ]] && return "$rc"
        echo "regenerate: $p: warm start failed (status $rc);" \
            "training from scratch" >&2
    fi
    echo "regenerate: $p: train"
    "$tabula" "${args[@]}"
}

# Tabulate, train and compare one problem; install its model if it passes.
regenerate() {
    local p=$1 dir=$work/$1
    local table=$dir/table.h5 model=$dir/model.h5
    local tmp=$models/.$p.h5.tmp.$$ newest next dest

    mkdir -p "$dir"
    echo "regenerate: $p: tabulate"
    "$tabula" tabulate "$p" -o "$table" "${tabulate_extra[@]}" || return 1
    train "$table" "$model" "$p" || return 1
    echo "regenerate: $p: compare --max-rel $target"
    "$tabula" compare "$model" --json --max-rel "$target" \
        >"$dir/compare.json" || return 1

    # A copy in the same directory, then a rename: a reader sees either no
    # file or the whole new one.  The new version never replaces an old.
    newest=$(versions "$p" | head -n 1 | cut -d' ' -f1)
    next=$((${newest:-0} + 1))
    dest=$models/$p@$next.h5
    cp -f "$model" "$tmp" || { rm -f "$tmp"; return 1; }
    mv -n "$tmp" "$dest" && [[ ! -e $tmp ]] ||
        { rm -f "$tmp"; echo "regenerate: $p: $dest appeared meanwhile" >&2
          return 1; }
    echo "regenerate: $p: installed $dest (version $next)"

    # Older versions beyond --keep go; the server drops them on SIGHUP.
    if [[ $keep -gt 0 ]]; then
        versions "$p" | tail -n +$((keep + 1)) | cut -d' ' -f2- |
            while IFS= read -r f; do
                rm -f "$f" && echo "regenerate: $p: removed old version $f"
            done
    fi
}

failed=()
installed=0
for p in "${problems[@]}"; do
    if regenerate "$p"; then
        installed=$((installed + 1))
    else
        echo "regenerate: $p: FAILED; the model in $models is unchanged" >&2
        failed+=("$p")
    fi
done

# Tell a live server to rescan its models directory.
if [[ -n $pid_file && $installed -gt 0 ]]; then
    pid=$(cat "$pid_file" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -HUP "$pid"
        echo "regenerate: sent SIGHUP to the server (pid $pid)"
    else
        echo "regenerate: no live server in '$pid_file'; not signalled" >&2
    fi
fi

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "regenerate: failed: ${failed[*]}" >&2
    exit 1
fi
echo "regenerate: done: ${#problems[@]} problem(s) installed"
