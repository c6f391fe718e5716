"""Checks `diffuse compat diffusers DPMSolverSinglestepScheduler` for the
configurations no golden case covers (algorithm_type "dpmsolver",
solver_type "heun", lower_order_final=False, final_sigmas_type="sigma_min"
with orders that end inside a block) against DPMSolverSinglestepScheduler's
get_order_list and step(), and DPMSolverMultistepScheduler with
euler_at_final, the noise prediction's third order, algorithm_type
"sde-dpmsolver" and "sde-dpmsolver++" at order 3 (with replayed noise)
against its step(),
written out here in plain Python from diffusers' source. Its set_timesteps is not redone here (the golden cases check it):
the sigmas are the ones `diffuse grid` lists, and the final sigma_min comes
from the table's alphas_cumprod[0] that `diffuse schedule` prints, in
float32 as diffusers computes it. The model is the exact noise prediction of
an 8-D mixture at the noise level of its timestep (sqrt(alphas_cumprod[t]),
as a network trained on the table sees it; the scheduler's own alpha and
sigma come from its float32 sigmas).

usage: check-dpmss.py DIFFUSE WORKDIR"""
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)
f32 = dfstest.f32


def order_list(steps, order, lower_order_final):
    if lower_order_final:
        if order == 3:
            tail = {0: [1, 2, 3] * (steps // 3 - 1) + [1, 2, 1], 1: [1, 2, 3] * (steps // 3) + [1],
                    2: [1, 2, 3] * (steps // 3) + [1, 2]}
            return tail[steps % 3]
        if order == 2:
            return [1, 2] * (steps // 2 - 1) + [1, 1] if steps % 2 == 0 else \
                [1, 2] * (steps // 2) + [1]
        return [1] * steps
    return {3: [1, 2, 3], 2: [1, 2], 1: [1]}[order] * (steps // order)


def alpha_sigma(sig):  # _sigma_to_alpha_sigma_t
    a = 1 / (sig ** 2 + 1) ** 0.5
    return a, sig * a


calls = 0


def lambdas(sigmas):
    """log(alpha / sigma) of each noise level (inf at 0)."""
    return [math.log(a) - math.log(s) if s > 0 else math.inf
            for a, s in (alpha_sigma(v) for v in sigmas)]


def convert(x, sig, model_as, plus):
    """The network's output at noise level sig as the scheduler's
    convert_model_output gives it: the data prediction (plus) or the noise
    prediction; the network sees (alpha, sigma) = model_as."""
    global calls
    calls += 1
    a, s = alpha_sigma(sig)
    am, sm = model_as
    x0 = dfstest.mixture_denoise(mix, x, am, sm)
    eps = [(v - am * m) / sm for v, m in zip(x, x0)]
    return [(v - s * e) / a for v, e in zip(x, eps)] if plus else eps


def sample(x, sigmas, model_as, orders, plus, heun):
    """DPMSolverSinglestepScheduler.step over the whole grid, on one row;
    model_as[i] is the (alpha, sigma) the network sees at step i."""
    outputs, block = [None] * 3, None
    lam = lambdas(sigmas)
    for i, order in enumerate(orders):
        outputs = outputs[1:] + [convert(x, sigmas[i], model_as[i], plus)]
        while outputs[-order] is None:
            order -= 1
        if order == 1:
            block = x
        at, st = alpha_sigma(sigmas[i + 1])
        k = i - order + 1  # the block's first step
        ab, sb = alpha_sigma(sigmas[k])
        h = lam[i + 1] - lam[k]
        ph = math.exp(-h) - 1 if plus else math.exp(h) - 1
        # x_t = lead * sample + c0 * D0 + c1 * D1 + c2 * D2, diffusers' terms
        lead = st / sb if plus else at / ab
        c0 = -at * ph if plus else -st * ph
        m0 = outputs[-1]
        if order == 1:
            x = [lead * v + c0 * m for v, m in zip(block, m0)]
            continue
        if order == 2:
            m1 = outputs[-2]
            r0 = (lam[i] - lam[k]) / h
            d1 = [(p - q) / r0 for p, q in zip(m0, m1)]
            if heun:
                c1 = at * (ph / h + 1) if plus else -st * (ph / h - 1)
            else:
                c1 = -0.5 * (at * ph if plus else st * ph)
            x = [lead * v + c0 * p + c1 * q for v, p, q in zip(block, m1, d1)]
            continue
        m1, m2 = outputs[-2], outputs[-3]
        r0, r1 = (lam[i] - lam[k]) / h, (lam[i - 1] - lam[k]) / h
        d10 = [(p - q) / r1 for p, q in zip(m1, m2)]
        d11 = [(p - q) / r0 for p, q in zip(m0, m2)]
        c1 = at * (ph / h + 1) if plus else -st * (ph / h - 1)
        if heun:
            d1 = [(r0 * p - r1 * q) / (r0 - r1) for p, q in zip(d10, d11)]
            d2 = [2 * (q - p) / (r0 - r1) for p, q in zip(d10, d11)]
            c2 = -at * ((ph + h) / h ** 2 - 0.5) if plus else -st * ((ph - h) / h ** 2 - 0.5)
            x = [lead * v + c0 * p + c1 * q + c2 * w for v, p, q, w in zip(block, m2, d1, d2)]
        else:
            x = [lead * v + c0 * p + c1 * q for v, p, q in zip(block, m2, d11)]
    return x


def multistep(x, sigmas, model_as, order, plus, heun, lof, euler_at_final, final_zero, z=None):
    """DPMSolverMultistepScheduler.step over the whole grid, on one row; with
    z (the row's draw of each step) algorithm_type "sde-dpmsolver"."""
    n = len(sigmas) - 1
    outputs, lower = [None] * order, 0
    lam = lambdas(sigmas)
    for i in range(n):
        last = i == n - 1
        lower_final = last and (euler_at_final or (lof and n < 15) or final_zero)
        lower_second = i == n - 2 and lof and n < 15
        a, s = alpha_sigma(sigmas[i])
        outputs = outputs[1:] + [convert(x, sigmas[i], model_as[i], plus)]
        at, st = alpha_sigma(sigmas[i + 1])
        h = lam[i + 1] - lam[i]
        ph = math.exp(-h) - 1 if plus else math.exp(h) - 1
        lead = st / s if plus else at / a
        c0 = -at * ph if plus else -st * ph
        m0 = outputs[-1]
        if z is not None and plus:  # sde-dpmsolver++: e^-2h where the ODE has e^-h, and noise
            e2 = math.exp(-2 * h)
            lead, c0 = st / s * math.exp(-h), at * (1 - e2)
            noise = [st * math.sqrt(1 - e2) * v for v in z[i]]
            terms = [[c0 * m + n for m, n in zip(m0, noise)]]
            if not (order == 1 or lower < 1 or lower_final):
                r0 = (lam[i] - lam[i - 1]) / h
                d10 = [(p - q) / r0 for p, q in zip(m0, outputs[-2])]
                if order == 2 or lower < 2 or lower_second:
                    c1 = at * ((1 - e2) / (-2 * h) + 1) if heun else 0.5 * at * (1 - e2)
                    terms.append([c1 * v for v in d10])
                else:  # the third-order update, its D2 weight as diffusers has it
                    r1 = (lam[i - 1] - lam[i - 2]) / h
                    d11 = [(p - q) / r1 for p, q in zip(outputs[-2], outputs[-3])]
                    c1 = at * ((1 - e2) / (-2 * h) + 1)
                    c2 = at * ((1 - e2 - 2 * h) / (2 * h) ** 2 - 0.5)
                    terms.append([c1 * (p + r0 / (r0 + r1) * (p - q)) + c2 * (p - q) / (r0 + r1)
                                  for p, q in zip(d10, d11)])
            x = [lead * v + sum(t[k] for t in terms) for k, v in enumerate(x)]
        elif z is not None:  # sde-dpmsolver: the noise prediction weighted twice, and noise
            c0, noise = 2 * c0, [st * math.sqrt(math.exp(2 * h) - 1) * v for v in z[i]]
            if order == 1 or lower < 1 or lower_final:
                x = [lead * v + c0 * m + n for v, m, n in zip(x, m0, noise)]
            else:
                r0 = (lam[i] - lam[i - 1]) / h
                d1 = [(p - q) / r0 for p, q in zip(m0, outputs[-2])]
                c1 = -2 * st * (ph / h - 1) if heun else -st * ph
                x = [lead * v + c0 * p + c1 * q + n for v, p, q, n in zip(x, m0, d1, noise)]
        elif order == 1 or lower < 1 or lower_final:
            x = [lead * v + c0 * m for v, m in zip(x, m0)]
        elif order == 2 or lower < 2 or lower_second:
            r0 = (lam[i] - lam[i - 1]) / h
            d1 = [(p - q) / r0 for p, q in zip(m0, outputs[-2])]
            if heun:
                c1 = at * (ph / h + 1) if plus else -st * (ph / h - 1)
            else:
                c1 = -0.5 * (at * ph if plus else st * ph)
            x = [lead * v + c0 * p + c1 * q for v, p, q in zip(x, m0, d1)]
        else:
            r0, r1 = (lam[i] - lam[i - 1]) / h, (lam[i - 1] - lam[i - 2]) / h
            d10 = [(p - q) / r0 for p, q in zip(m0, outputs[-2])]
            d11 = [(p - q) / r1 for p, q in zip(outputs[-2], outputs[-3])]
            d1 = [p + r0 / (r0 + r1) * (p - q) for p, q in zip(d10, d11)]
            d2 = [(p - q) / (r0 + r1) for p, q in zip(d10, d11)]
            c1 = at * (ph / h + 1) if plus else -st * (ph / h - 1)
            c2 = -at * ((ph + h) / h ** 2 - 0.5) if plus else -st * ((ph - h) / h ** 2 - 0.5)
            x = [lead * v + c0 * p + c1 * q + c2 * w for v, p, q, w in zip(x, m0, d1, d2)]
        lower = min(lower + 1, order)
    return x


CASES = [
    # (scheduler, solver_order, algorithm_type, solver_type, lower_order_final,
    #  final_sigmas_type, steps[, euler_at_final])
    ("Singlestep", 3, "dpmsolver++", "heun", True, "zero", 10),
    ("Singlestep", 3, "dpmsolver", "midpoint", True, "sigma_min", 12),
    ("Singlestep", 3, "dpmsolver", "heun", True, "sigma_min", 13),
    ("Singlestep", 2, "dpmsolver", "heun", True, "sigma_min", 9),
    ("Singlestep", 2, "dpmsolver++", "heun", True, "zero", 8),
    ("Singlestep", 3, "dpmsolver++", "midpoint", True, "sigma_min", 11),
    ("Singlestep", 3, "dpmsolver++", "heun", False, "sigma_min", 9),
    ("Singlestep", 2, "dpmsolver", "midpoint", False, "sigma_min", 10),
    # DPMSolverMultistepScheduler: euler_at_final on grids of 15 steps and
    # more (where lower_order_final does not apply), and the noise
    # prediction's third order.
    ("Multistep", 2, "dpmsolver++", "midpoint", True, "sigma_min", 20, True),
    ("Multistep", 3, "dpmsolver++", "midpoint", True, "sigma_min", 16, True),
    ("Multistep", 2, "dpmsolver", "heun", True, "sigma_min", 18, True),
    ("Multistep", 3, "dpmsolver", "midpoint", True, "sigma_min", 15, True),
    ("Multistep", 3, "dpmsolver", "midpoint", True, "sigma_min", 12, False),
    # algorithm_type "sde-dpmsolver", with replayed noise.
    ("Multistep", 2, "sde-dpmsolver", "midpoint", True, "sigma_min", 12, False),
    ("Multistep", 2, "sde-dpmsolver", "heun", False, "sigma_min", 16, False),
    # algorithm_type "sde-dpmsolver++" (replayed noise), at order 3 its D2
    # weight as diffusers has it.
    ("Multistep", 2, "sde-dpmsolver++", "midpoint", True, "zero", 10, False),  # order 2 alike
    ("Multistep", 3, "sde-dpmsolver++", "midpoint", True, "zero", 10, False),
    ("Multistep", 3, "sde-dpmsolver++", "heun", True, "sigma_min", 12, False),
    ("Multistep", 3, "sde-dpmsolver++", "midpoint", False, "zero", 16, False),
]
rng = random.Random(5)
draws = [[rng.gauss(0, 1) for _ in range(B * D)] for _ in range(20)]
dfstest.write_npy(os.path.join(work, "z.npy"), draws)

ok = True
for cls, order, algo, kind, lof, final, steps, *eaf in CASES:
    keys = [f"solver_order={order}", f"algorithm_type={algo}", f"solver_type={kind}",
            f"lower_order_final={'true' if lof else 'false'}", f"final_sigmas_type={final}"]
    euler_at_final = bool(eaf and eaf[0])
    if euler_at_final:
        keys.append("euler_at_final=true")
    spec = dfstest.compat_spec(diffuse, work, "diffusers", f"DPMSolver{cls}Scheduler", *keys,
                               "--steps", str(steps))
    rows = subprocess.run([diffuse, "grid", spec], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    grid = list(dfstest.table_rows(rows, "step"))
    sigmas = [float(r[6]) for r in grid]
    sched = subprocess.run([diffuse, "schedule", spec, "--points", "1000"], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    acp = {int(r[0]): f32(float(r[2])) for r in dfstest.table_rows(sched, "n")}
    model_as = [(math.sqrt(acp[int(r[3])]), math.sqrt(1 - acp[int(r[3])])) for r in grid]
    if final == "zero":
        sigmas.append(0.0)
    else:
        sigmas.append(f32(math.sqrt(f32(f32(1 - acp[0]) / acp[0]))))
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0",
                                         "--noise", os.path.join(work, "z.npy"))
    calls = 0
    plus, heun = algo.endswith("dpmsolver++"), kind == "heun"
    if cls == "Singlestep":
        # set_timesteps turns lower_order_final on for partial blocks and a zero final sigma.
        orders = order_list(steps, order, lof or steps % order != 0 or final == "zero")
        want = [sample(x, sigmas, model_as, orders, plus, heun) for x in x_init]
    else:
        want = [multistep(x, sigmas, model_as, order, plus, heun, lof, euler_at_final,
                          final == "zero",
                          [d[r * D:(r + 1) * D] for d in draws] if algo.startswith("sde") else None)
                for r, x in enumerate(x_init)]
    what = f"{cls} order {order} {algo} {kind} lower_order_final={lof} {final}" + \
        (" euler_at_final" if euler_at_final else "") + f" N={steps}"
    ok &= dfstest.same_run(what, got, want, got_calls, calls // B)
sys.exit(0 if ok else 1)
