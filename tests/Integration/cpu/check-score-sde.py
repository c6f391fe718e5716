"""Checks stdlib/compat/score_sde.dfs against yang-song/score_sde's
pc_sampler (sampling.py, sde_lib.py) written out here in plain Python: the
ReverseDiffusionPredictor with and without the LangevinCorrector on the VP
and VE SDEs, and the EulerMaruyamaPredictor on the VP SDE, with the exact
score of an 8-D Gaussian mixture, N = 20 steps (the stdlib samplers with
their grid set to 20 points) and the same noise draws (diffuse run
--noise), in the order score_sde draws them.

usage: check-score-sde.py DIFFUSE STDLIB WORKDIR"""
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, stdlib, work = sys.argv[1:4]
D, B, N, SNR = 8, 3, 20, 0.16
mix = dfstest.class_mixture(work, dim=D, batch=B, seed=17)  # unconditional models here
flat = dfstest.read_npy(os.path.join(work, "x.npy"))
x_init = [list(flat[i * D:(i + 1) * D]) for i in range(B)]
rng = random.Random(18)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(2 * N)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)


class VP:  # sde_lib.VPSDE(beta_min = 0.1, beta_max = 20, N)
    b0, b1, eps = 0.1, 20.0, 1e-3

    def marginal(self, t):  # mean coefficient and std
        lmc = -0.25 * t * t * (self.b1 - self.b0) - 0.5 * t * self.b0
        return math.exp(lmc), math.sqrt(1 - math.exp(2 * lmc))

    def discrete_beta(self, i):  # torch.linspace(b0 / N, b1 / N, N)[i]
        return self.b0 / N + i * (self.b1 / N - self.b0 / N) / (N - 1)

    def corrector_alpha(self, i):
        return 1 - self.discrete_beta(i)

    def discretize(self, i):  # (r, G^2): f = (r - 1) x, G
        b = self.discrete_beta(i)
        return math.sqrt(1 - b), b


class VE:  # sde_lib.VESDE(sigma_min = 0.01, sigma_max = 50, N)
    smin, smax, eps = 0.01, 50.0, 1e-5

    def marginal(self, t):
        return 1.0, self.smin * (self.smax / self.smin) ** t

    def level(self, i):  # torch.exp(torch.linspace(log smin, log smax, N))[i]
        lo, hi = math.log(self.smin), math.log(self.smax)
        return math.exp(lo + i * (hi - lo) / (N - 1))

    def corrector_alpha(self, i):
        return 1.0

    def discretize(self, i):
        adjacent = 0.0 if i == 0 else self.level(i - 1)
        return 1.0, self.level(i) ** 2 - adjacent ** 2


def score(sde, x, t):
    a, s = sde.marginal(t)
    return [[-(v - a * m) / (s * s) for v, m in zip(row, dfstest.mixture_denoise(mix, row, a, s))]
            for row in x]


def norm(v):
    return math.sqrt(sum(a * a for a in v))


def pc_sampler(sde, corrector, predictor):
    used = iter(draws)

    def draw():
        z = next(used)
        return [z[i * D:(i + 1) * D] for i in range(B)]

    x = [row[:] for row in x_init]
    for k in range(N):
        t = 1 - k * (1 - sde.eps) / (N - 1)  # torch.linspace(1, eps, N)
        i = int(t * (N - 1) / 1)  # (t * (sde.N - 1) / sde.T).long()
        if corrector:  # LangevinCorrector, n_steps = 1
            grad, noise = score(sde, x, t), draw()
            grad_norm = sum(norm(g) for g in grad) / B
            noise_norm = sum(norm(n) for n in noise) / B
            step = (SNR * noise_norm / grad_norm) ** 2 * 2 * sde.corrector_alpha(i)
            x = [[v + step * g + math.sqrt(step * 2) * n for v, g, n in zip(row, gr, zr)]
                 for row, gr, zr in zip(x, grad, noise)]
        if predictor == "reverse_diffusion":
            r, g2 = sde.discretize(i)
            # rev_f = f - G^2 score, x_mean = x - rev_f, x = x_mean + G z
            mean = [[v - ((r - 1) * v - g2 * sc) for v, sc in zip(row, srow)]
                    for row, srow in zip(x, score(sde, x, t))]
            g = math.sqrt(g2)
        else:  # EulerMaruyamaPredictor: dt = -1 / N, the reverse SDE at t
            dt, beta = -1.0 / N, sde.b0 + t * (sde.b1 - sde.b0)
            mean = [[v + (-0.5 * beta * v - beta * sc) * dt for v, sc in zip(row, srow)]
                    for row, srow in zip(x, score(sde, x, t))]
            g = math.sqrt(beta) * math.sqrt(-dt)
        z = draw()
        x = [[m + g * n for m, n in zip(row, zr)] for row, zr in zip(mean, z)]
    return mean  # denoise = True


ok = True
for sampler, sde, corrector, predictor, sets in (
        ("score_sde_vp_pc", VP(), True, "reverse_diffusion", []),
        ("score_sde_vp_pc", VP(), False, "reverse_diffusion",
         ["score_sde_vp_pc.solver=score_sde_pc_vp(corrector = 0)"]),
        ("score_sde_vp_em", VP(), False, "euler_maruyama", []),
        ("score_sde_ve_pc", VE(), True, "reverse_diffusion", [])):
    grid = f"{sampler}.grid=score_sde_times(steps = {N}, eps = {sde.eps})"
    out = os.path.join(work, sampler + str(len(sets)))
    p = subprocess.run([diffuse, "run", os.path.join(stdlib, "compat", "score_sde.dfs"), "--sampler", sampler, "--mixture",
                        os.path.join(work, "mix.json"), "--batch", str(B), "--x-init",
                        os.path.join(work, "x.npy"), "--noise", os.path.join(work, "z.npy"),
                        "--out", out] + [a for s in [grid] + sets for a in ("--set", s)],
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stdout + p.stderr)
    got = dfstest.read_npy(os.path.join(out, "samples.npy"))
    want = [v for row in pc_sampler(sde, corrector, predictor) for v in row]
    err = max(abs(g - w) for g, w in zip(got, want)) / max(abs(w) for w in want)
    ok = ok and err <= 1e-12
    name = f"{predictor}{' + langevin' if corrector else ''}"
    print(p.stdout.splitlines()[0].split(" samples")[0])
    print(f"{sampler} ({name}) against score_sde's pc_sampler: max relative difference "
          f"{err:.0e} ({'<= 1e-12: ok' if err <= 1e-12 else 'FAIL'})")
sys.exit(0 if ok else 1)
