"""The whole network: forward propagation, backpropagation, batch loading, prediction.

Every function takes a `Net` (fastprop/net.py) and works in its preallocated buffers:
no allocation. The batch input sits in region 0 of net.A, its targets in net.Y.
"""
from .jit import kernel

from ..layout import B_OFF, IN_UNIT, N_IN, N_OUT, OUT_UNIT, W_OFF
from .activations import activate, mul_activation_grad
from .dense import dense_backward_input, dense_backward_params, dense_forward
from .losses import batch_cost, output_error


@kernel
def forward(net, rows):
    """Z_l = A_{l-1} @ W_l + b_l and A_l = f_l(Z_l) for every layer, A_0 = the input."""
    C = net.capacity
    for l in range(net.layout.shape[0]):
        n_in = net.layout[l, N_IN]
        n_out = net.layout[l, N_OUT]
        z_start = C * net.layout[l, OUT_UNIT]
        dense_forward(net.Z, net.A, net.params, z_start, C * net.layout[l, IN_UNIT],
                      net.layout[l, W_OFF], net.layout[l, B_OFF], rows, n_in, n_out,
                      net.blas_min)
        activate(net.A, net.Z, z_start, rows, n_out, net.act[l])


@kernel
def backward(net, rows, scale):
    """After forward: fill net.E and net.grads; return the rows' summed cost (float64).

    E_L = scale * dC/dZ_L, then layer by layer down to the input:
    dW_l = A_{l-1}^T @ E_l, db_l = sum_rows E_l, E_{l-1} = (E_l @ W_l^T) * f'_{l-1}(Z_{l-1}).
    With scale = 1/rows the grads are the gradient of the mean cost.
    """
    C = net.capacity
    last = net.layout.shape[0] - 1
    cost = output_error(net.E, net.Z, net.A, net.Y, C * net.layout[last, OUT_UNIT], rows,
                        net.layout[last, N_OUT], net.act[last], net.loss, scale)
    for l in range(last, -1, -1):
        n_in = net.layout[l, N_IN]
        n_out = net.layout[l, N_OUT]
        z_start = C * net.layout[l, OUT_UNIT]
        a_start = C * net.layout[l, IN_UNIT]
        dense_backward_params(net.grads, net.E, net.A, z_start, a_start,
                              net.layout[l, W_OFF], net.layout[l, B_OFF], rows, n_in,
                              n_out, net.blas_min)
        if l > 0:
            dense_backward_input(net.E, net.E, net.params, z_start, a_start,
                                 net.layout[l, W_OFF], rows, n_in, n_out, net.blas_min)
            mul_activation_grad(net.E, net.Z, net.A, a_start, rows * n_in, net.act[l - 1])
    return cost


@kernel
def output_cost(net, rows):
    """After forward: the rows' summed cost (float64), reading net.Y."""
    C = net.capacity
    last = net.layout.shape[0] - 1
    return batch_cost(net.Z, net.A, net.Y, C * net.layout[last, OUT_UNIT], rows,
                      net.layout[last, N_OUT], net.loss)


@kernel
def load_batch(net, X, Y, order, first, rows):
    """Copy rows order[first:first+rows] of X (n, n_in) and Y (n, n_out) into the
    input region and the target buffer."""
    n_in = X.shape[1]
    n_out = Y.shape[1]
    for r in range(rows):
        src = order[first + r]
        for k in range(n_in):
            net.A[r * n_in + k] = X[src, k]
        for j in range(n_out):
            net.Y[r * n_out + j] = Y[src, j]


@kernel
def load_rows(net, X, first, rows):
    """Copy rows first:first+rows of X (n, n_in) into the input region."""
    n_in = X.shape[1]
    for r in range(rows):
        for k in range(n_in):
            net.A[r * n_in + k] = X[first + r, k]


@kernel
def predict_into(out, net, X):
    """out (n, n_out) = the network's output for X (n, n_in), capacity rows at a time."""
    n = X.shape[0]
    C = net.capacity
    last = net.layout.shape[0] - 1
    n_out = net.layout[last, N_OUT]
    a_out = C * net.layout[last, OUT_UNIT]
    for first in range(0, n, C):
        rows = min(C, n - first)
        load_rows(net, X, first, rows)
        forward(net, rows)
        for r in range(rows):
            for j in range(n_out):
                out[first + r, j] = net.A[a_out + r * n_out + j]


@kernel
def dataset_cost(net, X, Y):
    """Summed cost (float64) over every row of X (n, n_in), Y (n, n_out)."""
    n = X.shape[0]
    C = net.capacity
    n_out = Y.shape[1]
    total = 0.0
    for first in range(0, n, C):
        rows = min(C, n - first)
        load_rows(net, X, first, rows)
        for r in range(rows):
            for j in range(n_out):
                net.Y[r * n_out + j] = Y[first + r, j]
        forward(net, rows)
        total += output_cost(net, rows)
    return total
