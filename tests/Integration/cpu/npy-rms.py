"""Prints the rms difference between two float64 .npy files of equal size."""
import math
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    hlen = struct.unpack("<H", data[8:10])[0]
    body = data[10 + hlen:]
    return struct.unpack("<%dd" % (len(body) // 8), body)


a, b = read(sys.argv[1]), read(sys.argv[2])
print("rms difference %.3f" % math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)))
