"""Checks the guidance rules of stdlib/guidance/evaluations.dfs against
their papers' formulas, written out here on the raw evaluations Diffuse's
own one-step samplers return (Inputs/evaluations.dfs) on a 16-D
class-conditional mixture: negative conditions, composable diffusion,
autoguidance with a second model (of the same conventions, of another time encoding,
or of another EDM sigma_data), and classifier guidance, which with the
mixture's exact classifier is classifier-free guidance (Ho & Salimans 2021,
section 3.2) and must agree with it to rounding in both coordinates.

usage: check-evaluations.py DIFFUSE SPEC WORKDIR"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B = 16, 4
mix = dfstest.class_mixture(work, D, B)
weak = dict(mix, stds=[1.5 * s for s in mix["stds"]])
json.dump(weak, open(os.path.join(work, "weak.json"), "w"))


def run(sampler, *extra, data="mix.json"):
    return dfstest.run_samples(diffuse, spec, work, sampler, B, *extra, data=data,
                               out=os.path.join(work, sampler + str(len(extra))))


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
# The same weak model with its time as t x 1000, or preconditioned as in
# EDM with sigma_data = 1: each model is called with its own time and input.
weak_for = ["--mixture-for", "weak_ms=" + os.path.join(work, "weak.json")]
got, n = run("auto2_ms", *weak_for)
ok &= compare("autoguidance, guide's time scaled(1000)", got,
              [[w_[j] + 2 * (m[j] - w_[j]) for j in range(D)] for m, w_ in zip(xm, xw)], n,
              1e-13)
weak_for = ["--mixture-for", "weak_edm=" + os.path.join(work, "weak.json")]
got, n = run("auto2_edm", *weak_for)
ok &= compare("autoguidance, guide edm(sigma_data = 1)", got,
              [[w_[j] + 2 * (m[j] - w_[j]) for j in range(D)] for m, w_ in zip(xm, xw)], n,
              1e-13)
cfg3, _ = run("cfg3_edm")
got, n = run("classifier3_edm")
ok &= compare("classifier = cfg, edm model", got, cfg3, n, 1e-13)
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
