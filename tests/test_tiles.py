"""Multi-threaded training by tiles (fastprop/tiles.py, kernels/tiled.py): the plan cuts
every product exactly, a tiled step is the textbook's step (NumPy reference and central
differences, float64), the same training as one thread's train_batches, for any thread
count."""
import numba
import numpy as np
import pytest

from threadpoolctl import threadpool_info

import fastprop as fp
from fastprop import config, debug, tile_bits, tiles, training
from fastprop.layout import make_layout
from helpers import (OUTPUT_PAIRS, central_differences, cut_fine, make_case, max_rel_err,
                     reference_layers, use_blas)
from reference import backprop

MAX_THREADS = min(4, numba.config.NUMBA_NUM_THREADS)


@pytest.fixture
def fine_tiles(monkeypatch):
    cut_fine(monkeypatch)


def covered(n, size):
    """The blocks [start, stop) of size `size` that cut range(n)."""
    return [(s, min(n, s + size)) for s in range(0, n, size)]


# ---------------------------------------------------------------------------- the plan
@pytest.mark.parametrize("sizes,batch", [([784, 512, 256, 10], 128), ([784, 512, 256, 10], 1000),
                                         ([784, 512, 256, 10], 7), ([64, 128, 10], 32),
                                         ([1000, 2000, 1000, 10], 64), ([3, 5000, 2], 4096),
                                         ([12, 40, 24, 4], 1024)])
def test_plan_cuts_every_product_into_blocks_within_bounds(sizes, batch):
    layout = make_layout(sizes)
    plan = tiles.tile_plan(layout, batch, 16384)
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        rows, fwd_cols, dw_rows, dw_cols, e_rows, e_cols, on_blas = plan[l]
        assert 1 <= rows <= batch and 1 <= fwd_cols <= n_out and 1 <= dw_rows <= n_in
        assert dw_cols == n_out and 1 <= e_rows <= batch and 1 <= e_cols <= n_in
        if not on_blas:
            assert batch * n_in * n_out < 16384
            assert (rows, fwd_cols, dw_rows, e_rows, e_cols) == (batch, n_out, n_in,
                                                                 batch, n_in)
        if l == len(sizes) - 2:
            assert fwd_cols == n_out          # softmax and the loss need whole rows
        else:                                 # cut along the longer side only
            assert rows == batch or fwd_cols == n_out
            assert (rows < batch) <= (batch > n_out) and (fwd_cols < n_out) <= (batch <= n_out)
        assert e_rows == batch or e_cols == n_in
        for size, n in [(rows, batch), (fwd_cols, n_out), (dw_rows, n_in), (e_rows, batch),
                        (e_cols, n_in)]:
            blocks = covered(n, size)
            assert len(blocks) <= config.MAX_SPLIT
            assert size == n or size % config.ALIGN == 0


def test_plan_of_w3_and_nets_too_small_to_share():
    w3 = make_layout([784, 512, 256, 10])
    plan = tiles.tile_plan(w3, 128, 16384)
    # 4 and 2 column blocks forward, 6 and 4 row blocks of dW, 4 of E_1; whole rows out
    np.testing.assert_array_equal(plan[:, tiles.ROWS], [128, 128, 128])
    np.testing.assert_array_equal(plan[:, tiles.FWD_COLS], [128, 128, 10])
    np.testing.assert_array_equal(plan[:, tiles.DW_ROWS], [144, 128, 256])
    np.testing.assert_array_equal(plan[1:, tiles.E_ROWS], [128, 128])
    np.testing.assert_array_equal(plan[1:, tiles.E_COLS], [128, 256])
    assert tiles.is_cut(plan, w3, 128)
    # a batch of 1280 rows: the forward and E in 8 row blocks of 160 instead
    # (config.MAX_SPLIT of them)
    plan = tiles.tile_plan(w3, 1280, 16384)
    np.testing.assert_array_equal(plan[:2, tiles.ROWS], [160, 160])
    np.testing.assert_array_equal(plan[:2, tiles.FWD_COLS], [512, 256])
    np.testing.assert_array_equal(plan[1:, tiles.E_ROWS], [160, 224])
    np.testing.assert_array_equal(plan[1:, tiles.E_COLS], [512, 256])
    for sizes, batch in [([64, 128, 10], 32), ([12, 40, 24, 4], 1024), ([1, 2, 1], 1)]:
        layout = make_layout(sizes)
        assert not tiles.is_cut(tiles.tile_plan(layout, batch, 16384), layout, batch)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 5, 16])
