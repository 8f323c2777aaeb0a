"""The first layer's input, dense or sparse: every walk reaches the input through
these, so each kind of input is handled in one place.

A dense X (n, n_in) is copied batch by batch into the workspace's input region, and
the first layer's stages read it there, as every other layer's (kernels/layers.py).
A sparse X (fastprop/sparse.py SparseRows) is never copied: the first layer's forward
product and weight gradient read its CSR rows (layers.sparse_forward,
sparse_weight_gradient), batch row r being row order[first + r] of X (first + r for
an empty order). Which applies is decided when a kernel is compiled, by X's type:
overloads inlined into the caller at Numba's level, so compiled with its options.

Kernels that work on a batch already in the input region pass net.A as X (any array
means "dense") and an empty order.
"""
import math

from numba import types
from numba.extending import overload

from ..layout import B_OFF, IN_UNIT, N_IN, N_OUT, OUT_UNIT, W_OFF
from . import layers


def copy_row(dst, start, X, src):
    """dst[start:start + X.shape[1]] = row src of the 2-D array X."""
    raise NotImplementedError("runs in compiled code only")


def load_input(net, X, order, first, r0, r1):
    """Rows r0..r1-1 of the batch (rows order[first + r] of X) into the input region:
    copied from a dense X, left in a sparse X."""
    raise NotImplementedError("runs in compiled code only")


def input_forward(net, X, order, first, r0, r1, c0, c1):
    """The first layer's forward on rows r0..r1-1, columns c0..c1-1 of its output:
    Z = X @ W + b, A = f(Z) (layers.forward, or layers.sparse_forward)."""
    raise NotImplementedError("runs in compiled code only")


def input_weight_gradient(net, X, order, first, rows, k0, k1):
    """The first layer's dW[k0:k1] (and db with k0 = 0) from E over the batch's rows
    (layers.weight_gradient, or layers.sparse_weight_gradient)."""
    raise NotImplementedError("runs in compiled code only")


def input_predict(Z, A, params, layout, act, C, blas_min, X, first, rows):
    """network.predict_rows's first layer on rows first..first+rows-1 of X: copied in
    from a dense X and put through network.predict_layer (returns how many of the
    copied entries are not finite), or layers.sparse_forward on a sparse X (returns 0:
    its entries are checked when it is made)."""
    raise NotImplementedError("runs in compiled code only")


def _sparse(X):
    return not isinstance(X, types.Array)


@overload(copy_row, inline="always")
def _copy_row(dst, start, X, src):
    def dense(dst, start, X, src):
        width = X.shape[1]
        a = dst[start:start + width]     # views from 0 (see activations.activate)
        for k in range(width):
            a[k] = X[src, k]
    return dense


@overload(load_input, inline="always")
def _load_input(net, X, order, first, r0, r1):
    if _sparse(X):
        return lambda net, X, order, first, r0, r1: None

    def dense(net, X, order, first, r0, r1):
        n_in = X.shape[1]
        for r in range(r0, r1):
            copy_row(net.A, r * n_in, X, layers.source_row(order, first, r))
    return dense


@overload(input_forward, inline="always")
def _input_forward(net, X, order, first, r0, r1, c0, c1):
    if _sparse(X):
        def sparse(net, X, order, first, r0, r1, c0, c1):
            layout = net.layout
            layers.sparse_forward(net.Z, net.A, net.params, X, order, first,
                                  net.capacity * layout[0, OUT_UNIT], layout[0, W_OFF],
                                  layout[0, B_OFF], r0, r1, layout[0, N_OUT], c0, c1,
                                  net.act[0])
        return sparse

    def dense(net, X, order, first, r0, r1, c0, c1):
        layout = net.layout
        C = net.capacity
        n_in = layout[0, N_IN]
        n_out = layout[0, N_OUT]
        layers.forward(net.Z, net.A, net.A, net.params, C * layout[0, OUT_UNIT] + r0 * n_out,
                       C * layout[0, IN_UNIT] + r0 * n_in, layout[0, W_OFF],
                       layout[0, B_OFF], r1 - r0, n_in, n_out, c0, c1, net.act[0],
                       net.blas_min)
    return dense


@overload(input_weight_gradient, inline="always")
def _input_weight_gradient(net, X, order, first, rows, k0, k1):
    if _sparse(X):
        def sparse(net, X, order, first, rows, k0, k1):
            layout = net.layout
            layers.sparse_weight_gradient(net.grads, net.E, X, order, first,
                                          net.capacity * layout[0, OUT_UNIT],
                                          layout[0, W_OFF], layout[0, B_OFF], rows,
                                          layout[0, N_IN], layout[0, N_OUT], k0, k1)
        return sparse

    def dense(net, X, order, first, rows, k0, k1):
        layout = net.layout
        C = net.capacity
        layers.weight_gradient(net.grads, net.E, net.A, C * layout[0, OUT_UNIT],
                               C * layout[0, IN_UNIT], layout[0, W_OFF], layout[0, B_OFF],
                               rows, layout[0, N_IN], layout[0, N_OUT], k0, k1,
                               net.blas_min)
    return dense


@overload(input_predict, inline="always")
def _input_predict(Z, A, params, layout, act, C, blas_min, X, first, rows):
    from .network import copy_rows, predict_layer

    if _sparse(X):
        def sparse(Z, A, params, layout, act, C, blas_min, X, first, rows):
            layers.sparse_forward(Z, A, params, X, layout[0, :0], first,
                                  C * layout[0, OUT_UNIT], layout[0, W_OFF],
                                  layout[0, B_OFF], 0, rows, layout[0, N_OUT], 0,
                                  layout[0, N_OUT], act[0])
            return 0
        return sparse

    def dense(Z, A, params, layout, act, C, blas_min, X, first, rows):
        copy_rows(A, X, first, rows)
        non_finite = 0
        for i in range(rows * X.shape[1]):
            if not math.isfinite(A[i]):
                non_finite += 1
        predict_layer(Z, A, params, layout, act, C, blas_min, 0, rows)
        return non_finite
    return dense
