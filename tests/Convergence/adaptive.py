"""An adaptive solver against the exact ODE solutions of
../shared/golden/truth: at each tolerance (rtol = atol = tol) the rms error
at the end must stay within FACTOR x tol (tolerance proportionality) and
fall as the tolerance tightens. The network calls are printed, not judged:
at loose tolerances rejected steps can cost more than the tighter run.

  adaptive.py DIFFUSE SPEC TRUTH_DIR ve|flow SOLVER FACTOR TOL [TOL ...]

SOLVER is a name or a call with arguments of its own, "name(order = 3)".

ve: sigma 80 -> 0.002 on the VE truth; flow: t 0 -> 1 on the CondOT truth.
The grid is the two end points: the solver picks its own steps between."""
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dfstest import golden_truth, read_npy

diffuse, spec, truth_dir, kind, solver, factor = sys.argv[1:7]
factor = float(factor)
tols, sets = [], []
args = sys.argv[7:]
while args:  # tolerances, and --set K=V options passed on to diffuse run
    a = args.pop(0)
    if a == "--set":
        sets += ["--set", args.pop(0)]
    else:
        tols.append(a)
grid = "[80, 0.002]" if kind == "ve" else "[0, 1]"
work, exact, batch = golden_truth(truth_dir, kind)

ok = True
prev_err = math.inf
for tol in tols:
    # SOLVER may carry arguments of its own: "name(order = 3)".
    call = solver[:-1] + ", " if solver.endswith(")") else solver + "("
    cmd = [diffuse, "run", spec, "--set", f"q.solver={call}rtol = {tol}, atol = {tol})",
           "--set", "q.grid=" + grid, "--mixture", os.path.join(work, "mixture.json"),
           "--x-init", os.path.join(work, "x.npy"), "--batch", str(batch), "--out", work] + sets
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    calls = int(re.search(r"(\d+) network calls", r.stdout).group(1))
    got = read_npy(os.path.join(work, "samples.npy"))
    err = math.sqrt(sum((g - e) ** 2 for g, e in zip(got, exact)) / len(exact))
    good = err <= factor * float(tol) and err < prev_err
    ok &= good
    print(f"{solver} tol {tol}: rms error {err:.3e} ({err / float(tol):.1f} x tol), "
          f"{calls} network calls{'' if good else '  <-- FAIL'}")
    prev_err = err
print(f"{solver}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
