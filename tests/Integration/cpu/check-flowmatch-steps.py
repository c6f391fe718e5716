"""Checks `diffuse compat diffusers FlowMatchEulerDiscreteScheduler
stochastic_sampling=true` against that scheduler's step() written out here
in plain Python, with the same replayed noise: the clean estimate
x0 = x - sigma v of the velocity v, re-noised to the next sigma,
(1 - sigma_next) x0 + sigma_next z (at sigma_next = 0 that is x0); and
FlowMatchHeunDiscreteScheduler's step() pairs: Heun's method in sigma on
the velocity, the second evaluation at the step's end, Euler into 0; and
FlowMatchEuler with invert_sigmas (Mochi's): Euler in the time 1 - sigma,
up to 1. The
sigmas are the grid's, which tests/Grids checks against set_timesteps; the
model is the exact velocity of an 8-D mixture on the path
x = (1 - sigma) x0 + sigma eps, at the timestep it is called with,
f32(1000 sigma), as a transformer called by diffusers sees it.

usage: check-flowmatch-steps.py DIFFUSE WORKDIR"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
calls = 0


def velocity(x, s):
    """The network's eps - x0 at noise level s: it sees the timestep f32(1000 s)."""
    global calls
    calls += 1
    sn = dfstest.f32(1000 * s) / 1000
    d = dfstest.mixture_denoise(mix, x, 1 - sn, sn)
    return [(a - b) / sn for a, b in zip(x, d)]


def step_all(x, sigmas, z):
    for i in range(len(sigmas) - 1):
        s, n = sigmas[i], sigmas[i + 1]
        v = velocity(x, s)
        x0 = [a - s * b for a, b in zip(x, v)]
        x = [(1 - n) * a + n * w for a, w in zip(x0, z[i])]
    return x


def inverted_all(x, times, z):
    """invert_sigmas: Euler in the time 1 - sigma, x = t x0 + (1 - t) eps,
    the network at f32(1000 t) predicting x0 - eps."""
    global calls
    for i in range(len(times) - 1):
        t, n = times[i], times[i + 1]
        calls += 1
        tn = dfstest.f32(1000 * t) / 1000
        d = dfstest.mixture_denoise(mix, x, tn, 1 - tn)
        v = [m - (a - tn * m) / (1 - tn) for a, m in zip(x, d)]
        x = [a + (n - t) * b for a, b in zip(x, v)]
    return x


def heun_all(x, sigmas, z):
    for i in range(len(sigmas) - 1):
        s, n = sigmas[i], sigmas[i + 1]
        v = velocity(x, s)
        x1 = [a + b * (n - s) for a, b in zip(x, v)]
        if n == 0:
            x = x1
            continue
        v2 = velocity(x1, n)
        x = [a + 0.5 * (b + c) * (n - s) for a, b, c in zip(x, v, v2)]
    return x


rng = random.Random(17)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(12)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
CASES = [("FlowMatchEulerDiscreteScheduler", 8, ["stochastic_sampling=true", "shift=3.0"], step_all),
         ("FlowMatchEulerDiscreteScheduler", 4, ["stochastic_sampling=true"], step_all),
         ("FlowMatchEulerDiscreteScheduler", 6,
          ["stochastic_sampling=true", "use_dynamic_shifting=true", "mu=1.15"], step_all),
         ("FlowMatchHeunDiscreteScheduler", 8, ["shift=3.0"], heun_all),
         ("FlowMatchHeunDiscreteScheduler", 5, [], heun_all),
         ("FlowMatchEulerDiscreteScheduler", 6, ["invert_sigmas=true", "shift=3.0"], inverted_all)]
ok = True
for cls, steps, keys, run in CASES:
    spec = dfstest.compat_spec(diffuse, work, "diffusers", cls, *keys, "--steps", str(steps))
    rows = dfstest.grid_rows(diffuse, spec)
    sigmas = [float(r[1]) for r in rows] + [float(rows[-1][2])]
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    calls = 0
    want = [run(x, sigmas, [d[r * D:(r + 1) * D] for d in draws]) for r, x in enumerate(x_init)]
    what = {step_all: "stochastic_sampling", heun_all: "Heun", inverted_all: "Euler"}[run]
    ok &= dfstest.same_run(f"{cls.replace('DiscreteScheduler', '')} {what}, {steps} steps "
                           f"({', '.join(k for k in keys if k != 'stochastic_sampling=true') or 'shift=1.0'})",
                           got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
