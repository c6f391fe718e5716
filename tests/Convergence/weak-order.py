"""A stochastic solver's order of convergence in law (weak order) on the
golden mixture of ../shared/golden/truth: M start states drawn from the
exact marginal at sigma = 80 (a mixture sample plus 80 times a normal), a
Karras grid (rho = 7) down to sigma = 0.002 at N and 2N steps with the
sampler's own noise, and the error of the samples' law measured by its
first two moments: the root of the summed squares of the differences
between the sample means and second moments, per coordinate, and the exact
ones of the marginal at sigma = 0.002 (the mixture's, with 0.002^2 added to
the second moments). The Monte Carlo standard error of that measure is
printed beside it; M is chosen so that it stays well under the error at 2N.

  weak-order.py DIFFUSE SPEC TRUTH_DIR SOLVER N ORDER M [TOL] [--set K=V ...]"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dfstest import read_npy, write_npy  # noqa: E402

diffuse, spec, truth_dir, solver, n, order, m = sys.argv[1:8]
rest = sys.argv[8:]
tol = 0.3
if rest and not rest[0].startswith("--"):
    tol = float(rest.pop(0))
n, order, m = int(n), float(order), int(m)
SIGMA_MAX, SIGMA_MIN = 80.0, 0.002

mix = json.load(open(os.path.join(truth_dir, "A_truth_ve_sigma80.json")))["mixture"]
dim, w, mu, sd = mix["dim"], mix["weights"], mix["means"], mix["stds"]
work = tempfile.mkdtemp()
with open(os.path.join(work, "mixture.json"), "w") as f:
    json.dump({"mixture": mix}, f)

# The start states, written as one float64 .npy.
rng = random.Random(1)
gauss = rng.gauss
start = []
for k in rng.choices(range(len(w)), weights=w, k=m):
    start += [mu[k][d] + sd[k] * gauss(0, 1) + SIGMA_MAX * gauss(0, 1) for d in range(dim)]
write_npy(os.path.join(work, "x.npy"), start, dim)
del start

# The exact moments of the marginal at SIGMA_MIN.
exact1 = [sum(wk * mu[k][d] for k, wk in enumerate(w)) for d in range(dim)]
exact2 = [sum(wk * (mu[k][d] ** 2 + sd[k] ** 2) for k, wk in enumerate(w)) + SIGMA_MIN ** 2
          for d in range(dim)]


def error(steps):
    """The moment error of the samples at `steps` steps and its Monte Carlo
    standard error."""
    grid = f"karras(steps = {steps}, sigma_min = {SIGMA_MIN}, sigma_max = {SIGMA_MAX}, rho = 7, " \
           "append_zero = 0)"
    subprocess.run([diffuse, "run", spec, "--set", f"q.solver={solver}", "--set", f"q.grid={grid}",
                    "--mixture", os.path.join(work, "mixture.json"), "--x-init",
                    os.path.join(work, "x.npy"), "--batch", str(m), "--seed", "3", "--out", work]
                   + rest, capture_output=True, text=True, check=True)
    v = read_npy(os.path.join(work, "samples.npy"))
    err2 = var = 0.0
    for d in range(dim):
        col = v[d::dim]
        sq = [x * x for x in col]
        m1, m2 = sum(col) / m, sum(sq) / m
        m4 = sum(x * x for x in sq) / m
        err2 += (m1 - exact1[d]) ** 2 + (m2 - exact2[d]) ** 2
        var += (m2 - m1 * m1) / m + (m4 - m2 * m2) / m
    return math.sqrt(err2), math.sqrt(var)


(e1, s1), (e2, s2) = error(n), error(2 * n)
observed = math.log2(e1 / e2)
ok = abs(observed - order) <= tol
print(f"{solver}: moment error {e1:.3e} at {n} steps, {e2:.3e} at {2 * n} "
      f"(standard error {max(s1, s2):.1e}, {m} samples): order {observed:.2f}, "
      f"expected {order:g}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
