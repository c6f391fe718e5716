"""Checks what `diffuse compat dpm-solver` writes for the configurations no
golden case covers (singlestep orders 1 and 2, singlestep on the noise
prediction, time_quadratic, solver_type 'taylor', 'singlestep_fixed',
multistep order 1, model_wrapper's x_start, v and score models,
denoise_to_zero and method='adaptive') against
DPM_Solver.sample of the DPM-Solver repository
(LuChengTHU/dpm-solver, dpm_solver_pytorch.py), written out here in plain
Python from its source: NoiseScheduleVP('linear'), get_time_steps,
get_orders_and_timesteps_for_singlestep_solver and the first, second and
third order updates, on an 8-D mixture whose exact noise prediction is the
model. Each configuration must make the repository's number of network
calls and agree to 1e-12 relative.

usage: check-dpm-solver.py DIFFUSE WORKDIR"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)

# NoiseScheduleVP('linear'): beta_0 = 0.1, beta_1 = 20, T = 1, t_0 = 1/N.
B0, B1 = 0.1, 20.0


def log_alpha(t):
    return -0.25 * t ** 2 * (B1 - B0) - 0.5 * t * B0


def std(t):
    return math.sqrt(1.0 - math.exp(2.0 * log_alpha(t)))


def lam(t):
    la = log_alpha(t)
    return la - 0.5 * math.log(1.0 - math.exp(2.0 * la))


def inverse_lambda(lamb):
    tmp = 2.0 * (B1 - B0) * math.log1p(math.exp(-2.0 * lamb))
    return tmp / (math.sqrt(B0 ** 2 + tmp) + B0) / (B1 - B0)


def linspace(a, b, n):  # torch.linspace: from the start, then back from the end
    step = (b - a) / (n - 1)
    return [a + i * step if i < n // 2 else b - (n - 1 - i) * step for i in range(n)]


def time_steps(skip, t_T, t_0, n):
    if skip == "logSNR":
        return [inverse_lambda(v) for v in linspace(lam(t_T), lam(t_0), n + 1)]
    if skip == "time_uniform":
        return linspace(t_T, t_0, n + 1)
    return [v ** 2 for v in linspace(t_T ** 0.5, t_0 ** 0.5, n + 1)]


calls = 0


def model(x, t, plus):
    """The repository's model_fn: the noise prediction, or (dpmsolver++) the
    data prediction (x - sigma eps) / alpha made from it."""
    global calls
    calls += 1
    a, s = math.exp(log_alpha(t)), std(t)
    x0 = dfstest.mixture_denoise(mix, x, a, s)
    eps = [(v - a * m) / s for v, m in zip(x, x0)]
    return [(v - s * e) / a for v, e in zip(x, eps)] if plus else eps


def comb(*terms):  # sum of coefficient * vector
    return [sum(c * v[i] for c, v in terms) for i in range(len(terms[0][1]))]


def sub(u, v):
    return [a - b for a, b in zip(u, v)]


def first(x, s, t, plus, m=None):
    h = lam(t) - lam(s)
    m = m if m is not None else model(x, s, plus)
    if plus:
        return comb((std(t) / std(s), x), (-math.exp(log_alpha(t)) * math.expm1(-h), m))
    return comb((math.exp(log_alpha(t) - log_alpha(s)), x), (-std(t) * math.expm1(h), m))


def second(x, s, t, r1, plus, taylor, m=None, inner=None):
    """The second-order update; `m` is the model at s when known, and the
    model at the inner point is appended to `inner` when given."""
    h = lam(t) - lam(s)
    s1 = inverse_lambda(lam(s) + r1 * h)
    a1, at = math.exp(log_alpha(s1)), math.exp(log_alpha(t))
    m = m if m is not None else model(x, s, plus)
    if plus:
        p11, p1 = math.expm1(-r1 * h), math.expm1(-h)
        m1 = model(comb((std(s1) / std(s), x), (-a1 * p11, m)), s1, plus)
        if inner is not None:
            inner.append(m1)
        if taylor:
            return comb((std(t) / std(s), x), (-at * p1, m), (at * (p1 / h + 1) / r1, sub(m1, m)))
        return comb((std(t) / std(s), x), (-at * p1, m), (-0.5 / r1 * at * p1, sub(m1, m)))
    p11, p1 = math.expm1(r1 * h), math.expm1(h)
    ks1, kt = math.exp(log_alpha(s1) - log_alpha(s)), math.exp(log_alpha(t) - log_alpha(s))
    m1 = model(comb((ks1, x), (-std(s1) * p11, m)), s1, plus)
    if inner is not None:
        inner.append(m1)
    if taylor:
        return comb((kt, x), (-std(t) * p1, m), (-std(t) * (p1 / h - 1) / r1, sub(m1, m)))
    return comb((kt, x), (-std(t) * p1, m), (-0.5 / r1 * std(t) * p1, sub(m1, m)))


def third(x, s, t, r1, r2, plus, taylor, m=None, m1=None):
    h = lam(t) - lam(s)
    s1, s2 = inverse_lambda(lam(s) + r1 * h), inverse_lambda(lam(s) + r2 * h)
    m = m if m is not None else model(x, s, plus)
    g = -1 if plus else 1  # the sign of h in the exponentials
    p11, p12, p1 = math.expm1(g * r1 * h), math.expm1(g * r2 * h), math.expm1(g * h)
    p22 = math.expm1(g * r2 * h) / (r2 * h) + (1 if plus else -1)
    p2 = p1 / h + (1 if plus else -1)
    p3 = p2 / h - 0.5
    if plus:
        a1, a2, at = (math.exp(log_alpha(u)) for u in (s1, s2, t))
        k1, k2, kt = std(s1) / std(s), std(s2) / std(s), std(t) / std(s)
        c1, c2, ct = a1, a2, at  # the coefficients of the model terms
    else:
        k1, k2, kt = (math.exp(log_alpha(u) - log_alpha(s)) for u in (s1, s2, t))
        c1, c2, ct = std(s1), std(s2), std(t)
    m1 = m1 if m1 is not None else model(comb((k1, x), (-c1 * p11, m)), s1, plus)
    m2 = model(comb((k2, x), (-c2 * p12, m), (-g * r2 / r1 * c2 * p22, sub(m1, m))), s2, plus)
    if taylor:
        d10, d11 = [v / r1 for v in sub(m1, m)], [v / r2 for v in sub(m2, m)]
        d1 = [(r2 * a - r1 * b) / (r2 - r1) for a, b in zip(d10, d11)]
        d2 = [2 * (b - a) / (r2 - r1) for a, b in zip(d10, d11)]
        return comb((kt, x), (-ct * p1, m), (-g * ct * p2, d1), (-ct * p3, d2))
    return comb((kt, x), (-ct * p1, m), (-g / r2 * ct * p2, sub(m2, m)))


def singlestep(x, steps, order, skip, plus, taylor, fixed, t_T=1.0, t_0=1e-3):
    if fixed:
        orders = [order] * (steps // order)
        outer = time_steps(skip, t_T, t_0, len(orders))
    else:
        if order == 3:
            K = steps // 3 + 1
            orders = [3] * (K - 2) + [2, 1] if steps % 3 == 0 else \
                [3] * (K - 1) + [1] if steps % 3 == 1 else [3] * (K - 1) + [2]
        elif order == 2:
            K = (steps + 1) // 2
            orders = [2] * K if steps % 2 == 0 else [2] * (K - 1) + [1]
        else:
            K, orders = steps, [1] * steps
        if skip == "logSNR":
            outer = time_steps(skip, t_T, t_0, K)
        else:
            grid = time_steps(skip, t_T, t_0, steps)
            cum = [sum(orders[:i]) for i in range(len(orders) + 1)]
            outer = [grid[c] for c in cum]
    for k, o in enumerate(orders):
        s, t = outer[k], outer[k + 1]
        inner = [lam(u) for u in time_steps(skip, s, t, o)]
        h = inner[-1] - inner[0]
        if o == 1:
            x = first(x, s, t, plus)
        elif o == 2:
            x = second(x, s, t, (inner[1] - inner[0]) / h, plus, taylor)
        else:
            x = third(x, s, t, (inner[1] - inner[0]) / h, (inner[2] - inner[0]) / h, plus, taylor)
    return x


def multistep(x, steps, order, skip, plus, taylor, t_T=1.0, t_0=1e-3):
    ts = time_steps(skip, t_T, t_0, steps)
    ms, tl = [model(x, ts[0], plus)], [ts[0]]
    for step in range(1, steps + 1):
        o = min(order, step, steps + 1 - step) if steps < 10 else min(order, step)
        s, t = tl[-1], ts[step]
        h = lam(t) - lam(s)
        if o == 1:
            x = first(x, s, t, plus, ms[-1])
        else:
            r0 = (lam(s) - lam(tl[-2])) / h
            d10 = [v / r0 for v in sub(ms[-1], ms[-2])]
            g = -1 if plus else 1
            p1 = math.expm1(g * h)
            kt = std(t) / std(s) if plus else math.exp(log_alpha(t) - log_alpha(s))
            ct = math.exp(log_alpha(t)) if plus else std(t)
            if o == 2:
                w = -g * ct * (p1 / h + (1 if plus else -1)) if taylor else -0.5 * ct * p1
                x = comb((kt, x), (-ct * p1, ms[-1]), (w, d10))
            else:
                r1 = (lam(tl[-2]) - lam(tl[-3])) / h
                d11 = [v / r1 for v in sub(ms[-2], ms[-3])]
                d1 = [a + r0 / (r0 + r1) * (a - b) for a, b in zip(d10, d11)]
                d2 = [(a - b) / (r0 + r1) for a, b in zip(d10, d11)]
                p2 = p1 / h + (1 if plus else -1)
                p3 = p2 / h - 0.5
                x = comb((kt, x), (-ct * p1, ms[-1]), (-g * ct * p2, d1), (-ct * p3, d2))
        tl = (tl + [t])[-order:]
        if step < steps:
            ms = (ms + [model(x, t, plus)])[-order:]
    return x


def adaptive(xs, order, plus, taylor, rtol, atol, t_T=1.0, t_0=1e-3, h_init=0.05,
             theta=0.9, t_err=1e-5):
    """DPM_Solver.dpm_solver_adaptive on the whole batch xs: one step size
    for every sample, the error norm the largest of the samples' RMS."""
    s, lam_0 = t_T, lam(t_0)
    lam_s, h = lam(s), h_init
    x_prev = xs
    while abs(s - t_0) > t_err:
        t = inverse_lambda(lam_s + h)
        lower, higher = [], []
        for x in xs:
            m = model(x, s, plus)
            if order == 2:
                lower.append(first(x, s, t, plus, m))
                higher.append(second(x, s, t, 0.5, plus, taylor, m))
            else:
                inner = []
                lower.append(second(x, s, t, 1 / 3, plus, taylor, m, inner))
                higher.append(third(x, s, t, 1 / 3, 2 / 3, plus, taylor, m, inner[0]))
        E = 0.0
        for xl, xh, xp in zip(lower, higher, x_prev):
            d = [max(atol, rtol * max(abs(a), abs(b))) for a, b in zip(xl, xp)]
            E = max(E, math.sqrt(sum(((a - b) / c) ** 2 for a, b, c in zip(xh, xl, d)) / len(d)))
        if E <= 1:
            xs, s, x_prev, lam_s = higher, t, lower, lam(t)
        # torch.float_power(E, -1 / order).float(): the factor in float32.
        f = dfstest.f32(E ** (-1.0 / order)) if E > 0 else math.inf
        h = min(theta * h * f, lam_0 - lam_s)
    return xs