def test_gradient_tiles_are_shared_out_largest_first(n_threads):
    layout = make_layout([784, 512, 256, 10])
    t = tiles.make_tiles(layout, 128, 16384)
    tiles.share_gradient_tiles(t, layout, n_threads)
    sizes = np.concatenate([
        [min(rows, n_in - s) * n_out for s in range(0, n_in, rows)]
        for rows, n_in, n_out in zip(t.plan[:, tiles.DW_ROWS], layout[:, 0], layout[:, 1])])
    assert sizes.size == t.dw_first[-1] == t.owner.size
    workers = t.workers[0]
    assert workers == min(n_threads, sizes.size)
    assert set(t.owner.tolist()) == set(range(workers))
    load = np.bincount(t.owner, weights=sizes, minlength=workers)
    assert load.max() - load.min() <= sizes.max()      # greedy's bound


@pytest.mark.parametrize("sizes,batch", [([784, 512, 256, 10], 128),
                                         ([784, 512, 256, 10], 1280), ([9, 40, 33, 5], 70)])
def test_most_tasks_is_the_largest_parallel_loop_of_the_kernels(monkeypatch, sizes, batch):
    # fit runs no more threads than this: the kernels' own counts agree with it
    from fastprop.kernels.tiled import forward_tiles, hidden_error_tiles
    if sizes[0] == 9:
        cut_fine(monkeypatch)
    layout = make_layout(sizes)
    t = tiles.make_tiles(layout, batch, 0 if sizes[0] == 9 else 16384)
    counts = [forward_tiles(t.plan, layout, l, batch) for l in range(len(sizes) - 1)]
    counts += [hidden_error_tiles(t.plan, layout, l, batch) for l in range(1, len(sizes) - 1)]
    counts.append(t.dw_first[-1])
    assert tiles.most_tasks(t, layout, batch) == max(counts)
    if sizes[0] == 784:     # W3: 6 + 4 + 1 dW tiles (batch 128), 6 + 4 + 2 (1280)
        assert max(counts) == (11 if batch == 128 else 12)


def test_fit_shares_tiles_among_threads_only_where_it_pays():
    big = fp.Model([300, 600, 10], loss="cross_entropy", seed=0, dtype=np.float32)
    if MAX_THREADS >= 2:
        assert debug.walk(big, 256, 128, 2).trainer == "train_batches_parallel"
    assert debug.walk(big, 256, 128, 1).trainer == "train_batches"
    # cut, but a step below config.PARALLEL_MIN_WORK: one thread
    mid = fp.Model([64, 256, 128, 10], loss="cross_entropy", seed=0, dtype=np.float32)
    assert debug.plans(mid, 32)[0] is not None
    assert debug.walk(mid, 1000, 32, 2).trainer == "train_batches"
    small = fp.Model([64, 128, 10], loss="cross_entropy", seed=0, dtype=np.float32)
    assert debug.plans(small, 32)[0] is None
    assert debug.walk(small, 64, 32, 2).trainer == "train_batches"


# ------------------------------------------------- one thread: whole products, same bits
def test_whole_plan_keeps_only_the_output_row_tiles():
    w3 = make_layout([784, 512, 256, 10])
    plan = tiles.tile_plan(w3, 128, 16384)
    whole = tiles.whole_plan(plan, w3, 128)
    np.testing.assert_array_equal(whole[:, tiles.ROWS], [128, 128, 128])
    np.testing.assert_array_equal(whole[:, tiles.FWD_COLS], [512, 256, 10])
    np.testing.assert_array_equal(whole[:, tiles.DW_ROWS], [784, 512, 256])
    np.testing.assert_array_equal(whole[:, tiles.DW_COLS], [512, 256, 10])
    np.testing.assert_array_equal(whole[1:, tiles.E_ROWS], [128, 128])
    np.testing.assert_array_equal(whole[1:, tiles.E_COLS], [512, 256])
    np.testing.assert_array_equal(whole[:, tiles.ON_BLAS], plan[:, tiles.ON_BLAS])
    assert most_tasks_of(whole, w3, 128) == 3         # one dW tile a layer
    # 1280 rows: the hidden layers' row blocks become whole, the output's row tiles stay
    plan = tiles.tile_plan(w3, 1280, 16384)
    whole = tiles.whole_plan(plan, w3, 1280)
    assert plan[2, tiles.ROWS] == 224
    np.testing.assert_array_equal(whole[:, tiles.ROWS], [1280, 1280, 224])
    np.testing.assert_array_equal(whole[1:, tiles.E_ROWS], [1280, 1280])
    assert most_tasks_of(whole, w3, 1280) == 6       # the output's row tiles only
    # a layer on loops is one tile in both
    layout = make_layout([784, 512, 3, 2])
    plan = tiles.tile_plan(layout, 1280, 16384)
    whole = tiles.whole_plan(plan, layout, 1280)
    assert plan[2, tiles.ON_BLAS] == 0
    np.testing.assert_array_equal(whole[2], plan[2])


