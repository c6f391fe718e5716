"""Checks `diffuse compat k-diffusion sample_res_multistep` and its
ancestral and CFG++ variants (ComfyUI's fork of k_diffusion.sampling)
against res_multistep written out here in plain Python from ComfyUI's
source, with the same replayed noise (drawn where sigma_next > 0 with
eta > 0). The model is the exact denoiser of an 8-D mixture: unguided, of
its class-0 components (label 0); with CFG++ the unconditional evaluation is
the whole mixture and the conditional one its class-1 component.

usage: check-res-multistep.py DIFFUSE WORKDIR"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix = dfstest.class_mixture(work, D, B, classes=[0, 1, 0])
x_init = dfstest.read_rows(os.path.join(work, "x.npy"), D)
calls = 0


def denoise(x, sigma, cls=None):
    if cls is None:
        return dfstest.mixture_denoise(mix, x, 1.0, sigma)
    keep = [k for k, c in enumerate(mix["classes"]) if c == cls]
    w = [mix["weights"][k] for k in keep]
    sub = {"weights": [v / sum(w) for v in w], "means": [mix["means"][k] for k in keep],
           "stds": [mix["stds"][k] for k in keep]}
    return dfstest.mixture_denoise(sub, x, 1.0, sigma)


def karras(n, lo, hi, rho=7.0):  # get_sigmas_karras, then the appended zero
    ramp = [i / (n - 1) for i in range(n)]
    a, b = hi ** (1 / rho), lo ** (1 / rho)
    return [(a + r * (b - a)) ** rho for r in ramp] + [0.0]


def ancestral(sf, st, eta):  # get_ancestral_step
    if not eta:
        return st, 0.0
    su = min(st, eta * (st ** 2 * (sf ** 2 - st ** 2) / sf ** 2) ** 0.5)
    return (st ** 2 - su ** 2) ** 0.5, su


def sample(x, sigmas, z, eta, s_noise, w):
    """res_multistep on one row; w: the CFG++ scale (None: no guidance)."""
    global calls
    old_sd = old_d = None
    for i in range(len(sigmas) - 1):
        s = sigmas[i]
        calls += 1
        if w is None:  # label 0: the class-0 components
            den = u = denoise(x, s, 0)
        else:
            u, c = denoise(x, s), denoise(x, s, 1)
            den = [a + w * (b - a) for a, b in zip(u, c)]
        sd, su = ancestral(s, sigmas[i + 1], eta)
        if sd == 0 or old_d is None:
            if w is not None:
                x = [g + (a - b) / s * sd for a, b, g in zip(x, u, den)]
            else:
                x = [a + (a - b) / s * (sd - s) for a, b in zip(x, den)]
        else:
            t, t_old, t_next, t_prev = (-math.log(v) for v in (s, old_sd, sd, sigmas[i - 1]))
            h = t_next - t
            c2 = (t_prev - t_old) / h
            phi1 = math.expm1(-h) / -h
            phi2 = (phi1 - 1.0) / -h
            b1, b2 = phi1 - phi2 / c2, phi2 / c2
            if w is not None:
                x = [a + (g - b) for a, g, b in zip(x, den, u)]
            x = [math.exp(-h) * a + h * (b1 * p + b2 * q) for a, p, q in zip(x, u, old_d)]
        if sigmas[i + 1] > 0 and eta:
            x = [a + v * s_noise * su for a, v in zip(x, z[i])]
        old_d, old_sd = u, sd
    return x


N = 12
rng = random.Random(13)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(N)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
sigmas = karras(N, 0.02, 20.0)
ok = True
for fn, keys, eta, s_noise, w in [
        ("sample_res_multistep", [], 0, 1.0, None),
        ("sample_res_multistep_ancestral", [], 1.0, 1.0, None),
        ("sample_res_multistep_ancestral", ["eta=0.6", "s_noise=1.01"], 0.6, 1.01, None),
        ("sample_res_multistep_cfg_pp", [], 0, 1.0, 0.8),
        ("sample_res_multistep_ancestral_cfg_pp", [], 1.0, 1.0, 0.8)]:
    guided = ["--guidance", "0.8"] if w is not None else []
    spec = dfstest.compat_spec(diffuse, work, "k-diffusion", fn, "get_sigmas_karras",
                               "sigma_min=0.02", "sigma_max=20", *keys, "--steps", str(N),
                               *guided)
    labels = ["--labels", "1"] if w is not None else ["--labels", "0"]
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, *labels, "--noise",
                                         os.path.join(work, "z.npy"))
    calls = 0
    want = [sample(x, sigmas, [d[r * D:(r + 1) * D] for d in draws], eta, s_noise, w)
            for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(f"{fn}({', '.join(keys)})", got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
