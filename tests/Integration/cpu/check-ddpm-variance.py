"""Checks `diffuse compat diffusers DDPMScheduler` with variance_type
"fixed_large" (with and without clip_sample), "fixed_small_log" and
"learned_range" (the analytic network's variance channels are 0, halfway in
log between beta-tilde and beta), which no golden case covers, against DDPMScheduler.step written out here in plain
Python from diffusers' source (leading timesteps, the chain ending at
alpha_cumprod = 1), with the same replayed noise, on the table's float32
alphas_cumprod that `diffuse schedule` prints. The model is the exact noise
prediction of an 8-D mixture at its timestep. Agreement to 1e-10: the
step's 1 - alpha_prod_t / alpha_prod_t_prev loses digits to cancellation.

usage: check-ddpm-variance.py DIFFUSE WORKDIR"""
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
calls = 0


def ddpm(x, acp, steps, variance_type, clip, z, T=1000):
    """DDPMScheduler.step over the leading timesteps, on one row; z[i] is the
    row's draw at step i."""
    global calls
    r = T // steps
    for i, t in enumerate(range((steps - 1) * r, -1, -r)):
        calls += 1
        a, p = acp[t], acp[t - r] if t - r >= 0 else 1.0
        e = [(v - math.sqrt(a) * m) / math.sqrt(1 - a)
             for v, m in zip(x, dfstest.mixture_denoise(mix, x, math.sqrt(a), math.sqrt(1 - a)))]
        x0 = [(v - (1 - a) ** 0.5 * w) / a ** 0.5 for v, w in zip(x, e)]
        if clip:
            x0 = [min(max(v, -1.0), 1.0) for v in x0]
        alpha_t, beta_t = a / p, 1 - a / p
        mean = [(p ** 0.5 * beta_t) / (1 - a) * u + alpha_t ** 0.5 * (1 - p) / (1 - a) * v
                for u, v in zip(x0, x)]
        if t > 0:
            small = max((1 - p) / (1 - a) * beta_t, 1e-20)
            if variance_type == "learned_range":  # the network's v is 0: frac = 1/2
                frac = (0.0 + 1) / 2
                std = math.exp(0.5 * (frac * math.log(beta_t) + (1 - frac) * math.log(small)))
            elif variance_type == "fixed_large":
                std = beta_t ** 0.5
            elif variance_type == "fixed_small_log":
                std = math.exp(0.5 * math.log(small))
            else:
                std = small ** 0.5
            mean = [m + std * w for m, w in zip(mean, z[i])]
        x = mean
    return x


rng = random.Random(3)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(25)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
CASES = [("fixed_large", True, 10), ("fixed_large", False, 25), ("fixed_small_log", False, 10),
         ("learned_range", False, 10)]
ok = True
for variance_type, clip, steps in CASES:
    spec = dfstest.compat_spec(diffuse, work, "diffusers", "DDPMScheduler",
                               f"variance_type={variance_type}",
                               f"clip_sample={'true' if clip else 'false'}", "--steps", str(steps))
    sched = subprocess.run([diffuse, "schedule", spec, "--points", "1000"], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    acp = {int(r[0]): dfstest.f32(float(r[2])) for r in dfstest.table_rows(sched, "n")}
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    calls = 0
    want = [ddpm(x, acp, steps, variance_type, clip, [d[r * D:(r + 1) * D] for d in draws])
            for r, x in enumerate(x_init)]
    # 1e-10: 1 - alpha_prod_t / alpha_prod_t_prev cancels (the golden DDPM
    # cases measure 1.1e-12 for the same reason).
    ok &= dfstest.same_run(f"{variance_type} clip_sample={clip} N={steps}", got, want, got_calls,
                           calls // B, tol=1e-10)
sys.exit(0 if ok else 1)
