"""A solver's order of convergence against the exact ODE solutions of
../shared/golden/truth (scipy DOP853, rtol = atol = 1e-12): samples the
golden mixture from the truth's own start state at N and 2N steps and
compares the rms error of each run with the recorded exact state.

  golden-order.py DIFFUSE SPEC TRUTH_DIR ve   SOLVER N ORDER [TOL] [--set K=V ...]
  golden-order.py DIFFUSE SPEC TRUTH_DIR flow SOLVER N ORDER [TOL] [--set K=V ...]
  golden-order.py DIFFUSE SPEC TRUTH_DIR vp   SOLVER N ORDER [TOL] [--set K=V ...]

ve: A_truth_ve_sigma80.json, Karras grid from sigma 80 to 0.002 (no final
zero), compared with the exact state at sigma = 0.002. flow:
A_truth_condot.json, uniform grid from t = 0 (noise) to 1 (data), compared
with the exact state at t = 1. vp: the ve problem as the variance-preserving
path of Inputs/golden-vp.dfs (state alpha x, the grid `down`, uniform in its
time and geometric in the noise level), for solvers written for VP tables."""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dfstest import golden_truth, read_npy, report_order, write_npy

diffuse, spec, truth_dir, kind, solver, n, order = sys.argv[1:8]
rest = sys.argv[8:]
tol = 0.3
if rest and not rest[0].startswith("--"):
    tol = float(rest.pop(0))
n, order = int(n), float(order)

grid = {"ve": "karras(steps = %d, sigma_min = 0.002, sigma_max = 80, rho = 7, append_zero = 0)",
        "flow": "uniform(steps = %d)", "vp": "down(steps = %d)"}[kind]
work, exact, batch = golden_truth(truth_dir, "ve" if kind == "vp" else kind)
start, end = 1.0, 1.0  # alpha at the start and at the end (vp: x = alpha x_ve)
if kind == "vp":
    start, end = 1 / math.sqrt(1 + 80 ** 2), 1 / math.sqrt(1 + 0.002 ** 2)
    x = read_npy(os.path.join(work, "x.npy"))
    dim = len(x) // batch
    write_npy(os.path.join(work, "x.npy"),
              [[start * v for v in x[r * dim:(r + 1) * dim]] for r in range(batch)])


def rms(steps):
    cmd = [diffuse, "run", spec, "--set", f"q.solver={solver}", "--set",
           "q.grid=" + grid % steps, "--mixture", os.path.join(work, "mixture.json"),
           "--x-init", os.path.join(work, "x.npy"), "--batch", str(batch), "--out", work]
    subprocess.run(cmd + rest, capture_output=True, text=True, check=True)
    got = [v / end for v in read_npy(os.path.join(work, "samples.npy"))]
    return math.sqrt(sum((g - e) ** 2 for g, e in zip(got, exact)) / len(exact))


report_order(solver, n, rms(n), rms(2 * n), order, tol)
