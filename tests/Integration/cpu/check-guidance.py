"""Checks the stdlib guidance rules (stdlib/guidance/rules.dfs) and CFG++'s
unconditional output against the peers' formulas, written out here in plain
Python from their sources: diffusers' rescale_noise_cfg and
_threshold_sample (torch.std, torch.quantile), the APG paper's
normalized_guidance, the guidance-interval rule, and diffusers' DDIM step
with thresholding. The inputs are the
unconditional and conditional outputs Diffuse's own one-step samplers return
(Inputs/guidance-rules.dfs) on a 16-D class-conditional mixture.

usage: check-guidance.py DIFFUSE SPEC WORKDIR"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B = 16, 4
dfstest.class_mixture(work, D, B)


def run(sampler, *extra):
    return dfstest.run_samples(diffuse, spec, work, sampler, B, *extra)


def std(v):  # torch.std: two passes, Bessel's correction
    m = sum(v) / len(v)
    return math.sqrt(sum((a - m) ** 2 for a in v) / (len(v) - 1))


def norm(v):
    return math.sqrt(sum(a * a for a in v))


def quantile(v, q):  # torch.quantile, linear
    s = sorted(v)
    rank = q * (len(s) - 1)
    lo, hi = s[math.floor(rank)], s[math.ceil(rank)]
    w = rank - math.floor(rank)
    return lo + w * (hi - lo) if w < 0.5 else hi - (hi - lo) * (1 - w)


def cfg(u, c, w):
    return [a + w * (b - a) for a, b in zip(u, c)]


def rescale(u, c, w, phi):  # diffusers.rescale_noise_cfg
    g = cfg(u, c, w)
    k = std(c) / std(g)
    return [phi * (x * k) + (1 - phi) * x for x in g]


def apg(u, c, w, eta, r, avg=None, momentum=0.0):
    """Sadat et al.'s normalized_guidance; with a momentum, `avg` is the
    MomentumBuffer's running average (updated in place)."""
    diff = [b - a for a, b in zip(u, c)]
    if avg is not None:
        avg[:] = [d + momentum * v for d, v in zip(diff, avg)]
        diff = list(avg)
    capped = False
    if r > 0:
        f = min(1.0, r / norm(diff))
        capped = f < 1
        diff = [d * f for d in diff]
    n = norm(c)
    unit = [b / n for b in c]
    dot = sum(d * e for d, e in zip(diff, unit))
    par = [dot * e for e in unit]
    return [b + (w - 1) * ((d - p) + eta * p) for b, d, p in zip(c, diff, par)], capped


def threshold(x0, ratio, max_value):  # diffusers._threshold_sample
    s = min(max(quantile([abs(v) for v in x0], ratio), 1.0), max_value)
    return [min(max(v, -s), s) / s for v in x0], s > 1


def compare(name, got, want, calls, note=""):
    err = max(abs(a - b) / max(1.0, abs(b)) for g, w_ in zip(got, want) for a, b in zip(g, w_))
    verdict = "ok" if err <= 1e-13 else "FAIL"
    print(f"{name}: {calls} network call(s), max relative difference {err:.1e}{note}: {verdict}")
    return verdict == "ok"


eu, _ = run("eps_u")
ec, _ = run("eps_c")
xu, _ = run("x0_u")
xc, _ = run("x0_c")
ok = True
got, n = run("cfg3")
ok &= compare("cfg", got, [cfg(u, c, 3) for u, c in zip(eu, ec)], n)
got, n = run("uncond_of_cfg3")
ok &= compare("eps_uncond", got, eu, n)
got, n = run("rescale")
ok &= compare("cfg_rescale", got, [rescale(u, c, 5, 0.7) for u, c in zip(eu, ec)], n)
got, n = run("projected")
ok &= compare("apg", got, [apg(u, c, 5, 0.3, 0)[0] for u, c in zip(xu, xc)], n)
got, n = run("projected_capped")
ref = [apg(u, c, 5, 0.3, 6.2) for u, c in zip(xu, xc)]
ok &= compare("apg r = 6.2", got, [r[0] for r in ref], n,
              f" ({sum(r[1] for r in ref)} of {B} samples capped)")
# Momentum: the raw outputs at each of the three calls' times (same state),
# the running average through them, and the third call's guided x0.
times = [0.8, 0.6, 0.4]
raw = [(run("x0_u", "--set", f"x0_u.grid=[{v}, 0.001]")[0],
        run("x0_c", "--set", f"x0_c.grid=[{v}, 0.001]")[0]) for v in times]
