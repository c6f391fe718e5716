"""One DDIM step on a zero-terminal-SNR table from its last timestep, where
alpha = 0: a v-model's x0 there is the data's mean (the posterior mean with
no signal) and eps is the state itself, so the step must give
sqrt(acp[0]) mean + sqrt(1 - acp[0]) x (diffusers' set_alpha_to_one=False
ends at the first timestep). acp[0] is read from `diffuse schedule`.

usage: check-zero-snr-step.py DIFFUSE SPEC WORKDIR"""
import json
import math
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import dfstest  # noqa: E402

diffuse, spec, work = sys.argv[1:4]
D, B = 16, 3
rng = random.Random(3)
mix = {"dim": D, "weights": [0.25, 0.75],
       "means": [[rng.gauss(0, 1) for _ in range(D)] for _ in range(2)],
       "stds": [0.3, 0.6], "classes": [0, 1]}
os.makedirs(work, exist_ok=True)
json.dump(mix, open(os.path.join(work, "mix.json"), "w"))
x = [[rng.gauss(0, 1) for _ in range(D)] for _ in range(B)]
dfstest.write_npy(os.path.join(work, "x.npy"), x)
sched = subprocess.run([diffuse, "schedule", spec, "--sampler", "s_zero_snr_one_step",
                        "--points", "2"], capture_output=True, text=True, check=True).stdout
rows = [line.split() for line in sched.splitlines() if line[:1].isdigit()]
# The table is float32: printed with 9 digits, read back exactly.
acp0, acp_last = (struct.unpack("f", struct.pack("f", float(r[2])))[0] for r in (rows[0], rows[-1]))
p = subprocess.run([diffuse, "run", spec, "--sampler", "s_zero_snr_one_step", "--mixture",
                    os.path.join(work, "mix.json"), "--x-init", os.path.join(work, "x.npy"),
                    "--batch", str(B), "--out", work], capture_output=True, text=True)
if p.returncode:
    sys.exit(p.stdout + p.stderr)
got = dfstest.read_npy(os.path.join(work, "samples.npy"))
mean = [sum(w * m[j] for w, m in zip(mix["weights"], mix["means"])) for j in range(D)]
err = max(abs(got[i * D + j] - (math.sqrt(acp0) * mean[j] + math.sqrt(1 - acp0) * x[i][j]))
          for i in range(B) for j in range(D))
print(f"alphas_cumprod at the last timestep: {acp_last}; one step from there: max error "
      f"{err:.1e}: {'ok' if err <= 1e-14 else 'FAIL'}")
