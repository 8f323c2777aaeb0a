"""scipy.sparse inputs: the first layer's products read the CSR rows where they are
(kernels/inputs.py), skipping zeros: a sparse X trains, predicts and differentiates as
its dense twin (to rounding: the products sum in another order), bit for bit across
thread counts, against tests/reference.py, and is refused as clearly when bad."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastprop as fp
from fastprop import debug
from helpers import cut_fine, reference_layers, use_blas
from reference import backprop


def sparse_data(n=90, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(X.shape) < 0.75] = 0.0
    X[3] = 0.0                                  # an empty row
    return X, rng.integers(0, 3, n)


def twins(dtype, **kwargs):
    return [fp.Model([12, 10, 3], loss="cross_entropy", dtype=dtype, seed=4, **kwargs)
            for _ in range(2)]


TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("blas", [False, True], ids=["loops", "blas"])
def test_sparse_fit_follows_dense(dtype, blas):
    X, y = sparse_data()
    dense, sparse = twins(dtype, dropout=0.1)
    for model in (dense, sparse):
        use_blas(model, blas)
    w = np.linspace(0.5, 2.0, len(y))
    h1 = dense.fit(X, y, epochs=2, batch_size=16, optimizer="adam", validation_split=0.2,
                   sample_weight=w)
    h2 = sparse.fit(sp.csr_matrix(X), y, epochs=2, batch_size=16, optimizer="adam",
                    validation_split=0.2, sample_weight=w)
    np.testing.assert_allclose(sparse.params, dense.params, rtol=TOL[dtype],
                               atol=TOL[dtype])
    np.testing.assert_allclose(h2.val_loss, h1.val_loss, rtol=TOL[dtype])


@pytest.mark.parametrize("sizes", [[12, 10, 3], [12, 3]])     # a one-layer net too
def test_sparse_fit_is_bit_identical_for_any_thread_count(sizes, monkeypatch):
    # float32 only: the parallel walk compiles once more per dtype for a sparse X (~18 s)
    dtype = np.float32
    cut_fine(monkeypatch)      # 2 threads: the tiled parallel walk, the input cut too
    X, y = sparse_data()
    one, two = [fp.Model(sizes, loss="cross_entropy", dtype=dtype, seed=4) for _ in "ab"]
    for model in (one, two):
        use_blas(model, True)
    assert debug.walk(two, 90, 16, 2).trainer == "train_batches_parallel"
    h1 = one.fit(sp.csr_matrix(X), y, epochs=2, batch_size=16, optimizer="adam",
                 n_threads=1)
    h2 = two.fit(sp.csr_matrix(X), y, epochs=2, batch_size=16, optimizer="adam",
                 n_threads=2)
    assert np.array_equal(one.params, two.params)
    assert h1.loss == h2.loss


@pytest.mark.parametrize("kind", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix,
                                  sp.csr_array])
def test_every_sparse_format_predicts_and_differentiates_as_dense(kind):
    X, y = sparse_data()
    model = fp.Model([12, 10, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    ref = backprop(reference_layers(model), model.activations, "cross_entropy", X,
                   np.eye(3)[y])
    close = dict(rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.predict(kind(X)), ref["A"][-1], **close)
    np.testing.assert_allclose(model.predict(kind(X), dropout=True), ref["A"][-1], **close)
    assert model.loss(kind(X), y) == pytest.approx(ref["loss"], rel=1e-12)
    assert model.evaluate(kind(X), y)["loss"] == pytest.approx(ref["loss"], rel=1e-12)
    dW, db = model.gradients(kind(X), y)
    for l in range(2):
        np.testing.assert_allclose(dW[l], ref["dW"][l], **close)
        np.testing.assert_allclose(db[l], ref["db"][l], **close)
    trace = model.trace(kind(X), y)
    np.testing.assert_allclose(trace.E[0], ref["E"][0], **close)
    assert np.array_equal(trace.X, X)


def test_repeated_columns_add_up():
    # an unsummed CSR matrix: two entries in one column of a row
    X = sp.csr_matrix((np.array([1.0, 2.0, 5.0]), np.array([1, 1, 0]),
                       np.array([0, 2, 3])), shape=(2, 3))
    dense = np.array([[0.0, 3.0, 0.0], [5.0, 0.0, 0.0]])
    model = fp.Model([3, 4, 1], dtype=np.float64, seed=0)
    assert np.array_equal(model.predict(X), model.predict(dense))


def test_bad_sparse_input_is_refused_naming_it():
    model = fp.Model([12, 10, 3], loss="cross_entropy", seed=0)
    X, y = sparse_data()
    bad = sp.csr_matrix(X)
    bad.data[5] = np.nan
    before = model.params.copy()
    with pytest.raises(ValueError, match=r"X must be finite.*nan at index \(\d+, \d+\)"):
        model.fit(bad, y, epochs=1)
    with pytest.raises(ValueError, match="takes 12"):
        model.predict(sp.csr_matrix(np.ones((2, 5))))
    with pytest.raises(ValueError, match="empty"):
        model.predict(sp.csr_matrix((0, 12)))
    with pytest.raises(ValueError, match=r"beyond|finite"):
        model.predict(sp.csr_matrix(np.full((1, 12), 1e300)))   # float32 model
    broken = sp.csr_matrix(X)
    broken.indices[0] = 99                         # a column out of range
    with pytest.raises(ValueError, match="consistent sparse"):
        model.predict(broken)
    assert np.array_equal(model.params, before)
