"""Helpers shared by the test scripts: float64 .npy files without numpy,
and the order-of-convergence verdict."""
import math
import struct
import sys


def write_npy(path, rows):
    """Writes a list of equal-length rows of floats as a float64 .npy file."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (
        len(rows), len(rows[0]))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        for r in rows:
            f.write(struct.pack("<%dd" % len(r), *r))


def read_npy(path):
    """The values of a float64 .npy file, flattened."""
    with open(path, "rb") as f:
        data = f.read()
    hlen = struct.unpack("<H", data[8:10])[0]
    body = data[10 + hlen:]
    return struct.unpack("<%dd" % (len(body) // 8), body)


def report_order(solver, n, e1, e2, order, tol):
    """Prints the measured order from errors at n and 2n steps and exits 0
    if it is within tol of the expected order."""
    observed = math.log2(e1 / e2)
    ok = abs(observed - order) <= tol
    print(f"{solver}: rms error {e1:.3e} at {n} steps, {e2:.3e} at {2 * n}: "
          f"order {observed:.2f}, expected {order:g}: {'ok' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)