CASES = [
    # (method, order, skip_type, algorithm, solver_type, steps[, model_type])
    ("singlestep", 3, "time_uniform", "dpmsolver++", "dpmsolver", 9),
    ("singlestep", 3, "time_quadratic", "dpmsolver++", "dpmsolver", 11),
    ("singlestep", 3, "logSNR", "dpmsolver++", "taylor", 12),
    ("singlestep", 3, "time_uniform", "dpmsolver", "dpmsolver", 10),
    ("singlestep", 3, "logSNR", "dpmsolver", "taylor", 11),
    ("singlestep", 3, "time_quadratic", "dpmsolver", "taylor", 9),
    ("singlestep", 2, "time_uniform", "dpmsolver++", "dpmsolver", 7),
    ("singlestep", 2, "logSNR", "dpmsolver++", "taylor", 9),
    ("singlestep", 2, "time_quadratic", "dpmsolver", "taylor", 8),
    ("singlestep", 2, "logSNR", "dpmsolver", "dpmsolver", 6),
    ("singlestep", 1, "time_quadratic", "dpmsolver", "dpmsolver", 6),
    ("singlestep_fixed", 3, "logSNR", "dpmsolver++", "dpmsolver", 10),
    ("singlestep_fixed", 2, "time_uniform", "dpmsolver", "dpmsolver", 8),
    ("multistep", 1, "logSNR", "dpmsolver", "dpmsolver", 6),
    ("multistep", 2, "time_uniform", "dpmsolver++", "taylor", 8),
    ("multistep", 2, "time_quadratic", "dpmsolver", "taylor", 12),
    ("multistep", 3, "time_quadratic", "dpmsolver", "dpmsolver", 8),
    # The network predicts x0, v or the score; the solvers see its noise
    # prediction, as model_wrapper converts it.
    ("multistep", 2, "logSNR", "dpmsolver++", "dpmsolver", 7, "model_type=x_start"),
    ("singlestep", 3, "time_uniform", "dpmsolver", "dpmsolver", 8, "model_type=v"),
    ("multistep", 3, "time_uniform", "dpmsolver++", "dpmsolver", 12, "model_type=score"),
    # denoise_to_zero: one more call, the data prediction at t_0.
    ("multistep", 2, "time_uniform", "dpmsolver", "dpmsolver", 8, "denoise_to_zero=true"),
    ("singlestep", 3, "logSNR", "dpmsolver++", "dpmsolver", 10, "denoise_to_zero=true"),
    # method='adaptive' (DPM-Solver-12 and -23; skip_type and steps are
    # unused), at the default tolerances and tighter ones.
    ("adaptive", 2, "time_uniform", "dpmsolver++", "dpmsolver", 20),
    ("adaptive", 3, "time_uniform", "dpmsolver", "dpmsolver", 20),
    ("adaptive", 3, "time_uniform", "dpmsolver++", "taylor", 20, "rtol=0.01", "atol=0.001"),
    ("adaptive", 2, "time_uniform", "dpmsolver", "taylor", 20, "rtol=0.02", "atol=0.002"),
]

