"""fastprop's compiled kernels as a public API, for use inside your own @njit code.

Every function takes a `Net` (`model.net`, see fastprop/net.py), which shares memory
with its Model: what these functions change, the Model sees, and the reverse.
Arrays: X (B, n_in) and Y (B, n_out) 2-D, in the net's dtype (float32 or float64);
for cross_entropy Y holds one-hot (or probability) rows. A batch must fit the net's
workspace (B <= net.capacity; grow it with `model.reserve(rows)` from Python, then
take the new `model.net`). None of these allocates.

  predict(net, X, out)              out (n, n_out) = network output; any n
  loss(net, X, Y) -> float          mean cost over any number of rows
  loss_and_gradients(net, X, Y)     fills net.grads with the mean-cost gradient -> mean cost
  sgd_step(net, X, Y, lr) -> float  forward, backward, p -= lr * g -> the batch's mean cost
  optimizer_step(net)               one update by the net's optimizer (model.set_optimizer)
  train_step(net, X, Y) -> float    loss_and_gradients, then optimizer_step -> mean cost

Checked on entry, before any loop (ValueError): the Net's consistency (kernels/check.py:
every buffer's size, dtype and contiguity against the layout, the codes, finite
hyperparameters), the shapes of X, Y and out, that X and Y are finite, and lr (finite,
>= 0). Overflow on finite inputs raises FloatingPointError: loss_and_gradients when
the cost or a gradient is not finite (net.grads then holds them); sgd_step and
train_step then make no update, and sgd_step none that would make a parameter
non-finite either; optimizer_step makes none from a non-finite gradient, and raises
after an update that made a parameter non-finite (a learning rate far too large),
leaving that update in place. loss returns a cost that overflowed as it is (inf).
"""
import math

import numpy as np

from .jit import inlined, kernel

from ..layout import N_IN, N_OUT
from .check import check_net
from .network import backward, copy_rows, evaluate_rows, forward, predict_into
from .optimizers import optimizer_update, sgd_keeps_finite, sgd_update

__all__ = ["predict", "loss", "loss_and_gradients", "sgd_step", "optimizer_step",
           "train_step"]


@kernel
def _check_inputs(net, X, Y, batch):
    """check_net, then cheap size checks of the batch, before any loop."""
    check_net(net)
    last = net.layout.shape[0] - 1
    if X.ndim != 2 or X.shape[1] != net.layout[0, N_IN]:
        raise ValueError("X must be 2-D (rows, n_in) with n_in the net's input width")
    if Y.ndim != 2 or Y.shape[1] != net.layout[last, N_OUT]:
        raise ValueError("Y must be 2-D (rows, n_out) with n_out the net's output width")
    if X.shape[0] != Y.shape[0]:
        raise ValueError("X and Y must have the same number of rows")
    if X.shape[0] < 1:
        raise ValueError("X must hold at least one row")
    if batch and X.shape[0] > net.capacity:
        raise ValueError("batch has more rows than net.capacity: call model.reserve(rows) "
                         "from Python and use the new model.net")
    if not (_all_finite_rows(X) and _all_finite_rows(Y)):
        raise ValueError("X and Y must be finite (a NaN input can vanish in a ReLU and "
                         "leave a finite cost with NaN gradients)")


@inlined
def _all_finite_rows(values):
    """Whether every entry of the 2-D array `values` is finite (a count of the others:
    an integer reduction vectorises, a float one in IEEE order does not)."""
    bad = 0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            bad += 0 if math.isfinite(values[i, j]) else 1
    return bad == 0


@inlined
def _all_finite(values):
    """Whether every entry of the 1-D array `values` is finite (see _all_finite_rows)."""
    bad = 0
    for i in range(values.size):
        bad += 0 if math.isfinite(values[i]) else 1
    return bad == 0


@inlined
def _gradients(net, X, Y):
    """Fill net.grads with the gradient of the batch's mean cost; return that cost."""
    rows = X.shape[0]
    copy_rows(net.A, X, np.int64(0), rows)
    copy_rows(net.Y, Y, np.int64(0), rows)
    forward(net, rows, bool(True))
    return backward(net, rows, 1.0 / rows, bool(True), bool(False)) / rows


@inlined
def _check_gradients(net, cost):
    if not (math.isfinite(cost) and _all_finite(net.grads)):
        raise FloatingPointError("non-finite cost or gradient (an overflow): no update "
                                 "was made (scale the inputs, use float64, or lower the "
                                 "learning rate)")