ref = []
for i in range(B):
    avg = [0.0] * D
    for u, c in raw:
        out, capped = apg(u[i], c[i], 5, 0.3, 6.2, avg, -0.5)
    ref.append(out)
got, n = run("momentum")
ok &= compare("apg momentum = -0.5", got, ref, n)
got, n = run("thresholded")
ref = [threshold(cfg(u, c, 5), 0.9, 1.5) for u, c in zip(xu, xc)]
ok &= compare("cfg_threshold", got, [r[0] for r in ref], n,
              f" ({sum(r[1] for r in ref)} of {B} samples clipped)")
got, n = run("threshold_only")
ref = [threshold(c, 0.7, 1.5) for c in xc]
ok &= compare("threshold", got, [r[0] for r in ref], n,
              f" ({sum(r[1] for r in ref)} of {B} samples clipped)")
# The first point is t = 0.8: sigma/alpha = tan(0.4 pi) = 3.08, inside
# (0.28, 5.42]; below 3 it is outside and the output is the conditional one.
got, n = run("limited")
ok &= compare("cfg_interval inside", got, [cfg(u, c, 3) for u, c in zip(eu, ec)], n)
got, n = run("limited", "--set",
             "limited.guidance=cfg_interval(w = 3, sigma_lo = 0.28, sigma_hi = 3)")
ok &= compare("cfg_interval outside", got, ec, n)
# diffusers' DDIMScheduler.step with thresholding, eta = 0: the thresholded
# x0 and the network's eps, moved from t = 0.8 to the grid's end t = 0.001.
got, n = run("ddim_thr")
a_t, s_t = math.cos(math.pi / 2 * 0.001), math.sin(math.pi / 2 * 0.001)
ref = [threshold(c, 0.7, 1.5) for c in xc]
ok &= compare("ddim_threshold", got,
              [[a_t * v + s_t * e for v, e in zip(r[0], ec_)] for r, ec_ in zip(ref, ec)], n,
              f" ({sum(r[1] for r in ref)} of {B} samples clipped)")
# diffusers' DDIMScheduler.step with clip_sample (range 1.2), eta = 0: the
# clamped x0 and the network's eps.
got, n = run("ddim_clipped")
clamped = [[min(max(v, -1.2), 1.2) for v in c] for c in xc]
nclip = sum(any(abs(v) > 1.2 for v in c) for c in xc)
ok &= compare("ddim_clip", got,
              [[a_t * v + s_t * e for v, e in zip(r, ec_)] for r, ec_ in zip(clamped, ec)], n,
              f" ({nclip} of {B} samples clipped)")


def ddpm_step(x0, x, z):
    """diffusers' DDPMScheduler.step (fixed_small) from t = 0.8 to 0.001 of
    the trig path, written as diffusers writes it."""
    acp_t = math.cos(math.pi / 2 * 0.8) ** 2
    acp_prev = a_t ** 2
    cur_alpha = acp_t / acp_prev
    cur_beta = 1 - cur_alpha
    c0 = (acp_prev ** 0.5 * cur_beta) / (1 - acp_t)
    c1 = cur_alpha ** 0.5 * (1 - acp_prev) / (1 - acp_t)
    var = max((1 - acp_prev) / (1 - acp_t) * cur_beta, 1e-20)
    return [c0 * a + c1 * b + var ** 0.5 * e for a, b, e in zip(x0, x, z)]


# The step's noise is replayed from a file so that the reference adds the same draw.
rng = __import__("random").Random(11)
z = [[rng.gauss(0, 1) for _ in range(D)] for _ in range(B)]
dfstest.write_npy(os.path.join(work, "z.npy"), z)
x_init = dfstest.read_npy(os.path.join(work, "x.npy"))
xs = [list(x_init[i * D:(i + 1) * D]) for i in range(B)]
noise = ("--noise", os.path.join(work, "z.npy"))
got, n = run("ddpm_clipped", *noise)
ok &= compare("ddpm_clip", got, [ddpm_step(c, x, zz) for c, x, zz in zip(clamped, xs, z)], n,
              f" ({nclip} of {B} samples clipped)")
got, n = run("ddpm_thr", *noise)
ref = [threshold(c, 0.7, 1.5) for c in xc]
ok &= compare("ddpm_threshold", got, [ddpm_step(r[0], x, zz) for r, x, zz in zip(ref, xs, z)], n,
              f" ({sum(r[1] for r in ref)} of {B} samples clipped)")
sys.exit(0 if ok else 1)
