"""Checks `diffuse compat diffusers LCMScheduler` and TCDScheduler, which
no golden case covers, against LCMScheduler's set_timesteps and step written out here in
plain Python from diffusers' source (the skipped timesteps of the original
schedule, the consistency boundary condition c_skip, c_out at each
timestep, re-noising to the next one), with the same replayed noise, on the
table's float32 alphas_cumprod that `diffuse schedule` prints. The
boundary scalings are taken in float64 (torch computes them in its default
dtype). TCDScheduler on the same timesteps: x0 and eps at t, DDIM to the
timestep floor((1 - eta) prev) and forward noise from there to prev
(none on the last step, whose prev is timestep 0). The model is the exact
noise prediction of an 8-D mixture.

usage: check-lcm.py DIFFUSE WORKDIR"""
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


def lcm_timesteps(steps, original, T=1000):
    k = T // original
    origin = [(j + 1) * k - 1 for j in range(original)][::-1]
    return [origin[math.floor(i * (original / steps))] for i in range(steps)]


def lcm(x, acp, ts, z, scaling):
    global calls
    for i, t in enumerate(ts):
        calls += 1
        prev = ts[i + 1] if i + 1 < len(ts) else t
        a, ap = acp[t], acp[prev]
        x0 = dfstest.mixture_denoise(mix, x, math.sqrt(a), math.sqrt(1 - a))
        eps = [(v - math.sqrt(a) * m) / math.sqrt(1 - a) for v, m in zip(x, x0)]
        x0 = [(v - (1 - a) ** 0.5 * e) / a ** 0.5 for v, e in zip(x, eps)]
        c = t * scaling
        c_skip, c_out = 0.25 / (c ** 2 + 0.25), c / (c ** 2 + 0.25) ** 0.5
        d = [c_out * m + c_skip * v for m, v in zip(x0, x)]
        x = d if i == len(ts) - 1 else [ap ** 0.5 * v + (1 - ap) ** 0.5 * w
                                        for v, w in zip(d, z[i])]
    return x


def tcd(x, acp, ts, z, eta):
    global calls
    for i, t in enumerate(ts):
        calls += 1
        prev = ts[i + 1] if i + 1 < len(ts) else 0
        ts_ = math.floor((1 - eta) * prev)
        a, ap, as_ = acp[t], acp[prev], acp[ts_]
        x0 = dfstest.mixture_denoise(mix, x, math.sqrt(a), math.sqrt(1 - a))
        eps = [(v - math.sqrt(a) * m) / math.sqrt(1 - a) for v, m in zip(x, x0)]
        x0 = [(v - (1 - a) ** 0.5 * e) / a ** 0.5 for v, e in zip(x, eps)]
        xs = [as_ ** 0.5 * m + (1 - as_) ** 0.5 * e for m, e in zip(x0, eps)]
        if eta > 0 and i != len(ts) - 1:
            xs = [(ap / as_) ** 0.5 * v + (1 - ap / as_) ** 0.5 * w for v, w in zip(xs, z[i])]
        x = xs
    return x


rng = random.Random(9)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(8)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
CASES = [("LCM", lcm, 4, 50, 10.0), ("LCM", lcm, 8, 50, 10.0), ("LCM", lcm, 6, 40, 10.0),
         ("LCM", lcm, 2, 50, 5.0), ("TCD", tcd, 4, 50, 0.3), ("TCD", tcd, 8, 50, 0.0),
         ("TCD", tcd, 6, 40, 0.7)]
ok = True
for name, run, steps, original, arg in CASES:
    # LCM's timestep_scaling, TCD's eta
    keys = [f"original_inference_steps={original}",
            f"timestep_scaling={arg}" if name == "LCM" else f"eta={arg}"]
    spec = dfstest.compat_spec(diffuse, work, "diffusers", name + "Scheduler", *keys,
                               "--steps", str(steps))
    sched = subprocess.run([diffuse, "schedule", spec, "--points", "1000"], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    acp = {int(r[0]): dfstest.f32(float(r[2])) for r in dfstest.table_rows(sched, "n")}
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    ts = lcm_timesteps(steps, original)
    calls = 0
    want = [run(x, acp, ts, [d[r * D:(r + 1) * D] for d in draws], arg)
            for r, x in enumerate(x_init)]
    what = (f"timestep_scaling={arg:g} (timesteps {', '.join(map(str, ts))})" if name == "LCM"
            else f"eta={arg:g}")
    ok &= dfstest.same_run(f"{name} {steps} steps of {original}, {what}", got, want, got_calls,
                           calls // B)
sys.exit(0 if ok else 1)
