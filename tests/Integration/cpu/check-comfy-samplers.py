"""Checks `diffuse compat k-diffusion` for the samplers of ComfyUI's fork
of k_diffusion.sampling: sample_res_multistep with its ancestral and CFG++
variants, sample_seeds_2 and _3, sample_exp_heun_2_x0 (and _sde) and
sample_gradient_estimation (and _cfg_pp), against those functions written
out here in plain Python from ComfyUI's source, with the same replayed noise
(each noise_sampler call takes the next draw; none where ComfyUI draws
none or multiplies the draw by zero). The model is the exact denoiser of an 8-D mixture: unguided, of
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


def evaluate(x, s, w):
    """The (guided, unconditional) denoised values; unguided: label 0."""
    global calls
    calls += 1
    if w is None:  # label 0: the class-0 components
        den = denoise(x, s, 0)
        return den, den
    u, c = denoise(x, s), denoise(x, s, 1)
    return [a + w * (b - a) for a, b in zip(u, c)], u


def lerp(a, b, w):  # torch.lerp: from a below w = 1/2, back from b above it
    return a + w * (b - a) if w < 0.5 else b - (b - a) * (1 - w)


def expo(x, d, sf, st, hh, hstep, eta, coeff):
    """sigma_t / sigma_s exp(-hstep eta) x - alpha_t * coeff (alpha = 1 here)."""
    return [st / sf * math.exp(-hstep * eta) * a - c for a, c in zip(x, coeff)]


def seeds(x, sigmas, z, eta, s_noise, rs, phi2):
    """sample_seeds_2 (rs = [r]) or sample_seeds_3 (rs = [r_1, r_2]) on one row."""
    global calls
    zi = iter(z)
    inject = eta > 0 and s_noise > 0
    for i in range(len(sigmas) - 1):
        s, t = sigmas[i], sigmas[i + 1]
        d, _ = evaluate(x, s, None)
        if t == 0:
            x = d
            continue
        ls, lt = -math.log(s), -math.log(t)
        h = lt - ls
        he = h * (eta + 1)
        lams = [lerp(ls, lt, r) for r in rs]
        sig = [math.exp(-v) for v in lams]
        r1 = rs[0]
        x2 = [sig[0] / s * math.exp(-r1 * h * eta) * a - math.expm1(-r1 * he) * b
              for a, b in zip(x, d)]
        if inject:
            n = [math.sqrt(-math.expm1(-2 * r1 * h * eta)) * v for v in next(zi)]
            x2 = [a + v * sig[0] * s_noise for a, v in zip(x2, n)]
        d2, _ = evaluate(x2, sig[0], None)
        phi2_fn = lambda v: (math.expm1(v) - v) / v  # noqa: E731
        if len(rs) == 2:
            r2 = rs[1]
            a32 = r2 / r1 * phi2_fn(-r2 * he)
            a31 = math.expm1(-r2 * he) - a32
            x3 = [sig[1] / s * math.exp(-r2 * h * eta) * a - (a31 * b + a32 * c)
                  for a, b, c in zip(x, d, d2)]
            if inject:
                g = (r1 - r2) * h * eta
                n = [u * math.exp(g) + math.sqrt(-math.expm1(2 * g)) * v
                     for u, v in zip(n, next(zi))]
                x3 = [a + v * sig[1] * s_noise for a, v in zip(x3, n)]
            d3, _ = evaluate(x3, sig[1], None)
            b3 = phi2_fn(-he) / r2
            b1 = math.expm1(-he) - b3
            x = [t / s * math.exp(-h * eta) * a - (b1 * p + b3 * q) for a, p, q in zip(x, d, d3)]
            last_r = r2
        elif phi2:
            b2 = phi2_fn(-he) / r1
            b1 = math.expm1(-he) - b2
            x = [t / s * math.exp(-h * eta) * a - (b1 * p + b2 * q) for a, p, q in zip(x, d, d2)]
            last_r = r1
        else:
            dd = [lerp(p, q, 1 / (2 * r1)) for p, q in zip(d, d2)]
            x = [t / s * math.exp(-h * eta) * a - math.expm1(-he) * b for a, b in zip(x, dd)]
            last_r = r1
        if inject:
            g = (last_r - 1) * h * eta
            n = [u * math.exp(g) + math.sqrt(-math.expm1(2 * g)) * v for u, v in zip(n, next(zi))]
            x = [a + v * t * s_noise for a, v in zip(x, n)]
    return x


def gradient_estimation(x, sigmas, ge_gamma, w):
    old_d = None
    for i in range(len(sigmas) - 1):
        s, t = sigmas[i], sigmas[i + 1]
        den, u = evaluate(x, s, w)
        d = [(a - b) / s for a, b in zip(x, u)]
        dt = t - s
        if t == 0:
            x = den
        else:
            if w is not None:
                x = [g + v * t for g, v in zip(den, d)]
            else:
                x = [a + v * dt for a, v in zip(x, d)]
            if i >= 1:
                x = [a + (ge_gamma - 1) * (v - o) * dt for a, v, o in zip(x, d, old_d)]
        old_d = d
    return x


def sample(x, sigmas, z, eta, s_noise, w):
    """res_multistep on one row; w: the CFG++ scale (None: no guidance)."""
    global calls
    old_sd = old_d = None
    for i in range(len(sigmas) - 1):
        s = sigmas[i]
        den, u = evaluate(x, s, w)
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
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(3 * N)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)
sigmas = karras(N, 0.02, 20.0)
CASES = [  # (function, keys, guidance scale, the row's sampler)
    ("sample_res_multistep", [], None, lambda x, z: sample(x, sigmas, z, 0, 1.0, None)),
    ("sample_res_multistep_ancestral", [], None, lambda x, z: sample(x, sigmas, z, 1.0, 1.0, None)),
    ("sample_res_multistep_ancestral", ["eta=0.6", "s_noise=1.01"], None,
     lambda x, z: sample(x, sigmas, z, 0.6, 1.01, None)),
    ("sample_res_multistep_cfg_pp", [], 0.8, lambda x, z: sample(x, sigmas, z, 0, 1.0, 0.8)),
    ("sample_res_multistep_ancestral_cfg_pp", [], 0.8,
     lambda x, z: sample(x, sigmas, z, 1.0, 1.0, 0.8)),
    ("sample_seeds_2", [], None, lambda x, z: seeds(x, sigmas, z, 1.0, 1.0, [0.5], False)),
    ("sample_seeds_2", ["r=0.3", "solver_type=phi_2", "eta=0.7"], None,
     lambda x, z: seeds(x, sigmas, z, 0.7, 1.0, [0.3], True)),
    ("sample_seeds_3", [], None, lambda x, z: seeds(x, sigmas, z, 1.0, 1.0, [1 / 3, 2 / 3], False)),
    ("sample_seeds_3", ["eta=0", "r_1=0.25", "r_2=0.6"], None,
     lambda x, z: seeds(x, sigmas, z, 0.0, 1.0, [0.25, 0.6], False)),
    ("sample_exp_heun_2_x0", [], None, lambda x, z: seeds(x, sigmas, z, 0.0, 0.0, [1.0], True)),
    ("sample_exp_heun_2_x0_sde", [], None,
     lambda x, z: seeds(x, sigmas, z, 1.0, 1.0, [1.0], True)),
    ("sample_gradient_estimation", [], None, lambda x, z: gradient_estimation(x, sigmas, 2.0, None)),
    ("sample_gradient_estimation", ["ge_gamma=2.5"], None,
     lambda x, z: gradient_estimation(x, sigmas, 2.5, None)),
    ("sample_gradient_estimation_cfg_pp", [], 0.8,
     lambda x, z: gradient_estimation(x, sigmas, 2.0, 0.8)),
]
ok = True
for fn, keys, w, row in CASES:
    guided = ["--guidance", str(w)] if w is not None else []
    spec = dfstest.compat_spec(diffuse, work, "k-diffusion", fn, "get_sigmas_karras",
                               "sigma_min=0.02", "sigma_max=20", *keys, "--steps", str(N),
                               *guided)
    labels = ["--labels", "1"] if w is not None else ["--labels", "0"]
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, *labels, "--noise",
                                         os.path.join(work, "z.npy"))
    calls = 0
    want = [row(x, [d[r * D:(r + 1) * D] for d in draws]) for r, x in enumerate(x_init)]
    ok &= dfstest.same_run(f"{fn}({', '.join(keys)})", got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
