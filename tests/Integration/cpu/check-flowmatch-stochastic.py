"""Checks `diffuse compat diffusers FlowMatchEulerDiscreteScheduler
stochastic_sampling=true` against that scheduler's step() written out here
in plain Python, with the same replayed noise: the clean estimate
x0 = x - sigma v of the velocity v, re-noised to the next sigma,
(1 - sigma_next) x0 + sigma_next z (at sigma_next = 0 that is x0). The
sigmas are the grid's, which tests/Grids checks against set_timesteps; the
model is the exact velocity of an 8-D mixture on the path
x = (1 - sigma) x0 + sigma eps, at the timestep it is called with,
f32(1000 sigma), as a transformer called by diffusers sees it.

usage: check-flowmatch-stochastic.py DIFFUSE WORKDIR"""
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


def step_all(x, sigmas, z):
    global calls
    for i in range(len(sigmas) - 1):
        s, n = sigmas[i], sigmas[i + 1]
        calls += 1
        # the network sees the timestep f32(1000 sigma)
        sn = dfstest.f32(1000 * s) / 1000
        d = dfstest.mixture_denoise(mix, x, 1 - sn, sn)
        v = [(a - b) / sn for a, b in zip(x, d)]  # eps - x0
        x0 = [a - s * b for a, b in zip(x, v)]
        x = [(1 - n) * a + n * w for a, w in zip(x0, z[i])]
    return x


rng = random.Random(17)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(12)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
CASES = [(8, ["shift=3.0"]), (4, []), (6, ["use_dynamic_shifting=true", "mu=1.15"])]
ok = True
for steps, keys in CASES:
    spec = dfstest.compat_spec(diffuse, work, "diffusers", "FlowMatchEulerDiscreteScheduler",
                               "stochastic_sampling=true", *keys, "--steps", str(steps))
    rows = [r.split() for r in subprocess.run([diffuse, "grid", spec], capture_output=True,
                                               text=True, check=True).stdout.splitlines()[1:]]
    sigmas = [float(r[1]) for r in rows] + [float(rows[-1][2])]
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    calls = 0
    want = [step_all(x, sigmas, [d[r * D:(r + 1) * D] for d in draws])
            for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(f"FlowMatch stochastic_sampling, {steps} steps "
                           f"({', '.join(keys) or 'shift=1.0'})", got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
