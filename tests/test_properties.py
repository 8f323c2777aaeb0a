"""Property-based tests (hypothesis): random architectures, activations, losses, dtypes
and batch shapes."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastprop as fp

from helpers import HIDDEN, OUTPUT_PAIRS, central_differences, max_rel_err

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def cases(draw, smooth=False):
    """(model, X, y) for a random network, loss, dtype and batch."""
    n_hidden = draw(st.integers(0, 3))
    sizes = [draw(st.integers(1, 6)) for _ in range(n_hidden + 1)]
    hidden_pool = ["sigmoid", "tanh", "softplus", "gelu", "identity"] if smooth else HIDDEN
    hidden = [draw(st.sampled_from(hidden_pool)) for _ in range(n_hidden)]
    pairs = [p for p in OUTPUT_PAIRS if p[0] in ("mse", "binary_cross_entropy",
                                                  "cross_entropy")] if smooth else OUTPUT_PAIRS
    loss, out_act = draw(st.sampled_from(pairs))
    if smooth and out_act in ("relu", "leaky_relu", "elu"):
        out_act = "tanh"
    k = draw(st.integers(2 if loss == "cross_entropy" else 1, 4))
    dtype = np.float64 if smooth else draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2 ** 31))
    n = draw(st.integers(1, 40))
    model = fp.Model(sizes + [k], activation=hidden, loss=loss, output_activation=out_act,
                     dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    for b in model.biases:
        b[...] = rng.normal(size=b.shape) * 0.2
    X = rng.normal(size=(n, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, k, n)
    elif loss == "binary_cross_entropy":
        y = rng.random((n, k))
    elif loss == "poisson":
        y = rng.poisson(1.0, size=(n, k)).astype(np.float64)
    else:
        y = rng.normal(size=(n, k))
    return model, X, y


@SETTINGS
@given(cases(smooth=True))
def test_gradients_match_finite_differences(case):
    model, X, y = case
    numeric = central_differences(lambda: model.loss(X, y), model.params)
    dW, db = model.gradients(X, y)
    analytic = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
    assert max_rel_err(analytic, numeric) < 1e-6


@SETTINGS
@given(cases())
def test_predict_is_deterministic_and_row_independent(case):
    model, X, _ = case
    out = model.predict(X)
    assert np.array_equal(out, model.predict(X))
    assert out.dtype == model.dtype and np.isfinite(out).all()
    # each row's output does not depend on the other rows in the call
    assert np.array_equal(model.predict(X[-1:]), out[-1:]) or model.dtype == np.float32 \
        or max_rel_err(model.predict(X[-1:]), out[-1:]) < 1e-12


@SETTINGS
@given(cases())
def test_predict_equals_the_net_based_kernel_bit_for_bit(case):
    # Model.predict passes the Net's arrays (kernels.network.predict_rows); the kernel
    # API's predict passes the Net (predict_into): the same forward pass, the same bits,
    # also past the first workspace chunk
    from fastprop.kernels.network import predict_into

    model, X, _ = case
    X = np.concatenate([X] * (model.net.capacity // X.shape[0] + 2))
    out = np.empty((X.shape[0], model.sizes[-1]), model.dtype)
    predict_into(out, model.net, np.ascontiguousarray(X, dtype=model.dtype), False)
    assert np.array_equal(model.predict(X), out)


@SETTINGS
@given(cases())
def test_save_load_round_trip_is_exact(tmp_path_factory, case):
    model, X, y = case
    model.fit(X, y, epochs=2, batch_size=7, optimizer=fp.Adam(1e-2))
    path = tmp_path_factory.mktemp("rt") / "model.npz"
    model.save(path)
    loaded = fp.load(path)
    assert loaded.dtype == model.dtype and loaded.sizes == model.sizes
    assert np.array_equal(loaded.params, model.params)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.array_equal(loaded.net.opt_state, model.net.opt_state)


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_full_batch_training_ignores_the_row_order(case, random):
    model, X, y = case
    twin = fp.Model(model.sizes, activation=model.activations[:-1], loss=model.loss_name,
                    output_activation=model.activations[-1], dtype=np.float64)
    model = fp.Model(model.sizes, activation=model.activations[:-1], loss=model.loss_name,
                     output_activation=model.activations[-1], dtype=np.float64)
    twin.params[...] = model.params
    perm = list(range(len(X)))
    random.shuffle(perm)
    model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False, optimizer=fp.SGD(0.05))
    twin.fit(X[perm], np.asarray(y)[perm], epochs=3, batch_size=len(X), shuffle=False,
             optimizer=fp.SGD(0.05))
    assert max_rel_err(model.params, twin.params) < 1e-10