@inlined
def _update(net):
    """optimizer_step's update, after its checks."""
    _check_gradients(net, 0.0)
    optimizer_update(net.params, net.grads, net.opt_state, net.opt_hyper, net.opt_step,
                     net.opt_code)
    if not _all_finite(net.params):
        raise FloatingPointError("the optimizer's update made a parameter non-finite "
                                 "(learning rate too large?); that update was applied")


@kernel
def predict(net, X, out):
    """Write the network's output activations for X into `out`.

    Any number of rows; the workspace's capacity does not limit it. Allocates nothing.

    Parameters
    ----------
    net : Net
        ``model.net`` of a Model (after any `Model.reserve` or `Model.set_optimizer`).
    X : numpy.ndarray, shape (n, n_in)
        2-D inputs in the net's dtype, finite.
    out : numpy.ndarray, shape (n, n_out)
        2-D array of the net's dtype that receives the outputs.

    Returns
    -------
    None
        The outputs are written into `out`.

    Raises
    ------
    ValueError
        If the net is inconsistent, a shape is wrong, or X is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> model = fp.Model([3, 4, 2], seed=0)
    >>> X = np.ones((5, 3), np.float32)
    >>> out = np.empty((5, 2), np.float32)
    >>> fp.kernels.predict(model.net, X, out)
    >>> bool(np.allclose(out, model.predict(X)))
    True
    """
    check_net(net)
    last = net.layout.shape[0] - 1
    if X.ndim != 2 or X.shape[1] != net.layout[0, N_IN]:
        raise ValueError("X must be 2-D (rows, n_in) with n_in the net's input width")
    if out.ndim != 2 or out.shape[0] != X.shape[0] or \
            out.shape[1] != net.layout[last, N_OUT]:
        raise ValueError("out must be 2-D (rows of X, n_out)")
    if not _all_finite_rows(X):
        raise ValueError("X must be finite")
    predict_into(out, net, X, bool(False))     # bool(), np.int64(): see kernels/jit.py


@kernel
def loss(net, X, Y):
    """The mean cost over the rows of (X, Y), with the L2 penalty; no dropout.

    Any number of rows; the workspace's capacity does not limit it.

    Parameters
    ----------
    net : Net
        ``model.net`` of a Model (after any `Model.reserve` or `Model.set_optimizer`).
    X : numpy.ndarray, shape (n, n_in)
        2-D inputs in the net's dtype, finite.
    Y : numpy.ndarray, shape (n, n_out)
        2-D targets in the net's dtype, finite.

    Returns
    -------
    float
        The mean cost; a cost that overflowed is returned as it is (inf).

    Raises
    ------
    ValueError
        If the net is inconsistent, a shape is wrong, or X or Y is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> model = fp.Model([3, 4, 2], seed=0)
    >>> X, Y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    >>> cost = fp.kernels.loss(model.net, X, Y)
    >>> bool(np.isclose(cost, model.loss(X, Y)))
    True
    """
    _check_inputs(net, X, Y, bool(False))
    cost, _ = evaluate_rows(net, X, Y, net.SW[:0], bool(False))   # unweighted
    return cost / X.shape[0]


@kernel
def loss_and_gradients(net, X, Y):
    """Fill ``net.grads`` with the gradient of the batch's mean cost.

    As in training: dropout (where the net has it) is drawn, the L2 penalty included.
    The parameters are not changed.

    Parameters
    ----------
    net : Net
        ``model.net`` of a Model (after any `Model.reserve` or `Model.set_optimizer`).
    X : numpy.ndarray, shape (B, n_in)
        2-D inputs in the net's dtype, finite; B <= ``net.capacity``.
    Y : numpy.ndarray, shape (B, n_out)
        2-D targets in the net's dtype, finite (one-hot or probability rows for
        cross_entropy).

    Returns
    -------
    float
        The batch's mean cost.

    Raises
    ------
    ValueError
        If the net is inconsistent, a shape is wrong, the batch exceeds
        ``net.capacity``, or X or Y is not finite.
    FloatingPointError
        If the cost or a gradient is not finite (an overflow); ``net.grads`` then
        holds them.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> model = fp.Model([3, 4, 2], seed=0)
    >>> X, Y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    >>> cost = fp.kernels.loss_and_gradients(model.net, X, Y)
    >>> model.net.grads.shape == model.params.shape
    True
    """
    _check_inputs(net, X, Y, bool(True))
    cost = _gradients(net, X, Y)
    _check_gradients(net, cost)
    return cost


