"""Checks the compiler's Gaussian posterior q(x_t | x_s, x0) (posterior_mean,
posterior_std; read through the probe solvers of Inputs/sde-probe.dfs)
against the papers' closed forms: DDPM's (Ho et al. 2020, eq. 7) for a
variance-preserving process, SMLD/NCSN's ancestral step for a variance-
exploding one. Usage: check-posterior.py DIFFUSE PROBE_SPEC NAME"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import dfstest

diffuse, spec, name = sys.argv[1:4]


def path(t):  # (alpha, sigma)
    if name in ("vp_linear", "vp_sde"):
        a = math.exp(-0.25 * t * t * 19.9 - 0.05 * t)
        return a, math.sqrt(1 - a * a)
    if name in ("ve_geometric",):
        return 1.0, 0.01 * 5000 ** t
    if name == "edm_sde":
        return 1.0, t
    raise SystemExit("unknown process " + name)


def closed(s, t):  # (c0, c1, std) for x_t given x_s and x0, t < s
    a_s, s_s = path(s)
    a_t, s_t = path(t)
    if a_s == a_t == 1.0:  # VE: x_t = x0 + (x_s - x0) s_t^2 / s_s^2, var (s_s^2 - s_t^2) s_t^2 / s_s^2
        return ((s_s ** 2 - s_t ** 2) / s_s ** 2, s_t ** 2 / s_s ** 2,
                math.sqrt((s_s ** 2 - s_t ** 2) * s_t ** 2 / s_s ** 2))
    abar_s, abar_t = a_s ** 2, a_t ** 2  # DDPM: beta = 1 - abar_s / abar_t
    beta = 1 - abar_s / abar_t
    return (math.sqrt(abar_t) * beta / (1 - abar_s),
            math.sqrt(abar_s / abar_t) * (1 - abar_t) / (1 - abar_s),
            math.sqrt(beta * (1 - abar_t) / (1 - abar_s)))


def probe(solver, s, t):
    return dfstest.probe(diffuse, spec, name, solver, s, t)


worst = 0.0
for s, t in ((0.3, 0.2), (0.7, 0.65), (0.95, 0.5)):
    if name == "edm_sde":
        s, t = 80 * s, 80 * t
    for solver, want in zip(("probe_c0", "probe_c1", "probe_std"), closed(s, t)):
        got = probe(solver, s, t)
        worst = max(worst, abs(got - want) / abs(want))
ok = worst <= 1e-12
print(f"{name}: mean coefficients and std at 3 steps, worst relative error {worst:.1e}: "
      f"{'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
