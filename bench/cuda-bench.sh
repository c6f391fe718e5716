#!/bin/sh
# The GPU benchmark: builds the samplers of cuda-bench.dfs.in (fused and
# --eager, float64 and float32) with --device cuda into OUTDIR, then runs
# diffuse-cuda-bench on them (it needs a GPU), writing OUTDIR/cuda-bench.csv.
# usage: bench/cuda-bench.sh BUILD_DIR OUTDIR [--build-only]
set -e
build=$1 out=$2
here=$(dirname "$0")
mkdir -p "$out"
for T in f64 f32; do
  sed "s/@T@/$T/g" "$here/cuda-bench.dfs.in" > "$out/bench-$T.dfs"
  for s in euler ddim dpmpp_2m_cfg unipc heun; do
    "$build/bin/diffuse" build --shared --device cuda --sampler "s_$s" "$out/bench-$T.dfs" \
      -o "$out/$s-$T.so"
    "$build/bin/diffuse" build --shared --device cuda --eager --sampler "s_$s" "$out/bench-$T.dfs" \
      -o "$out/$s-$T-eager.so"
  done
done
[ "$3" = "--build-only" ] || exec "$build/bin/diffuse-cuda-bench" "$out/cuda-bench.csv" "$out"/*.so
