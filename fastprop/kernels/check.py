"""The consistency check every public kernel makes of the `Net` it is handed.

A Net is a NamedTuple anyone can build with `_replace`, and the loops that follow trust
its sizes (no bounds checks in compiled code; BLAS reads and writes through pointers).
`check_net` makes sure, before any loop, that every buffer holds what the layout says
it must, that every code is one the kernels know and that the numbers the updates read
are finite, so a bad Net is a ValueError, never a wild read or write. It costs a pass
over the layout table and a few small arrays: ~L comparisons, no pass over the
parameters. A kernel of its own, compiled once per Net type: inlined into each public
kernel it tripled their compile time (58 s for the six, float32, against 18).
"""
import math

from numba.extending import overload

from ..codes import (ADADELTA, ALLOWED_OUTPUT, ACTIVATION_NAMES, BINARY_CROSS_ENTROPY,
                     CROSS_ENTROPY, EXP, HYPER_SIZE, LOSSES, POISSON, SIGMOID, SOFTMAX,
                     STATE_ROWS)
from ..layout import B_OFF, IN_UNIT, LAYOUT_COLUMNS, N_IN, N_OUT, OUT_UNIT, W_OFF
from .jit import inlined, kernel

# Widths beyond this could make n_in * n_out overflow int64 in the offsets below.
MAX_WIDTH = 2**31 - 1
N_LOSSES = len(LOSSES)
N_ACTIVATIONS = len(ACTIVATION_NAMES)     # codes 0..N_ACTIVATIONS-1
assert sorted(ACTIVATION_NAMES) == list(range(N_ACTIVATIONS))
# The loss codes whose output activation is pinned (codes.ALLOWED_OUTPUT).
assert ALLOWED_OUTPUT[CROSS_ENTROPY] == ("softmax",)
assert ALLOWED_OUTPUT[BINARY_CROSS_ENTROPY] == ("sigmoid",)
assert ALLOWED_OUTPUT[POISSON] == ("exp",)


def same_dtype(a, b):
    """Whether arrays a and b have one dtype (known when compiling: free at run time)."""
    return a.dtype == b.dtype


@overload(same_dtype)
def _same_dtype(a, b):
    answer = a.dtype == b.dtype
    return lambda a, b: answer


@inlined
def c_contiguous(a):
    """Whether the array a is C-contiguous (from its strides: .flags needs Numba's
    runtime, which these kernels are compiled without)."""
    step = a.itemsize
    for k in range(a.ndim - 1, -1, -1):
        if a.shape[k] > 1 and a.strides[k] != step:
            return False
        step *= a.shape[k]
    return True


