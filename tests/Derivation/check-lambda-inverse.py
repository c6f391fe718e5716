"""Checks the compiled closed-form inverse t(lambda) (the last column of
`diffuse schedule`) against independent closed forms worked out by hand
(DPM-Solver's NoiseScheduleVP.inverse_lambda for linear VP and cosine) and
against the row's own t. Usage: NAME < table"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import dfstest  # noqa: E402

name = sys.argv[1]
PI = math.pi


def softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def vp_linear(lam, b0=0.1, b1=20.0):
    tmp = 2 * (b1 - b0) * softplus(-2 * lam)
    return tmp / (math.sqrt(b0 * b0 + tmp) + b0) / (b1 - b0)


def sub_vp(lam, b0=0.1, b1=20.0):
    # alpha / (1 - alpha^2) = e^lambda is a quadratic in alpha whose root
    # gives -log alpha = asinh(e^-lambda / 2); alpha = exp(-B/2) with
    # B = b0 t + (b1 - b0) t^2 / 2.
    big_b = 2 * math.asinh(math.exp(-lam) / 2)
    return 2 * big_b / (math.sqrt(b0 * b0 + 2 * (b1 - b0) * big_b) + b0)


def reference(lam):
    if name in ("vp_linear", "vp_sde"):
        return vp_linear(lam)
    if name in ("sub_vp", "sub_vp_sde"):
        return sub_vp(lam)
    if name == "vp_cosine":
        s = 0.008
        log_alpha = -0.5 * softplus(-2 * lam)
        return 2 * (1 + s) / PI * math.acos(math.exp(log_alpha + math.log(math.cos(PI * s / 2 / (1 + s))))) - s
    if name == "ve_geometric":  # sigma = 0.01 * 5000^t = e^-lambda
        return (-lam - math.log(0.01)) / math.log(50 / 0.01)
    if name == "ve_sde":  # sigma^2 = 0.01^2 (r^2t - 1) = e^-2 lambda
        return math.log1p(math.exp(-2 * lam) / 0.01 ** 2) / (2 * math.log(50 / 0.01))
    if name == "edm_sde":
        return math.exp(-lam)
    if name == "trig":  # lambda = -log tan(pi t / 2)
        return 2 / PI * math.atan(math.exp(-lam))
    if name == "rectified_flow":
        return 1 / (1 + math.exp(lam))
    raise SystemExit("unknown process " + name)


worst_ref, worst_self, rows = 0.0, 0.0, 0
for f in dfstest.table_rows(sys.stdin, "t"):
    t, lam, got = float(f[0]), float(f[5]), f[6]
    if got == "-":
        print(f"{name}: no closed-form inverse")
        sys.exit(0)
    if not math.isfinite(lam):
        continue
    got = float(got)
    scale = max(abs(t), 1e-3)
    worst_ref = max(worst_ref, abs(got - reference(lam)) / scale)
    worst_self = max(worst_self, abs(got - t) / scale)
    rows += 1
ok = rows > 10 and worst_ref < 1e-11 and worst_self < 1e-11
print(f"{name}: {rows} points, t(lambda) against the hand-derived inverse {worst_ref:.1e}, "
      f"against t {worst_self:.1e}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
