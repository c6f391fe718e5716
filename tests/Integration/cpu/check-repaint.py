"""Checks RePaint (inpaint = true and a grid's resampling jumps,
Inputs/repaint.dfs) three ways:

  grid     the steps `diffuse grid` lists against diffusers'
           RePaintScheduler.set_timesteps and RePaintPipeline's loop,
           written out here;
  values   whole runs against Lugmayr et al.'s algorithm 1 written out here in
           plain Python with the mixture's exact denoiser, the schedule that
           `diffuse grid` prints and the same noise draws (diffuse run
           --noise): DDIM(eta = 0.5) in native coordinates and Euler in ve
           coordinates;
  diffusers  inpaint = diffusers against RePaintPipeline's loop over
           RePaintScheduler.step and undo_step written out here (its float32
           tables, float64 arithmetic), DDIM at eta 0 and 0.5, the same draws
           in the same order;
  quality  conditional sampling of a 2-D mixture of two far-apart modes with
           one coordinate known: the other must come from the known
           coordinate's mode, with mean 2 and standard deviation 0.3.

usage: check-repaint.py DIFFUSE SPEC WORKDIR"""
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)


def grid(sampler):
    """(from, to, alpha, sigma, sigma/alpha) of each step's start."""
    out = subprocess.run([diffuse, "grid", spec, "--sampler", sampler], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return [[float(v) for v in f[1:3] + f[4:7]] for f in dfstest.table_rows(out, "step")]


def repaint_timesteps(n, jump_length, jump_n_sample, train=1000):
    """RePaintScheduler.set_timesteps: the timesteps, each jump's included."""
    jumps = {j: jump_n_sample - 1 for j in range(0, n - jump_length, jump_length)}
    ts, t = [], n
    while t >= 1:
        t -= 1
        ts.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] -= 1
            for _ in range(jump_length):
                t += 1
                ts.append(t)
    return [v * (train // n) for v in ts]


def diffusers_repaint_steps(n, jump_length, jump_n_sample, train=1000):
    """RePaintScheduler.set_timesteps, then the pipeline's loop: a timestep
    below the last one is a step down from it, any other an undo_step up to
    the last one. Returns the (from, to) timestep of every step, -1 the end
    of the chain."""
    stride = train // n
    ts = repaint_timesteps(n, jump_length, jump_n_sample, train)
    steps, last = [], ts[0] + 1
    for t in ts:
        if t < last:
            steps.append((t, max(t - stride, -1)))
        else:
            steps.append((max(last - stride, -1), last))
        last = t
    return steps


for sampler, n, jl, js in (("rp_ddim", 10, 2, 3), ("diffusers_repaint", 250, 10, 10)):
    got = [(int(r[0]), int(r[1])) for r in grid(sampler)]
    want = diffusers_repaint_steps(n, jl, js)
    ups = sum(1 for a, b in want if b > a)
    print(f"{sampler}: {len(got)} steps ({ups} up); diffusers' RePaint timesteps "
          f"(steps={n}, jump_length={jl}, jump_n_sample={js}): "
          f"{'same' if got == want else 'DIFFERENT'}")

# values
D, B, ETA = 8, 3, 0.5
rng = random.Random(5)
mix = {"dim": D, "weights": [0.3, 0.3, 0.4],
       "means": [[rng.gauss(0, 1.5) for _ in range(D)] for _ in range(3)],
       "stds": [0.3, 0.5, 0.4]}
import json  # noqa: E402
json.dump(mix, open(os.path.join(work, "mix.json"), "w"))
x_init = [[rng.gauss(0, 1) for _ in range(D)] for _ in range(B)]
data = [[rng.gauss(0, 1) for _ in range(D)] for _ in range(B)]
mask = [[1.0 if i < D // 2 else (0.25 if i == D // 2 else 0.0) for i in range(D)]]
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(200)]
for name, rows in (("x", x_init), ("data", data), ("mask", mask), ("z", draws)):
    dfstest.write_npy(os.path.join(work, name + ".npy"), rows)


def reference(sampler, ve):
    pts = grid(sampler)
    used = iter(draws)

    def draw():
        z = next(used)
        return [z[i * D:(i + 1) * D] for i in range(B)]

    x = [row[:] for row in x_init]
    for k, (frm, to, a_s, s_s, tau_s) in enumerate(pts):
        a_t, s_t, tau_t = (pts[k + 1][2:5] if k + 1 < len(pts) else (1.0, 0.0, 0.0))
        if ve:  # state x/alpha, alpha 1, sigma tau
            a_s, s_s, a_t, s_t = 1.0, tau_s, 1.0, tau_t
        if to > frm:  # a jump up: q(x_t | x_s)
            r = a_t / a_s
            sd = math.sqrt(max(s_t * s_t - (r * s_s) ** 2, 0.0))
            z = draw()
            x = [[r * v + sd * w for v, w in zip(row, zr)] for row, zr in zip(x, z)]
            continue
        new = []
        for row in x:
            x0 = dfstest.mixture_denoise(mix, row, a_s, s_s)
            if ve:  # Euler on the probability-flow ODE
                new.append([v + (s_t - s_s) * (v - m) / s_s for v, m in zip(row, x0)])
            else:  # DDIM with eta
                new.append((row, x0))
        if not ve:
            sd = ETA * math.sqrt(s_t * s_t / (s_s * s_s) * (1 - a_s * a_s / (a_t * a_t)))
            z1 = draw()
            new = [[a_t * m + math.sqrt(s_t * s_t - sd * sd) * (v - a_s * m) / s_s + sd * w
                    for v, m, w in zip(row, x0, zr)] for (row, x0), zr in zip(new, z1)]
        z2 = draw()  # the known data noised to t, kept where the mask is 1
        x = [[mk * (a_t * d + s_t * w) + (1 - mk) * v
              for v, d, w, mk in zip(row, drow, zr, mask[0])]
             for row, drow, zr in zip(new, data, z2)]
    return x


for sampler, ve in (("rp_ddim", False), ("rp_euler_ve", True)):
    out = os.path.join(work, sampler)
    p = subprocess.run([diffuse, "run", spec, "--sampler", sampler, "--mixture",
                        os.path.join(work, "mix.json"), "--batch", str(B), "--out", out]
                       + [arg for f in ("x-init:x", "x-data:data", "mask:mask", "noise:z")
                          for arg in ("--" + f.split(":")[0],
                                      os.path.join(work, f.split(":")[1] + ".npy"))],
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stdout + p.stderr)
    got = dfstest.read_npy(os.path.join(out, "samples.npy"))
    want = [v for row in reference(sampler, ve) for v in row]
    scale = max(abs(v) for v in want)
    err = max(abs(g - w) for g, w in zip(got, want)) / scale
    kept = max(abs(g - d) for g, d, mk in zip(got, [v for row in data for v in row],
                                               mask[0] * B) if mk == 1)
    print(p.stdout.splitlines()[0].split(" samples")[0])
    print(f"{sampler} against RePaint's algorithm 1: max relative difference {err:.0e} "
          f"({'<= 1e-12: ok' if err <= 1e-12 else 'FAIL'}); known elements off by {kept:g}")

# diffusers
def diffusers_repaint(n, jump_length, jump_n_sample, eta, z, train=1000):
    """RePaintPipeline.__call__ from x_init: RePaintScheduler's float32
    betas and alphas_cumprod, its arithmetic in float64."""
    betas = dfstest.linspace(0.0001, 0.02, train)
    acp = dfstest.cumprod(dfstest.alphas(betas))
    stride = train // n
    ts = repaint_timesteps(n, jump_length, jump_n_sample, train)
    used = iter(z)

    def draw():
        zz = next(used)
        return [zz[i * D:(i + 1) * D] for i in range(B)]

    x = [row[:] for row in x_init]
    t_last = ts[0] + 1
    for t in ts:
        if t < t_last:  # RePaintScheduler.step
            a_t = acp[t]
            a_prev = acp[t - stride] if t - stride >= 0 else 1.0
            var = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
            sd = eta * var ** 0.5
            noise = draw()
            new = []
            for row, drow, zr in zip(x, data, noise):
                x0m = dfstest.mixture_denoise(mix, row, a_t ** 0.5, (1 - a_t) ** 0.5)
                e = [(v - a_t ** 0.5 * m) / (1 - a_t) ** 0.5 for v, m in zip(row, x0m)]
                x0 = [(v - (1 - a_t) ** 0.5 * ev) / a_t ** 0.5 for v, ev in zip(row, e)]
                unknown = [a_prev ** 0.5 * m + (1 - a_prev - sd * sd) ** 0.5 * ev
                           + (sd * w if t > 0 and eta > 0 else 0.0)
                           for m, ev, w in zip(x0, e, zr)]
                known = [a_prev ** 0.5 * d + (1 - a_prev) ** 0.5 * w for d, w in zip(drow, zr)]
                new.append([mk * k + (1 - mk) * u for k, u, mk in zip(known, unknown, mask[0])])
            x = new
        else:  # RePaintScheduler.undo_step(x, t_last)
            for i in range(stride):
                b = betas[t_last + i]
                noise = draw()
                x = [[(1 - b) ** 0.5 * v + b ** 0.5 * w for v, w in zip(row, zr)]
                     for row, zr in zip(x, noise)]
        t_last = t
    return x


many = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(26 + 16 * 100)]
dfstest.write_npy(os.path.join(work, "zz.npy"), many)
for sampler, eta in (("rp_diffusers", 0.0), ("rp_diffusers_eta", 0.5)):
    out = os.path.join(work, sampler)
    p = subprocess.run([diffuse, "run", spec, "--sampler", sampler, "--mixture",
                        os.path.join(work, "mix.json"), "--batch", str(B), "--out", out]
                       + [arg for f in ("x-init:x", "x-data:data", "mask:mask", "noise:zz")
                          for arg in ("--" + f.split(":")[0],
                                      os.path.join(work, f.split(":")[1] + ".npy"))],
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stdout + p.stderr)
    got = dfstest.read_npy(os.path.join(out, "samples.npy"))
    want = [v for row in diffusers_repaint(10, 2, 3, eta, many) for v in row]
    scale = max(abs(v) for v in want)
    err = max(abs(g - w) for g, w in zip(got, want)) / scale
    print(p.stdout.splitlines()[0].split(" samples")[0])
    print(f"{sampler} against diffusers' RePaintPipeline (eta = {eta:g}): max relative "
          f"difference {err:.0e} ({'<= 1e-12: ok' if err <= 1e-12 else 'FAIL'})")

# quality
dfstest.write_npy(os.path.join(work, "two.npy"), [[2.0, -2.0]])
dfstest.write_npy(os.path.join(work, "keep0.npy"), [[1.0, 0.0]])
json.dump({"dim": 2, "weights": [0.5, 0.5], "means": [[-2, -2], [2, 2]], "stds": [0.3, 0.3]},
          open(os.path.join(work, "two.json"), "w"))
dfstest.write_npy(os.path.join(work, "keep_none.npy"), [[0.0, 0.0]])
for sampler, keep in (("plain", "keep0"), ("repaint", "keep0"), ("repaint", "keep_none")):
    out = os.path.join(work, "q_" + sampler)
    p = subprocess.run([diffuse, "run", spec, "--sampler", sampler, "--mixture",
                        os.path.join(work, "two.json"), "--x-data",
                        os.path.join(work, "two.npy"), "--mask", os.path.join(work, keep + ".npy"),
                        "--batch", "4000", "--out", out], capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stdout + p.stderr)
    v = dfstest.read_npy(os.path.join(out, "samples.npy"))
    # The second coordinate, signed by the first's mode.
    y = [v[2 * i + 1] * (1 if v[2 * i] > 0 else -1) for i in range(len(v) // 2)]
    good = [a for a in y if a > 0]
    mean = sum(good) / len(good)
    sd = math.sqrt(sum((a - mean) ** 2 for a in good) / (len(good) - 1))
    calls = p.stdout.split(" network calls")[0].split()[-1]
    print(f"{sampler}, {'x0 known' if keep == 'keep0' else 'nothing known'}: {calls} network "
          f"calls, {100 * (len(y) - len(good)) / len(y):.2f}% in the other mode, mean "
          f"{mean:.3f}, std {sd:.3f} (exact: 0%, 2, 0.3)")
