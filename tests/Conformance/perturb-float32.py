"""Copies a golden case with one entry of variants.float32_run.final moved by 1e-4."""
import json
import sys

with open(sys.argv[1]) as f:
    c = json.load(f)
c["variants"]["float32_run"]["final"][0][0] += 1e-4
with open(sys.argv[2], "w") as f:
    json.dump(c, f)
