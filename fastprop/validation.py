"""Checks at the public boundary: every error names the argument, what was expected
and what was given. Inputs leave here C-contiguous, in the model's dtype, finite."""
import numbers

import numpy as np

from . import codes
from .blas_threads import one_blas_thread


def check_int(name, value, low=None):
    """An integer >= low (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def check_choice(name, value, choices):
    """`value` is one of `choices` (a mapping or sequence of names)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(choices)}; "
                        f"got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_dtype(dtype):
    """np.float32 or np.float64, as a numpy dtype."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from err
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _numeric_array(name, value):
    """`value` as an ndarray of real numbers (ints and bools accepted)."""
    try:
        arr = np.asarray(value)
    except Exception as err:   # ragged lists and other unconvertible objects
        raise TypeError(f"{name} must be an array of real numbers: {err}") from err
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (float, int or bool); "
                        f"got dtype {arr.dtype}")
    return arr


_SMALL = 4096    # entries up to which all_finite tests each one (a bool array this size)
# OpenBLAS splits a dot product of more entries than this among its threads (measured
# on 0.3.30: 1.0 CPU seconds per wall second at 10,000 entries, 1.9 at 10,001); holding
# BLAS to one thread costs ~15 us, so shorter products go without
_BLAS_SPLITS = 10_000


def all_finite(arr):
    """Whether every entry of a float array is finite, with no compiled kernel (one
    fewer to compile in a cold start). A small array: entry by entry. A larger one: in
    one pass that allocates nothing, the sum of squares (BLAS dot, 2.7x faster than
    sum() on 20,000 float32; on one BLAS thread above _BLAS_SPLITS entries, see
    blas_threads.py) or, for a strided view, the sum: either is finite only if
    every term is, as NaN and inf stay non-finite through any addition. A sum of finite
    terms that overflowed is rare; min and max then decide. (fit checks X and y on every
    call: an online epoch of 20,000 steps costs ~0.3 ms, and these checks were 10 us
    of it; np.errstate alone costs ~1.5 us, which a small array does without.)"""
    if arr.size <= _SMALL:
        return bool(np.isfinite(arr).all())
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.flags.c_contiguous or arr.flags.f_contiguous:
            flat = arr.ravel(order="K")     # a view
            if flat.size > _BLAS_SPLITS:
                # on one BLAS thread: OpenBLAS's threads, woken by a long dot
                # product, would go on spinning on the cores the fit is about to use
                with one_blas_thread():
                    total = np.dot(flat, flat)
            else:
                total = np.dot(flat, flat)
        else:
            total = arr.sum()
        if np.isfinite(total):
            return True
        # min and max propagate NaN and show +-inf
        return bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def _check_finite(name, arr):
    # the element-wise search runs only to name the culprit
    if arr.dtype.kind == "f" and arr.size and not all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} must be finite; found {arr[tuple(bad)]} at index "
                         f"{tuple(int(i) for i in bad)}")


def check_feature_shape(name, shape, n_features):
    """ValueError unless `shape` is (n_samples >= 1, n_features): the inputs' shape
    (of an array or a sparse matrix)."""
    if len(shape) != 2:
        hint = ""
        if len(shape) == 1:
            hint = (" (use X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one "
                    "sample)")
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}); got shape "
                         f"{shape}{hint}")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {shape}; need at least one sample")
    if shape[1] != n_features:
        raise ValueError(f"{name} has {shape[1]} features per sample but the model's "
                         f"input layer takes {n_features}; got shape {shape}")


def as_features(X, n_features, dtype, name="X", check_finite=True):
    """X as a C-contiguous (n_samples, n_features) array of `dtype`; check_finite=False
    leaves the finiteness check to the caller (check_finite below names the culprit)."""
    arr = _numeric_array(name, X)
    check_feature_shape(name, arr.shape, n_features)
    if not check_finite:
        return np.ascontiguousarray(arr, dtype=dtype)
    _check_finite(name, arr)
    return _in_dtype(name, arr, dtype)


def check_finite(name, arr):
    """ValueError naming the first non-finite entry of arr, if there is one."""
    _check_finite(name, arr)


def as_targets(y, loss, n_out, n_samples, dtype, name="y"):
    """y as a C-contiguous (n_samples, n_out) array of `dtype`, checked for `loss`.

    cross_entropy takes integer class labels (n,) or (n, 1) in [0, n_out), turned into
    one-hot rows, or rows of probabilities (n, n_out). binary_cross_entropy takes values in
    [0, 1], poisson values >= 0. Regression losses take (n, n_out), or (n,) when n_out
    is 1.
    """
    arr = _numeric_array(name, y)
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D; got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} samples but X has {n_samples}")
    _check_finite(name, arr)
    if loss == codes.CROSS_ENTROPY and arr.ndim == 2 and arr.shape[1] == 1 and n_out > 1:
        arr = arr[:, 0]      # a column of labels, as scikit-learn and Keras take it
    if loss == codes.CROSS_ENTROPY and arr.ndim == 1:
        return _one_hot(name, arr, n_out, dtype)
    if arr.ndim == 1:
        if n_out != 1:
            raise ValueError(f"{name} must have shape ({n_samples}, {n_out}) for a "
                             f"network with {n_out} outputs; got shape {arr.shape}")
        arr = arr.reshape(-1, 1)
    if arr.shape[1] != n_out:
        raise ValueError(f"{name} must have shape ({n_samples}, {n_out}) for a network "
                         f"with {n_out} outputs; got shape {arr.shape}")
    if loss == codes.BINARY_CROSS_ENTROPY and ((arr < 0).any() or (arr > 1).any()):
        raise ValueError(f"{name} must hold targets in [0, 1] for binary_cross_entropy; "
                         f"got values from {arr.min()} to {arr.max()}")
    if loss == codes.POISSON and (arr < 0).any():
        raise ValueError(f"{name} must hold counts or rates >= 0 for poisson; got values "
                         f"from {arr.min()}")
    if loss == codes.CROSS_ENTROPY:
        sums = arr.sum(axis=1, dtype=np.float64)
        if (arr < 0).any() or not np.allclose(sums, 1.0, rtol=0.0, atol=1e-5):
            raise ValueError(f"{name} as a 2-D cross_entropy target must hold rows of "
                             f"probabilities (non-negative, summing to 1); got rows "
                             f"summing to {sums.min()}..{sums.max()} (pass integer class "
                             f"labels as a 1-D array)")
    return _in_dtype(name, arr, dtype)


def as_sample_weight(sample_weight, n_samples, dtype, name="sample_weight"):
    """sample_weight as a C-contiguous (n_samples,) array of `dtype`: finite, >= 0, not
    all 0 (a weighted mean over no weight has no value); (n, 1) is taken as (n,)."""
    arr = _numeric_array(name, sample_weight)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},), one weight per sample; "
                         f"got shape {arr.shape}")
    _check_finite(name, arr)
    arr = _in_dtype(name, arr, dtype)
    if (arr < 0).any():
        raise ValueError(f"{name} must hold weights >= 0; got {arr.min()}")
    if n_samples and not (arr > 0).any():
        raise ValueError(f"{name} must hold at least one weight > 0; all {n_samples} are 0")
    return arr


def _in_dtype(name, arr, dtype):
    """The finite array arr as a C-contiguous array of `dtype`. A float narrowed to a
    smaller float (float64 data for a float32 model) is checked again: 1e39 is finite
    in float64 and inf in float32."""
    if not (arr.dtype.kind == "f" and arr.dtype.itemsize > np.dtype(dtype).itemsize):
        return np.ascontiguousarray(arr, dtype=dtype)
    with np.errstate(over="ignore"):    # refused below, with the culprit named
        out = np.ascontiguousarray(arr, dtype=dtype)
    if out.size and not all_finite(out):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        raise ValueError(f"{name} must fit the model's dtype {out.dtype}: {arr[bad]} at "
                         f"index {bad} is beyond its range (largest "
                         f"{np.finfo(out.dtype).max:.4g})")
    return out


def _one_hot(name, labels, n_classes, dtype):
    if labels.dtype.kind == "f" and (labels != np.round(labels)).any():
        raise ValueError(f"{name} holds class labels, which must be integers 0..{n_classes - 1}; "
                         f"got non-integral values such as {labels[labels != np.round(labels)][0]}")
    if labels.dtype.kind == "b":
        labels = labels.astype(np.int64)
    low, high = labels.min(), labels.max()
    if low < 0 or high >= n_classes:
        raise ValueError(f"{name} holds class labels, which must be in 0..{n_classes - 1} for a "
                         f"network with {n_classes} outputs; got labels from {low} to {high}")
    n = labels.shape[0]
    out = np.zeros((n, n_classes), dtype=dtype)
    # ones at flat positions row * n_classes + label (a 1-D index: 2x faster than 2-D)
    out.reshape(-1)[np.arange(0, n * n_classes, n_classes) + labels.astype(np.int64)] = 1
    return out
