"""Checks stdlib/solvers/cold.dfs (Inputs/cold.dfs) against Bansal et al.'s
algorithms 1 and 2, written out here in plain Python with the same
restoration network (the mixture's exact E[x0 | x_t] on the rectified flow
alpha = 1 - t, sigma = t) and the same degradation (x -> (1 - t) x), on the
grid that `diffuse grid` prints.

usage: check-cold.py DIFFUSE SPEC WORKDIR"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
B = 4
mix = dfstest.class_mixture(work, dim=8, batch=B)


def restore(x, t):
    return dfstest.mixture_denoise(mix, x, 1 - t, t)


def degrade(x0, t):
    return [(1 - t) * v for v in x0]


x_init = dfstest.read_npy(os.path.join(work, "x.npy"))
x_init = [list(x_init[i * 8:(i + 1) * 8]) for i in range(B)]
for sampler, algorithm in (("improved", 2), ("improved_ms", 2), ("naive", 1)):
    out = subprocess.run([diffuse, "grid", spec, "--sampler", sampler], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    steps = [(float(f[1]), float(f[2])) for f in dfstest.table_rows(out, "step")]
    want = []
    for x in x_init:
        for s, t in steps:
            x0 = restore(x, s)
            if algorithm == 2:
                x = [v - a + b for v, a, b in zip(x, degrade(x0, s), degrade(x0, t))]
            else:
                x = degrade(x0, t)
        want.append(x)
    got, calls = dfstest.run_samples(diffuse, spec, work, sampler, B)
    err = max(abs(g - w) for gr, wr in zip(got, want) for g, w in zip(gr, wr)) / \
        max(abs(w) for wr in want for w in wr)
    print(f"{sampler}: {len(steps)} steps, {calls} network calls; against algorithm "
          f"{algorithm}: max relative difference {err:.0e} "
          f"({'<= 1e-13: ok' if err <= 1e-13 else 'FAIL'})")
