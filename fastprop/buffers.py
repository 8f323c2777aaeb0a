"""Zeroed arrays whose data starts on a 64-byte boundary, for every buffer the kernels
stream through (parameters, gradients, optimizer state, workspaces).

NumPy's allocator aligns to 16 bytes only: a large array comes from mmap and starts a
few dozen bytes past a page boundary, so every 64-byte vector load of it straddles two
cache lines. Measured on W4 (one-sample predict, 2.1 MB of weights read by OpenBLAS
gemv), in one process: 29.7 us with NumPy's placement (48 bytes past a cache line),
26.6 us aligned. That offset varies from process to process, which had made W4's
timings bimodal between runs.
"""
import numpy as np

ALIGNMENT = 64   # bytes: a cache line, one AVX-512 vector


def aligned_zeros(shape, dtype):
    """np.zeros(shape, dtype) with its data ALIGNMENT-byte aligned (a view into a
    slightly larger allocation, which it keeps alive)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.zeros(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)
