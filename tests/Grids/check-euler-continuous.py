"""Checks EulerDiscreteScheduler(timestep_type="continuous",
prediction_type="v_prediction") through `diffuse compat`: diffusers calls
the network at torch.Tensor([0.25 * sigma.log() for sigma in sigmas[:-1]]),
each float32 sigma's float32 log times 0.25 (written out here); the grid's
model-time column must hold exactly those.

usage: check-euler-continuous.py DIFFUSE WORKDIR"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dfstest import f32, grid_rows  # noqa: E402

diffuse, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
spec = os.path.join(work, "spec.dfs")
ok = True
for keys, steps in [(["timestep_spacing=linspace"], 10),
                    (["use_karras_sigmas=true", "beta_schedule=scaled_linear",
                      "beta_start=0.00085", "beta_end=0.012"], 25),
                    (["timestep_spacing=trailing"], 4)]:
    args = [diffuse, "compat", "diffusers", "EulerDiscreteScheduler", "timestep_type=continuous",
            "prediction_type=v_prediction", *keys, "--steps", str(steps)]
    with open(spec, "w") as f:
        f.write(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    rows = grid_rows(diffuse, spec)
    got = [float(r[3]) for r in rows]
    want = [f32(0.25 * f32(math.log(float(r[1])))) for r in rows]
    same = got == want
    ok &= same
    print(f"{' '.join(keys)} {steps} steps: {len(got)} network times 0.25 log sigma, "
          f"{'bit-identical' if same else 'DIFFER: %r vs %r' % (got, want)}")
sys.exit(0 if ok else 1)
