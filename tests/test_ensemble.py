"""fp.Ensemble: every member the bits of training it alone with fp.Model (the same seed
and settings, its own rows), for any thread count; predictions averaged; a refused or
diverging fit changes no member; per-member early stopping keeps each member's best."""
import numpy as np
import pytest

import fastprop as fp
from fastprop.threads import available_cores


def data(n=120, d=6, k=3, seed=0, loss="cross_entropy"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, n) if loss == "cross_entropy" else rng.normal(size=(n, 1))
    return X, y


def solo(ens, k, **model_kwargs):
    return fp.Model(ens.sizes, seed=ens.seeds[k], **model_kwargs)


THREADS = [1, 2] if available_cores() >= 2 else [1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", THREADS)
def test_members_are_the_bits_of_solo_fits(dtype, threads):
    X, y = data()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    kw = dict(loss="cross_entropy", dtype=dtype, dropout=0.1)
    ens = fp.Ensemble([6, 12, 3], n_members=3, seed=7, **kw)
    histories = ens.fit(X, y, epochs=3, batch_size=16, optimizer="adam", n_threads=threads,
                        sample_weight=w, validation_split=0.2)
    for k in range(3):
        model = solo(ens, k, **kw)
        h = model.fit(X, y, epochs=3, batch_size=16, optimizer="adam", sample_weight=w,
                      validation_split=0.2)
        assert np.array_equal(model.params, ens.members[k].params)
        assert h.loss == histories[k].loss and h.val_loss == histories[k].val_loss
        assert h.accuracy == histories[k].accuracy


def test_bootstrap_and_per_member_settings_match_solo_fits():
    X, y = data()
    ens = fp.Ensemble([6, 10, 3], n_members=3, seed=2, loss="cross_entropy",
                      dtype=np.float64, l2=[0.0, 1e-3, 1e-2], dropout=[0.0, 0.2, 0.4])
    opts = [fp.Adam(1e-3), fp.Adam(3e-3), fp.Adam(1e-2)]
    histories = ens.fit(X, y, epochs=2, batch_size=20, optimizer=opts, bootstrap=True)
    for k in range(3):
        model = solo(ens, k, loss="cross_entropy", dtype=np.float64,
                     l2=[0.0, 1e-3, 1e-2][k], dropout=[0.0, 0.2, 0.4][k])
        rows = np.random.default_rng((ens.seeds[k], 4)).integers(0, len(y), len(y))
        h = model.fit(X[rows], y[rows], epochs=2, batch_size=20,
                      optimizer=fp.Adam([1e-3, 3e-3, 1e-2][k]))
        assert np.array_equal(model.params, ens.members[k].params)
        assert h.loss == histories[k].loss


def test_folds_are_a_cross_validation_with_per_member_early_stopping():
    X, y = data(n=100)
    ens = fp.Ensemble([6, 10, 3], n_members=4, seed=3, loss="cross_entropy",
                      dtype=np.float64)
    histories = ens.fit(X, y, epochs=40, batch_size=10, optimizer=fp.Adam(3e-2),
                        folds=4, early_stopping=True, patience=3)
    cut = np.array_split(np.random.default_rng((ens.seeds[0], 5)).permutation(100), 4)
    stopped = [h.stopped_epoch for h in histories]
    assert any(s is not None for s in stopped) and len(set(stopped)) > 1
    for k in range(4):
        val = np.sort(cut[k])
        train = np.sort(np.concatenate(cut[:k] + cut[k + 1:]))
        model = solo(ens, k, loss="cross_entropy", dtype=np.float64)
        h = model.fit(X[train], y[train], epochs=40, batch_size=10,
                      optimizer=fp.Adam(3e-2), validation_data=(X[val], y[val]),
                      early_stopping=True, patience=3)
        assert np.array_equal(model.params, ens.members[k].params)   # best restored
        assert h.val_loss == histories[k].val_loss
        assert h.best_epoch == histories[k].best_epoch


def test_online_sgd_on_narrow_members_matches_solo_fits():
    X, y = data(n=60, d=2, loss="mse")
    ens = fp.Ensemble([2, 3, 1], n_members=3, seed=4, dtype=np.float64)
    histories = ens.fit(X, y, epochs=2, batch_size=1, optimizer=fp.SGD(0.05))
    for k in range(3):
        model = solo(ens, k, dtype=np.float64)
        h = model.fit(X, y, epochs=2, batch_size=1, optimizer=fp.SGD(0.05))
        assert np.array_equal(model.params, ens.members[k].params)
        assert h.loss == histories[k].loss


def test_members_share_the_ensembles_parameters_and_predictions_average():
    X, y = data()
    ens = fp.Ensemble([6, 8, 3], n_members=3, seed=5, loss="cross_entropy")
    assert all(np.shares_memory(m.params, ens.params) for m in ens.members)
    stack = ens.predict(X, members=True)
    assert stack.shape == (3, len(y), 3)
    np.testing.assert_allclose(ens.predict(X), stack.mean(axis=0), rtol=1e-6)
    for k, member in enumerate(ens.members):
        assert np.array_equal(stack[k], member.predict(X))
    ens.params[1] = 0.0                       # setting the stack sets the member
    assert np.allclose(ens.members[1].predict(X), 1 / 3)
    ens.members[2].weights[0][...] = 0.5      # and the reverse
    assert (ens.params[2][:6 * 8] == 0.5).all()


def test_a_refused_or_diverging_fit_changes_no_member():
    X, y = data()
    ens = fp.Ensemble([6, 8, 3], n_members=3, seed=6, loss="cross_entropy",
                      dtype=np.float64)
    ens.fit(X, y, epochs=1, optimizer="adam")
    before = ens.params.copy()
    states = [m.net.opt_state.copy() for m in ens.members]
    with pytest.raises(ValueError, match="folds=4 needs one member per fold"):
        ens.fit(X, y, folds=4)
    with pytest.raises(ValueError, match="one per member"):
        ens.fit(X, y, optimizer=["adam", "sgd"])
    with pytest.raises(FloatingPointError, match="member 1"):
        ens.fit(X, y, epochs=5, optimizer=[fp.SGD(0.01), fp.SGD(1e300), fp.SGD(0.01)])
    assert np.array_equal(ens.params, before)
    for m, state in zip(ens.members, states):
        assert np.array_equal(m.net.opt_state, state)
    # the same continuation as an ensemble never refused
    twin = fp.Ensemble([6, 8, 3], n_members=3, seed=6, loss="cross_entropy",
                       dtype=np.float64)
    twin.fit(X, y, epochs=1, optimizer="adam")
    ens.fit(X, y, epochs=1)
    twin.fit(X, y, epochs=1)
    assert np.array_equal(ens.params, twin.params)


def test_a_diverging_fit_between_fits_puts_back_moments_streams_and_l2():
    # the members train over the last fit's stack here, so the fit that fails is put
    # back from the stacked copies: moments, step counts, dropout and shuffling streams
    X, y = data()
    kw = dict(n_members=3, seed=9, loss="cross_entropy", dtype=np.float64, dropout=0.2)
    ens, twin = fp.Ensemble([6, 8, 3], **kw), fp.Ensemble([6, 8, 3], **kw)
    opts, twin_opts = ([fp.Adam(1e-2) for _ in range(3)] for _ in range(2))
    ens.fit(X, y, epochs=2, optimizer=opts)
    twin.fit(X, y, epochs=2, optimizer=twin_opts)
    opts[1].lr = 1e300
    with pytest.raises(FloatingPointError, match="member 1"):
        ens.fit(X, y, epochs=3, optimizer=opts, l2=[0.0, 0.5, 1e-3])
    opts[1].lr = 1e-2
    assert [m.net.l2 for m in ens.members] == [m.net.l2 for m in twin.members]
    ens.fit(X, y, epochs=2, optimizer=opts)
    twin.fit(X, y, epochs=2, optimizer=twin_opts)
    assert np.array_equal(ens.params, twin.params)
    for m, t in zip(ens.members, twin.members):
        assert np.array_equal(m.net.opt_state, t.net.opt_state)
        assert np.array_equal(m.net.rng, t.net.rng)


def test_save_and_load_continue_every_member_exactly(tmp_path):
    X, y = data()
    ens = fp.Ensemble([6, 8, 3], n_members=3, seed=8, loss="cross_entropy", dropout=0.1)
    ens.fit(X, y, epochs=1, optimizer="adam")
    ens.save(tmp_path / "ens")
    back = fp.load(tmp_path / "ens")
    assert isinstance(back, fp.Ensemble) and np.array_equal(back.params, ens.params)
    ens.fit(X, y, epochs=2)
    back.fit(X, y, epochs=2)
    assert np.array_equal(back.params, ens.params)
    (tmp_path / "ens" / "ensemble.json").write_text('{"format": "fastprop-ensemble", '
                                                    '"version": 1, "n_members": 9}')
    with pytest.raises(ValueError, match="inconsistently"):
        fp.load(tmp_path / "ens")
    with pytest.raises(ValueError, match="without ensemble.json"):
        fp.load(tmp_path)
    other = fp.Model([6, 9, 3], loss="cross_entropy")
    with pytest.raises(ValueError, match="one architecture"):
        fp.Ensemble.from_members([ens.members[0], other])


def test_sparse_inputs_train_members_as_solo_fits():
    import scipy.sparse as sp

    X, y = data()
    X[np.abs(X) < 0.8] = 0.0
    ens = fp.Ensemble([6, 8, 3], n_members=2, seed=9, loss="cross_entropy",
                      dtype=np.float64)
    histories = ens.fit(sp.csr_matrix(X), y, epochs=2, batch_size=16, optimizer="adam",
                        validation_split=0.2)
    for k in range(2):
        model = solo(ens, k, loss="cross_entropy", dtype=np.float64)
        h = model.fit(sp.csr_matrix(X), y, epochs=2, batch_size=16, optimizer="adam",
                      validation_split=0.2)
        assert np.array_equal(model.params, ens.members[k].params)
        assert h.val_loss == histories[k].val_loss
    np.testing.assert_allclose(ens.predict(sp.csr_matrix(X)), ens.predict(X), rtol=1e-12)


def test_given_rows_schedules_and_callbacks_match_solo_fits():
    """rows/validation_rows (a caller's split), one schedule per member and a callback
    that stops member 1 early: each member is the solo fit on X[rows[k]] with
    validation_data X[validation_rows[k]] and the same schedule and callback."""
    X, y = data(n=90)
    rng = np.random.default_rng(3)
    rows = [rng.permutation(90)[:60], rng.integers(0, 90, 70)]
    val = [np.arange(60, 90), np.arange(0, 20)]
    kw = dict(loss="cross_entropy", dtype=np.float64)
    ens = fp.Ensemble([6, 8, 3], n_members=2, seed=5, **kw)
    schedules = [fp.schedules.StepDecay(step_size=2, gamma=0.5),
                 fp.schedules.CosineAnnealing(T_max=4)]
    seen = []

    def stop_member_1(epoch, logs):
        seen.append((logs["member"], epoch))
        return logs["member"] == 1 and epoch == 1

    histories = ens.fit(X, y, epochs=4, batch_size=16, optimizer="adam", rows=rows,
                        validation_rows=val, schedule=schedules, callbacks=stop_member_1)
    assert sorted(seen) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    for k in range(2):
        model = solo(ens, k, **kw)
        schedule = [fp.schedules.StepDecay(step_size=2, gamma=0.5),
                    fp.schedules.CosineAnnealing(T_max=4)][k]
        h = model.fit(X[rows[k]], y[rows[k]], epochs=4, batch_size=16, optimizer="adam",
                      validation_data=(X[val[k]], y[val[k]]), schedule=schedule,
                      callbacks=lambda e, logs: k == 1 and e == 1)
        assert np.array_equal(model.params, ens.members[k].params)
        assert h.loss == histories[k].loss and h.val_loss == histories[k].val_loss
        assert h.lr == histories[k].lr
    assert histories[1].stopped_epoch == 1 and histories[0].epochs == 4


@pytest.mark.parametrize("kwargs, match", [
    (dict(rows=[np.arange(5)]), "one index array per member"),
    (dict(rows=[np.arange(5), np.array([0, 200])]), r"outside \[0, 90\)"),
    (dict(rows=[np.arange(5), np.array([0.5])]), "row indices"),
    (dict(rows=[np.arange(5), np.arange(0)]), "empty"),
    (dict(rows=[np.arange(5)] * 2, bootstrap=True), "no bootstrap or folds"),
    (dict(validation_rows=[None, np.arange(3)], validation_split=0.1), "validation_rows"),
    (dict(validation_rows=[None, np.arange(3)], early_stopping=True, monitor="val_loss"),
     "every member"),
    (dict(schedule=[fp.schedules.Constant()]), "one per member"),
])
def test_refused_rows_change_nothing(kwargs, match):
    X, y = data(n=90)
    ens = fp.Ensemble([6, 8, 3], n_members=2, seed=5, loss="cross_entropy")
    before = ens.params.copy()
    with pytest.raises((ValueError, TypeError), match=match):
        ens.fit(X, y, epochs=1, **kwargs)
    assert np.array_equal(ens.params, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_optimizer_again_goes_on_as_solo_fits_do(dtype):
    # Model.fit given the same optimizer object again keeps its moments (and reads its
    # settings anew); so does every member of an Ensemble.fit, each with its own copy
    X, y = data()
    kw = dict(loss="cross_entropy", dtype=dtype)
    ens = fp.Ensemble([6, 12, 3], n_members=3, seed=5, **kw)
    opt = fp.Adam(lr=1e-2)
    ens.fit(X, y, epochs=1, batch_size=16, optimizer=opt)
    opt.lr = 3e-3
    ens.fit(X, y, epochs=1, batch_size=16, optimizer=opt)
    ens.fit(X, y, epochs=1, batch_size=16, optimizer=fp.Adam(lr=3e-3))   # fresh moments
    for k in range(3):
        model = solo(ens, k, **kw)
        own = fp.Adam(lr=1e-2)
        model.fit(X, y, epochs=1, batch_size=16, optimizer=own)
        own.lr = 3e-3
        model.fit(X, y, epochs=1, batch_size=16, optimizer=own)
        model.fit(X, y, epochs=1, batch_size=16, optimizer=fp.Adam(lr=3e-3))
        assert np.array_equal(model.params, ens.members[k].params)
