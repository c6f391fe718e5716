"""Helpers shared by the test scripts: float64 .npy files without numpy,
one step of a probe solver, the rows of a printed table, and the
order-of-convergence verdict, float32 beta tables as torch builds them,
and scipy's Beta quantile."""
import math
import os
import struct
import subprocess
import sys
import tempfile


# diffusers' beta tables as torch computes them in float32.
def f32(x):
    """x rounded to float32."""
    return struct.unpack("f", struct.pack("f", x))[0]


def linspace(a, b, n):  # torch.linspace in float32
    step = f32(f32(f32(b) - f32(a)) / (n - 1))
    return [f32(f32(a) + f32(step * i)) if i < n // 2 else f32(f32(b) - f32(step * (n - 1 - i)))
            for i in range(n)]


def linspace64(a, b, n):
    """numpy's float64 linspace: i * step + start, the last point exactly b."""
    if n == 1:
        return [a]
    step = (b - a) / (n - 1)
    return [i * step + a for i in range(n - 1)] + [b]


def arange(start, stop, step):
    """numpy's float arange: ceil((stop - start) / step) values, start and
    start + step, then start + k * delta with delta the difference of those
    two (which can differ from step in its last bits)."""
    n = max(math.ceil((stop - start) / step), 0)
    delta = (start + step) - start
    return [start if k == 0 else start + step if k == 1 else start + k * delta
            for k in range(n)]


def cumprod(a):  # torch's CPU cumprod of float32: accumulated in double
    out, p = [], 1.0
    for v in a:
        p *= v
        out.append(f32(p))
    return out


def alphas(betas):
    return [f32(1.0 - b) for b in betas]


def diffusers_betas(kind, n=1000, start=None, end=None):
    """diffusers' beta tables as torch builds them: linear and scaled_linear
    in float32 (defaults 0.0001..0.02 and 0.00085..0.012), squaredcos_cap_v2
    (betas_for_alpha_bar) in float64, then float32."""
    if kind == "squaredcos_cap_v2":
        bar = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
        return [f32(min(1 - bar((i + 1) / n) / bar(i / n), 0.999)) for i in range(n)]
    if kind == "scaled_linear":
        lo, hi = start or 0.00085, end or 0.012
        return [f32(b * b) for b in linspace(math.sqrt(lo), math.sqrt(hi), n)]
    return linspace(start or 0.0001, end or 0.02, n)


def table_sigmas(acp):
    """The float32 noise levels sqrt((1 - acp) / acp) of a table."""
    return [f32(math.sqrt(f32(f32(1 - a) / a))) for a in acp]


def diffusers_sigmas(kind, n=1000):
    """The float32 noise levels of diffusers' `kind` beta table of n steps."""
    return table_sigmas(cumprod(alphas(diffusers_betas(kind, n))))


def discrete_eps(mix, acp, x_in, t):
    """The exact noise prediction of mixture `mix` as a network trained on
    the table `acp` (its float32 alphas_cumprod) sees timestep t: the
    table's noise level at an integer t, log sigma interpolated between
    entries at a fractional one (the golden files' model)."""
    if t == math.floor(t):
        a, s = math.sqrt(acp[int(t)]), math.sqrt(1 - acp[int(t)])
    else:
        lo = int(math.floor(t))
        w = t - lo
        ls = [0.5 * math.log((1 - acp[k]) / acp[k]) for k in (lo, lo + 1)]
        sig = math.exp((1 - w) * ls[0] + w * ls[1])
        a = 1 / math.sqrt(1 + sig * sig)
        s = sig * a
    x0 = mixture_denoise(mix, x_in, a, s)
    return [(v - a * m) / s for v, m in zip(x_in, x0)]


def sigma_to_t(sigma, log_sigmas):
    """diffusers' _sigma_to_t of noise level `sigma` over a table's float32
    log sigmas (a list of floats), as numpy 1.x runs it: the float64 scalar
    log sigma meets float32 arrays, so value-based casting makes the
    comparisons and the fraction w float32; (1 - w) lo + w hi is float64."""
    ls = f32(math.log(max(sigma, 1e-10)))
    lo = min(max([k for k in range(len(log_sigmas)) if ls >= log_sigmas[k]], default=0),
             len(log_sigmas) - 2)
    low, high = log_sigmas[lo], log_sigmas[lo + 1]
    w = min(max(f32(f32(low - ls) / f32(low - high)), 0.0), 1.0)
    return f32(1 - w) * lo + w * (lo + 1)