def most_tasks_of(plan, layout, batch):
    return tiles.most_tasks(tiles.tiles_of(plan, layout, batch), layout, batch)


def tiled_model(dtype=np.float32):
    model = fp.Model([300, 512, 8, 3], loss="cross_entropy", seed=0, dtype=dtype)
    model.reserve(128)
    return model


def test_cuts_keep_bits_compares_every_product_both_ways(monkeypatch):
    net = tiled_model().net
    plan = tiles.tile_plan(net.layout, 128, net.blas_min)
    whole = tiles.whole_plan(plan, net.layout, 128)
    # one plan against itself: the same BLAS calls give the same bits
    assert tile_bits._same_products(net, plan, plan.copy(), 128)
    real = tile_bits.tile_products
    for buffer in ("Z", "E", "grads"):
        def second_run_off_by_one_ulp(scratch, p, rows, buffer=buffer):
            real(scratch, p, rows)
            if p is whole:       # the whole plan's run: one entry off in one buffer
                out = getattr(scratch, buffer)
                i = np.flatnonzero(out)[7]
                out[i] = np.nextafter(out[i], np.inf)
        monkeypatch.setattr(tile_bits, "tile_products", second_run_off_by_one_ulp)
        assert not tile_bits._same_products(net, plan, whole, 128), buffer
    monkeypatch.setattr(tile_bits, "tile_products", real)
    # the answer is kept per shape: asked again, nothing is computed
    monkeypatch.setattr(tile_bits, "_answers", {})
    first = tile_bits.cuts_keep_bits(net, plan, whole, 128)
    monkeypatch.setattr(tile_bits, "_same_products", lambda *args: pytest.fail("recomputed"))
    assert tile_bits.cuts_keep_bits(net, plan, whole, 128) is first


def record_plans(monkeypatch):
    """A list that gets the plan of every call fit makes to the tiled trainer."""
    plans = []
    for name in ("train_batches", "train_batches_parallel"):
        real = getattr(training, name)
        monkeypatch.setattr(training, name, lambda net, t, *args, real=real: plans.append(
            t.plan.copy()) or real(net, t, *args))
    return plans


@pytest.mark.parametrize("agree", [True, False])
def test_one_thread_takes_whole_products_only_where_bits_agree(monkeypatch, agree):
    asked = []
    monkeypatch.setattr(training, "cuts_keep_bits",
                        lambda net, plan, whole, rows: asked.append(rows) or agree)
    used = record_plans(monkeypatch)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 300)), rng.integers(0, 3, 300)
    model = tiled_model(np.float64)
    model.fit(X, y, epochs=1, batch_size=128, n_threads=1)
    cut, whole = debug.plans(model, 128)
    # full batches, then (if they agree) the last one's 44 rows
    assert asked == ([128, 44] if agree else [128])
    expected = whole.plan if agree else cut.plan
    assert all(np.array_equal(plan, expected) for plan in used) and used
    asked.clear()
    used.clear()
    if MAX_THREADS >= 2:      # more threads: the cut plan, nothing to ask
        model.fit(X, y, epochs=1, batch_size=128, n_threads=2)
        assert not asked and all(np.array_equal(plan, cut.plan) for plan in used)


# ------------------------------------------------------------- the step, against NumPy
def sgd_step_gradient(model, X, y, lr=0.5):
    """The gradient fit's one full-batch plain-SGD step applied (params - lr * g)."""
    before = model.params.copy()
    model.fit(X, y, epochs=1, batch_size=X.shape[0], shuffle=False,
              optimizer=fp.SGD(lr=lr), n_threads=2)
    return (before - model.params) / lr


