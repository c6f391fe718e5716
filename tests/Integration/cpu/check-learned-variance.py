"""Checks a DDPM step with a learned variance (stdlib ddpm_learned, a model
with variance = learned_range) against diffusers' DDPMScheduler.step with
variance_type = "learned_range", written out here, on the exact eps of a
16-D class-conditional mixture under CFG (the analytic network's variance
channels are v = 0, so the log variance is halfway between log beta and
log beta-tilde); and tensor math functions against Python's math module.

usage: check-learned-variance.py DIFFUSE SPEC WORKDIR"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B = 16, 4
mix = dfstest.class_mixture(work, D, B)
x_init = dfstest.read_npy(os.path.join(work, "x.npy"))
xs = [list(x_init[i * D:(i + 1) * D]) for i in range(B)]


def compare(name, got, want, tol):
    err = max(abs(a - b) / max(1.0, abs(b)) for g, w_ in zip(got, want) for a, b in zip(g, w_))
    verdict = "ok" if err <= tol else "FAIL"
    print(f"{name}: max relative difference {err:.1e} (<= {tol:.0e}): {verdict}")
    return verdict == "ok"


def eps_of(m, x, a, s):
    x0 = dfstest.mixture_denoise(m, x, a, s)
    return [(v - a * c) / s for v, c in zip(x, x0)]


def of_class(k):  # the mixture's components of class k (diffuse run labels sample i with i % 2)
    keep = [i for i, c in enumerate(mix["classes"]) if c == k]
    return {key: [mix[key][i] for i in keep] for key in ("weights", "means", "stds")}


ok = True
rng = random.Random(5)
z = [[rng.gauss(0, 1) for _ in range(D)] for _ in range(B)]
dfstest.write_npy(os.path.join(work, "z.npy"), z)
got, _ = dfstest.run_samples(diffuse, spec, work, "learned", B, "--noise",
                             os.path.join(work, "z.npy"))
a, s = math.cos(math.pi / 2 * 0.8), math.sin(math.pi / 2 * 0.8)
acp_t, acp_prev = a * a, math.cos(math.pi / 2 * 0.001) ** 2
beta = 1 - acp_t / acp_prev
tilde = max((1 - acp_prev) / (1 - acp_t) * beta, 1e-20)
frac = (0.0 + 1) / 2
logvar = frac * math.log(beta) + (1 - frac) * math.log(tilde)
c0 = acp_prev ** 0.5 * beta / (1 - acp_t)
c1 = (acp_t / acp_prev) ** 0.5 * (1 - acp_prev) / (1 - acp_t)
want = []
for i, (x, zz) in enumerate(zip(xs, z)):
    u, c = eps_of(mix, x, a, s), eps_of(of_class(i % 2), x, a, s)
    e = [uu + 3 * (cc - uu) for uu, cc in zip(u, c)]
    x0 = [(v - s * ee) / a for v, ee in zip(x, e)]
    want.append([c0 * p + c1 * v + math.exp(0.5 * logvar) * n for p, v, n in zip(x0, x, zz)])
ok &= compare("ddpm_learned = diffusers learned_range", got, want, 1e-12)
print(f"  step variance {math.exp(logvar):.6g}, between beta-tilde {tilde:.6g} and beta {beta:.6g}")

got, _ = dfstest.run_samples(diffuse, spec, work, "math", B)
want = [[math.exp(0.25 * v) + math.sqrt(abs(v)) + math.log(1 + v * v) + math.tanh(v) +
         math.floor(v) + math.sin(v) + math.cos(v) + math.expm1(0.1 * v) + math.log1p(v * v) +
         math.atan(v) for v in x] for x in xs]
ok &= compare("exp, sqrt, log, tanh, floor, sin, cos, expm1, log1p, atan of a tensor", got, want, 1e-15)

got, _ = dfstest.run_samples(diffuse, spec, work, "math_sample", B)
norms = [math.sqrt(sum(v * v for v in x)) for x in xs]
mean_root = sum(math.sqrt(n) for n in norms) / len(norms)
want = [[v * math.sqrt(n) + math.exp(-0.1 * n) + math.log(n) + math.tanh(n) + math.floor(n) +
         math.atan(n) + mean_root for v in x] for x, n in zip(xs, norms)]
ok &= compare("sqrt, exp, log, tanh, floor, atan of a per-sample norm, and a batch mean",
              got, want, 1e-15)
sys.exit(0 if ok else 1)
