"""Checks the guidance rules of stdlib/guidance/evaluations.dfs against
their papers' formulas, written out here on the raw evaluations Diffuse's
own one-step samplers return (Inputs/evaluations.dfs) on a 16-D
class-conditional mixture: negative conditions, composable diffusion,
autoguidance with a second model, and classifier guidance, which with the
mixture's exact classifier is classifier-free guidance (Ho & Salimans 2021,
section 3.2) and must agree with it to rounding in both coordinates.

usage: check-evaluations.py DIFFUSE SPEC WORKDIR"""
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B = 16, 4
rng = random.Random(7)
mix = {"dim": D, "weights": [0.3, 0.3, 0.4],
       "means": [[rng.gauss(0, 1.5) for _ in range(D)] for _ in range(3)],
       "stds": [0.3, 0.5, 0.4], "classes": [0, 1, 2]}
weak = dict(mix, stds=[1.5 * s for s in mix["stds"]])
os.makedirs(work, exist_ok=True)
json.dump(mix, open(os.path.join(work, "mix.json"), "w"))
json.dump(weak, open(os.path.join(work, "weak.json"), "w"))
dfstest.write_npy(os.path.join(work, "x.npy"), [[rng.gauss(0, 1) for _ in range(D)] for _ in range(B)])


def run(sampler, *extra, data="mix.json"):
    out = os.path.join(work, sampler + str(len(extra)))
    p = subprocess.run([diffuse, "run", spec, "--sampler", sampler, "--mixture",
                        os.path.join(work, data), "--x-init", os.path.join(work, "x.npy"),
                        "--batch", str(B), "--out", out, *extra], capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stdout + p.stderr)
    v = dfstest.read_npy(os.path.join(out, "samples.npy"))
    calls = int(p.stdout.split(" network calls")[0].split()[-1])
    return [list(v[i * D:(i + 1) * D]) for i in range(B)], calls


def compare(name, got, want, calls, tol=0.0):
    err = max(abs(a - b) / max(1.0, abs(b)) for g, w_ in zip(got, want) for a, b in zip(g, w_))
    verdict = "ok" if err <= tol else "FAIL"
    bound = "to the last bit" if tol == 0 else f"<= {tol:.0e}"
    print(f"{name}: {calls} network call(s), max relative difference {err:.1e} ({bound}): "
          f"{verdict}")
    return verdict == "ok"


# Raw evaluations, each alone (the weak model's x0 on its own mixture).
eu, _ = run("raw", "--set", "raw.guidance=take_uncond")
ec, _ = run("raw", "--set", "raw.guidance=take_cond")
ec1, _ = run("raw")
xm, _ = run("x0_m")
xw, _ = run("x0_weak", data="weak.json")
ok = True
got, n = run("negative3")
ok &= compare("negative", got, [[a[j] + 3 * (b[j] - a[j]) for j in range(D)]
                                for a, b in zip(ec1, ec)], n)
got, n = run("composed")
ok &= compare("compose", got, [[u[j] + 2 * (a[j] - u[j]) + 1.5 * (b[j] - u[j]) for j in range(D)]
                               for u, a, b in zip(eu, ec, ec1)], n)
got, n = run("auto2", "--mixture-for", "weak=" + os.path.join(work, "weak.json"))
ok &= compare("autoguidance", got, [[w_[j] + 2 * (m[j] - w_[j]) for j in range(D)]
                                    for m, w_ in zip(xm, xw)], n)
cfg3, _ = run("cfg3")
got, n = run("classifier3")
ok &= compare("classifier = cfg", got, cfg3, n, 1e-13)
cfg3ve, _ = run("cfg3", "--set", "cfg3.coords=ve")
got, n = run("classifier3", "--set", "classifier3.coords=ve")
ok &= compare("classifier = cfg, ve coordinates", got, cfg3ve, n, 1e-13)
# Label sets given on the command line: set 0 all class 2, set 1 as before.
eu2, _ = run("raw", "--set", "raw.guidance=take_cond", "--labels", "2")
got, n = run("composed", "--labels", "2", "--labels", "1,0")
ok &= compare("compose, --labels", got,
              [[u[j] + 2 * (a[j] - u[j]) + 1.5 * (b[j] - u[j]) for j in range(D)]
               for u, a, b in zip(eu, eu2, ec1)], n)
sys.exit(0 if ok else 1)
