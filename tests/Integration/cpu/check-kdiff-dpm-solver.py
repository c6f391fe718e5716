"""Checks `diffuse compat k-diffusion sample_dpm_fast` (DPM-Solver-fast)
and `sample_dpm_adaptive` (DPM-Solver-12/23) against k-diffusion's
DPMSolver.dpm_solver_fast and dpm_solver_adaptive written out here in
plain Python from its source. Fast: floor(n / 3) + 1 steps of
torch.linspace in t = -log sigma, of orders 3, ..., 3, 2, 1 (n divisible
by 3) or 3, ..., 3, n mod 3, each DPM-Solver-1/2/3 step on the noise
prediction eps = (x - D(x, sigma)) / sigma with inner points at r1 = 1/3,
r2 = 2/3 (order 3) or 1/2 (order 2). Adaptive: attempts of the lower and
higher order pair from s to min(t_end, s + h), the error
||(low - high) / max(atol, rtol max(|low|, |low of the last accepted
attempt|))|| / sqrt(numel) over the whole batch, and PIDStepSizeController
(the factor 1 + atan(f - 1) sizes every next attempt; an attempt is
accepted at accept_safety or above), until s >= t_end - 1e-5. The model is
the exact denoiser of an 8-D mixture; eta = 0.

usage: check-kdiff-dpm-solver.py DIFFUSE WORKDIR"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
calls = 0


def torch_linspace(a, b, n):  # float64; the second half counted from the end
    step = (b - a) / (n - 1)
    return [a + i * step if i < n // 2 else b - (n - 1 - i) * step for i in range(n)]


def eps(x, t):
    global calls
    calls += 1
    sigma = math.exp(-t)
    den = dfstest.mixture_denoise(mix, x, 1.0, sigma)
    return [(a - b) / sigma for a, b in zip(x, den)]


def lin(*terms):  # sum of coefficient * vector
    return [sum(c * v[i] for c, v in terms) for i in range(D)]


def step1(x, t, tn, e):
    h = tn - t
    return lin((1, x), (-math.exp(-tn) * math.expm1(h), e))


def step2(x, t, tn, e, r1=0.5):
    h = tn - t
    s1 = t + r1 * h
    u1 = lin((1, x), (-math.exp(-s1) * math.expm1(r1 * h), e))
    e1 = eps(u1, s1)
    sn = math.exp(-tn)
    return lin((1, x), (-sn * math.expm1(h), e), (-sn / (2 * r1) * math.expm1(h), lin((1, e1), (-1, e))))


def step3(x, t, tn, e, r1=1 / 3, r2=2 / 3):
    h = tn - t
    s1, s2 = t + r1 * h, t + r2 * h
    u1 = lin((1, x), (-math.exp(-s1) * math.expm1(r1 * h), e))
    e1 = eps(u1, s1)
    u2 = lin((1, x), (-math.exp(-s2) * math.expm1(r2 * h), e),
             (-math.exp(-s2) * (r2 / r1) * (math.expm1(r2 * h) / (r2 * h) - 1), lin((1, e1), (-1, e))))
    e2 = eps(u2, s2)
    sn = math.exp(-tn)
    return lin((1, x), (-sn * math.expm1(h), e),
               (-sn / r2 * (math.expm1(h) / h - 1), lin((1, e2), (-1, e))))


def dpm_fast(x, sigma_min, sigma_max, nfe):
    m = nfe // 3 + 1
    ts = torch_linspace(-math.log(sigma_max), -math.log(sigma_min), m + 1)
    orders = [3] * (m - 2) + [2, 1] if nfe % 3 == 0 else [3] * (m - 1) + [nfe % 3]
    for i, order in enumerate(orders):
        e = eps(x, ts[i])
        x = [step1, step2, step3][order - 1](x, ts[i], ts[i + 1], e)
    return x


def dpm_adaptive(xs, sigma_min, sigma_max, order=3, rtol=0.05, atol=0.0078, h_init=0.05,
                 pcoeff=0.0, icoeff=1.0, dcoeff=0.0, accept_safety=0.81):
    """The whole batch (a list of rows): one step size for all of them."""
    global calls
    t_start, t_end = -math.log(sigma_max), -math.log(sigma_min)
    b1, b2, b3 = (pcoeff + icoeff + dcoeff) / order, -(pcoeff + 2 * dcoeff) / order, \
        dcoeff / order
    h, s, errs, x_prev, attempts = h_init, t_start, [], [list(r) for r in xs], 0
    while s < t_end - 1e-5:
        attempts += 1
        t = min(t_end, s + h)
        low, high = [], []
        for x in xs:
            e = eps(x, s)
            if order == 2:
                low.append(step1(x, s, t, e))
                high.append(step2(x, s, t, e))
            else:
                low.append(step2(x, s, t, e, r1=1 / 3))
                high.append(step3(x, s, t, e))
                calls -= 1  # k-diffusion's eps_cache: the two share eps at s + h / 3
        total, n = 0.0, 0
        for lo_r, hi_r, pr in zip(low, high, x_prev):
            for a, b, p in zip(lo_r, hi_r, pr):
                delta = max(atol, rtol * max(abs(a), abs(p)))
                total += ((a - b) / delta) ** 2
                n += 1
        error = math.sqrt(total) / math.sqrt(n)
        inv = 1 / (error + 1e-8)
        if not errs:
            errs = [inv, inv, inv]
        errs[0] = inv
        factor = errs[0] ** b1 * errs[1] ** b2 * errs[2] ** b3
        factor = 1 + math.atan(factor - 1)
        if factor >= accept_safety:
            errs[2], errs[1] = errs[1], errs[0]
            x_prev, xs, s = low, high, t
        h *= factor
    return xs, attempts


CASES = [(10, 0.02, 30.0), (9, 0.02, 30.0), (7, 0.05, 10.0), (2, 0.1, 20.0), (15, 0.002, 80.0)]
ADAPTIVE = [(0.02, 30.0, {}), (0.002, 80.0, {"order": 2}),
            (0.05, 10.0, {"rtol": 0.01, "atol": 0.001, "pcoeff": 0.1, "dcoeff": 0.05}),
            (0.02, 30.0, {"accept_safety": 0.95, "h_init": 0.2})]
ok = True
for nfe, lo, hi in CASES:
    spec = dfstest.compat_spec(diffuse, work, "k-diffusion", "sample_dpm_fast", f"sigma_min={lo}",
                               f"sigma_max={hi}", "--steps", str(nfe))
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0")
    calls = 0
    want = [dpm_fast(x, lo, hi, nfe) for x in x_init]
    ok &= dfstest.same_run(f"sample_dpm_fast(n={nfe}, sigma_min={lo}, sigma_max={hi})", got, want,
                           got_calls, calls // B)
for lo, hi, args in ADAPTIVE:
    keys = [f"{k}={v}" for k, v in args.items()]
    spec = dfstest.compat_spec(diffuse, work, "k-diffusion", "sample_dpm_adaptive",
                               f"sigma_min={lo}", f"sigma_max={hi}", *keys)
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0")
    calls = 0
    want, attempts = dpm_adaptive(x_init, lo, hi, **args)
    ok &= dfstest.same_run(f"sample_dpm_adaptive(sigma_min={lo}, sigma_max={hi}"
                           f"{''.join(', ' + k for k in keys)}): {attempts} attempts", got, want,
                           got_calls, calls // B)
sys.exit(0 if ok else 1)
