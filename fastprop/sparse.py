"""Sparse inputs: scipy.sparse matrices as the compiled kernels take them.

`SparseRows` is a CSR matrix as plain arrays (a NamedTuple, so @njit code takes it as
it takes a 2-D array: `X.shape[0]` is the number of rows). The kernels copy a batch's
rows into the workspace from it (kernels/rows.py): the first layer's product then runs
on those rows as on dense ones, and no dense copy of the whole matrix is ever made.
"""
from typing import NamedTuple

import numpy as np

from .validation import check_feature_shape


class SparseRows(NamedTuple):
    """A CSR matrix as the kernels take it: row i's entries are
    data[indptr[i]:indptr[i + 1]] in columns indices[indptr[i]:indptr[i + 1]]
    (repeated columns add up)."""
    data: np.ndarray       # (nnz,) in the model's dtype, finite
    indices: np.ndarray    # (nnz,) int64, each in [0, shape[1])
    indptr: np.ndarray     # (n + 1,) int64, from 0, non-decreasing, to nnz
    shape: np.ndarray      # (2,) int64: n, n_cols (an array, not a tuple: Numba's
                           # parallel loops take a NamedTuple of arrays only)


def is_sparse(X):
    """Whether X is a scipy.sparse matrix or array (scipy imported only if loaded)."""
    import sys
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def as_sparse_rows(X, n_features, dtype, name="X"):
    """The scipy.sparse matrix X as SparseRows in `dtype`, checked: 2-D, at least one
    row, n_features columns, finite entries, a consistent structure."""
    check_feature_shape(name, tuple(X.shape), n_features)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (float, int or bool); got dtype "
                        f"{X.dtype}")
    csr = X.tocsr()
    try:
        csr.check_format(full_check=True)
    except ValueError as err:
        raise ValueError(f"{name} is not a consistent sparse matrix: {err}") from None
    with np.errstate(over="ignore"):     # refused below, with the culprit named
        data = np.ascontiguousarray(csr.data, dtype=dtype)
    if data.size and not np.isfinite(data).all():
        i = int(np.argwhere(~np.isfinite(data))[0, 0])
        row = int(np.searchsorted(csr.indptr, i, side="right") - 1)
        raise ValueError(f"{name} must be finite (in {np.dtype(dtype).name}); found "
                         f"{csr.data[i]} at index ({row}, {int(csr.indices[i])})")
    return SparseRows(data=data, indices=np.ascontiguousarray(csr.indices, np.int64),
                      indptr=np.ascontiguousarray(csr.indptr, np.int64),
                      shape=np.array(csr.shape, np.int64))


def take_rows(X, rows):
    """Rows `rows` (in that order) of X, a 2-D array or SparseRows."""
    if not isinstance(X, SparseRows):
        return X[rows]
    starts, stops = X.indptr[rows], X.indptr[np.asarray(rows) + 1]
    lengths = stops - starts
    indptr = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    picks = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)]
                           or [np.zeros(0, np.int64)]).astype(np.int64)
    return SparseRows(data=X.data[picks], indices=X.indices[picks], indptr=indptr,
                      shape=np.array([len(lengths), X.shape[1]], np.int64))


def dense_rows(X):
    """X as a 2-D array (SparseRows expanded, for a report such as Model.trace)."""
    if not isinstance(X, SparseRows):
        return X
    import scipy.sparse
    return scipy.sparse.csr_matrix((X.data, X.indices, X.indptr),
                                   shape=tuple(X.shape)).toarray()
