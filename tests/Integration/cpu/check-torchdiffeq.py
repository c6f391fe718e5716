"""Checks what `diffuse compat flow_matching` writes for torchdiffeq's
adaptive methods (flow_matching's ODESolver.sample(method=...)): bosh3,
fehlberg2 and adaptive_heun, which no golden case covers, and dopri5,
which one does (so the re-implementation below is itself checked).

torchdiffeq's RKAdaptiveStepsizeODESolver is written out here in plain
Python from its source (rk_common.py, misc.py, interp.py and the
tableaus): the first step from _select_initial_step, _runge_kutta_step
(the last stage handed on as the next step's slope, even where it is not
taken at the solution), the RMS error ratio over the whole batch,
_optimal_step_size, and the quartic dense output at t = 1. The velocity
is the CondOT velocity of an 8-D mixture. Each configuration must make
the same number of network calls and agree to 1e-12 relative.

usage: check-torchdiffeq.py DIFFUSE WORKDIR"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, work = sys.argv[1:3]
D, B = 8, 4
mix, x_init = dfstest.peer_mixture(work, D, B)

# (order, alpha, beta, c_sol, c_error, c_mid) of each method.
TABLEAUS = {
    "dopri5": (5, [1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
               [[1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
                [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
                [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
                [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]],
               [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
               [35 / 384 - 1951 / 21600, 0, 500 / 1113 - 22642 / 50085, 125 / 192 - 451 / 720,
                -2187 / 6784 - -12231 / 42400, 11 / 84 - 649 / 6300, -1 / 60],
               [6025192743 / 30085553152 / 2, 0, 51252292925 / 65400821598 / 2,
                -2691868925 / 45128329728 / 2, 187940372067 / 1594534317056 / 2,
                -1776094331 / 19743644256 / 2, 11237099 / 235043384 / 2]),
    "bosh3": (3, [1 / 2, 3 / 4, 1], [[1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
              [2 / 9, 1 / 3, 4 / 9, 0], [2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8],
              [0, 0.5, 0, 0]),
    "fehlberg2": (2, [1 / 2, 1], [[1 / 2], [1 / 256, 255 / 256]], [1 / 512, 255 / 256, 1 / 512],
                  [-1 / 512, 0, 1 / 512], [0, 0.5, 0]),
    "adaptive_heun": (2, [1], [[1]], [0.5, 0.5], [0.5, -0.5], [0.5, 0]),
}

calls = 0


def velocity(t, ys):
    """The CondOT velocity x0 - eps of every row, as the runtime's mixture
    network computes it (eps = s sum_k r_k (x - a mu_k) / v_k)."""
    global calls
    calls += 1
    a, s = t, 1 - t
    out = []
    for x in ys:
        logs, x0s, epss = [], [], []
        for w, mu, sd in zip(mix["weights"], mix["means"], mix["stds"]):
            var = a * a * sd * sd + s * s
            res = [v - a * m for v, m in zip(x, mu)]
            logs.append(math.log(w) - 0.5 * len(x) * math.log(2 * math.pi * var) -
                        sum(r * r for r in res) / (2 * var))
            x0s.append([m + a * sd * sd / var * r for m, r in zip(mu, res)])
            epss.append([r / var for r in res])
        top = max(logs)
        r = [math.exp(v - top) for v in logs]
        r = [v / sum(r) for v in r]
        x0 = [sum(r[k] * x0s[k][i] for k in range(len(r))) for i in range(len(x))]
        eps = [s * sum(r[k] * epss[k][i] for k in range(len(r))) for i in range(len(x))]
        out.append([p - q for p, q in zip(x0, eps)])
    return out


def combo(y, dt, coeffs, ks):
    """y + sum_j k_j (dt c_j), row by row."""
    return [[v + sum(k[b][i] * (dt * c) for c, k in zip(coeffs, ks)) for i, v in enumerate(row)]
            for b, row in enumerate(y)]


def rms(rows):
    flat = [v for row in rows for v in row]
    return math.sqrt(sum(v * v for v in flat) / len(flat))


def solve(method, rtol, atol, t0=0.0, t1=1.0):
    order, alpha, beta, c_sol, c_error, c_mid = TABLEAUS[method]
    y0 = x_init
    f0 = velocity(t0, y0)
    # _select_initial_step(order - 1): the exponent is 1 / order.
    scale = [[atol + abs(v) * rtol for v in row] for row in y0]
    d0 = rms([[v / c for v, c in zip(r, sr)] for r, sr in zip(y0, scale)])
    d1 = rms([[v / c for v, c in zip(r, sr)] for r, sr in zip(f0, scale)])
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = velocity(t0 + h0, [[v + h0 * f for v, f in zip(r, fr)] for r, fr in zip(y0, f0)])
    d2 = rms([[(a - b) / c for a, b, c in zip(r1, r0, sr)]
              for r1, r0, sr in zip(f1, f0, scale)]) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / order)
    dt = min(100 * h0, h1)
    t, y, f = t0, y0, f0
    while True:
        ks = [f]
        for a_i, b_i in zip(alpha, beta):
            ks.append(velocity(t + a_i * dt, combo(y, dt, b_i, ks)))
        fsal = c_sol[-1] == 0 and c_sol[:-1] == beta[-1]
        y1 = combo(y, dt, beta[-1], ks[:-1]) if fsal else combo(y, dt, c_sol, ks)
        err = [[sum(k[b][i] * (dt * c) for c, k in zip(c_error, ks)) for i in range(D)]
               for b in range(len(y))]
        tol = [[atol + rtol * max(abs(p), abs(q)) for p, q in zip(r0, r1)]
               for r0, r1 in zip(y, y1)]
        ratio = rms([[e / c for e, c in zip(re, rt)] for re, rt in zip(err, tol)])
        if ratio <= 1:
            tn = t + dt
            if tn >= t1:  # the quartic through y, y_mid, y1 at t1 (_interp_fit)
                ym = combo(y, dt, c_mid, ks)
                x = (t1 - t) / (tn - t)
                out = []
                for r0, r1, rm, g0, g1 in zip(y, y1, ym, ks[0], ks[-1]):
                    row = []
                    for p0, p1, pm, q0, q1 in zip(r0, r1, rm, g0, g1):
                        a = -2 * dt * q0 + 2 * dt * q1 - 8 * p0 - 8 * p1 + 16 * pm
                        b = 5 * dt * q0 - 3 * dt * q1 + 18 * p0 + 14 * p1 - 32 * pm
                        c = -4 * dt * q0 + dt * q1 - 11 * p0 - 5 * p1 + 16 * pm
                        row.append(a * x ** 4 + b * x ** 3 + c * x ** 2 + dt * q0 * x + p0)
                    out.append(row)
                return out
            t, y, f = tn, y1, ks[-1]
        # _optimal_step_size
        if ratio == 0:
            dt *= 10
        else:
            lo = 1.0 if ratio < 1 else 0.2
            dt *= min(10.0, max(0.9 / ratio ** (1.0 / order), lo))


CASES = [("dopri5", 1e-5, 1e-5), ("bosh3", 1e-5, 1e-5), ("bosh3", 1e-3, 1e-3),
         ("fehlberg2", 1e-5, 1e-5), ("fehlberg2", 1e-2, 1e-3), ("adaptive_heun", 1e-4, 1e-4),
         ("adaptive_heun", 1e-2, 1e-2)]

ok = True
for method, rtol, atol in CASES:
    spec = dfstest.compat_spec(diffuse, work, "flow_matching", f"method={method}",
                               f"rtol={rtol}", f"atol={atol}")
    got, got_calls = dfstest.run_samples(diffuse, spec, work, "scheduler", B, "--labels", "0")
    calls = 0
    want = solve(method, rtol, atol)
    ok &= dfstest.same_run(f"{method} rtol={rtol} atol={atol}", got, want, got_calls, calls)
sys.exit(0 if ok else 1)