@pytest.mark.parametrize("sizes,n", [([5, 7, 6, 3], 11),     # batch > widths: row blocks
                                     ([5, 17, 13, 3], 9)])   # < widths: column blocks
@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
@pytest.mark.parametrize("hidden", ["relu", "tanh", "gelu"])
def test_tiled_step_is_the_reference_gradient_step(fine_tiles, hidden, loss, out_act,
                                                   sizes, n):
    model, X, y, Y = make_case(hidden, loss, out_act, sizes, n)
    use_blas(model, True)
    ref = backprop(reference_layers(model), model.activations, loss, X, Y)
    assert debug.walk(model, n, n, 2).trainer == "train_batches_parallel"
    g = sgd_step_gradient(model, X, y)
    expected = np.concatenate([np.concatenate([dW.ravel(), db])
                               for dW, db in zip(ref["dW"], ref["db"])])
    assert max_rel_err(g, expected) < 1e-10


@pytest.mark.parametrize("hidden,loss,out_act,l2", [
    ("tanh", "cross_entropy", "softmax", 0.0), ("gelu", "mse", "identity", 1e-2),
    ("sigmoid", "binary_cross_entropy", "sigmoid", 0.0), ("elu", "huber", "softmax", 1e-2)])
def test_tiled_step_follows_central_differences(fine_tiles, hidden, loss, out_act, l2):
    # the gradient a tiled SGD step applies against central differences of the mean
    # cost (with the L2 penalty), float64; smooth activations: no kinks
    from test_finite_differences import fd_case
    model, X, y = fd_case(hidden, loss, out_act, [4, 9, 7, 3], n=10)
    model.l2 = l2                                   # fit's penalty and model.loss's
    use_blas(model, True)
    numeric = central_differences(lambda: model.loss(X, y), model.params)
    assert debug.walk(model, 10, 10, 2).trainer == "train_batches_parallel"
    assert max_rel_err(sgd_step_gradient(model, X, y), numeric) < 1e-6


def test_tiled_step_with_layers_on_loops_and_on_blas(fine_tiles):
    # blas_min between the layers' sizes: the middle layer below it (one loop tile)
    model, X, y, Y = make_case("tanh", "cross_entropy", "softmax", [9, 2, 12, 4], 13)
    debug.set_blas_min(model, 13 * 9 * 2 + 1)
    plan = debug.walk(model, 13, 13, 2).tiles.plan
    np.testing.assert_array_equal(plan[:, tiles.ON_BLAS], [0, 1, 1])
    ref = backprop(reference_layers(model), model.activations, "cross_entropy", X, Y)
    g = sgd_step_gradient(model, X, y)
    expected = np.concatenate([np.concatenate([dW.ravel(), db])
                               for dW, db in zip(ref["dW"], ref["db"])])
    assert max_rel_err(g, expected) < 1e-10


