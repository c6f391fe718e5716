"""Checks `diffuse train --points N` (u, n, t, t_model, c_x0, c_eps, weight,
input_scale, alpha, sigma at N quantiles of the draw) for the specs of Inputs/train.dfs against the
time distributions and loss weights as their papers state them, worked out
by hand in each model's own output space. Usage: NAME < table"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import dfstest  # noqa: E402

name = sys.argv[1]
LO, HI = 0.001, 1.0  # vp_sde's domain


def vp(t, b0=0.1, b1=20.0):
    big_b = b0 * t + 0.5 * (b1 - b0) * t * t
    a = math.exp(-0.5 * big_b)
    s = math.sqrt(-math.expm1(-big_b))
    return a, s, b0 + t * (b1 - b0)


def vp_t_of_lambda(lam, b0=0.1, b1=20.0):  # DPM-Solver's inverse_lambda
    tmp = 2 * (b1 - b0) * math.log1p(math.exp(-2 * lam))
    return tmp / (math.sqrt(b0 * b0 + tmp) + b0) / (b1 - b0)


def vp_lambda(t):
    a, s, _ = vp(t)
    return math.log(a / s)


def ddpm_acp(k, b0=1e-4, b1=0.02, n=1000):  # alphas_cumprod in float64
    acp = 1.0
    for i in range(k + 1):
        acp *= 1 - (b0 + (b1 - b0) * i / (n - 1))
    return acp


def expected(u, n, a=None, s=None):  # (t, t_model, c_x0, c_eps, weight, input_scale)
    if name == "ddpm_table":  # uniform timestep index; the table is float32 (torch)
        k = min(999, math.floor(u * 1000))
        assert abs(a * a - ddpm_acp(k)) <= 1e-6 * ddpm_acp(k) + 1e-9, "alphas_cumprod"
        snr = a * a / (s * s)  # the weight against the table's own alpha, sigma
        return k, k, 0, 1, min(snr, 5) / snr, 1
    if name == "edm_precond":  # Karras et al. Table 1, sigma_data 0.5, sigma = t
        t = min(80.0, max(0.002, math.exp(-1.2 + 1.2 * n)))
        d = 0.5
        c_skip, c_out = d * d / (t * t + d * d), t * d / math.sqrt(t * t + d * d)
        c_in = 1 / math.sqrt(t * t + d * d)
        # F target (x0 - c_skip (x0 + t eps)) / c_out; weight lambda c_out^2 = 1
        return t, 0.25 * math.log(t), (1 - c_skip) / c_out, -c_skip * t / c_out, 1, c_in
    return expected_plain(u, n) + (1,)


def expected_plain(u, n):  # (t, t_model, c_x0, c_eps, weight)
    if name in ("ddpm_simple", "min_snr_eps", "min_snr_v", "snr_x0", "truncated_x0",
                "likelihood", "score_likelihood"):
        t = LO + u * (HI - LO)
        a, s, beta = vp(t)
        snr = a * a / (s * s)
        return {
            "ddpm_simple": (t, t, 0, 1, 1),
            "min_snr_eps": (t, t, 0, 1, min(snr, 5) / snr),
            "min_snr_v": (t, 1000 * t, -s, a, min(snr, 5) / (snr + 1)),
            "snr_x0": (t, t, 1, 0, snr),
            "truncated_x0": (t, t, 1, 0, max(snr, 1)),
            "likelihood": (t, t, 0, 1, beta / (s * s)),  # g^2 / sigma^2
            "score_likelihood": (t, t, 0, -1 / s, beta),  # target -eps/sigma, weight g^2
        }[name]
    if name == "likelihood_is":  # lambda uniform, weight / density constant
        lam_lo, lam_hi = vp_lambda(LO), vp_lambda(HI)
        t = vp_t_of_lambda(lam_hi + u * (lam_lo - lam_hi))
        return t, t, 0, 1, 2 * (lam_lo - lam_hi)
    if name == "sd3":  # t = sigmoid(n) on rf's domain
        t = 0.001 + 0.998 / (1 + math.exp(-n))
        return t, t, -1, 1, 1
    if name == "rf_snr":  # SNR = (1-t)^2/t^2 on x0; x0 = x - t velocity, so b = -t
        t = 0.001 + u * 0.998
        return t, t, -1, 1, (1 - t) ** 2
    if name == "edm":  # sigma = exp(-1.2 + 1.2 n), weight (s^2 + sd^2) / (s sd)^2
        t = min(80.0, max(0.002, math.exp(-1.2 + 1.2 * n)))
        return t, t, 1, 0, (t * t + 0.25) / (t * t * 0.25)
    raise SystemExit("unknown spec " + name)


worst, rows = 0.0, 0
for f in dfstest.table_rows(sys.stdin, "u"):
    u, n = float(f[0]), float(f[1])
    got = [float(x) for x in f[2:8]]
    for g, w in zip(got, expected(u, n, float(f[8]), float(f[9]))):
        worst = max(worst, abs(g - w) / max(abs(w), 1e-300) if w else abs(g))
    rows += 1
ok = rows > 10 and worst < 1e-10
print(f"{name}: {rows} draws, worst relative error {worst:.1e}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
