"""Checks `diffuse compat diffusers EulerDiscreteScheduler` with
use_exponential_sigmas=true (the k_exponential grid) and
use_beta_sigmas=true (k_beta) against EulerDiscreteScheduler.set_timesteps
written out here in plain Python: the spaced schedule's float32 sigmas at
its end timesteps; between them numpy's linspace of math.log and np.exp, or
sigma_min + scipy.stats.beta.ppf(1 - linspace(0, 1), 0.6, 0.6) (sigma_max -
sigma_min); the sigmas stored as float32 and each fractional timestep from
_sigma_to_t (its low - high in float32) stored as float32. The table's
float32 log sigmas are taken correctly rounded, as the runtime takes them
(numpy's float32 log is not always: docs/design.md).

The Beta quantile is dfstest's, written independently of Diffuse's
(diffuse/special.h: a continued fraction for I_x(a, b)); the two agree to
about 1e-15, and stored as float32 they are identical.

usage: check-k-sigmas.py DIFFUSE WORKDIR"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import (beta_ppf, diffusers_sigmas, f32, grid_rows, linspace64,  # noqa: E402
                     sigma_to_t)

diffuse, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
T = 1000


def levels(family, lo, hi, steps):
    """The noise levels from hi down to lo: exponential or Beta-spaced."""
    if family == "exponential":
        return [math.exp(v) for v in linspace64(math.log(hi), math.log(lo), steps)]
    return [lo + beta_ppf(1 - r, 0.6, 0.6) * (hi - lo) for r in linspace64(0, 1, steps)]


def grid(cls, family, kind, steps, t_max, t_min):
    """The sigmas of the steps and their network timesteps: Euler's
    fractional float32 ones, or DPMSolverMultistep's cast to int64."""
    sig = diffusers_sigmas(kind, T)
    log_sigmas = [f32(math.log(s)) for s in sig]
    lv = levels(family, sig[t_min], sig[t_max], steps)
    if cls == "DPMSolverMultistepScheduler":
        return [f32(s) for s in lv], [float(math.floor(sigma_to_t(s, log_sigmas))) for s in lv]
    return [f32(s) for s in lv], [f32(sigma_to_t(s, log_sigmas)) for s in lv]


CASES = [  # (class, use_X_sigmas, beta_schedule, steps, timestep_spacing, its end timesteps)
    ("EulerDiscreteScheduler", "exponential", "linear", 10, "linspace", 999, 0),
    ("EulerDiscreteScheduler", "exponential", "scaled_linear", 25, "linspace", 999, 0),
    ("EulerDiscreteScheduler", "exponential", "scaled_linear", 20, "leading", 951, 1),
    ("EulerDiscreteScheduler", "exponential", "linear", 7, "trailing", 999, 142),
    ("EulerDiscreteScheduler", "beta", "linear", 10, "linspace", 999, 0),
    ("EulerDiscreteScheduler", "beta", "scaled_linear", 30, "linspace", 999, 0),
    ("EulerDiscreteScheduler", "beta", "scaled_linear", 20, "leading", 951, 1),
    ("EulerDiscreteScheduler", "beta", "linear", 7, "trailing", 999, 142),
    # DPMSolverMultistep spans the whole table whatever the spacing.
    ("DPMSolverMultistepScheduler", "exponential", "linear", 10, "linspace", 999, 0),
    ("DPMSolverMultistepScheduler", "exponential", "scaled_linear", 25, "leading", 999, 0),
    ("DPMSolverMultistepScheduler", "beta", "linear", 6, "linspace", 999, 0),
    ("DPMSolverMultistepScheduler", "beta", "scaled_linear", 20, "trailing", 999, 0),
]
ok = True
spec = os.path.join(work, "spec.dfs")
for cls, family, kind, steps, spacing, t_max, t_min in CASES:
    args = [diffuse, "compat", "diffusers", cls, f"use_{family}_sigmas=true",
            f"beta_schedule={kind}", f"timestep_spacing={spacing}", "--steps", str(steps)]
    if kind == "scaled_linear":
        args += ["beta_start=0.00085", "beta_end=0.012"]
    if spacing == "leading":
        args.append("steps_offset=1")
    with open(spec, "w") as f:
        f.write(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    rows = grid_rows(diffuse, spec)
    # each step's noise level (sigma/alpha, printed from alpha and sigma: back to float32)
    # and network timestep
    got, got_t = [f32(float(r[6])) for r in rows], [float(r[3]) for r in rows]
    want, want_t = grid(cls, family, kind, steps, t_max, t_min)
    same = got == want and got_t == want_t
    ok &= same
    print(f"{cls} {family}: {kind} {spacing} {steps} steps: {len(got)} sigmas and "
          f"{len(got_t)} timesteps, "
          f"{'bit-identical' if same else 'DIFFER: %r %r vs %r %r' % (got, got_t, want, want_t)}")
sys.exit(0 if ok else 1)
