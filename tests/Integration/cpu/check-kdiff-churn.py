"""Checks `diffuse compat k-diffusion` for sample_euler, sample_heun and
sample_dpm_2 with churn (s_churn, s_tmin, s_tmax, s_noise; Karras et al.'s
Algorithm 2) against those loops of k-diffusion, written out here in plain
Python from its source, with the same replayed noise: k-diffusion draws on
every step, also where gamma = 0, so the draws line up only if Diffuse
draws there too. The model is the exact denoiser of an 8-D mixture.

usage: check-kdiff-churn.py DIFFUSE WORKDIR"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)


def karras(n, lo, hi, rho=7.0):  # get_sigmas_karras, then the appended zero
    ramp = [i / (n - 1) for i in range(n)]
    a, b = hi ** (1 / rho), lo ** (1 / rho)
    return [(a + r * (b - a)) ** rho for r in ramp] + [0.0]


calls = 0


def denoise(x, sigma):
    global calls
    calls += 1
    return dfstest.mixture_denoise(mix, x, 1.0, sigma)


def sample(fn, x, sigmas, z, s_churn, s_tmin, s_tmax, s_noise):
    """k-diffusion's sample_euler / sample_heun / sample_dpm_2 on one row;
    z[i] is the row's draw of step i."""
    for i in range(len(sigmas) - 1):
        gamma = min(s_churn / (len(sigmas) - 1), 2 ** 0.5 - 1) \
            if s_tmin <= sigmas[i] <= s_tmax else 0.0
        eps = [v * s_noise for v in z[i]]
        sigma_hat = sigmas[i] * (gamma + 1)
        if gamma > 0:
            x = [a + e * (sigma_hat ** 2 - sigmas[i] ** 2) ** 0.5 for a, e in zip(x, eps)]
        den = denoise(x, sigma_hat)
        d = [(a - b) / sigma_hat for a, b in zip(x, den)]
        dt = sigmas[i + 1] - sigma_hat
        if fn == "sample_euler" or sigmas[i + 1] == 0:
            x = [a + g * dt for a, g in zip(x, d)]
        elif fn == "sample_heun":
            x2 = [a + g * dt for a, g in zip(x, d)]
            den2 = denoise(x2, sigmas[i + 1])
            d2 = [(a - b) / sigmas[i + 1] for a, b in zip(x2, den2)]
            x = [a + (g + g2) / 2 * dt for a, g, g2 in zip(x, d, d2)]
        else:
            # sigma_hat.log().lerp(sigmas[i + 1].log(), 0.5).exp(): torch's
            # lerp at weight 0.5 counts back from the end.
            lo, hi = math.log(sigma_hat), math.log(sigmas[i + 1])
            mid = math.exp(hi - (hi - lo) * 0.5)
            x2 = [a + g * (mid - sigma_hat) for a, g in zip(x, d)]
            den2 = denoise(x2, mid)
            d2 = [(a - b) / mid for a, b in zip(x2, den2)]
            x = [a + g2 * dt for a, g2 in zip(x, d2)]
    return x


N, LO, HI = 12, 0.05, 20.0
rng = random.Random(11)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(N)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
sigmas = karras(N, LO, HI)
# s_tmin and s_tmax leave out levels at both ends (gamma = 0 there).
CASES = [
    ("sample_euler", dict(s_churn=2.0, s_tmin=0.2, s_tmax=10.0)),
    ("sample_heun", dict(s_churn=5.0, s_tmin=0.3, s_tmax=5.0, s_noise=1.007)),
    ("sample_dpm_2", dict(s_churn=40.0, s_tmin=0.1, s_tmax=15.0)),
    ("sample_dpm_2", dict(s_churn=1.0)),
]

ok = True
for fn, args in CASES:
    keys = [f"{k}={v!r}" for k, v in args.items()]
    spec = dfstest.compat_spec(diffuse, work, "k-diffusion", fn, "get_sigmas_karras",
                               f"sigma_min={LO}", f"sigma_max={HI}", *keys, "--steps", str(N))
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    a = dict(s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0)
    a.update(args)
    calls = 0
    want = [sample(fn, x, sigmas,
                   [draws[i][r * D:(r + 1) * D] for i in range(N)], **a)
            for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(f"{fn}({', '.join(keys)})", got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
