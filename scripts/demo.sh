#!/usr/bin/env bash
# The main job: build, then sample the built-in 2-D mixture with the demo
# spec; writes out/demo/samples.png (a scatter plot over the data density),
# samples.npy and exact.npy, and prints the error against the exact ODE solution.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
mkdir -p out/demo
./build/bin/diffuse run examples/mixture2d/mixture2d.dfs --out out/demo "$@"
