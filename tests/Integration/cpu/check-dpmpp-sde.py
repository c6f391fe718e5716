"""Checks `diffuse compat k-diffusion sample_dpmpp_sde` against that loop of
k-diffusion, written out here in plain Python from its source, with its
default noise: BrownianTreeNoiseSampler, one Brownian path W in sigma, of
which noise_sampler(sigma, sigma_next) returns the increment over
[sigma_next, sigma] divided by its standard deviation. The path is built
here from the replayed normals one step at a time (W at the stage's point,
then at the step's end, Levy's construction), so the two stages' draws
overlap as the tree's do; with noise_sampler=gaussian every call takes its
own normal. The model is the exact denoiser of an 8-D mixture.

usage: check-dpmpp-sde.py DIFFUSE WORKDIR"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
calls = 0


def karras(n, lo, hi, rho=7.0):  # get_sigmas_karras, then the appended zero
    ramp = [i / (n - 1) for i in range(n)]
    a, b = hi ** (1 / rho), lo ** (1 / rho)
    return [(a + r * (b - a)) ** rho for r in ramp] + [0.0]


def denoise(x, sigma):
    global calls
    calls += 1
    return dfstest.mixture_denoise(mix, x, 1.0, sigma)


class Noise:
    """noise_sampler(sigma, sigma_next) over a row's replayed normals z."""

    def __init__(self, z, brownian):
        self.z, self.k, self.brownian, self.path = z, 0, brownian, {}

    def draw(self):
        self.k += 1
        return self.z[self.k - 1]

    def __call__(self, sigma, sigma_next):
        if not self.brownian:
            return self.draw()
        if sigma not in self.path:  # a new step: W(sigma) = 0
            self.path = {sigma: [0.0] * D}
        # W at sigma_next from W at the nearest known point above it
        above = min(p for p in self.path if p > sigma_next)
        z = self.draw()
        self.path[sigma_next] = [w + math.sqrt(above - sigma_next) * v
                                 for w, v in zip(self.path[above], z)]
        return [(a - b) / math.sqrt(sigma - sigma_next)
                for a, b in zip(self.path[sigma_next], self.path[sigma])]


def ancestral(sf, st, eta):  # get_ancestral_step
    up = min(st, eta * (st ** 2 * (sf ** 2 - st ** 2) / sf ** 2) ** 0.5)
    return (st ** 2 - up ** 2) ** 0.5, up


def sample(x, sigmas, noise, eta=1.0, s_noise=1.0, r=0.5):
    """k-diffusion's sample_dpmpp_sde on one row."""
    sigma_fn, t_fn = (lambda t: math.exp(-t)), (lambda s: -math.log(s))
    for i in range(len(sigmas) - 1):
        den = denoise(x, sigmas[i])
        if sigmas[i + 1] == 0:
            x = [a + (a - b) / sigmas[i] * (sigmas[i + 1] - sigmas[i]) for a, b in zip(x, den)]
            continue
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        s = t + h * r
        fac = 1 / (2 * r)
        sd, su = ancestral(sigma_fn(t), sigma_fn(s), eta)
        s_ = t_fn(sd)
        z = noise(sigma_fn(t), sigma_fn(s))
        x2 = [sigma_fn(s_) / sigma_fn(t) * a - math.expm1(t - s_) * b + w * s_noise * su
              for a, b, w in zip(x, den, z)]
        den2 = denoise(x2, sigma_fn(s))
        sd, su = ancestral(sigma_fn(t), sigma_fn(t_next), eta)
        t_next_ = t_fn(sd)
        dd = [(1 - fac) * a + fac * b for a, b in zip(den, den2)]
        z = noise(sigma_fn(t), sigma_fn(t_next))
        x = [sigma_fn(t_next_) / sigma_fn(t) * a - math.expm1(t - t_next_) * b + w * s_noise * su
             for a, b, w in zip(x, dd, z)]
    return x


N, LO, HI = 10, 0.02, 30.0
rng = random.Random(13)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(2 * N)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
sigmas = karras(N, LO, HI)
CASES = [{}, {"noise_sampler": "gaussian"}, {"r": 0.3}, {"eta": 0.6, "s_noise": 1.01}]
ok = True
for args in CASES:
    keys = [f"{k}={v}" for k, v in args.items()]
    spec = dfstest.compat_spec(diffuse, work, "k-diffusion", "sample_dpmpp_sde",
                               "get_sigmas_karras", f"sigma_min={LO}", f"sigma_max={HI}", *keys,
                               "--steps", str(N))
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    a = {k: v for k, v in args.items() if k != "noise_sampler"}
    brownian = args.get("noise_sampler", "brownian") == "brownian"
    calls = 0
    want = [sample(x, sigmas, Noise([d[r * D:(r + 1) * D] for d in draws], brownian), **a)
            for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(f"sample_dpmpp_sde({', '.join(keys)})", got, want, got_calls,
                           calls // B)
sys.exit(0 if ok else 1)
