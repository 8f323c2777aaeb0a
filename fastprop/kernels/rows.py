"""Copying one input row into the workspace, from a 2-D array or from SparseRows
(fastprop/sparse.py): every loader calls this, so each kind of input is read in one
place. Which copy a kernel gets is decided when it is compiled, by X's type (an
overload, inlined into the caller at Numba's level, so it is compiled with the
caller's options)."""
from numba import types
from numba.extending import overload


def copy_row(dst, start, X, src):
    """dst[start:start + X.shape[1]] = row src of X (a 2-D array or SparseRows)."""
    raise NotImplementedError("copy_row runs in compiled code only")


@overload(copy_row, inline="always")
def _copy_row(dst, start, X, src):
    if isinstance(X, types.Array):
        def dense(dst, start, X, src):
            width = X.shape[1]
            a = dst[start:start + width]     # views from 0 (see activations.activate)
            for k in range(width):
                a[k] = X[src, k]
        return dense

    def sparse(dst, start, X, src):
        # zeros, then the row's entries added in (a repeated column adds up, as in
        # scipy.sparse); its first layer's product then runs as on a dense row
        width = X.shape[1]
        a = dst[start:start + width]
        zero = dst.dtype.type(0.0)
        for k in range(width):
            a[k] = zero
        for i in range(X.indptr[src], X.indptr[src + 1]):
            a[X.indices[i]] += X.data[i]
    return sparse
