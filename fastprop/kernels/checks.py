"""Input checks that NumPy would do in two passes, done in one compiled pass."""
from .jit import entry


@entry
def count_non_finite(bits, exponent_mask):
    """How many entries of a float array, given as unsigned integers of the same width
    (bits = arr.reshape(-1).view(np.uint32 or np.uint64)), are inf or NaN: those whose
    exponent bits are all ones. An integer count, so the loop vectorises (a float min
    and max would take two passes)."""
    count = 0
    for i in range(bits.size):
        count += (bits[i] & exponent_mask) == exponent_mask
    return count
