"""Prints the rms difference between two float64 .npy files of equal size."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from dfstest import read_npy

a, b = read_npy(sys.argv[1]), read_npy(sys.argv[2])
print("rms difference %.3f" % math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)))
