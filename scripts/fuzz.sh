#!/usr/bin/env bash
# Fuzzes the front end (parser, checks, planning) with libFuzzer and
# AddressSanitizer for a bounded time: scripts/fuzz.sh [SECONDS] (default 300).
# The seed corpus is tests/fuzz/corpus plus every .dfs file of stdlib/,
# examples/ and tests/; new inputs go to build-fuzz/corpus. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"
./scripts/setup.sh >/dev/null
if [ ! -f build-fuzz/build.ninja ]; then
  cmake -G Ninja -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DDIFFUSE_FUZZ=ON \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir >/dev/null
fi
ninja -C build-fuzz diffuse-fuzz | tail -n 1
mkdir -p build-fuzz/corpus
cp tests/fuzz/corpus/* build-fuzz/corpus/ 2>/dev/null || true
find stdlib examples tests -name '*.dfs' -exec cp {} build-fuzz/corpus/ \;
./build-fuzz/bin/diffuse-fuzz build-fuzz/corpus -max_total_time="$secs" -max_len=65536 \
  -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 2>&1 | tail -n 25
