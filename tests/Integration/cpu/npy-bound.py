"""Prints the largest |value| of a float64 .npy file and how many values
reach it."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from dfstest import read_npy

a = read_npy(sys.argv[1])
m = max(abs(v) for v in a)
print("max |value| %g, reached by %d of %d values" % (m, sum(1 for v in a if abs(v) == m), len(a)))
