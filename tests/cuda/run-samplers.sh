#!/bin/sh
# The CUDA back end's end-to-end test (ctest cuda-samplers): builds every
# sampler of samplers.dfs with --device cuda, checks each one's PTX with
# ptxas for sm_90 (this needs no GPU, so CI does it), then runs
# DiffuseSamplerCudaTests, which compares GPU and host runs where a GPU is
# and exits 77 ("skipped: no GPU") where there is none.
# usage: run-samplers.sh DIFFUSE TESTBIN PTXAS OUTDIR
set -e
diffuse=$1 testbin=$2 ptxas=$3 out=$4
spec=$(dirname "$0")/samplers.dfs
rm -rf "$out" && mkdir -p "$out"
for s in $(sed -n 's/^sampler \([a-z0-9_]*\) {$/\1/p' "$spec"); do
  "$diffuse" build --shared --device cuda --sampler "$s" "$spec" -o "$out/$s.so"
  "$diffuse" emit --emit=ptx --sampler "$s" "$spec" > "$out/$s.ptx"
  "$ptxas" -arch=sm_90 "$out/$s.ptx" -o "$out/$s.cubin"
  echo "built $s: $(grep -c '^.visible .entry' "$out/$s.ptx") kernels, ptxas ok"
done
# What a GPU run refuses: a sampler without kernels, an adaptive solver.
mkdir -p "$out/refused"
"$diffuse" build --shared --sampler euler_rf "$spec" -o "$out/refused/cpu-only.so"
"$diffuse" build --shared --device cuda "$(dirname "$0")/adaptive.dfs" -o "$out/refused/adaptive.so"
exec "$testbin" "$out/runs" --no-kernels "$out/refused/cpu-only.so" \
  --adaptive "$out/refused/adaptive.so" "$out"/*.so
