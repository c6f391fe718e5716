#!/usr/bin/env bash
# Every test: lit (passes, CLI, diagnostics), GoogleTest (runtime),
# conformance against ../shared/golden, CUDA (skipped without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cd build
ctest --output-on-failure -j2 "$@"
