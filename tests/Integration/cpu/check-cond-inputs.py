"""Checks named conditioning inputs (a model parameter after x, given with
--cond NAME[.K]=FILE.npy) on the analytic network of a 3-component
mixture, which reads an input of one value per component as weights on
its components (Inputs/cond-inputs.dfs):

- a one-hot weight per class is the class label: guided samplers give the
  label-conditioned samples to the last bit, per sample, in every
  condition set (CFG; a negative prompt in set 1), with an f64 or an f32
  input;
- an unconditional value given with .none replaces the zeros;
- a soft weight vector gives the exact eps of the reweighted mixture.

usage: check-cond-inputs.py DIFFUSE SPEC WORKDIR"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B = 16, 4
mix = dfstest.class_mixture(work, D, B)


def npy(name, rows):
    path = os.path.join(work, name + ".npy")
    dfstest.write_npy(path, rows)
    return path


def onehot(k):
    return [1.0 if j == k else 0.0 for j in range(3)]


runs = []


def run(sampler, *extra):
    """The samples of `sampler` in work/run-N (N counts the runs from 0)."""
    runs.append(sampler)
    return dfstest.run_samples(diffuse, spec, work, sampler, B, *extra,
                               out=os.path.join(work, "run-%d" % (len(runs) - 1)))


def compare(name, got, want, tol=0.0):
    err = max(abs(a - b) / max(1.0, abs(b)) for g, w_ in zip(got, want) for a, b in zip(g, w_))
    verdict = "ok" if err <= tol else "FAIL"
    bound = "to the last bit" if tol == 0 else f"<= {tol:.0e}"
    print(f"{name}: max relative difference {err:.1e} ({bound}): {verdict}")
    return verdict == "ok"


ok = True
labels = [2, 0, 1, 2]
per_sample = npy("per_sample", [onehot(k) for k in labels])
want, _ = run("cfg_label", "--labels", ",".join(map(str, labels)))
got, _ = run("cfg_prompt", "--cond", "prompt=" + per_sample)
ok &= compare("cfg, one prompt per sample = labels", got, want)
got, _ = run("cfg_prompt32", "--cond", "prompt=" + per_sample)
ok &= compare("cfg, f32 prompt = labels", got, want)
# The mixture as it is, given as the unconditional value: the same samples.
got, _ = run("cfg_prompt", "--cond", "prompt=" + per_sample,
             "--cond", "prompt.none=" + npy("flat", [[1.0, 1.0, 1.0]]))
ok &= compare("cfg, prompt.none = [1, 1, 1]", got, want)
# A negative prompt: set 0 one value for the batch, set 1 per sample.
want, _ = run("negative_label", "--labels", "1", "--labels", "0,2,0,2")
got, _ = run("negative_prompt", "--cond", "prompt=" + npy("one", [onehot(1)]),
             "--cond", "prompt.1=" + npy("neg", [onehot(k) for k in [0, 2, 0, 2]]))
ok &= compare("negative prompt = label sets", got, want)
# A soft prompt: the exact eps of the mixture with weights w_k p_k.
soft = [0.2, 0.0, 1.5]
got, _ = run("raw_prompt", "--cond", "prompt=" + npy("soft", [soft]))
x = [list(dfstest.read_npy(os.path.join(work, "x.npy"))[i * D:(i + 1) * D]) for i in range(B)]
a, s = math.cos(math.pi / 2 * 0.5), math.sin(math.pi / 2 * 0.5)
rew = dict(mix, weights=[w * p for w, p in zip(mix["weights"], soft)])
rew = {k: [v for v, p in zip(rew[k], soft) if p > 0] if k in ("weights", "means", "stds")
       else rew[k] for k in rew}
want = []
for row in x:
    x0 = dfstest.mixture_denoise(rew, row, a, s)
    want.append([(v - a * m) / s for v, m in zip(row, x0)])
ok &= compare("soft prompt: eps of the reweighted mixture", got, want, 1e-12)
sys.exit(0 if ok else 1)
