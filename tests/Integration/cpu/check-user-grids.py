"""Checks grid declarations (Inputs/user-grids.dfs) against the formulas
they are written from, computed here in Python: the stdlib's kl_optimal
(noise levels evenly spaced in arctan sigma), ComfyUI's simple scheduler,
DDIM's quadratic timesteps (numpy's linspace, squared and truncated), and
Karras et al.'s grid written as a declaration, which must sample exactly as
the built-in karras grid does.

usage: check-user-grids.py DIFFUSE SPEC WORKDIR"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]


def grid(sampler):
    """The (from, to) times of each step `diffuse grid` prints."""
    out = subprocess.run([diffuse, "grid", spec, "--sampler", sampler], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return [(float(f[1]), float(f[2])) for f in dfstest.table_rows(out, "step")]


def report(name, got, want):
    same = len(got) == len(want)
    err = max((abs(a - b) / max(abs(b), 1e-300) for a, b in zip(got, want)), default=0.0)
    ok = same and err == 0
    print(f"{name}: {len(got)} values (want {len(want)}), max relative difference {err:.1e}: "
          f"{'ok' if ok else 'FAIL'}")
    return ok


ok = True
# kl_optimal(steps = 12) on time = sigma: 12 levels, then 0.
n, lo, hi = 12, 0.0291675, 14.614642
want = [math.tan(math.atan(hi) + i / (n - 1) * (math.atan(lo) - math.atan(hi))) for i in range(n)]
steps = grid("kl")
ok &= report("kl_optimal", [s for s, _ in steps] + [steps[-1][1]], want + [0.0])

# ComfyUI's simple: table index 999 - int(x * (1000 / steps)) for x < steps.
want = [999 - int(x * (1000 / 30)) for x in range(30)]
ok &= report("simple", [s for s, _ in grid("simple_sd")], want)

# DDIM's quad: int(linspace(0, sqrt(800), S)^2), largest first; numpy's
# linspace is k * (stop / (S - 1)) with the stop itself last.
S = 54
root = [k * (math.sqrt(0.8 * 1000) / (S - 1)) for k in range(S - 1)] + [math.sqrt(0.8 * 1000)]
want = [int(r * r) for r in root][::-1]
ok &= report("ddim_quadratic", [s for s, _ in grid("quad")], want)

# Karras by hand against the built-in family: the same grid, the same samples.
ok &= report("karras by hand, grid", [s for s, _ in grid("by_hand")],
             [s for s, _ in grid("built_in")])
mix = dfstest.class_mixture(work, dim=8, batch=4)
a, _ = dfstest.run_samples(diffuse, spec, work, "by_hand", 4)
b, _ = dfstest.run_samples(diffuse, spec, work, "built_in", 4)
ok &= report("karras by hand, samples", [v for r in a for v in r], [v for r in b for v in r])
sys.exit(0 if ok else 1)
