"""Prints the largest absolute difference between two float64 .npy files."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from dfstest import read_npy

a, b = read_npy(sys.argv[1]), read_npy(sys.argv[2])
assert len(a) == len(b), "sizes differ"
print("max |difference| %.1e over %d values" % (max(abs(x - y) for x, y in zip(a, b)), len(a)))
