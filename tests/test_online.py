"""Online training (batch 1) of small networks, through the batch walk
(kernels/tiled.train_batches; the narrow walk has tests/test_narrow.py): the textbook's
SGD steps, every activation and loss; kernels.sgd_step's bits."""
import numpy as np
import pytest

import fastprop as fp
from fastprop import debug, kernels

from helpers import HIDDEN, OUTPUT_PAIRS, assert_online_sgd_follows_reference, make_case


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_online_fit_follows_the_numpy_reference(hidden, loss):
    """fit(batch_size=1) takes, sample by sample, the SGD steps that tests/reference.py's
    backprop gives, in float64."""
    model, X, y, Y = make_case(hidden, loss, "identity", [3, 6, 5, 2], 12, seed=5)
    model.set_optimizer(fp.SGD(0.05))
    assert debug.walk(model, 12, 1).trainer == "train_batches"
    assert_online_sgd_follows_reference(model, X, y, Y, loss, 0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
def test_kernel_sgd_step_equals_gradient_then_update(dtype, loss, out_act):
    # kernels.sgd_step: the same bits as loss_and_gradients then p -= lr (g + 0 p)
    nets = []
    for _ in range(2):
        model, X, y, _ = make_case("tanh", loss, out_act, [3, 6, 4], 1, dtype=dtype, seed=9)
        nets.append(model.net)
    X, Y = debug.arrays(model, X, y)
    cost = kernels.sgd_step(nets[0], X, Y, 0.1)
    assert cost == kernels.loss_and_gradients(nets[1], X, Y)
    step = dtype(0.1)
    nets[1].params[:] -= step * (nets[1].grads + dtype(0.0) * nets[1].params)
    for field in ("params", "grads", "rng"):
        assert np.array_equal(getattr(nets[0], field), getattr(nets[1], field)), field


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_sgd_steps_equal_fit(dtype):
    # one sgd_step per sample, in order, gives fit's online SGD bits
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3)).astype(dtype)
    Y = rng.normal(size=(30, 2)).astype(dtype)
    models = [fp.Model([3, 7, 2], activation="tanh", dtype=dtype, seed=1) for _ in range(2)]
    models[0].fit(X, Y, epochs=1, batch_size=1, shuffle=False, optimizer=fp.SGD(0.05))
    net = models[1].net
    for i in range(30):
        kernels.sgd_step(net, X[i:i + 1], Y[i:i + 1], 0.05)
    assert models[0].params.tobytes() == models[1].params.tobytes()
