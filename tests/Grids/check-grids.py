"""Checks `diffuse grid` against independent formulas for every grid family
of Inputs/grids.dfs (k-diffusion's get_sigmas_*, diffusers' flow shifts and
beta sigmas (the Beta quantile dfstest's, from the hypergeometric series;
the runtime's from a continued fraction), DPM-Solver's closed-form inverse of
lambda for the linear VP schedule).
Usage: check-grids.py DIFFUSE SPEC. Prints one line per sampler."""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import beta_ppf  # noqa: E402

diffuse, spec = sys.argv[1:3]
B0, B1 = 0.1, 20.0  # the linear VP schedule of Inputs/grids.dfs


def log_alpha(t):
    return -0.25 * t * t * (B1 - B0) - 0.5 * t * B0


def ratio(t):  # sigma / alpha of the linear VP schedule
    return math.sqrt(math.expm1(-2 * log_alpha(t)))


def t_of_ratio(r):  # solves 0.25 (B1-B0) t^2 + 0.5 B0 t = 0.5 log(1 + r^2)
    a, b, c = 0.25 * (B1 - B0), 0.5 * B0, -0.5 * math.log1p(r * r)
    return (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)


def t_of_lambda(lam):  # DPM-Solver's NoiseScheduleVP.inverse_lambda
    tmp = 2 * (B1 - B0) * math.log1p(math.exp(-2 * lam))
    return tmp / (math.sqrt(B0 * B0 + tmp) + B0) / (B1 - B0)


def lam(t):
    return log_alpha(t) - 0.5 * math.log(-math.expm1(2 * log_alpha(t)))


def karras(n, lo, hi, rho=7.0):
    a, b = hi ** (1 / rho), lo ** (1 / rho)
    return [(a + i / (n - 1) * (b - a)) ** rho for i in range(n)]


def linspace(a, b, n):
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def shift(s, u):
    return s * u / (1 + (s - 1) * u)


mu = 0.5 + (1.15 - 0.5) * (4096 - 256) / (4096 - 256)
expected = {
    "karras": karras(6, 0.002, 80) + [0.0],
    "karras_nozero": karras(6, 0.002, 80),
    "exponential": [math.exp(x) for x in linspace(math.log(80), math.log(0.002), 6)] + [0.0],
    "polyexponential": [math.exp(x * (math.log(80) - math.log(0.002)) + math.log(0.002))
                        for x in [v ** 2 for v in linspace(1, 0, 6)]] + [0.0],
    "vp": [math.sqrt(math.expm1(19.9 * t * t / 2 + 0.1 * t)) for t in linspace(1, 1e-3, 6)]
    + [0.0],
    "karras_on_vp": [t_of_ratio(r) for r in karras(6, ratio(1e-3), ratio(1))] + [0.0],
    "logsnr": [t_of_lambda(x) for x in linspace(lam(1), lam(1e-3), 7)],
    "shifted": [shift(3, u) for u in linspace(1, 0, 7)],
    "flux": [math.exp(mu) / (math.exp(mu) + (1 / u - 1)) if u > 0 else 0.0
             for u in linspace(1, 0, 7)],
    "list": [1, 0.75, 0.5, 0.3, 0.1, 0],
    "beta": [0.002 + beta_ppf(1 - i / 5, 0.6, 0.6) * (80 - 0.002) for i in range(6)] + [0.0],
}
failed = False
for name, want in expected.items():
    out = subprocess.run([diffuse, "grid", spec, "--sampler", name], capture_output=True,
                         text=True, check=True).stdout.splitlines()[1:]
    rows = [line.split() for line in out]
    got = [float(r[1]) for r in rows] + [float(rows[-1][2])]
    err = max(abs(g - w) / max(abs(w), 1e-300) if w else abs(g) for g, w in zip(got, want))
    ok = len(got) == len(want) and err <= 1e-12
    failed |= not ok
    print(f"{name}: {len(got)} times, max relative error {err:.1e}: {'ok' if ok else 'FAIL'}")
sys.exit(1 if failed else 0)
