"""Checks `diffuse compat diffusers DPMSolverSDEScheduler` against its
step() pairs written out here in plain Python from diffusers' source, with
the same replayed noise: the first stage an ancestral DPM-Solver++ step to
the midpoint in -log sigma, the network there at the fractional timestep
_sigma_to_t of its sigma (stored as float32, as diffusers' timestep tensor
does), the second stage from the start with that evaluation; the two
stages' draws are increments of one Brownian path, as its
BrownianTreeNoiseSampler's are (z2 = rho z1 + sqrt(1 - rho^2) z'). The
network is the exact noise prediction of an 8-D mixture at the noise level
of the timestep it is called with (log sigma interpolated between table
entries for a fractional one), which compat declares `time_dtype = f32`
for that reason. diffusers computes the step's other scalars in float32
torch; they are written here in float64, as Diffuse computes them.

usage: check-dpmsolver-sde.py DIFFUSE WORKDIR"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
T = 1000
acp = dfstest.cumprod(dfstest.alphas(dfstest.diffusers_betas("scaled_linear", T)))
f32_log_sigmas = [dfstest.f32(math.log(s)) for s in dfstest.table_sigmas(acp)]
calls = 0


def eps(x_in, t):
    global calls
    calls += 1
    return dfstest.discrete_eps(mix, acp, x_in, t)


def x0_at(x, sigma, t):  # scale_model_input, then sample - sigma eps
    x_in = [v / math.sqrt(sigma * sigma + 1) for v in x]
    return [v - sigma * e for v, e in zip(x, eps(x_in, t))]


def ancestral(sf, st):
    su = min(st, (st ** 2 * (sf ** 2 - st ** 2) / sf ** 2) ** 0.5)
    return (st ** 2 - su ** 2) ** 0.5, su


def sample(x, sigmas, ts, z, s_noise):
    for i in range(len(sigmas) - 1):
        s, t = sigmas[i], sigmas[i + 1]
        d = x0_at(x, s, ts[i])
        if t == 0:
            x = [a + (a - b) / s * (t - s) for a, b in zip(x, d)]
            continue
        tt, tn = -math.log(s), -math.log(t)
        sm = math.exp(-(tt + (tn - tt) * 0.5))
        sd, su = ancestral(s, sm)
        z1 = z[2 * i]
        x2 = [sd / s * a - math.expm1(tt + math.log(sd)) * b + w * s_noise * su
              for a, b, w in zip(x, d, z1)]
        d2 = x0_at(x2, sm, dfstest.f32(dfstest.sigma_to_t(sm, f32_log_sigmas)))
        sd, su = ancestral(s, t)
        rho = math.sqrt((s - sm) / (s - t))
        z2 = [rho * a + math.sqrt(1 - rho * rho) * b for a, b in zip(z1, z[2 * i + 1])]
        x = [sd / s * a - math.expm1(tt + math.log(sd)) * b + w * s_noise * su
             for a, b, w in zip(x, d2, z2)]
    return x


rng = random.Random(23)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(40)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
SL = ["beta_schedule=scaled_linear", "beta_start=0.00085", "beta_end=0.012"]
ok = True
for steps, keys, s_noise in [(8, [], 1.0), (10, ["use_karras_sigmas=true", "s_noise=1.01"], 1.01),
                             (6, ["timestep_spacing=leading", "steps_offset=1"], 1.0)]:
    spec = dfstest.compat_spec(diffuse, work, "diffusers", "DPMSolverSDEScheduler", *SL, *keys,
                               "--steps", str(steps))
    rows = dfstest.grid_rows(diffuse, spec)
    sigmas = [dfstest.f32(float(r[6])) for r in rows] + [0.0]
    ts = [float(r[3]) for r in rows]
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    calls = 0
    want = [sample(x, sigmas, ts, [d[r * D:(r + 1) * D] for d in draws], s_noise)
            for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(f"DPMSolverSDE, {steps} steps ({', '.join(keys) or 'linspace'})",
                           got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
