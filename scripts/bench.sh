#!/usr/bin/env bash
# Benchmarks (not tests): the fused step against the op-by-op baseline and
# the STREAM-triad floor, plus compile times. Writes out/bench/{bench.csv,
# bench.svg, bench.png, log.txt}. Pass --quick for a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
dpkg -s librsvg2-bin >/dev/null 2>&1 || {
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq librsvg2-bin >/dev/null
}
mkdir -p out/bench
./build/bin/diffuse-bench --out out/bench "$@" | tee out/bench/log.txt
rsvg-convert out/bench/bench.svg -o out/bench/bench.png
# `diffuse build` of a 20-step DPM-Solver++(2M) + CFG sampler, wall time.
start=$(date +%s.%N)
./build/bin/diffuse build out/bench/bench-f32.dfs --sampler s_dpmpp_2m_cfg -o out/bench/dpmpp_cfg
end=$(date +%s.%N)
echo "diffuse build (20-step DPM-Solver++(2M) + CFG, standalone executable): $(echo "$end - $start" | bc) s" \
  | tee -a out/bench/log.txt
