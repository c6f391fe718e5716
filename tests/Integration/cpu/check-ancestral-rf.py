"""Checks the rectified-flow ancestral samplers of
stdlib/solvers/ancestral_rf.dfs against ComfyUI's sample_euler_ancestral_RF,
sample_dpm_2_ancestral_RF and sample_dpmpp_2s_ancestral_RF written out here
in plain Python from its source, with the same replayed noise, on an 8-D
mixture over the path x = (1 - sigma) x0 + sigma eps, from sigma = 1
(where the 2S sampler takes its inner point at sigma 0.9999).

usage: check-ancestral-rf.py DIFFUSE SPEC WORKDIR"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B, N = 8, 4, 10
mix, x_init = dfstest.peer_mixture(work, D, B)
calls = 0


def denoise(x, sigma):
    global calls
    calls += 1
    return dfstest.mixture_denoise(mix, x, 1 - sigma, sigma)


def renoise(x, z, s_next, sd, s_noise):
    a_next, a_down = 1 - s_next, 1 - sd
    coeff = (s_next ** 2 - sd ** 2 * a_next ** 2 / a_down ** 2) ** 0.5
    return [a_next / a_down * a + w * s_noise * coeff for a, w in zip(x, z)]


def sample(fn, x, sigmas, z, eta, s_noise):
    for i in range(len(sigmas) - 1):
        s, t = sigmas[i], sigmas[i + 1]
        den = denoise(x, s)
        sd = t * (1 + (t / s - 1) * eta)
        if fn == "euler_ancestral_rf":
            if t == 0:
                x = den
                continue
            r = sd / s
            x = [r * a + (1 - r) * b for a, b in zip(x, den)]
            if eta > 0:
                x = renoise(x, z[i], t, sd, s_noise)
        elif fn == "dpm_2_ancestral_rf":
            d = [(a - b) / s for a, b in zip(x, den)]
            if sd == 0:
                x = [a + g * (sd - s) for a, g in zip(x, d)]
                continue
            lo, hi = math.log(s), math.log(sd)
            sm = math.exp(hi - (hi - lo) * 0.5)  # torch.lerp at 0.5, from the end
            x2 = [a + g * (sm - s) for a, g in zip(x, d)]
            d2 = [(a - b) / sm for a, b in zip(x2, denoise(x2, sm))]
            x = [a + g * (sd - s) for a, g in zip(x, d2)]
            if eta > 0:
                x = renoise(x, z[i], t, sd, s_noise)
        else:
            if t == 0:
                x = [a + (a - b) / s * (sd - s) for a, b in zip(x, den)]
                continue
            if s == 1.0:
                ss = 0.9999
            else:
                ti, td = math.log((1 - s) / s), math.log((1 - sd) / sd)
                ss = (math.exp(ti + 0.5 * (td - ti)) + 1) ** -1
            r = ss / s
            u = [r * a + (1 - r) * b for a, b in zip(x, den)]
            di = denoise(u, ss)
            r = sd / s
            x = [r * a + (1 - r) * b for a, b in zip(x, di)]
            if eta > 0:
                x = renoise(x, z[i], t, sd, s_noise)
    return x


rng = random.Random(3)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(N)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
sigmas = [1 - k / N for k in range(N)] + [0.0]
ok = True
for fn, eta, s_noise in [("euler_ancestral_rf", 1.0, 1.0), ("euler_ancestral_rf", 0.5, 1.02),
                         ("dpm_2_ancestral_rf", 1.0, 1.0), ("dpmpp_2s_ancestral_rf", 1.0, 1.0),
                         ("dpmpp_2s_ancestral_rf", 0.0, 1.0)]:
    solver = f"{fn}(eta = {eta}, s_noise = {s_noise})"
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "rf", B, "--noise",
                                         os.path.join(work, "z.npy"), "--set", f"rf.solver={solver}")
    calls = 0
    want = [sample(fn, x, sigmas, [d[r * D:(r + 1) * D] for d in draws], eta, s_noise)
            for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(solver, got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