ok = True
for method, order, skip, algo, kind, steps, *extra in CASES:
    keys = [f"method={method}", f"order={order}", f"skip_type={skip}", f"algorithm_type={algo}",
            f"solver_type={kind}", "schedule=linear"] + extra
    spec = dfstest.compat_spec(diffuse, work, "dpm-solver", *keys, "--steps", str(steps))
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0")
    calls = 0
    plus, taylor = algo == "dpmsolver++", kind == "taylor"
    if method == "multistep":
        want = [multistep(x, steps, order, skip, plus, taylor) for x in x_init]
    elif method == "adaptive":
        tol = dict(kv.split("=") for kv in extra)
        want = adaptive(x_init, order, plus, taylor, float(tol.get("rtol", 0.05)),
                        float(tol.get("atol", 0.0078)))
    else:
        want = [singlestep(x, steps, order, skip, plus, taylor, method == "singlestep_fixed")
                for x in x_init]
    if "denoise_to_zero=true" in extra:  # the data prediction at t_0
        want = [model(x, 1e-3, True) for x in want]
    what = f"{method} order {order}" + (f" {skip}" if method != "adaptive" else "")
    note = "".join(f" {kv.split('=')[-1] if kv.startswith('model_type') else kv}" for kv in extra)
    size = f" N={steps}" if method != "adaptive" else ""
    ok &= dfstest.same_run(f"{what} {algo} {kind}{note}{size}", got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
