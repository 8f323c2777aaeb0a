"""Sample weights in the compiled core: each step follows the gradient of its batch's
weighted mean cost, sum_i w_i C_i / sum_i w_i (plus the L2 penalty).

Checked against tests/reference.py and finite differences (float64); integer weights
against repeated rows and zero weights against dropped rows (full batch); weights of 1
against no weights, bit for bit, on every walk and thread count; refusals."""
import numpy as np
import pytest

import fastprop as fp
from fastprop import debug
from helpers import (central_differences, cut_fine, make_case, max_rel_err,
                     reference_layers, use_blas)
from reference import backprop

PAIRS = [("tanh", "cross_entropy", None), ("relu", "binary_cross_entropy", None),
         ("sigmoid", "mse", "identity"), ("elu", "mse", "softmax"),
         ("tanh", "poisson", None), ("gelu", "huber", "tanh")]


def weights(n, seed=0):
    """Positive, uneven weights, a zero among them."""
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    w[1] = 0.0
    return w


@pytest.mark.parametrize("blas", [False, True], ids=["loops", "blas"])
@pytest.mark.parametrize("hidden,loss,out_act", PAIRS)
def test_weighted_loss_and_gradient_match_reference(hidden, loss, out_act, blas):
    model, X, y, Y = make_case(hidden, loss, out_act, [4, 6, 3], n=9)
    use_blas(model, blas)
    w = weights(9)
    ref = backprop(reference_layers(model), model.activations, loss, X, Y, w)
    assert abs(model.loss(X, y, sample_weight=w) - ref["loss"]) <= 1e-12 * max(1, ref["loss"])
    assert abs(model.evaluate(X, y, sample_weight=w)["loss"] - ref["loss"]) <= \
        1e-12 * max(1, ref["loss"])
    dW, db = model.gradients(X, y, sample_weight=w)
    for l in range(len(dW)):
        assert max_rel_err(dW[l], ref["dW"][l]) < 1e-12
        assert max_rel_err(db[l], ref["db"][l]) < 1e-12


@pytest.mark.parametrize("hidden,loss,out_act", PAIRS)
def test_weighted_gradient_matches_finite_differences(hidden, loss, out_act):
    model, X, y, _ = make_case(hidden, loss, out_act, [3, 4, 2], n=6, seed=1)
    model.l2 = 1e-2
    w = weights(6, seed=1)
    numeric = central_differences(lambda: model.loss(X, y, sample_weight=w), model.params)
    dW, db = model.gradients(X, y, sample_weight=w)
    analytic = np.concatenate([np.concatenate([a.ravel(), b]) for a, b in zip(dW, db)])
    assert max_rel_err(analytic, numeric) < 1e-6


def twin_models(loss="cross_entropy", sizes=(5, 8, 3), dtype=np.float64, **kwargs):
    return [fp.Model(list(sizes), loss=loss, dtype=dtype, seed=3, **kwargs)
            for _ in range(2)]


def on_tiles(first, second, threads):
    """Both models' layers on BLAS, so that (with cut_fine) a fit on 2 threads shares
    the step's tiles (train_batches_parallel)."""
    use_blas(first, True)
    use_blas(second, True)
    if threads == 2:
        assert debug.walk(first, 50, 8, 2).trainer == "train_batches_parallel"


def data(n, loss="cross_entropy", k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = rng.integers(0, k, n) if loss == "cross_entropy" else rng.normal(size=(n, k))
    return X, y


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_integer_weights_equal_repeated_rows_in_full_batch(optimizer):
    X, y = data(20)
    counts = np.random.default_rng(1).integers(0, 4, 20)
    counts[0] = 2
    weighted, repeated = twin_models(l2=1e-3)
    h1 = weighted.fit(X, y, epochs=5, batch_size=20, optimizer=optimizer,
                      sample_weight=counts)
    h2 = repeated.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts), epochs=5,
                      batch_size=int(counts.sum()), optimizer=optimizer)
    np.testing.assert_allclose(weighted.params, repeated.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h1.loss, h2.loss, rtol=1e-12)
    np.testing.assert_allclose(h1.accuracy, h2.accuracy, rtol=1e-12)


