"""A solver's order of convergence against the exact ODE solutions of
../shared/golden/truth (scipy DOP853, rtol = atol = 1e-12): samples the
golden mixture from the truth's own start state at N and 2N steps and
compares the rms error of each run with the recorded exact state.

  golden-order.py DIFFUSE SPEC TRUTH_DIR ve   SOLVER N ORDER [TOL] [--set K=V ...]
  golden-order.py DIFFUSE SPEC TRUTH_DIR flow SOLVER N ORDER [TOL] [--set K=V ...]

ve: A_truth_ve_sigma80.json, Karras grid from sigma 80 to 0.002 (no final
zero), compared with the exact state at sigma = 0.002. flow:
A_truth_condot.json, uniform grid from t = 0 (noise) to 1 (data), compared
with the exact state at t = 1."""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

diffuse, spec, truth_dir, kind, solver, n, order = sys.argv[1:8]
rest = sys.argv[8:]
tol = 0.3
if rest and not rest[0].startswith("--"):
    tol = float(rest.pop(0))
n, order = int(n), float(order)


def write_npy(path, rows):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (
        len(rows), len(rows[0]))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for r in rows:
            f.write(struct.pack("<%dd" % len(r), *r))


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    hlen = struct.unpack("<H", data[8:10])[0]
    body = data[10 + hlen:]
    return struct.unpack("<%dd" % (len(body) // 8), body)


if kind == "ve":
    truth = json.load(open(os.path.join(truth_dir, "A_truth_ve_sigma80.json")))
    start = truth["y_start"]
    end = min(truth["trajectory"], key=lambda p: abs(p["sigma"] - 0.002))["y"]
    grid = "karras(steps = %d, sigma_min = 0.002, sigma_max = 80, rho = 7, append_zero = 0)"
else:
    truth = json.load(open(os.path.join(truth_dir, "A_truth_condot.json")))
    start, end = truth["x_T"], truth["x_final_t1"]
    grid = "uniform(steps = %d)"
work = tempfile.mkdtemp()
write_npy(os.path.join(work, "x.npy"), start)
with open(os.path.join(work, "mixture.json"), "w") as f:
    json.dump({"mixture": truth["mixture"]}, f)
exact = [v for row in end for v in row]


def rms(steps):
    cmd = [diffuse, "run", spec, "--set", f"q.solver={solver}", "--set",
           "q.grid=" + grid % steps, "--mixture", os.path.join(work, "mixture.json"),
           "--x-init", os.path.join(work, "x.npy"), "--batch", str(len(start)), "--out", work]
    subprocess.run(cmd + rest, capture_output=True, text=True, check=True)
    got = read_npy(os.path.join(work, "samples.npy"))
    return math.sqrt(sum((g - e) ** 2 for g, e in zip(got, exact)) / len(exact))


e1, e2 = rms(n), rms(2 * n)
observed = math.log2(e1 / e2)
ok = abs(observed - order) <= tol
print(f"{solver}: rms error {e1:.3e} at {n} steps, {e2:.3e} at {2 * n}: "
      f"order {observed:.2f}, expected {order:g}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
