"""Checks autoguidance limited to an interval of noise levels
(autoguidance_interval of stdlib/guidance/evaluations.dfs) against DDIM
written out here in plain Python on a 16-D mixture and a weaker model of it
(broader components): at each step the guided x0 is bad + w (good - bad)
where sigma / alpha at the step's start is in (sigma_lo, sigma_hi], the
sampler's model's x0 alone elsewhere; the weak model is called only inside.
Also the interval's edge cases: an interval that holds every step (plain
autoguidance) and one that holds none (the model alone, as unguided).

usage: check-guidance-interval.py DIFFUSE SPEC WORKDIR"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B, STEPS, W = 16, 4, 8, 2.0
mix = dfstest.class_mixture(work, D, B, classes=[0, 0, 0])
weak = dict(mix, stds=[1.5 * s for s in mix["stds"]])
json.dump(weak, open(os.path.join(work, "weak.json"), "w"))
x_init = dfstest.read_rows(os.path.join(work, "x.npy"), D)


def alpha(t):
    return math.cos(1.5707963267948966 * t)


def sigma(t):
    return math.sin(1.5707963267948966 * t)


def ddim(x, lo, hi):
    """The sampler on one row; returns the sample and the network calls."""
    ts = [0.8 + k * ((0.001 - 0.8) / STEPS) for k in range(STEPS)] + [0.001]
    calls = 0
    for s, t in zip(ts, ts[1:]):
        a, sg = alpha(s), sigma(s)
        good = dfstest.mixture_denoise(mix, x, a, sg)
        calls += 1
        x0 = good
        if lo < sg / a <= hi:
            bad = dfstest.mixture_denoise(weak, x, a, sg)
            calls += 1
            x0 = [b + W * (g - b) for g, b in zip(good, bad)]
        e = [(v - a * z) / sg for v, z in zip(x, x0)]
        x = [alpha(t) * z + sigma(t) * q for z, q in zip(x0, e)]
    return x, calls


ok = True
for lo, hi, what in [(0.3, 1.5, "interval (0.3, 1.5]"), (0.0, 100.0, "every step"),
                     (50.0, 100.0, "no step")]:
    got, n = dfstest.run_samples(
        diffuse, spec, work, "interval", B, "--labels", "0", "--mixture-for",
        "weak=" + os.path.join(work, "weak.json"), "--set",
        f"interval.guidance=autoguidance_interval(w = 2, guide = weak, sigma_lo = {lo}, "
        f"sigma_hi = {hi})")
    runs = [ddim(x, lo, hi) for x in x_init]
    ok &= dfstest.same_run(f"autoguidance, {what}", got, [r[0] for r in runs], n, runs[0][1])
sys.exit(0 if ok else 1)
