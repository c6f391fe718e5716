"""Measures a solver's order of convergence: runs `diffuse run` at N and 2N
steps of a Karras grid and compares the rms error against the exact
probability-flow ODE solution. Usage: DIFFUSE SPEC SOLVER N ORDER [TOL]"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dfstest import report_order

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


report_order(solver, n, rms(n), rms(2 * n), order, tol)
