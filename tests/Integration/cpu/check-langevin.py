"""Checks stdlib pc_langevin against Song et al.'s predictor-corrector
sampler (score_sde's LangevinCorrector and ReverseDiffusionPredictor for a VE
SDE, denoise = True), written out here in plain Python with the exact score
of a 16-D Gaussian mixture and Diffuse's own noise draws
(Inputs/langevin.dfs).

usage: check-langevin.py DIFFUSE SPEC WORKDIR"""
import json
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B, SNR = 16, 4, 0.16
rng = random.Random(11)
mix = {"dim": D, "weights": [0.3, 0.3, 0.4],
       "means": [[rng.gauss(0, 1.5) for _ in range(D)] for _ in range(3)],
       "stds": [0.3, 0.5, 0.4]}
os.makedirs(work, exist_ok=True)
json.dump(mix, open(os.path.join(work, "mix.json"), "w"))
x_init = [[5 * rng.gauss(0, 1) for _ in range(D)] for _ in range(B)]
dfstest.write_npy(os.path.join(work, "x.npy"), x_init)


def run(sampler):
    out = os.path.join(work, sampler)
    p = subprocess.run([diffuse, "run", spec, "--sampler", sampler, "--mixture",
                        os.path.join(work, "mix.json"), "--x-init", os.path.join(work, "x.npy"),
                        "--batch", str(B), "--out", out], capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stderr)
    v = dfstest.read_npy(os.path.join(out, "samples.npy"))
    return [list(v[i * D:(i + 1) * D]) for i in range(B)], p.stdout.splitlines()[0]


def score(x, sigma):  # of x = x0 + sigma eps, x0 from the mixture
    return [(m - a) / (sigma * sigma) for a, m in zip(x, dfstest.mixture_denoise(mix, x, 1, sigma))]


def norm(v):
    return math.sqrt(sum(a * a for a in v))


def corrector(x, sigma, z):  # LangevinCorrector, VE (alpha = 1), one step
    grad = [score(row, sigma) for row in x]
    grad_norm = sum(norm(g) for g in grad) / B
    noise_norm = sum(norm(n) for n in z) / B
    step = (SNR * noise_norm / grad_norm) ** 2 * 2
    return [[a + step * g + math.sqrt(step * 2) * n for a, g, n in zip(row, gr, zr)]
            for row, gr, zr in zip(x, grad, z)]


def predictor(x, sigma, adjacent, z):  # ReverseDiffusionPredictor, VE
    g2 = sigma * sigma - adjacent * adjacent
    mean = [[a + g2 * g for a, g in zip(row, score(row, sigma))] for row in x]
    if z is None:
        return mean
    return [[m + math.sqrt(g2) * n for m, n in zip(row, zr)] for row, zr in zip(mean, z)]


z = [run(f"z{k}")[0] for k in range(3)]
times = [5.0, 2.525, 0.05]  # uniform(steps = 2) over the domain [0.05, 5]
x = corrector(x_init, times[0], z[0])
x = predictor(x, times[0], times[1], z[1])
x = corrector(x, times[1], z[2])
want = predictor(x, times[1], times[2], None)
got, line = run("pc")
print(line.split(" in ")[0])
err = max(abs(a - b) / max(1.0, abs(b)) for g, w in zip(got, want) for a, b in zip(g, w))
ok = err <= 1e-12
print(f"pc_langevin against score_sde's PC sampler: max relative difference {err:.0e} "
      f"(<= 1e-12: {'ok' if ok else 'FAIL'})")

# Annealed Langevin dynamics (Song & Ermon 2019, algorithm 1) at the levels
# of the grid (read from `diffuse grid`), two steps each, with the noise
# draws recovered as differences of running sums (k steps of x + noise()
# from x = 0).
grid = subprocess.run([diffuse, "grid", spec, "--sampler", "annealed"], capture_output=True,
                      text=True, check=True).stdout
levels = [float(row.split()[1]) for row in grid.splitlines()[1:] if row.strip()]
dfstest.write_npy(os.path.join(work, "zero.npy"), [[0.0] * D for _ in range(B)])


def drawn(k):  # the sum of the first k draws
    if k == 0:
        return [[0.0] * D for _ in range(B)]
    out = os.path.join(work, f"sum{k}")
    subprocess.run([diffuse, "run", spec, "--sampler", "draws", "--set",
                    f"draws.grid=uniform(steps = {k})", "--mixture",
                    os.path.join(work, "mix.json"), "--x-init", os.path.join(work, "zero.npy"),
                    "--batch", str(B), "--out", out], capture_output=True, check=True)
    v = dfstest.read_npy(os.path.join(out, "samples.npy"))
    return [list(v[i * D:(i + 1) * D]) for i in range(B)]


sums = [drawn(k) for k in range(len(levels) + 1)]
x = x_init
for k, sigma in enumerate(levels):
    a = 0.001 * (sigma / 0.2) ** 2
    z = [[b - c for b, c in zip(rb, rc)] for rb, rc in zip(sums[k + 1], sums[k])]
    x = [[v + a / 2 * g + math.sqrt(a) * n for v, g, n in zip(row, score(row, sigma), zr)]
         for row, zr in zip(x, z)]
got, line = run("annealed")
print(line.split(" in ")[0])
err = max(abs(a - b) / max(1.0, abs(b)) for g, w in zip(got, x) for a, b in zip(g, w))
ok2 = err <= 1e-12
print(f"annealed_langevin against Song & Ermon's algorithm 1 at levels "
      f"{', '.join(f'{v:.3g}' for v in levels)}: max relative difference {err:.0e} "
      f"(<= 1e-12: {'ok' if ok2 else 'FAIL'})")
sys.exit(0 if ok and ok2 else 1)