# --------------------------------------------- the same training as one thread's path
def fit_pair(dtype, tiled, monkeypatch, **extra):
    """Adam, dropout, L2, a partial last batch, 4 epochs: fit with or without tiles."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(103, 6))
    y = rng.integers(0, 4, 103)
    if tiled:
        cut_fine(monkeypatch)
    model = fp.Model([6, 20, 9, 4], activation=["relu", "elu"], loss="cross_entropy",
                     dtype=dtype, seed=5, dropout=0.25, l2=1e-3, **extra)
    use_blas(model, True)
    h = model.fit(X, y, epochs=4, batch_size=16, optimizer=fp.Adam(1e-2), n_threads=2)
    assert (debug.walk(model, 103, 16, 2).trainer == "train_batches_parallel") == tiled
    monkeypatch.undo()
    return model.params.copy(), h


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiled_training_follows_the_one_thread_path(monkeypatch, dtype):
    # the same masks, penalty and updates: equal up to BLAS's rounding of smaller blocks
    plain, h_plain = fit_pair(dtype, False, monkeypatch)
    tiled, h_tiled = fit_pair(dtype, True, monkeypatch)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    assert max_rel_err(tiled, plain) < tol
    np.testing.assert_allclose(h_tiled.loss, h_plain.loss, rtol=tol)
    np.testing.assert_allclose(h_tiled.accuracy, h_plain.accuracy, atol=1 / 103 + 1e-12)


@pytest.mark.skipif(MAX_THREADS < 2, reason="Numba's pool has one thread")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiled_training_is_bit_identical_for_any_thread_count(fine_tiles, dtype):
    # (one thread keeps these fine tiles unless the BLAS gives whole products their
    # bits: test_one_thread_on_the_default_plan_gives_the_bits_of_two)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 7))
    y = rng.normal(size=(90, 2))
    runs = []
    for n_threads in range(1, MAX_THREADS + 1):
        model = fp.Model([7, 19, 11, 2], activation="tanh", dtype=dtype, seed=2,
                         dropout=0.2, l2=1e-3, loss="huber")
        use_blas(model, True)
        h = model.fit(X, y, epochs=3, batch_size=16, optimizer=fp.Adam(1e-2),
                      n_threads=n_threads)     # 16 rows: column blocks, then row blocks
        runs.append((model.params.tobytes(), h.loss))
    assert all(run == runs[0] for run in runs[1:])


@pytest.mark.skipif(MAX_THREADS < 2, reason="Numba's pool has one thread")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_thread_on_the_default_plan_gives_the_bits_of_two(monkeypatch, dtype):
    # the plan fit makes (not test_tiled_training's fine one): one thread computes the
    # products whole exactly where the check says this machine's BLAS keeps their bits
    # (here: float64 yes; float32 no under OPENBLAS_CORETYPE=Haswell, yes under the
    # SkylakeX kernels), with a partial last batch
    plans = record_plans(monkeypatch)
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(300, 300)), rng.integers(0, 3, 300)
    runs, used = [], []
    for n_threads in (1, 2):
        model = tiled_model(dtype)
        plans.clear()
        h = model.fit(X, y, epochs=2, batch_size=128, optimizer=fp.Adam(1e-3),
                      n_threads=n_threads)
        runs.append((model.params.tobytes(), h.loss, h.accuracy))
        used.append(list(plans))
    assert runs[0] == runs[1]
    cut, whole = (t.plan for t in debug.plans(model, 128))
    agree = all(tile_bits.cuts_keep_bits(model.net, cut, whole, rows) for rows in (128, 44))
    assert all(np.array_equal(p, whole if agree else cut) for p in used[0]) and used[0]
    assert all(np.array_equal(p, cut) for p in used[1]) and used[1]


def test_the_bit_check_runs_blas_on_one_thread_as_training_does(monkeypatch):
    # BLAS's own threads split a product differently (other bits): the check must see
    # what training's single-threaded BLAS calls give, whatever the caller's setting
    from threadpoolctl import threadpool_limits

    seen = []
    real = tile_bits.tile_products
    monkeypatch.setattr(tile_bits, "tile_products", lambda *args: seen.append(
        [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]) or real(*args))
    net = tiled_model().net
    plan = tiles.tile_plan(net.layout, 128, net.blas_min)
    with threadpool_limits(limits=2, user_api="blas"):
        tile_bits._same_products(net, plan, tiles.whole_plan(plan, net.layout, 128), 128)
    assert len(seen) == 2 and all(counts and set(counts) == {1} for counts in seen)


@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_tiled_divergence_stops_before_the_bad_step(fine_tiles, monkeypatch, l2):
    # a cost that is not finite (from the loss, or from the L2 penalty alone) stops the
    # compiled loop before that step's update, and fit restores its check point
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5))
    y = rng.normal(size=(64, 1))
    model = fp.Model([5, 16, 1], seed=0, l2=l2, dtype=np.float64)
    use_blas(model, True)
    model.fit(X, y, epochs=1, batch_size=16, optimizer=fp.Adam(1e-2), n_threads=2)
    if l2:
        model.weights[0][0, 0] = 1e200          # l2/2 * w^2 overflows to inf
    else:
        y = y.copy()
        y[40, 0] = 1e300                        # the third batch's squared error: inf
    before = (model.params.copy(), model.net.opt_state.copy(), model.net.opt_step.copy())
    monkeypatch.setattr(config, "CHUNK_SECONDS", 1e9)    # one call: the whole epoch
    with pytest.raises(FloatingPointError, match="step 1 of 4" if l2 else "step 3 of 4"):
        model.fit(X, y, epochs=1, batch_size=16, shuffle=False, n_threads=2)
    np.testing.assert_array_equal(model.params, before[0])
    np.testing.assert_array_equal(model.net.opt_state, before[1])
    np.testing.assert_array_equal(model.net.opt_step, before[2])
