"""Checks the ComfyUI schedulers of stdlib/grids/schedules.dfs against
comfy/samplers.py written out here in plain Python, every float32 operation
of the torch code rounded to float32: normal_scheduler (normal and
sgm_uniform) with ModelSamplingDiscrete.sigma (float32 log sigma
interpolated linearly between timesteps) and .timestep (the nearest
timestep in log sigma), on Stable Diffusion's scaled_linear table built as
diffusers builds it; ddim_scheduler (ddim_uniform: every len // steps-th
table sigma from timestep 1, so 31 steps for 30) and beta_scheduler (the
rint of the Beta quantiles, a repeated timestep dropped, so fewer steps);
and linear_quadratic_schedule.

usage: check-comfyui.py DIFFUSE WORKDIR"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import beta_ppf, diffusers_sigmas, f32, linspace  # noqa: E402
from dfstest import grid_rows as dfstest_grid_rows  # noqa: E402

diffuse, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
T = 1000
sigmas = diffusers_sigmas("scaled_linear", T)
log_sigmas = [f32(math.log(s)) for s in sigmas]


def sigma_of(ts):  # ModelSamplingDiscrete.sigma, float32
    t = min(max(ts, 0.0), T - 1.0)
    lo, hi = math.floor(t), math.ceil(t)
    w = t - lo
    return f32(math.exp(f32(f32(f32(1 - w) * log_sigmas[lo]) + f32(w * log_sigmas[hi]))))


def timestep_of(sigma):  # ModelSamplingDiscrete.timestep: argmin |log sigma - log_sigmas|
    ls = f32(math.log(sigma))  # torch's float32 log of a float32 sigma
    return min(range(T), key=lambda k: abs(ls - log_sigmas[k]))


def normal(steps, sgm):
    n = steps + 1 if sgm else steps
    ts = (linspace(T - 1, 0, n) if n > 1 else [T - 1.0])[:steps]  # torch.linspace(a, b, 1) = [a]
    return [sigma_of(t) for t in ts]


def ddim_uniform(steps):
    stride = max(T // steps, 1)
    return [sigmas[x] for x in range(1, T, stride)][::-1]


def beta(steps, a=0.6, b=0.6):
    out, last = [], -1
    for i in range(steps):  # numpy's linspace(0, 1, steps, endpoint=False)
        t = round(beta_ppf(1 - i * (1 / steps), a, b) * (T - 1))  # np.rint: ties to even
        if t != last:
            out.append(sigmas[t])
        last = t
    return out


def linear_quadratic(steps, threshold=0.025, sigma_max=1.0):
    if steps == 1:
        xs = [1.0, 0.0]
    else:
        ls = steps // 2
        diff = ls - threshold * steps
        qs = steps - ls
        qc = diff / (ls * qs ** 2)
        lc = threshold / ls - 2 * diff / (qs ** 2)
        const = qc * (ls ** 2)
        xs = [i * threshold / ls for i in range(ls)] + \
             [qc * (i ** 2) + lc * i + const for i in range(ls, steps)] + [1.0]
        xs = [1.0 - x for x in xs]
    return [f32(f32(x) * f32(sigma_max)) for x in xs]


def grid_rows(spec, sampler):
    return dfstest_grid_rows(diffuse, spec, "--sampler", sampler)


spec = os.path.join(work, "comfy.dfs")
ok = True
for name, grid, process, model, coords in [
        ("normal 20", "comfy_normal(steps = 20)", "sd_scaled_linear", "unet", "ve"),
        ("normal 7", "comfy_normal(steps = 7)", "sd_scaled_linear", "unet", "ve"),
        ("sgm_uniform 10", "comfy_normal(steps = 10, sgm = 1)", "sd_scaled_linear", "unet", "ve"),
        ("normal 1", "comfy_normal(steps = 1)", "sd_scaled_linear", "unet", "ve"),
        ("ddim_uniform 20", "comfy_ddim_uniform(steps = 20)", "sd_scaled_linear", "unet", "ve"),
        ("ddim_uniform 30", "comfy_ddim_uniform(steps = 30)", "sd_scaled_linear", "unet", "ve"),
        ("beta 20", "comfy_beta(steps = 20)", "sd_scaled_linear", "unet", "ve"),
        ("beta 400", "comfy_beta(steps = 400)", "sd_scaled_linear", "unet", "ve"),
        ("linear_quadratic 8", "linear_quadratic(steps = 8)", "rectified_flow", "transformer",
         "native"),
        ("linear_quadratic 25", "linear_quadratic(steps = 25, sigma_max = 0.9)", "rectified_flow",
         "transformer", "native"),
        ("linear_quadratic 1", "linear_quadratic(steps = 1)", "rectified_flow", "transformer",
         "native")]:
    with open(spec, "w") as f:
        f.write('import "grids/schedules.dfs"\nimport "solvers/euler.dfs"\n'
                'import "compat/diffusers.dfs"\n'
                f"sampler s {{ process = {process}  model = {model}  solver = euler  "
                f"coords = {coords}  grid = {grid} }}\n")
    rows = grid_rows(spec, "s")
    if name.startswith("linear"):
        steps = int(name.split()[1])
        sigma_max = 0.9 if "0.9" in grid else 1.0
        want = linear_quadratic(steps, sigma_max=sigma_max)
        got = [float(r[1]) for r in rows] + [float(rows[-1][2])]
        same = got == want
        detail = f"{len(got)} times"
    else:
        steps = int(name.split()[1])
        kind = name.split()[0]
        want = (ddim_uniform(steps) if kind == "ddim_uniform" else beta(steps) if kind == "beta"
                else normal(steps, kind == "sgm_uniform")) + [0.0]
        got = [float(r[1]) for r in rows] + [float(rows[-1][2])]
        want_t = [timestep_of(s) for s in want[:-1]]
        got_t = [int(float(r[3])) for r in rows]
        same = got == want and got_t == want_t
        detail = f"{len(got)} noise levels and {len(got_t)} network timesteps"
    ok &= same
    print(f"{name}: {detail}, {'bit-identical' if same else 'DIFFER: %r vs %r' % (got, want)}")
sys.exit(0 if ok else 1)
