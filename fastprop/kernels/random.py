"""Counter-based random numbers for dropout masks.

Each value is a hash (splitmix64) of (key, batch counter, position), so a mask depends
only on the seed, the step and the element, never on the order in which threads draw
it: runs are bit-identical for any thread count.
"""
import numpy as np

from .jit import inlined

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


@inlined
def splitmix64(x):
    """A well-mixed 64-bit hash of the 64-bit integer x."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@inlined
def uniform(base, index):
    """A uniform float64 in [0, 1) for element `index` of the stream `base`."""
    return float(splitmix64(np.uint64(base) + np.uint64(index)) >> _S11) * _INV_2_53


@inlined
def stream_base(key, counter):
    """The stream of one batch: a hash of the model's key and the batch counter."""
    return splitmix64(np.uint64(key) ^ splitmix64(np.uint64(counter)))
