"""Checks the grids `diffuse compat diffusers` writes for more scheduler
options against set_timesteps written out here in plain Python:

- EulerDiscreteScheduler's final_sigmas_type = sigma_min (the last sigma
  the table's at timestep 0, not 0) and its sigma_min and sigma_max, which
  replace the spaced schedule's ends in its Karras, exponential and Beta
  sigmas;
- DPMSolverMultistepScheduler's use_lu_lambdas: numpy's linspace between
  the table's float32 log sigmas at its ends, exponentiated, each timestep
  the rounded _sigma_to_t; on the squaredcos_cap_v2 table (there also for
  use_karras_sigmas) the fractional timestep is truncated by the int64
  cast instead;
- trailing spacing at 48 steps, where numpy's arange(T, 0, -T / N) steps
  by (T - T / N) - T, not -T / N, and rounds to 937 where T - k T / N
  gives 938 (Euler, DPMSolverMultistep and DDIM's built-in family).

Compares every step's noise level and network timestep as `diffuse grid`
lists them, and where the last step ends.

usage: check-diffusers-options.py DIFFUSE WORKDIR"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import (arange, beta_ppf, compat_spec, diffusers_sigmas, f32,  # noqa: E402
                     grid_rows, linspace64, sigma_to_t)

diffuse, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
T = 1000


def interp(t, sig):
    """np.interp(t, arange(len(sig)), sig)."""
    j = min(int(math.floor(t)), len(sig) - 1)
    if j == len(sig) - 1:
        return sig[j]
    return (sig[j + 1] - sig[j]) * (t - j) + sig[j]


def spaced(spacing, steps, offset=0):
    if spacing == "linspace":
        return [f32(v) for v in linspace64(0.0, T - 1.0, steps)][::-1]
    if spacing == "leading":
        return [float(i * (T // steps) + offset) for i in range(steps)][::-1]
    return [float(round(v) - 1) for v in arange(T, 0, -T / steps)]


def euler(sig, spacing, steps, family=None, final="zero", smin=None, smax=None, offset=0):
    """EulerDiscreteScheduler.set_timesteps: (sigmas with the last, timesteps)."""
    log_sigmas = [f32(math.log(s)) for s in sig]
    ts = spaced(spacing, steps, offset)
    lv = [interp(t, sig) for t in ts]
    if family:
        lo = smin if smin is not None else lv[-1]
        hi = smax if smax is not None else lv[0]
        ramp = linspace64(0.0, 1.0, steps)
        if family == "karras":
            lv = [(hi ** (1 / 7) + r * (lo ** (1 / 7) - hi ** (1 / 7))) ** 7 for r in ramp]
        elif family == "exponential":
            lv = [math.exp(v) for v in linspace64(math.log(hi), math.log(lo), steps)]
        else:
            lv = [lo + beta_ppf(1 - r, 0.6, 0.6) * (hi - lo) for r in ramp]
        ts = [f32(sigma_to_t(s, log_sigmas)) for s in lv]
    last = sig[0] if final == "sigma_min" else 0.0
    return [f32(s) for s in lv + [last]], ts


def dpm(sig, steps, family, cosine, final="zero", spacing="linspace"):
    """DPMSolverMultistepScheduler.set_timesteps for use_lu_lambdas,
    use_karras_sigmas and plain trailing spacing."""
    log_sigmas = [f32(math.log(s)) for s in sig]
    ramp = linspace64(0.0, 1.0, steps)
    cast = math.floor if cosine else round  # .round(), or only the int64 cast
    if family == "lu":
        hi, lo = log_sigmas[-1], log_sigmas[0]
        lv = [math.exp(hi + r * (lo - hi)) for r in ramp]
    elif family == "karras":
        hi, lo = sig[-1], sig[0]
        lv = [(hi ** (1 / 7) + r * (lo ** (1 / 7) - hi ** (1 / 7))) ** 7 for r in ramp]
    else:
        ts = spaced(spacing, steps)
        return [f32(sig[int(t)]) for t in ts] + [sig[0] if final == "sigma_min" else 0.0], ts
    ts = [float(cast(sigma_to_t(s, log_sigmas))) for s in lv]
    return [f32(s) for s in lv] + [sig[0] if final == "sigma_min" else 0.0], ts


def compat_grid(args):
    """The grid rows of the spec `diffuse compat diffusers ARGS` writes."""
    return grid_rows(diffuse, compat_spec(diffuse, work, "diffusers", *args))


SL = ["beta_schedule=scaled_linear", "beta_start=0.00085", "beta_end=0.012"]
COS = ["beta_schedule=squaredcos_cap_v2"]
CASES = [  # (what, class, table, its keys, steps, expected (sigmas, timesteps))
    ("final sigma_min, linspace", "EulerDiscreteScheduler", "linear",
     ["final_sigmas_type=sigma_min"], 10, lambda s: euler(s, "linspace", 10, final="sigma_min")),
    ("final sigma_min, leading", "EulerDiscreteScheduler", "scaled_linear",
     SL + ["final_sigmas_type=sigma_min", "timestep_spacing=leading", "steps_offset=1"], 12,
     lambda s: euler(s, "leading", 12, final="sigma_min", offset=1)),
    ("final sigma_min, Karras", "EulerDiscreteScheduler", "scaled_linear",
     SL + ["final_sigmas_type=sigma_min", "use_karras_sigmas=true"], 8,
     lambda s: euler(s, "linspace", 8, "karras", final="sigma_min")),
    ("sigma_min/max, Karras", "EulerDiscreteScheduler", "scaled_linear",
     SL + ["use_karras_sigmas=true", "sigma_min=0.05", "sigma_max=10"], 9,
     lambda s: euler(s, "linspace", 9, "karras", smin=0.05, smax=10.0)),
    ("sigma_max, exponential, trailing", "EulerDiscreteScheduler", "linear",
     ["use_exponential_sigmas=true", "sigma_max=20", "timestep_spacing=trailing"], 7,
     lambda s: euler(s, "trailing", 7, "exponential", smax=20.0)),
    ("sigma_min, beta, final sigma_min", "EulerDiscreteScheduler", "scaled_linear",
     SL + ["use_beta_sigmas=true", "sigma_min=0.1", "final_sigmas_type=sigma_min"], 10,
     lambda s: euler(s, "linspace", 10, "beta", final="sigma_min", smin=0.1)),
    ("trailing, 48 steps", "EulerDiscreteScheduler", "scaled_linear",
     SL + ["timestep_spacing=trailing"], 48, lambda s: euler(s, "trailing", 48)),
    ("lu lambdas", "DPMSolverMultistepScheduler", "linear", ["use_lu_lambdas=true"], 10,
     lambda s: dpm(s, 10, "lu", False)),
    ("lu lambdas, final sigma_min", "DPMSolverMultistepScheduler", "scaled_linear",
     SL + ["use_lu_lambdas=true", "final_sigmas_type=sigma_min"], 20,
     lambda s: dpm(s, 20, "lu", False, "sigma_min")),
    ("lu lambdas, cosine", "DPMSolverMultistepScheduler", "squaredcos_cap_v2",
     COS + ["use_lu_lambdas=true"], 12, lambda s: dpm(s, 12, "lu", True)),
    ("Karras, cosine", "DPMSolverMultistepScheduler", "squaredcos_cap_v2",
     COS + ["use_karras_sigmas=true"], 12, lambda s: dpm(s, 12, "karras", True)),
    ("trailing, 48 steps", "DPMSolverMultistepScheduler", "scaled_linear",
     SL + ["timestep_spacing=trailing"], 48, lambda s: dpm(s, 48, None, False,
                                                          spacing="trailing")),
    ("trailing, 48 steps", "DDIMScheduler", "scaled_linear",
     SL + ["timestep_spacing=trailing", "clip_sample=false"], 48,
     lambda s: dpm(s, 48, None, False, spacing="trailing")),
]
ok = True
for what, cls, kind, keys, steps, expect in CASES:
    sig = diffusers_sigmas(kind, T)
    rows = compat_grid([cls] + keys + ["--steps", str(steps)])
    want, want_t = expect(sig)
    got, got_t = [f32(float(r[6])) for r in rows], [float(r[3]) for r in rows]
    end = float(rows[-1][2])  # a noise level in ve coords, else a timestep
    if cls == "EulerDiscreteScheduler":
        got.append(f32(end))
    else:  # timestep -1 is noise level 0, 0 the table's sigma_min
        got.append({-1.0: 0.0, 0.0: want[-1]}.get(end, float("nan")))
    if cls == "DDIMScheduler":  # its steps are between table entries: the timesteps say all
        got, want = [], []
    same = got == want and got_t == want_t
    ok &= same
    print(f"{cls} {what}: {len(got_t)} steps, "
          f"{'sigmas and timesteps bit-identical' if same else 'DIFFER: %r %r vs %r %r' % (got, got_t, want, want_t)}")
sys.exit(0 if ok else 1)
