#!/usr/bin/env bash
# Installs what is missing (Debian packages only), configures and builds
# into build/. Safe to run again: a no-op install and an incremental build.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools clang-19 antlr4
      libantlr4-runtime-dev libeigen3-dev libgtest-dev libgmock-dev nlohmann-json3-dev
      libpng-dev ninja-build ccache cmake g++ python3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.ccache}"
if [ ! -f build/build.ninja ]; then
  echo "== configuring build/"
  cmake -G Ninja -S . -B build \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir >/dev/null
fi
echo "== building (ninja -j2)"
ninja -C build -j2 | tail -n 3
