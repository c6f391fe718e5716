"""Checks the sigmas of `diffuse compat diffusers FlowMatchEulerDiscreteScheduler`
(the flowmatch grid) against FlowMatchEulerDiscreteScheduler.set_timesteps
written out here in plain Python:

- use_dynamic_shifting (set_timesteps(sigmas=..., mu=...)): FluxPipeline's
  sigmas np.linspace(1, 1/N, N) cast to float32 and shifted in numpy
  float32 arithmetic (each operation rounded to float32; the Python scalars
  exp(mu) and 1 cast to float32 first), or the scheduler's own linspace from
  timestep 1000 to 1000 * float32(1/1000) shifted in float64. mu comes from
  the pipelines' calculate_shift of image_seq_len, or is given. This
  emulation of numpy was compared with numpy 1.24 itself over 96
  configurations (bit-identical).
- a static shift: the linspace down to the float32 shifted sigma of
  timestep 1 that __init__ computes, shifted in float64;
- shift_terminal: 1 - s stretched so that the last sigma is the terminal
  one, in float32 for the pipeline's float32 sigmas (numpy casts the
  float64 scale to float32 there) and in float64 otherwise;
- use_karras_sigmas, use_exponential_sigmas and use_beta_sigmas between
  the first and last of those, in float64;

then stored as float32, and noise level 0; with invert_sigmas, the times
float32 1 - sigma, then 1.

usage: check-flowmatch.py DIFFUSE WORKDIR"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import beta_ppf, f32, linspace64  # noqa: E402

diffuse, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)


def dynamic(n, mu, linear, pipeline):
    m = mu if linear else math.exp(mu)
    if pipeline:
        m32 = f32(m)
        return [f32(m32 / f32(m32 + f32(f32(1 / s) - 1)))
                for s in (f32(v) for v in linspace64(1.0, 1 / n, n))]
    low = f32(1 / 1000) * 1000  # _sigma_to_t(sigma_min) of the unshifted float32 sigmas
    return [m / (m + (1 / (v / 1000) - 1)) for v in linspace64(1000.0, low, n)]


def static(n, shift):
    u = f32(1 / 1000)
    low = f32(f32(shift * u) / f32(1 + f32((shift - 1) * u))) * 1000
    return [shift * s / (1 + (shift - 1) * s) for s in (v / 1000 for v in linspace64(1000.0, low, n))]


def terminal(sig, end, single):
    """stretch_shift_to_terminal: in float32 on float32 sigmas (`single`)."""
    if single:
        rest = [f32(1 - v) for v in sig]
        scale = f32(rest[-1] / (1 - end))
        return [f32(1 - f32(r / scale)) for r in rest]
    rest = [1 - v for v in sig]
    scale = rest[-1] / (1 - end)
    return [1 - r / scale for r in rest]


def family(sig, name):
    hi, lo, n = sig[0], sig[-1], len(sig)
    ramp = linspace64(0.0, 1.0, n)
    if name == "karras":
        return [(hi ** (1 / 7) + r * (lo ** (1 / 7) - hi ** (1 / 7))) ** 7 for r in ramp]
    if name == "exponential":
        return [math.exp(v) for v in linspace64(math.log(hi), math.log(lo), n)]
    return [lo + beta_ppf(1 - r, 0.6, 0.6) * (hi - lo) for r in ramp]


def calculate_shift(seq_len, base_seq=256, max_seq=4096, base_shift=0.5, max_shift=1.15):
    slope = (max_shift - base_shift) / (max_seq - base_seq)
    return seq_len * slope + (base_shift - slope * base_seq)


CASES = [  # (steps, configuration keys)
    (28, ["use_dynamic_shifting=true", "image_seq_len=4096"]),
    (50, ["use_dynamic_shifting=true", "image_seq_len=1024"]),
    (4, ["use_dynamic_shifting=true", "mu=0.7", "sigmas=none"]),
    (9, ["use_dynamic_shifting=true", "mu=2.3", "time_shift_type=linear"]),
    (20, ["use_dynamic_shifting=true", "mu=1.5", "time_shift_type=linear", "sigmas=none"]),
    (1, ["use_dynamic_shifting=true", "mu=1.15"]),
    (25, ["shift=3.0", "shift_terminal=0.1"]),
    (30, ["use_dynamic_shifting=true", "mu=2.05", "shift_terminal=0.1"]),
    (12, ["use_dynamic_shifting=true", "mu=1.2", "sigmas=none", "shift_terminal=0.05"]),
    (10, ["shift=3.0", "use_karras_sigmas=true"]),
    (16, ["shift=2.0", "shift_terminal=0.2", "use_exponential_sigmas=true"]),
    (14, ["use_dynamic_shifting=true", "image_seq_len=4096", "use_beta_sigmas=true"]),
    (12, ["shift=3.0", "invert_sigmas=true"]),
]
ok = True
for steps, keys in CASES:
    args = [diffuse, "compat", "diffusers", "FlowMatchEulerDiscreteScheduler", *keys,
            "--steps", str(steps)]
    spec = os.path.join(work, "spec.dfs")
    with open(spec, "w") as f:
        f.write(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    rows = subprocess.run([diffuse, "grid", spec], capture_output=True, text=True,
                          check=True).stdout.splitlines()[1:]
    got = [float(r.split()[1]) for r in rows] + [float(rows[-1].split()[2])]
    cfg = dict(k.split("=") for k in keys)
    single = False
    if "use_dynamic_shifting" in cfg:
        mu = float(cfg["mu"]) if "mu" in cfg else calculate_shift(float(cfg["image_seq_len"]))
        single = cfg.get("sigmas", "flux") == "flux"
        sig = dynamic(steps, mu, cfg.get("time_shift_type") == "linear", single)
    else:
        sig = static(steps, float(cfg.get("shift", 1)))
    if "shift_terminal" in cfg:
        sig = terminal(sig, float(cfg["shift_terminal"]), single)
    for name in ("karras", "exponential", "beta"):
        if f"use_{name}_sigmas" in cfg:
            sig = family(sig, name)
    want = [f32(v) for v in sig] + [0.0]
    if "invert_sigmas" in cfg:  # float32 1 - sigma, then 1
        want = [f32(1 - v) for v in want[:-1]] + [1.0]
    same = got == want
    ok &= same
    print(f"steps {steps} {' '.join(keys)}: {len(got)} sigmas, "
          f"{'bit-identical' if same else 'DIFFER: %r vs %r' % (got, want)}")
sys.exit(0 if ok else 1)
