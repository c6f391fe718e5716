"""Checks `diffuse schedule` on beta tables against diffusers' formulas,
written out here in plain Python with every float32 operation of the torch
code rounded to float32: betas_for_alpha_bar (squaredcos_cap_v2), the
sigmoid schedule, an explicit table, and rescale_zero_terminal_snr (Lin et
al. 2024, algorithm 1). Reads the output of `diffuse schedule --points N`
(N >= the table's length: every timestep) on stdin.

usage: check-beta-tables.py KIND [BETA_START BETA_END] < schedule output"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import alphas, cumprod, f32, linspace  # noqa: E402


def cosine(n):  # betas_for_alpha_bar, float64, then a float32 tensor
    bar = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
    return [f32(min(1 - bar((i + 1) / n) / bar(i / n), 0.999)) for i in range(n)]


def sigmoid(start, end, n):
    return [f32(f32(f32(1.0 / f32(1.0 + f32(math.exp(-x)))) * f32(end - start)) + f32(start))
            for x in linspace(-6.0, 6.0, n)]


def zero_snr(betas):  # rescale_zero_terminal_snr, float32
    root = [f32(math.sqrt(a)) for a in cumprod(alphas(betas))]
    first, last = root[0], root[-1]
    scale = f32(first / f32(first - last))
    root = [f32(f32(r - last) * scale) for r in root]
    bar = [f32(r * r) for r in root]
    return [f32(1.0 - bar[0])] + [f32(1.0 - f32(bar[i] / bar[i - 1])) for i in range(1, len(bar))]


rows = [line.split() for line in sys.stdin if line[:1].isdigit()]
n = len(rows)
kind = sys.argv[1]
if kind == "cosine":
    betas = cosine(n)
elif kind == "sigmoid":
    betas = sigmoid(float(sys.argv[2]), float(sys.argv[3]), n)
elif kind == "table":
    betas = [f32(0.01 * (i + 1)) for i in range(n)]
elif kind == "zero_snr":  # of scaled_linear
    betas = zero_snr([f32(b * b) for b in linspace(math.sqrt(float(sys.argv[2])),
                                                   math.sqrt(float(sys.argv[3])), n)])
acp = cumprod(alphas(betas))
worst = 0.0
for (k, beta, a_cp, alpha, sigma), b, a in zip(rows, betas, acp):
    worst = max(worst, abs(f32(float(beta)) - b) / b, abs(f32(float(a_cp)) - a) / max(a, 1e-30))
tol = 2e-6 if kind == "sigmoid" else 0.0  # torch's expf against Python's exp
verdict = "ok" if worst <= tol else "FAIL"
print(f"{kind}: {n} timesteps, last alphas_cumprod {rows[-1][2]}, worst relative difference "
      f"{worst:.1e}: {verdict}")
