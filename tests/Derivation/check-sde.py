"""Checks the compiler's SDE coefficients (drift f and diffusion2 g^2, see
Inputs/sde-probe.dfs) against independent closed forms at several times of
each process. Usage: check-sde.py DIFFUSE PROBE_SPEC NAME"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import dfstest

diffuse, spec, name = sys.argv[1:4]
PI = math.pi


def beta(t, b0=0.1, b1=20.0):
    return b0 + t * (b1 - b0)


def closed(t):  # (f, g^2)
    if name == "vp_linear":
        return -0.5 * beta(t), beta(t)
    if name == "sub_vp":
        a2 = math.exp(-0.5 * t * t * (20.0 - 0.1) - t * 0.1)
        return -0.5 * beta(t), beta(t) * (1 - a2 * a2)
    if name == "vp_cosine":
        u = (t + 0.008) / 1.008 * PI / 2
        return -math.tan(u) * PI / 2 / 1.008, math.tan(u) * PI / 1.008
    if name == "ve_geometric":
        s = 0.01 * (50 / 0.01) ** t
        return 0.0, 2 * s * s * math.log(50 / 0.01)
    if name == "trig":
        return -PI / 2 * math.tan(PI * t / 2), PI * math.tan(PI * t / 2)
    if name == "rectified_flow":
        return -1 / (1 - t), 2 * t / (1 - t)
    # Declared as SDEs: the derived path must give back the declared f, g^2.
    if name == "vp_sde":
        return -0.5 * beta(t), beta(t)
    if name == "sub_vp_sde":
        big_b = 0.1 * t + 0.5 * (20.0 - 0.1) * t * t
        return -0.5 * beta(t), beta(t) * -math.expm1(-2 * big_b)
    if name == "ve_sde":
        r = 50 / 0.01
        return 0.0, 0.01 ** 2 * r ** (2 * t) * 2 * math.log(r)
    if name == "edm_sde":
        return 0.0, 2 * t
    if name == "wavy_sde":
        return -0.5 * (1 + math.sin(3 * t)), 1 + math.sin(3 * t)
    raise SystemExit("unknown process " + name)


def dlambda(t):  # d lambda / dt of the path, and the ve noise level tau = sigma/alpha
    if name in ("vp_linear", "vp_sde"):
        la = -0.25 * t * t * 19.9 - 0.05 * t
        a = math.exp(la)
        s2 = -math.expm1(2 * la)
        return (-0.5 * t * 19.9 - 0.05) / s2, math.sqrt(s2) / a
    if name == "ve_geometric":
        return -math.log(50 / 0.01), 0.01 * (50 / 0.01) ** t
    if name == "trig":
        return -PI / math.sin(PI * t), math.tan(PI * t / 2)
    if name == "rectified_flow":
        return -1 / (1 - t) - 1 / t, t / (1 - t)
    return None, None


def probe(solver, t):
    return dfstest.probe(diffuse, spec, name, solver, t, t / 2)


worst = 0.0
for t in (0.05, 0.3, 0.7, 0.95):
    for solver, want in zip(("probe_f", "probe_g2"), closed(t)):
        got = probe(solver, t)
        err = abs(got - want) / max(abs(want), 1e-300) if want else abs(got)
        worst = max(worst, err)
    want, tau = dlambda(t)
    if want is not None:
        got = probe("probe_dlambda", t)
        worst = max(worst, abs(got - want) / abs(want))
        # In ve coordinates lambda = -log tau: d lambda / d tau = -1/tau.
        got = probe("probe_dlambda_ve", t)
        worst = max(worst, abs(got + 1 / tau) * tau)
        # In lambda coordinates (a time change by lambda): f / lambda',
        # g^2 / lambda', d lambda / d lambda = 1 and the time is lambda.
        for solver, c in zip(("probe_f_lambda", "probe_g2_lambda"), closed(t)):
            got = probe(solver, t)
            c /= want
            worst = max(worst, abs(got - c) / abs(c) if c else abs(got))
        worst = max(worst, abs(probe("probe_dlambda_lambda", t) - 1))
        worst = max(worst, abs(probe("probe_lambda_lambda", t)))
ok = worst <= 1e-12
print(f"{name}: f, g^2 (and d lambda/dt and lambda coordinates' f, g^2 where known) at 4 "
      f"times, worst relative error "
      f"{worst:.1e}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