@kernel
def sgd_step(net, X, Y, lr):
    """One step of plain SGD on the batch: p -= lr * dC/dp.

    Bit-identical to a step of ``fit(..., optimizer=fp.SGD(lr))``. The net's own
    optimizer and its state are not used.

    Parameters
    ----------
    net : Net
        ``model.net`` of a Model (after any `Model.reserve` or `Model.set_optimizer`).
    X : numpy.ndarray, shape (B, n_in)
        2-D inputs in the net's dtype, finite; B <= ``net.capacity``.
    Y : numpy.ndarray, shape (B, n_out)
        2-D targets in the net's dtype, finite (one-hot or probability rows for
        cross_entropy).
    lr : float
        The learning rate, finite and >= 0.

    Returns
    -------
    float
        The batch's mean cost before the step.

    Raises
    ------
    ValueError
        If the net is inconsistent, a shape is wrong, the batch exceeds
        ``net.capacity``, X or Y is not finite, or `lr` is negative or not finite.
    FloatingPointError
        If the cost or a gradient is not finite, or the step would make a parameter
        non-finite; no update is made then.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> model = fp.Model([3, 4, 2], seed=0)
    >>> X, Y = np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32)
    >>> model.reserve(8)
    >>> net = model.net
    >>> first = fp.kernels.sgd_step(net, X, Y, 0.1)
    >>> later = fp.kernels.sgd_step(net, X, Y, 0.1)
    >>> bool(later < first)
    True
    """
    _check_inputs(net, X, Y, bool(True))
    if not (math.isfinite(lr) and lr >= 0.0):
        raise ValueError("lr must be a finite number >= 0")
    cost = _gradients(net, X, Y)
    if not math.isfinite(cost):
        _check_gradients(net, cost)
    dt = net.params.dtype.type
    # fit's SGD rule with weight decay 0, so the bits agree. A non-finite gradient
    # gives a non-finite new value too (0 * inf is NaN), so this one pass checks both.
    if not sgd_keeps_finite(net.params, net.grads, dt(lr), dt(0.0)):
        raise FloatingPointError("sgd_step: this step would make a parameter non-finite "
                                 "(learning rate too large?); no update was made")
    sgd_update(net.params, net.grads, dt(lr), dt(0.0), np.int64(0), net.params.size)
    return cost


@kernel
def optimizer_step(net):
    """One update of ``net.params`` from ``net.grads`` by the net's optimizer.

    The optimizer is the model's (`Model.set_optimizer`); its state (moments, step
    count) is updated in place.

    Parameters
    ----------
    net : Net
        ``model.net`` of a Model (after any `Model.reserve` or `Model.set_optimizer`).

    Returns
    -------
    None
        The parameters and optimizer state are updated in place.

    Raises
    ------
    ValueError
        If the net is inconsistent.
    FloatingPointError
        If a gradient is not finite (no update is made), or after an update that made
        a parameter non-finite (a learning rate far too large; that update stays).

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> model = fp.Model([3, 4, 2], seed=0)
    >>> model.set_optimizer(fp.Adam(lr=1e-3))
    >>> X, Y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    >>> net = model.net
    >>> cost = fp.kernels.loss_and_gradients(net, X, Y)
    >>> fp.kernels.optimizer_step(net)
    >>> int(net.opt_step[0])
    1
    """
    check_net(net)
    _update(net)


@kernel
def train_step(net, X, Y):
    """One training step: `loss_and_gradients`, then `optimizer_step`.

    Parameters
    ----------
    net : Net
        ``model.net`` of a Model (after any `Model.reserve` or `Model.set_optimizer`).
    X : numpy.ndarray, shape (B, n_in)
        2-D inputs in the net's dtype, finite; B <= ``net.capacity``.
    Y : numpy.ndarray, shape (B, n_out)
        2-D targets in the net's dtype, finite (one-hot or probability rows for
        cross_entropy).

    Returns
    -------
    float
        The batch's mean cost before the update.

    Raises
    ------
    ValueError
        If the net is inconsistent, a shape is wrong, the batch exceeds
        ``net.capacity``, or X or Y is not finite.
    FloatingPointError
        If the cost or a gradient is not finite (no update is made), or after an
        update that made a parameter non-finite.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> model = fp.Model([3, 4, 2], seed=0)
    >>> model.set_optimizer(fp.SGD(lr=0.1))
    >>> X, Y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    >>> net = model.net
    >>> costs = [fp.kernels.train_step(net, X, Y) for _ in range(3)]
    >>> bool(costs[2] < costs[0])
    True
    """
    _check_inputs(net, X, Y, bool(True))
    cost = _gradients(net, X, Y)
    _check_gradients(net, cost)
    _update(net)
    return cost
