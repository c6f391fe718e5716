"""Measures a solver's order of convergence: runs `diffuse run` at N and 2N
steps of a Karras grid and compares the rms error against the exact
probability-flow ODE solution. Usage: DIFFUSE SPEC SOLVER N ORDER [TOL]"""
import math
import re
import subprocess
import sys
import tempfile

diffuse, spec, solver, n, order = sys.argv[1:6]
tol = float(sys.argv[6]) if len(sys.argv) > 6 else 0.3
n, order = int(n), float(order)


def rms(steps):
    out = subprocess.run(
        [diffuse, "run", spec, "--set", f"q.solver={solver}", "--set",
         f"q.grid=karras(steps = {steps}, sigma_min = 0.002, sigma_max = 80, rho = 7)",
         "--batch", "200", "--out", tempfile.mkdtemp()],
        capture_output=True, text=True, check=True).stdout
    return float(re.search(r"rms ([0-9.e+-]+)", out).group(1))


e1, e2 = rms(n), rms(2 * n)
observed = math.log2(e1 / e2)
ok = abs(observed - order) <= tol
print(f"{solver}: rms error {e1:.3e} at {n} steps, {e2:.3e} at {2 * n}: "
      f"order {observed:.2f}, expected {order:g}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
