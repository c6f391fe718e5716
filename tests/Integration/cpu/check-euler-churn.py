"""Checks `diffuse compat diffusers EulerDiscreteScheduler s_churn=...`
(the diffusers_euler solver) against EulerDiscreteScheduler's
scale_model_input and step() written out here in plain Python from
diffusers' source, with the same replayed noise: the network called on the
un-churned sample at its own timestep, a draw at every step, the churn
added inside [s_tmin, s_tmax], then x0 = sample - sigma_hat eps and an Euler
step from sigma_hat. The network is the exact noise prediction of an 8-D
mixture at the (fractional, float32) timestep it is called with.

usage: check-euler-churn.py DIFFUSE WORKDIR"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
acp = dfstest.cumprod(dfstest.alphas(dfstest.diffusers_betas("scaled_linear", 1000)))
calls = 0


def sample(x, sigmas, ts, z, s_churn, s_tmin, s_tmax, s_noise):
    global calls
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i]
        calls += 1
        e = dfstest.discrete_eps(mix, acp, [v / math.sqrt(sigma ** 2 + 1) for v in x], ts[i])
        gamma = min(s_churn / (len(sigmas) - 1), 2 ** 0.5 - 1) if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (gamma + 1)
        if gamma > 0:
            x = [a + w * s_noise * (sigma_hat ** 2 - sigma ** 2) ** 0.5 for a, w in zip(x, z[i])]
        x0 = [a - sigma_hat * b for a, b in zip(x, e)]
        x = [a + (a - m) / sigma_hat * (sigmas[i + 1] - sigma_hat) for a, m in zip(x, x0)]
    return x


rng = random.Random(31)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(12)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
SL = ["beta_schedule=scaled_linear", "beta_start=0.00085", "beta_end=0.012"]
ok = True
for steps, churn, tmin, tmax, s_noise in [(8, 2.0, 0.0, math.inf, 1.0),
                                          (10, 5.0, 0.3, 8.0, 1.003)]:
    keys = [f"s_churn={churn}"] + ([f"s_tmin={tmin}", f"s_tmax={tmax}", f"s_noise={s_noise}"]
                                   if tmin else [])
    spec = dfstest.compat_spec(diffuse, work, "diffusers", "EulerDiscreteScheduler", *SL, *keys,
                               "--steps", str(steps))
    rows = dfstest.grid_rows(diffuse, spec)
    sigmas = [dfstest.f32(float(r[1])) for r in rows] + [0.0]
    ts = [float(r[3]) for r in rows]
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    calls = 0
    want = [sample(x, sigmas, ts, [d[r * D:(r + 1) * D] for d in draws], churn, tmin, tmax,
                   s_noise) for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(f"Euler, {steps} steps, {', '.join(keys)}", got, want, got_calls,
                           calls // B)
sys.exit(0 if ok else 1)
