"""The public kernels check the Net they are handed (kernels/check.py): a Net made
inconsistent with `_replace` is a ValueError before any loop runs, never a wild read or
write, and it changes nothing."""
import numpy as np
import pytest

import fastprop as fp
from fastprop import kernels
from fastprop.layout import B_OFF, IN_UNIT, N_OUT, OUT_UNIT, W_OFF


def setup(loss="mse", dtype=np.float32):
    model = fp.Model([3, 5, 2], loss=loss, seed=0, dtype=dtype)
    model.set_optimizer(fp.Adam(1e-2))
    net = model.net
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(dtype)
    Y = np.full((4, 2), 0.5, dtype)
    return model, net, X, Y


def calls(net, X, Y):
    """Every public kernel, each called on `net`."""
    out = np.empty((X.shape[0], Y.shape[1]), X.dtype)
    return {
        "predict": lambda: kernels.predict(net, X, out),
        "loss": lambda: kernels.loss(net, X, Y),
        "loss_and_gradients": lambda: kernels.loss_and_gradients(net, X, Y),
        "sgd_step": lambda: kernels.sgd_step(net, X, Y, 0.1),
        "optimizer_step": lambda: kernels.optimizer_step(net),
        "train_step": lambda: kernels.train_step(net, X, Y),
    }


def state(model):
    net = model.net
    return [a.copy() for a in (net.params, net.grads, net.opt_state, net.opt_step, net.rng,
                               net.opt_hyper)]


def layout_with(net, row, column, value):
    layout = net.layout.copy()
    layout[row, column] = value
    return layout


