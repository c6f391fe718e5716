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

The Beta quantile here is scipy's written out independently of Diffuse's
(diffuse/special.h: a continued fraction for I_x(a, b)): the power series
of I_x(a, b) (its reflection above x = 1/2), inverted by bisection. The two
agree to about 1e-15; stored as float32 they are identical.

usage: check-k-sigmas.py DIFFUSE WORKDIR"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import (alphas, cumprod, diffusers_betas, f32, linspace64,  # noqa: E402
                     table_sigmas)

diffuse, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
T = 1000


def table(kind):
    return table_sigmas(cumprod(alphas(diffusers_betas(kind, T))))


def sigma_to_t(sigma, log_sigmas):
    ls = math.log(max(sigma, 1e-10))
    lo = min(max([k for k in range(len(log_sigmas)) if ls - log_sigmas[k] >= 0], default=0),
             len(log_sigmas) - 2)
    low, high = log_sigmas[lo], log_sigmas[lo + 1]
    w = min(max((low - ls) / f32(low - high), 0.0), 1.0)
    return (1 - w) * lo + w * (lo + 1)


def incomplete_beta(x, a, b):
    """I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) 2F1(a + b, 1; a + 1; x),
    summed for x <= 1/2; the reflection 1 - I_{1-x}(b, a) above."""
    if x <= 0 or x >= 1:
        return min(max(x, 0.0), 1.0)
    if x > 0.5:
        return 1 - incomplete_beta(1 - x, b, a)
    lead = math.exp(a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a)
                    - math.lgamma(b)) / a
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-17 * total:
        term *= (a + b + n) / (a + 1 + n) * x
        total += term
        n += 1
    return lead * total


def beta_ppf(q, a, b):
    if q <= 0 or q >= 1:  # scipy's ends
        return min(max(q, 0.0), 1.0)
    lo, hi = 0.0, 1.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return mid
        if incomplete_beta(mid, a, b) < q:
            lo = mid
        else:
            hi = mid


def grid(family, kind, steps, t_max, t_min):
    sig = table(kind)
    log_sigmas = [f32(math.log(s)) for s in sig]
    if family == "exponential":
        levels = [math.exp(v)
                  for v in linspace64(math.log(sig[t_max]), math.log(sig[t_min]), steps)]
    else:
        lo, hi = sig[t_min], sig[t_max]
        levels = [lo + beta_ppf(1 - r, 0.6, 0.6) * (hi - lo) for r in linspace64(0, 1, steps)]
    return [f32(s) for s in levels] + [0.0], [f32(sigma_to_t(s, log_sigmas)) for s in levels]


CASES = [  # (use_X_sigmas, beta_schedule, steps, timestep_spacing, its end timesteps)
    ("exponential", "linear", 10, "linspace", 999, 0),
    ("exponential", "scaled_linear", 25, "linspace", 999, 0),
    ("exponential", "scaled_linear", 20, "leading", 951, 1),
    ("exponential", "linear", 7, "trailing", 999, 142),
    ("beta", "linear", 10, "linspace", 999, 0),
    ("beta", "scaled_linear", 30, "linspace", 999, 0),
    ("beta", "scaled_linear", 20, "leading", 951, 1),
    ("beta", "linear", 7, "trailing", 999, 142),
]
ok = True
spec = os.path.join(work, "spec.dfs")
for family, kind, steps, spacing, t_max, t_min in CASES:
    args = [diffuse, "compat", "diffusers", "EulerDiscreteScheduler",
            f"use_{family}_sigmas=true", f"beta_schedule={kind}", f"timestep_spacing={spacing}",
            "--steps", str(steps)]
    if kind == "scaled_linear":
        args += ["beta_start=0.00085", "beta_end=0.012"]
    if spacing == "leading":
        args.append("steps_offset=1")
    with open(spec, "w") as f:
        f.write(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    rows = [r.split() for r in subprocess.run([diffuse, "grid", spec], capture_output=True,
                                               text=True, check=True).stdout.splitlines()[1:]]
    got = [float(r[1]) for r in rows] + [float(rows[-1][2])]
    got_t = [float(r[3]) for r in rows]
    want, want_t = grid(family, kind, steps, t_max, t_min)
    same = got == want and got_t == want_t
    ok &= same
    print(f"{family}: {kind} {spacing} {steps} steps: {len(got)} sigmas and {len(got_t)} timesteps, "
          f"{'bit-identical' if same else 'DIFFER: %r %r vs %r %r' % (got, got_t, want, want_t)}")
sys.exit(0 if ok else 1)
