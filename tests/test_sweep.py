"""fp.sweep: each (grid point, fold) member the bits of its solo Model fit on the
fold's rows with the point's settings; groups for what members cannot share; the best
point the lowest mean validation loss; refused grids and arguments."""
import numpy as np
import pytest
from sklearn.model_selection import KFold, StratifiedKFold

import fastprop as fp


def fold_seed(seed, f):
    return int(np.random.SeedSequence((seed, f)).generate_state(1)[0])


def check_members(result, X, y, folds, layer_sizes, epochs, batch_size, seed, **model_kw):
    for g, point in enumerate(result.params):
        for f, (train, val) in enumerate(folds):
            kw = {**model_kw, **{k: v for k, v in point.items()
                                 if k in ("l2", "dropout", "activation")}}
            model = fp.Model(point.get("layer_sizes", layer_sizes), seed=fold_seed(seed, f),
                             **kw)
            h = model.fit(X[train], y[train], epochs=epochs, batch_size=batch_size,
                          optimizer=fp.Adam(point.get("lr", 1e-3)),
                          validation_data=(X[val], y[val]))
            member = result.histories[g][f]
            assert h.loss == member.loss and h.val_loss == member.val_loss
            assert result.val_loss[g, f] == h.val_loss[-1]


def test_classification_grid_members_match_solo_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = rng.integers(0, 3, 120)
    grid = {"lr": [1e-3, 1e-2], "l2": [0.0, 1e-3], "activation": ["relu", "tanh"]}
    result = fp.sweep([5, 8, 3], grid, X, y, cv=3, loss="cross_entropy", epochs=3,
                      batch_size=16, dtype=np.float64, n_threads=2)
    folds = list(StratifiedKFold(3).split(X, y))
    check_members(result, X, y, folds, [5, 8, 3], 3, 16, 0, loss="cross_entropy",
                  dtype=np.float64)
    assert result.val_loss.shape == (8, 3) and result.val_accuracy.shape == (8, 3)
    assert result.best_index == int(np.argmin(result.val_loss.mean(axis=1)))
    assert result.best_params == result.params[result.best_index]


def test_regression_with_given_splits_and_layer_sizes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 4))
    y = np.sin(X[:, :1])
    splits = list(KFold(3, shuffle=True, random_state=0).split(X))
    grid = [{"layer_sizes": [[4, 6, 1], [4, 12, 1]], "lr": [3e-3]},
            {"layer_sizes": [[4, 6, 6, 1]], "dropout": [0.0, 0.2]}]
    result = fp.sweep([4, 6, 1], grid, X, y, cv=splits, epochs=2, batch_size=10, seed=4,
                      dtype=np.float64)
    check_members(result, X, y, splits, [4, 6, 1], 2, 10, 4, dtype=np.float64)
    assert result.val_accuracy is None and len(result.params) == 4


def test_early_stopping_scores_the_kept_epoch():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, -1.0, 0.5]
    result = fp.sweep([3, 8, 1], {"lr": [1e-1, 3e-1]}, X, y[:, None], cv=2, epochs=30,
                      batch_size=8, early_stopping=True, patience=2, dtype=np.float64)
    for g in range(2):
        for f in range(2):
            h = result.histories[g][f]
            assert result.val_loss[g, f] == h.val_loss[h.best_epoch] == min(h.val_loss)


@pytest.mark.parametrize("grid, kwargs, match", [
    ({"learning_rate": [1e-3]}, {}, "unknown"),
    ({"lr": [1e-3]}, {"validation_split": 0.2}, "validation_split"),
    ({"lr": [-1.0]}, {}, "lr"),
])
def test_refused(grid, kwargs, match):
    X = np.zeros((20, 2))
    y = np.zeros((20, 1))
    with pytest.raises(ValueError, match=match):
        fp.sweep([2, 3, 1], grid, X, y, cv=2, epochs=1, **kwargs)