def incomplete_beta(x, a, b):
    """I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) 2F1(a + b, 1; a + 1; x),
    summed for x <= 1/2; the reflection 1 - I_{1-x}(b, a) above."""
    if x <= 0 or x >= 1:
        return min(max(x, 0.0), 1.0)
    if x > 0.5:
        return 1 - incomplete_beta(1 - x, b, a)
    lead = math.exp(a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a)
                    - math.lgamma(b)) / a
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-17 * total:
        term *= (a + b + n) / (a + 1 + n) * x
        total += term
        n += 1
    return lead * total


def beta_ppf(q, a, b):
    """scipy.stats.beta.ppf(q, a, b), written independently of Diffuse's
    (diffuse/special.h): the power series of I_x(a, b) inverted by
    bisection to the last bit."""
    if q <= 0 or q >= 1:  # scipy's ends
        return min(max(q, 0.0), 1.0)
    lo, hi = 0.0, 1.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return mid
        if incomplete_beta(mid, a, b) < q:
            lo = mid
        else:
            hi = mid


def write_npy(path, rows, cols=None):
    """Writes a list of equal-length rows of floats as a float64 .npy file;
    with `cols`, `rows` is the flat list of values of rows of that length."""
    flat = rows if cols else [v for r in rows for v in r]
    cols = cols or len(rows[0])
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (
        len(flat) // cols, cols)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%dd" % len(flat), *flat))


def read_npy(path):
    """The values of a float64 .npy file, flattened."""
    with open(path, "rb") as f:
        data = f.read()
    hlen = struct.unpack("<H", data[8:10])[0]
    body = data[10 + hlen:]
    return struct.unpack("<%dd" % (len(body) // 8), body)


def probe(diffuse, spec, process, solver, s, t):
    """The value a one-step probe sampler (named `probe` in `spec`, batch 1)
    returns for a step from s to t with the given process and solver."""
    out = tempfile.mkdtemp()
    subprocess.run([diffuse, "run", spec, "--set", f"probe.process={process}", "--set",
                    f"probe.solver={solver}", "--set", f"probe.grid=[{s!r}, {t!r}]",
                    "--batch", "1", "--out", out], capture_output=True, check=True)
    return read_npy(os.path.join(out, "samples.npy"))[0]


def table_rows(stream, first_header):
    """The whitespace-separated fields of each row of a printed table, skipping
    blank lines and the header (whose first field is `first_header`)."""
    for line in stream:
        f = line.split()
        if f and f[0] != first_header:
            yield f


def report_order(solver, n, e1, e2, order, tol):
    """Prints the measured order from errors at n and 2n steps and exits 0
    if it is within tol of the expected order."""
    observed = math.log2(e1 / e2)
    ok = abs(observed - order) <= tol
    print(f"{solver}: rms error {e1:.3e} at {n} steps, {e2:.3e} at {2 * n}: "
          f"order {observed:.2f}, expected {order:g}: {'ok' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


def golden_truth(truth_dir, kind):
    """The exact ODE problem of ../shared/golden/truth, staged for `diffuse run`:
    returns (work, exact, batch): `work` holds x.npy (the start state, batch
    rows) and mixture.json, and `exact` is the flattened exact end state. ve: sigma 80
    -> 0.002 (A_truth_ve_sigma80.json); flow: t 0 -> 1 (A_truth_condot.json)."""
    import json
    if kind == "ve":
        truth = json.load(open(os.path.join(truth_dir, "A_truth_ve_sigma80.json")))
        start = truth["y_start"]
        end = min(truth["trajectory"], key=lambda p: abs(p["sigma"] - 0.002))["y"]
    else:
        truth = json.load(open(os.path.join(truth_dir, "A_truth_condot.json")))
        start, end = truth["x_T"], truth["x_final_t1"]
    work = tempfile.mkdtemp()
    write_npy(os.path.join(work, "x.npy"), start)
    with open(os.path.join(work, "mixture.json"), "w") as f:
        json.dump({"mixture": truth["mixture"]}, f)
    return work, [v for row in end for v in row], len(start)


def class_mixture(work, dim=16, batch=4, seed=7, classes=(0, 1, 2)):
    """Writes work/mix.json, a 3-component mixture in `dim` dimensions with
    the components in `classes` (one class each by default; all 0 makes label
    0 sample the whole mixture), and work/x.npy, `batch` standard-normal
    states, both drawn from random.Random(seed); returns the mixture."""
    import json
    import random
    rng = random.Random(seed)
    mix = {"dim": dim, "weights": [0.3, 0.3, 0.4],
           "means": [[rng.gauss(0, 1.5) for _ in range(dim)] for _ in range(3)],
           "stds": [0.3, 0.5, 0.4], "classes": list(classes)}
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "mix.json"), "w") as f:
        json.dump(mix, f)
    write_npy(os.path.join(work, "x.npy"), [[rng.gauss(0, 1) for _ in range(dim)]
                                            for _ in range(batch)])
    return mix


def peer_mixture(work, dim=8, batch=4):
    """The peer checks' data in `work`: a dim-D mixture whose components are
    all in class 0 (so label 0 samples the whole mixture), and the batch's
    start states (x.npy) as rows."""
    mix = class_mixture(work, dim, batch, classes=[0, 0, 0])
    return mix, read_rows(os.path.join(work, "x.npy"), dim)


def read_rows(path, dim):
    """The rows of `dim` values of a float64 .npy file."""
    v = read_npy(path)
    return [list(v[i:i + dim]) for i in range(0, len(v), dim)]


def grid_rows(diffuse, spec, *extra):
    """The fields of each step row that `diffuse grid SPEC` prints (step,
    from, to, model time, alpha, sigma, sigma/alpha)."""
    out = subprocess.run([diffuse, "grid", spec, *extra], capture_output=True, text=True,
                         check=True).stdout
    return [r.split() for r in out.splitlines()[1:]]


def compat_spec(diffuse, work, *args):
    """Writes what `diffuse compat ARGS` prints to work/case.dfs and returns
    that path; exits with the tool's output if it fails."""
    p = subprocess.run([diffuse, "compat", *args], capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stdout + p.stderr)
    spec = os.path.join(work, "case.dfs")
    with open(spec, "w") as f:
        f.write(p.stdout)
    return spec


def max_rel_diff(got, want):
    """The largest |a - b| / max(1, |b|) over two lists of rows."""
    return max(abs(a - b) / max(1.0, abs(b)) for g, w in zip(got, want) for a, b in zip(g, w))


def same_run(what, got, want, got_calls, want_calls, tol=1e-12):
    """Prints and returns the verdict of a peer check: the same number of
    network calls and the samples within `tol` (max_rel_diff)."""
    err = max_rel_diff(got, want)
    good = err <= tol and got_calls == want_calls
    print(f"{what}: {got_calls} calls (want {want_calls}), max difference {err:.1e}: "
          f"{'ok' if good else 'FAIL'}")
    return good


def run_samples(diffuse, spec, work, sampler, batch, *extra, data="mix.json", out=None):
    """`diffuse run` of `sampler` from work/x.npy on the mixture work/`data`:
    the samples as rows, and the number of network calls it reports. Exits
    with the tool's output if it fails."""
    out = out or os.path.join(work, sampler)
    p = subprocess.run([diffuse, "run", spec, "--sampler", sampler, "--mixture",
                        os.path.join(work, data), "--x-init", os.path.join(work, "x.npy"),
                        "--batch", str(batch), "--out", out, *extra], capture_output=True,
                       text=True)
    if p.returncode:
        sys.exit(p.stdout + p.stderr)
    v = read_npy(os.path.join(out, "samples.npy"))
    dim = len(v) // batch
    calls = int(p.stdout.split(" network calls")[0].split()[-1])
    return [list(v[i * dim:(i + 1) * dim]) for i in range(batch)], calls


def mixture_denoise(mix, x, a, s):
    """E[x0 | x] for x = a x0 + s eps, x0 from an isotropic Gaussian mixture
    ({"weights", "means", "stds"}), eps standard normal: one row x."""
    logs, means = [], []
    for w, mu, sd in zip(mix["weights"], mix["means"], mix["stds"]):
        var = a * a * sd * sd + s * s
        d2 = sum((v - a * m) ** 2 for v, m in zip(x, mu))
        logs.append(math.log(w) - 0.5 * len(x) * math.log(2 * math.pi * var) - d2 / (2 * var))
        means.append([m + a * sd * sd / var * (v - a * m) for v, m in zip(x, mu)])
    top = max(logs)
    r = [math.exp(v - top) for v in logs]
    total = sum(r)
    return [sum(r[k] * means[k][i] for k in range(len(r))) / total for i in range(len(x))]