# (name, Net fields to replace) made from a consistent net: one inconsistency each
MUTATIONS = {
    "capacity beyond the workspace": lambda n: dict(capacity=n.capacity * 1000),
    "capacity 0": lambda n: dict(capacity=0),
    "capacity negative": lambda n: dict(capacity=-5),
    "Z shorter than capacity rows": lambda n: dict(Z=np.zeros(7, n.Z.dtype)),
    "Y shorter than capacity rows": lambda n: dict(Y=np.zeros(3, n.Y.dtype)),
    "M shorter": lambda n: dict(M=np.zeros(1, n.M.dtype)),
    "grads shorter than params": lambda n: dict(grads=np.zeros(3, n.grads.dtype)),
    "grads longer than params": lambda n: dict(grads=np.zeros(n.params.size + 1, n.grads.dtype)),
    "opt_state narrower": lambda n: dict(opt_state=np.zeros((2, 5), n.opt_state.dtype)),
    "opt_state one row": lambda n: dict(opt_state=np.zeros((1, n.params.size), n.params.dtype)),
    "params shorter than the layout": lambda n: dict(params=np.zeros(5, n.params.dtype)),
    "weight offset beyond params": lambda n: dict(layout=layout_with(n, 1, W_OFF, 10**6)),
    "bias offset beyond params": lambda n: dict(layout=layout_with(n, 1, B_OFF, 10**9)),
    "negative offset": lambda n: dict(layout=layout_with(n, 0, W_OFF, -40)),
    "region unit wrong": lambda n: dict(layout=layout_with(n, 1, OUT_UNIT, 10**6)),
    "input unit wrong": lambda n: dict(layout=layout_with(n, 1, IN_UNIT, 0)),
    "width zero": lambda n: dict(layout=layout_with(n, 1, N_OUT, 0)),
    "width huge": lambda n: dict(layout=layout_with(n, 1, N_OUT, 2**40)),
    "widths do not chain": lambda n: dict(layout=layout_with(n, 0, N_OUT, 4)),
    "no layers": lambda n: dict(layout=np.zeros((0, 6), np.int64)),
    "layout of 5 columns": lambda n: dict(layout=np.ascontiguousarray(n.layout[:, :5])),
    "unknown activation code": lambda n: dict(act=np.array([1, 99], np.int64)),
    "negative activation code": lambda n: dict(act=np.array([-1, 0], np.int64)),
    "softmax in a hidden layer": lambda n: dict(act=np.array([8, 0], np.int64)),
    "one activation code too few": lambda n: dict(act=np.array([1], np.int64)),
    "unknown loss code": lambda n: dict(loss=99),
    "cross_entropy without softmax": lambda n: dict(loss=4),
    "unknown optimizer code": lambda n: dict(opt_code=17),
    "NaN hyperparameter": lambda n: dict(opt_hyper=np.full(6, np.nan)),
    "hyperparameters too short": lambda n: dict(opt_hyper=np.zeros(2)),
    "opt_step empty": lambda n: dict(opt_step=np.zeros(0, np.int64)),
    "opt_step negative": lambda n: dict(opt_step=np.full(1, -3, np.int64)),
    "rng too short": lambda n: dict(rng=np.zeros(1, np.uint64)),
    "dropout of the output layer": lambda n: dict(dropout=np.array([0.0, 0.5])),
    "dropout rate 1": lambda n: dict(dropout=np.array([1.0, 0.0])),
    "dropout NaN": lambda n: dict(dropout=np.array([np.nan, 0.0])),
    "dropout too short": lambda n: dict(dropout=np.zeros(1)),
    "l2 NaN": lambda n: dict(l2=float("nan")),
    "l2 negative": lambda n: dict(l2=-1.0),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_an_inconsistent_net_is_refused_by_every_kernel(name):
    model, net, X, Y = setup()
    bad = net._replace(**MUTATIONS[name](net))
    before = state(model)
    for kernel, call in calls(bad, X, Y).items():
        with pytest.raises(ValueError, match="net"):
            call()
    for a, b in zip(before, state(model)):
        np.testing.assert_array_equal(a, b)
    # the consistent net still works
    assert np.isfinite(kernels.train_step(model.net, X, Y))


@pytest.mark.parametrize("name, fields", [
    ("grads of another dtype", lambda n: dict(grads=np.zeros(n.params.size, np.float64))),
    ("a strided workspace", lambda n: dict(Z=np.zeros(2 * n.Z.size, n.Z.dtype)[::2])),
    ("strided params", lambda n: dict(params=np.zeros(2 * n.params.size, n.params.dtype)[::2])),
])
def test_dtype_and_contiguity_are_checked(name, fields):
    # each of these types compiles a specialisation of its own: one kernel is enough
    model, net, X, Y = setup()
    bad = net._replace(**fields(net))
    with pytest.raises(ValueError, match="net"):
        kernels.loss(bad, X, Y)


def test_a_batch_beyond_capacity_is_refused():
    model, net, X, Y = setup()
    X = np.zeros((net.capacity + 1, 3), np.float32)
    Y = np.zeros((net.capacity + 1, 2), np.float32)
    with pytest.raises(ValueError, match="capacity"):
        kernels.sgd_step(net, X, Y, 0.1)
    # the loss and predict walk any number of rows through the workspace
    assert np.isfinite(kernels.loss(net, X, Y))


@pytest.mark.parametrize("lr", [np.nan, np.inf, -np.inf, -0.1])
def test_sgd_step_refuses_a_learning_rate_that_is_not_finite_and_non_negative(lr):
    model, net, X, Y = setup()
    before = state(model)
    with pytest.raises(ValueError, match="lr"):
        kernels.sgd_step(net, X, Y, lr)
    for a, b in zip(before, state(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_step_that_would_overflow_changes_nothing(dtype):
    model, net, X, Y = setup(dtype=dtype)
    Y = np.full_like(Y, 1e3)
    params = model.params.copy()
    with pytest.raises(FloatingPointError, match="no update"):
        kernels.sgd_step(net, X, Y, float(np.finfo(dtype).max))
    np.testing.assert_array_equal(model.params, params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_inputs_are_refused(dtype):
    # a NaN input can vanish in a ReLU (a finite cost, NaN gradients): refused on entry
    model, net, X, Y = setup(dtype=dtype)
    X = X.copy()
    X[1, 2] = np.nan
    Y_inf = Y.copy()
    Y_inf[0, 0] = np.inf
    before = state(model)
    first = calls(net, X, Y)
    for bad in (first, calls(net, X * 0, Y_inf)):
        for kernel, call in bad.items():
            if kernel == "optimizer_step" or (kernel == "predict" and bad is not first):
                continue    # no input / predict takes no Y
            with pytest.raises(ValueError, match="finite"):
                call()
    for a, b in zip(before, state(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_gradients_make_no_update(dtype):
    model, net, X, Y = setup(dtype=dtype)
    big = np.full_like(X, np.finfo(dtype).max / 4)      # finite inputs that overflow
    before = state(model)
    for kernel in ("sgd_step", "train_step"):
        with pytest.raises(FloatingPointError, match="no update"):
            calls(net, big, Y)[kernel]()
    with pytest.raises(FloatingPointError, match="non-finite"):
        kernels.loss_and_gradients(net, big, Y)
    assert not np.isfinite(net.grads).all()     # as it says: grads hold the overflow
    with pytest.raises(FloatingPointError, match="no update"):
        kernels.optimizer_step(net)
    np.testing.assert_array_equal(model.params, before[0])
    np.testing.assert_array_equal(model.net.opt_state, before[2])
    np.testing.assert_array_equal(model.net.opt_step, before[3])


def test_an_update_that_overflows_says_so():
    model, net, X, Y = setup()
    model.set_optimizer(fp.SGD(lr=3e38))
    net = model.net
    with pytest.raises(FloatingPointError, match="non-finite"):
        kernels.train_step(net, X, np.full_like(Y, 1e4))
