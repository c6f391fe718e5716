"""Checks `diffuse compat diffusers PNDMScheduler` with skip_prk_steps=False
(F-PNDM: three pseudo Runge-Kutta steps, then linear multistep ones), which
no golden case covers, against PNDMScheduler's set_timesteps, step_prk,
step_plms and _get_prev_sample written out here in plain Python from
diffusers' source (the timesteps and counters included), on the table's
float32 alphas_cumprod that `diffuse schedule` prints. The model is the
exact noise prediction of an 8-D mixture at the noise level of the timestep
it is called at.

usage: check-pndm.py DIFFUSE WORKDIR"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
calls = 0


def pndm(x, acp, final, steps, offset, T=1000):
    """PNDMScheduler(skip_prk_steps=False) over the whole loop, on one row."""
    global calls
    r = T // steps
    ts = [i * r + offset for i in range(steps)]  # _timesteps, leading
    prk = []
    for v in ts[-4:]:
        prk += [v, v + r // 2]
    prk = prk[:-1]
    prk = [v for v in prk for _ in range(2)][1:-1][::-1]
    plms = ts[:-3][::-1]

    def prev_sample(x, t, p, e):  # _get_prev_sample (formula 9)
        a, ap = acp[t], acp[p] if p >= 0 else final
        den = a * (1 - ap) ** 0.5 + (a * (1 - a) * ap) ** 0.5
        return [(ap / a) ** 0.5 * v - (ap - a) * w / den for v, w in zip(x, e)]

    def eps(x, t):
        global calls
        calls += 1
        a, s = math.sqrt(acp[t]), math.sqrt(1 - acp[t])
        x0 = dfstest.mixture_denoise(mix, x, a, s)
        return [(v - a * m) / s for v, m in zip(x, x0)]

    ets, cur, cur_sample, sample = [], [0.0] * D, None, x
    for counter, t in enumerate(prk + plms):
        e = eps(sample, t)
        if counter < len(prk):  # step_prk
            diff = 0 if counter % 2 else r // 2
            p, t0 = t - diff, prk[counter // 4 * 4]
            if counter % 4 == 0:
                cur = [c + 1 / 6 * v for c, v in zip(cur, e)]
                ets.append(e)
                cur_sample = sample
            elif counter % 4 in (1, 2):
                cur = [c + 1 / 3 * v for c, v in zip(cur, e)]
            else:
                e = [c + 1 / 6 * v for c, v in zip(cur, e)]
                cur = [0.0] * D
            sample = prev_sample(cur_sample, t0, p, e)
        else:  # step_plms after the warm-up: ets has 3 entries or more
            ets.append(e)
            m = [(55 * a - 59 * b + 37 * c - 9 * d) / 24
                 for a, b, c, d in zip(ets[-1], ets[-2], ets[-3], ets[-4])]
            sample = prev_sample(sample, t, t - r, m)
    return sample


CASES = [(10, 0, "linear"), (7, 1, "scaled_linear"), (9, 1, "scaled_linear"), (25, 0, "linear")]
ok = True
for steps, offset, kind in CASES:
    keys = [f"beta_schedule={kind}", f"steps_offset={offset}"]
    if kind == "scaled_linear":
        keys += ["beta_start=0.00085", "beta_end=0.012"]
    spec = dfstest.compat_spec(diffuse, work, "diffusers", "PNDMScheduler", *keys,
                               "--steps", str(steps))
    sched = subprocess.run([diffuse, "schedule", spec, "--points", "1000"], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    acp = {int(r[0]): dfstest.f32(float(r[2])) for r in dfstest.table_rows(sched, "n")}
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0")
    calls = 0
    want = [pndm(x, acp, acp[0], steps, offset) for x in x_init]
    ok &= dfstest.same_run(f"PRK {kind} steps_offset={offset} N={steps} (stride {1000 // steps})",
                           got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
