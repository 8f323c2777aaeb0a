"""Zeroed arrays whose data starts on a 64-byte boundary, for every buffer the kernels
stream through (parameters, gradients, optimizer state, workspaces).

NumPy's allocator aligns to 16 bytes only: a large array comes from mmap and starts a
few dozen bytes past a page boundary, so every 64-byte vector load of it straddles two
cache lines, which slows a one-sample prediction (bound by reading the weights) by
~10%; and NumPy's offset varies from process to process, which makes such timings
bimodal between runs.
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