def test_zero_weights_equal_dropped_rows_in_full_batch():
    X, y = data(30, loss="mse")
    w = np.ones(30)
    w[::3] = 0.0
    weighted, dropped = twin_models(loss="mse")
    weighted.fit(X, y, epochs=4, batch_size=30, optimizer="adam", sample_weight=w)
    dropped.fit(X[w > 0], y[w > 0], epochs=4, batch_size=30, optimizer="adam")
    np.testing.assert_allclose(weighted.params, dropped.params, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_unit_weights_are_bit_identical_to_none(dtype, threads, monkeypatch):
    cut_fine(monkeypatch)     # 2 threads take the tiled parallel walk
    X, y = data(53)
    unweighted, weighted = twin_models(dtype=dtype, dropout=0.2, l2=1e-3)
    on_tiles(unweighted, weighted, threads)
    h1 = unweighted.fit(X, y, epochs=3, batch_size=8, optimizer="adam", n_threads=threads)
    h2 = weighted.fit(X, y, epochs=3, batch_size=8, optimizer="adam", n_threads=threads,
                      sample_weight=np.ones(53))
    assert np.array_equal(unweighted.params, weighted.params)
    assert h1.loss == h2.loss and h1.accuracy == h2.accuracy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_fit_is_bit_identical_for_any_thread_count(dtype, monkeypatch):
    cut_fine(monkeypatch)
    X, y = data(61)
    w = weights(61)
    one, two = twin_models(dtype=dtype, dropout=0.1)
    on_tiles(one, two, 2)
    h1 = one.fit(X, y, epochs=2, batch_size=16, optimizer="adam", n_threads=1,
                 sample_weight=w)
    h2 = two.fit(X, y, epochs=2, batch_size=16, optimizer="adam", n_threads=2,
                 sample_weight=w)
    assert np.array_equal(one.params, two.params)
    assert h1.loss == h2.loss


def test_online_sgd_with_weights_skips_zero_weight_rows():
    # batch size 1: a row's weight cancels in its own mean, but a zero weight means no
    # data gradient at all (and the narrow walk, which knows no weights, is not taken)
    X, y = data(12, loss="mse", k=1)
    w = np.ones(12)
    w[5] = 0.0
    weighted, dropped = twin_models(loss="mse", sizes=(5, 3, 1))
    weighted.fit(X, y, epochs=1, batch_size=1, shuffle=False, sample_weight=w)
    dropped.fit(X[w > 0], y[w > 0], epochs=1, batch_size=1, shuffle=False)
    np.testing.assert_allclose(weighted.params, dropped.params, rtol=1e-13, atol=1e-15)


def test_validation_weights_give_the_weighted_validation_loss():
    X, y = data(40)
    Xv, yv = data(15, seed=1)
    wv = weights(15, seed=2)
    model = fp.Model([5, 8, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    history = model.fit(X, y, epochs=2, validation_data=(Xv, yv, wv))
    scores = model.evaluate(Xv, yv, sample_weight=wv)
    assert history.val_loss[-1] == pytest.approx(scores["loss"], rel=1e-12)
    assert history.val_accuracy[-1] == pytest.approx(scores["accuracy"], rel=1e-12)
    split = fp.Model([5, 8, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    split.fit(X, y, epochs=1, validation_split=0.25, sample_weight=weights(40))


@pytest.mark.parametrize("bad,match", [
    (-np.ones(20), ">= 0"), (np.full(20, np.nan), "finite"), (np.ones(19), "shape"),
    (np.zeros(20), "weight > 0"), (np.ones((20, 2)), "shape"), (["a"] * 20, "real")])
def test_refused_weights_change_nothing(bad, match):
    X, y = data(20)
    model = fp.Model([5, 8, 3], loss="cross_entropy", seed=0)
    before = model.params.copy()
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(X, y, epochs=1, sample_weight=bad)
    with pytest.raises((ValueError, TypeError), match=match):
        model.loss(X, y, sample_weight=bad)
    assert np.array_equal(model.params, before)


def test_poisson_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = rng.poisson(np.exp(0.8 * X[:, 0] + 0.3))
    model = fp.Model([2, 8, 1], loss="poisson", dtype=np.float64, seed=0)
    assert model.activations[-1] == "exp"
    history = model.fit(X, y, epochs=40, batch_size=20, optimizer=fp.Adam(0.01))
    assert history.loss[-1] < 0.8 * history.loss[0]
    assert (model.predict(X) > 0).all()
    with pytest.raises(ValueError, match=">= 0 for poisson"):
        model.fit(X, -np.ones(200), epochs=1)
    with pytest.raises(ValueError, match="exp"):
        fp.Model([2, 3, 1], loss="poisson", output_activation="identity")
    with pytest.raises(ValueError):
        fp.Model([2, 3, 1], activation="exp")     # an output activation only
