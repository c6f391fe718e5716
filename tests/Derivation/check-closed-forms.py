"""Compares `diffuse schedule` output (alpha, sigma and the compiler's
symbolic derivatives) with independent closed forms. Usage: NAME < table"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import dfstest  # noqa: E402

name = sys.argv[1]
PI = math.pi


def vp(t, b0=0.1, b1=20.0):
    la = -0.25 * t * t * (b1 - b0) - 0.5 * t * b0
    dla = -0.5 * t * (b1 - b0) - 0.5 * b0
    a = math.exp(la)
    return a, a * dla


def closed(t):
    if name == "vp_linear":
        a, da = vp(t)
        s = math.sqrt(1 - a * a)
        return a, s, da, -a * da / s
    if name == "sub_vp":
        a, da = vp(t)
        return a, 1 - a * a, da, -2 * a * da
    if name == "vp_cosine":
        s0 = 0.008
        u = (t + s0) / (1 + s0) * PI / 2
        f0 = math.cos(s0 / (1 + s0) * PI / 2)
        a = math.cos(u) / f0
        da = -math.sin(u) * PI / 2 / (1 + s0) / f0
        s = math.sqrt(1 - a * a)
        return a, s, da, -a * da / s
    if name == "ve_geometric":
        s = 0.01 * (50 / 0.01) ** t
        return 1.0, s, 0.0, s * math.log(50 / 0.01)
    if name == "trig":
        return (math.cos(PI * t / 2), math.sin(PI * t / 2), -PI / 2 * math.sin(PI * t / 2),
                PI / 2 * math.cos(PI * t / 2))
    if name == "rectified_flow":
        return 1 - t, t, -1.0, 1.0
    # Declared as SDEs (Inputs/sde-processes.dfs): the marginals by hand.
    if name == "vp_sde":  # alpha = exp(-B/2), sigma^2 = 1 - alpha^2
        a, da = vp(t)
        s = math.sqrt(-math.expm1(2 * math.log(a)))
        return a, s, da, -a * da / s
    if name == "sub_vp_sde":  # sigma^2 = e^-B (e^B + e^-B - 2) = (1 - alpha^2)^2
        a, da = vp(t)
        return a, -math.expm1(2 * math.log(a)), da, -2 * a * da
    if name == "ve_sde":  # sigma^2 = int_0^t smin^2 r^2s 2 log r = smin^2 (r^2t - 1)
        r = 50 / 0.01
        s = 0.01 * math.sqrt(math.expm1(2 * t * math.log(r)))
        return 1.0, s, 0.0, 0.01 ** 2 * r ** (2 * t) * math.log(r) / s
    if name == "edm_sde":  # sigma^2 = int_0^t 2s ds
        return 1.0, t, 0.0, 1.0
    if name == "wavy_sde":  # g^2 = -2f, so sigma^2 = alpha^2 (alpha^-2 - 1)
        la = -0.5 * (t + (1 - math.cos(3 * t)) / 3)
        a = math.exp(la)
        da = -0.5 * (1 + math.sin(3 * t)) * a
        s = math.sqrt(-math.expm1(2 * la))
        return a, s, da, -a * da / s
    raise SystemExit("unknown process " + name)


worst, rows = 0.0, 0
for f in dfstest.table_rows(sys.stdin, "t"):
    t = float(f[0])
    got = [float(x) for x in f[1:5]]
    want = closed(t)
    for g, w in zip(got, want):
        err = abs(g - w) / max(1.0, abs(w))
        worst = max(worst, err)
    rows += 1
ok = rows > 10 and worst < 1e-10
print(f"{name}: {rows} points, worst relative error {worst:.1e}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
