"""scipy.sparse inputs: the kernels copy each batch's rows from the CSR arrays, so a
sparse X trains, predicts and differentiates bit for bit as its dense twin, on every
walk and thread count, and is refused as clearly when it is bad."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastprop as fp
from fastprop import debug
from helpers import cut_fine, use_blas


def sparse_data(n=90, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(X.shape) < 0.75] = 0.0
    X[3] = 0.0                                  # an empty row
    return X, rng.integers(0, 3, n)


def twins(dtype, **kwargs):
    return [fp.Model([12, 10, 3], loss="cross_entropy", dtype=dtype, seed=4, **kwargs)
            for _ in range(2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_sparse_fit_is_bit_identical_to_dense(dtype, threads, monkeypatch):
    cut_fine(monkeypatch)      # 2 threads: the tiled parallel walk
    X, y = sparse_data()
    dense, sparse = twins(dtype, dropout=0.1)
    for model in (dense, sparse):
        use_blas(model, True)
    if threads == 2:
        assert debug.walk(dense, 72, 16, 2).trainer == "train_batches_parallel"
    w = np.linspace(0.5, 2.0, len(y))
    h1 = dense.fit(X, y, epochs=2, batch_size=16, optimizer="adam", n_threads=threads,
                   validation_split=0.2, sample_weight=w)
    h2 = sparse.fit(sp.csr_matrix(X), y, epochs=2, batch_size=16, optimizer="adam",
                    n_threads=threads, validation_split=0.2, sample_weight=w)
    assert np.array_equal(dense.params, sparse.params)
    assert h1.loss == h2.loss and h1.val_loss == h2.val_loss


@pytest.mark.parametrize("kind", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix,
                                  sp.csr_array])
def test_every_sparse_format_predicts_and_differentiates_as_dense(kind):
    X, y = sparse_data()
    model = fp.Model([12, 10, 3], loss="cross_entropy", dtype=np.float64, seed=0)
    assert np.array_equal(model.predict(kind(X)), model.predict(X))
    assert model.loss(kind(X), y) == model.loss(X, y)
    assert model.evaluate(kind(X), y) == model.evaluate(X, y)
    for a, b in zip(model.gradients(kind(X), y), model.gradients(X, y)):
        assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert np.array_equal(model.trace(kind(X), y).E[0], model.trace(X, y).E[0])


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
