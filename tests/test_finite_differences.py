"""model.gradients agrees with central finite differences of model.loss (float64)."""
import numpy as np
import pytest

from helpers import HIDDEN, OUTPUT_PAIRS, central_differences, make_case, max_rel_err, use_blas

KINK_MARGIN = 1e-3   # keep pre-activations and residuals this far from kinks


def has_kink_near(model, X, y, Y):
    """True when a relu-like kink, or an mae/huber residual kink, is within reach of h."""
    t = model.trace(X, y)
    kinked = {"relu", "leaky_relu", "elu"}
    for l, name in enumerate(model.activations):
        if name in kinked and (np.abs(t.Z[l]) < KINK_MARGIN).any():
            return True
    d = np.abs(t.A[-1] - Y)
    if model.loss_name == "mae" and (d < KINK_MARGIN).any():
        return True
    if model.loss_name == "huber" and (np.abs(d - 1.0) < KINK_MARGIN).any():
        return True
    return False


def fd_case(hidden, loss, out_act, sizes, n, labels=True):
    for seed in range(20):
        model, X, y, Y = make_case(hidden, loss, out_act, sizes, n, seed=seed, labels=labels)
        if not has_kink_near(model, X, y, Y):
            return model, X, y
    raise AssertionError("no kink-free case found")


def assert_gradients_match(model, X, y):
    numeric = central_differences(lambda: model.loss(X, y), model.params)
    dW, db = model.gradients(X, y)
    analytic = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
    assert max_rel_err(analytic, numeric) < 1e-6


@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradient_matches_finite_differences(hidden, loss, out_act):
    model, X, y = fd_case(hidden, loss, out_act, [3, 4, 3], n=5)
    assert_gradients_match(model, X, y)


@pytest.mark.parametrize("blas", [False, True], ids=["loops", "blas"])
def test_deeper_network_both_paths(blas):
    model, X, y = fd_case(["tanh", "gelu", "softplus"], "cross_entropy", None,
                          [4, 5, 4, 3, 3], n=6)
    use_blas(model, blas)
    assert_gradients_match(model, X, y)


def test_probability_targets():
    model, X, y = fd_case("sigmoid", "cross_entropy", None, [3, 4, 4], n=5, labels=False)
    assert_gradients_match(model, X, y)


def test_single_sample_batch():
    model, X, y = fd_case("elu", "huber", "tanh", [2, 3, 2], n=1)
    assert_gradients_match(model, X, y)


@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
def test_kernel_api_gradients(loss, out_act):
    # fastprop.kernels.loss_and_gradients's gradient against finite differences
    from fastprop import debug, kernels

    model, X, y = fd_case("tanh", loss, out_act, [3, 5, 4], 6)
    Xc, Y = debug.arrays(model, X, y)
    net = model.net
    numeric = central_differences(lambda: kernels.loss(net, Xc, Y), model.params)
    kernels.loss_and_gradients(net, Xc, Y)
    assert max_rel_err(net.grads, numeric) < 1e-6
