#!/usr/bin/env bash
# Install what tabula needs to build, test and run, from Debian's packages.
# Idempotent: when everything is present it says so in one line and exits.
# python3-torch is for scripts/bench-train.sh's PyTorch half only; clang
# and libclang-rt-14-dev for scripts/fuzz.sh; wrk and nginx-light for
# scripts/bench-serve.sh.
set -euo pipefail

packages=(
    gcc libc6-dev meson ninja-build pkg-config cmake
    libsundials-dev libopenblas-dev libhdf5-dev hdf5-tools
    libmicrohttpd-dev libjansson-dev
    clang-format curl python3
    clang libclang-rt-14-dev
    wrk nginx-light
    python3-torch
)

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    echo "usage: scripts/install-deps.sh"
    echo "Installs with apt-get (as root, or through sudo): ${packages[*]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
echo "install-deps: done"