@kernel
def check_net(net):
    """Raise ValueError unless every array of `net` is consistent with its layout."""
    layout = net.layout
    n_layers = layout.shape[0]
    if n_layers < 1 or layout.shape[1] != LAYOUT_COLUMNS or not c_contiguous(layout):
        raise ValueError("net.layout must be a C-contiguous (n_layers >= 1, 6) table "
                         "(fastprop.layout.make_layout)")
    # the layout must be exactly what make_layout gives for its widths
    offset = 0
    unit = 0
    for l in range(n_layers):
        n_in = layout[l, N_IN]
        n_out = layout[l, N_OUT]
        if n_in < 1 or n_out < 1 or n_in > MAX_WIDTH or n_out > MAX_WIDTH:
            raise ValueError("net.layout: every width must be in 1..2**31-1")
        if l > 0 and n_in != layout[l - 1, N_OUT]:
            raise ValueError("net.layout: a layer's n_in must be the previous n_out")
        if layout[l, W_OFF] != offset or layout[l, B_OFF] != offset + n_in * n_out \
                or layout[l, IN_UNIT] != unit or layout[l, OUT_UNIT] != unit + n_in:
            raise ValueError("net.layout: offsets differ from make_layout's for its widths")
        offset += n_in * n_out + n_out
        if offset > net.params.size:
            raise ValueError("net.params is shorter than net.layout says")
        unit += n_in
    n_params = offset
    width = unit + layout[n_layers - 1, N_OUT]
    n_out = layout[n_layers - 1, N_OUT]

    if net.params.size != n_params or not c_contiguous(net.params):
        raise ValueError("net.params must be C-contiguous with the layout's parameter count")
    if net.grads.size != n_params or not c_contiguous(net.grads) \
            or not same_dtype(net.grads, net.params):
        raise ValueError("net.grads must be C-contiguous, of net.params' size and dtype")
    if net.opt_state.shape[0] != STATE_ROWS or net.opt_state.shape[1] != n_params \
            or not c_contiguous(net.opt_state) \
            or not same_dtype(net.opt_state, net.params):
        raise ValueError("net.opt_state must be C-contiguous (2, P) in net.params' dtype")
    if net.opt_step.size < 1 or net.opt_step[0] < 0:
        raise ValueError("net.opt_step must hold one count >= 0")
    if net.opt_hyper.size < HYPER_SIZE:
        raise ValueError("net.opt_hyper must hold 6 hyperparameters")
    for k in range(HYPER_SIZE):
        if not math.isfinite(net.opt_hyper[k]):
            raise ValueError("net.opt_hyper must be finite")
    if net.opt_code < 0 or net.opt_code > ADADELTA:
        raise ValueError("net.opt_code is not an optimizer code (codes.py)")

    if net.act.size != n_layers:
        raise ValueError("net.act must hold one activation code per layer")
    for l in range(n_layers):
        code = net.act[l]
        if code < 0 or code >= N_ACTIVATIONS or \
                ((code == SOFTMAX or code == EXP) and l < n_layers - 1):
            raise ValueError("net.act holds a code that is not an activation of that "
                             "layer (softmax and exp are for the output layer only)")
    if net.loss < 0 or net.loss >= N_LOSSES:
        raise ValueError("net.loss is not a loss code (codes.py)")
    last_act = net.act[n_layers - 1]
    if (net.loss == CROSS_ENTROPY and last_act != SOFTMAX) or \
            (net.loss == BINARY_CROSS_ENTROPY and last_act != SIGMOID) or \
            (net.loss == POISSON and last_act != EXP):
        raise ValueError("net.loss needs another output activation: cross_entropy takes "
                         "softmax, binary_cross_entropy sigmoid, poisson exp")
    if not math.isfinite(net.l2) or net.l2 < 0.0:
        raise ValueError("net.l2 must be a finite number >= 0")

    if net.dropout.size != n_layers or net.dropout[n_layers - 1] != 0.0:
        raise ValueError("net.dropout must hold one rate per layer, the last 0")
    for l in range(n_layers):
        if not (net.dropout[l] >= 0.0 and net.dropout[l] < 1.0):
            raise ValueError("net.dropout rates must be in [0, 1)")
    if net.rng.size < 2:
        raise ValueError("net.rng must hold a key and a batch counter")

    # the workspace: capacity rows of every region (fastprop.net.with_workspace)
    C = net.capacity
    if C < 1 or C > net.Z.size // width or C > net.A.size // width \
            or C > net.E.size // width or C > net.M.size // width \
            or C > net.Y.size // n_out or C > net.SW.size:
        raise ValueError("net.capacity must be >= 1 and within the workspace (net.Z, A, "
                         "E, M, Y, SW: capacity rows of every layer; use with_workspace)")
    if not (c_contiguous(net.Z) and c_contiguous(net.A)
            and c_contiguous(net.E) and c_contiguous(net.M)
            and c_contiguous(net.Y) and c_contiguous(net.SW)):
        raise ValueError("net.Z, A, E, M, Y and SW must be C-contiguous")
    if not (same_dtype(net.Z, net.params) and same_dtype(net.A, net.params)
            and same_dtype(net.E, net.params) and same_dtype(net.M, net.params)
            and same_dtype(net.Y, net.params) and same_dtype(net.SW, net.params)):
        raise ValueError("net.Z, A, E, M, Y and SW must have net.params' dtype")
