"""Checks DPMSolverMultistepScheduler's and DPMSolverSinglestepScheduler's
lambda_min_clipped through `diffuse compat diffusers` against set_timesteps
written out here in plain Python: the float32 log-SNR of the table
(torch.log(sqrt(acp)) - torch.log(sqrt(1 - acp))), torch.searchsorted over
its flipped values for the clip, and the linspace and leading timesteps up
to the last unclipped one; trailing ones start there, still T / N apart
(numpy's arange, so fewer than N of them). Compares the network timesteps
`diffuse grid` lists.

usage: check-lambda-clipped.py DIFFUSE WORKDIR"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import (alphas, arange, cumprod, diffusers_betas, f32, grid_rows,  # noqa: E402
                     linspace64)

diffuse, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
T = 1000


def timesteps(kind, clip, spacing, steps):
    acp = cumprod(alphas(diffusers_betas(kind, T)))
    lam = [f32(f32(math.log(f32(math.sqrt(a)))) - f32(math.log(f32(math.sqrt(f32(1 - a))))))
           for a in acp]
    last = T - sum(1 for v in lam if v < f32(clip))
    if spacing == "linspace":
        pts = [round(v) for v in linspace64(0.0, last - 1.0, steps + 1)]
    elif spacing == "leading":
        pts = [i * (last // (steps + 1)) for i in range(steps + 1)]
    else:  # np.arange(last, 0, -T / N).round() - 1
        return last, [round(v) - 1 for v in arange(last, 0, -T / steps)]
    return last, pts[::-1][:-1]


CASES = [("DPMSolverMultistepScheduler", "squaredcos_cap_v2", -5.1, "linspace", 10),
         ("DPMSolverMultistepScheduler", "squaredcos_cap_v2", -5.1, "leading", 25),
         ("DPMSolverSinglestepScheduler", "squaredcos_cap_v2", -4.0, "linspace", 12),
         ("DPMSolverMultistepScheduler", "linear", -3.0, "linspace", 20),
         ("DPMSolverMultistepScheduler", "squaredcos_cap_v2", -5.1, "trailing", 10),
         ("DPMSolverMultistepScheduler", "linear", -3.0, "trailing", 48)]
ok = True
spec = os.path.join(work, "spec.dfs")
for cls, kind, clip, spacing, steps in CASES:
    args = [diffuse, "compat", "diffusers", cls, f"beta_schedule={kind}",
            f"lambda_min_clipped={clip}", "--steps", str(steps)]
    if cls == "DPMSolverMultistepScheduler":
        args.append(f"timestep_spacing={spacing}")
    with open(spec, "w") as f:
        f.write(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    rows = grid_rows(diffuse, spec)
    got = [int(float(r[3])) for r in rows]
    last, want = timesteps(kind, clip, spacing, steps)
    same = got == want
    ok &= same
    print(f"{cls} {kind} lambda_min_clipped={clip} {spacing} {steps} steps: last timestep "
          f"{last - 1}, {len(got)} steps, "
          f"{'same timesteps' if same else 'DIFFER: %r vs %r' % (got, want)}")
sys.exit(0 if ok else 1)
