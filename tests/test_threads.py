"""Multi-threaded training (tiles) is bit-identical for any thread count; concurrent fits from
Python threads equal sequential ones; training allocates nothing per step."""
import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest

from threadpoolctl import threadpool_info

import fastprop as fp
from fastprop import debug, threads
from helpers import cut_fine

MAX_THREADS = min(4, numba.config.NUMBA_NUM_THREADS)


def data(n=300, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, rng.integers(0, k, n)


def train(dtype, n_threads, batch_size=128, **model_args):
    X, y = data()
    model = fp.Model([12, 40, 24, 4], loss="cross_entropy", dtype=dtype, seed=1,
                     **model_args)
    # the last layer (128 x 24 x 4 multiply-adds) below blas_min: BLAS and loop layers
    debug.set_blas_min(model, 20000)
    assert debug.plans(model, batch_size)[0].plan[:, -1].tolist() == [1, 1, 0]
    h = model.fit(X, y, epochs=3, batch_size=batch_size, optimizer=fp.Adam(1e-2),
                  n_threads=n_threads)
    return model.params.copy(), h.loss


@pytest.mark.skipif(MAX_THREADS < 2, reason="Numba's pool has one thread")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_identical_for_any_thread_count(monkeypatch, dtype):
    cut_fine(monkeypatch)     # the multi-threaded path, in small tiles
    runs = [train(dtype, n, dropout=0.3, l2=1e-3) for n in range(1, MAX_THREADS + 1)]
    for params, loss in runs[1:]:
        assert np.array_equal(params, runs[0][0])
        assert loss == runs[0][1]


def test_concurrent_fits_equal_sequential_fits(monkeypatch):
    cut_fine(monkeypatch)     # each fit on the multi-threaded path

    def job(seed, out):
        X, y = data(seed=seed)
        model = fp.Model([12, 32, 4], loss="cross_entropy", dtype=np.float32, seed=seed,
                         dropout=0.2)
        debug.set_blas_min(model, 0)
        assert debug.walk(model, 300, 64, 2).trainer == "train_batches_parallel"
        model.fit(X, y, epochs=4, batch_size=64, optimizer=fp.Adam(1e-2), n_threads=2)
        out[seed] = model.params.copy()

    sequential, concurrent = {}, {}
    for seed in range(4):
        job(seed, sequential)
    threads = [threading.Thread(target=job, args=(seed, concurrent)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        assert np.array_equal(concurrent[seed], sequential[seed])
    # fastprop leaves Numba's threading layer as it is: a thread-safe one runs the
    # fits side by side, workqueue one at a time (threads.parallel_section)
    assert numba.threading_layer() in ("omp", "tbb", "workqueue")


ALLOCATION_PROBE = """
import numpy as np
from numba.core.runtime import rtsys
import fastprop as fp
import fastprop.config

# one compiled call per epoch whatever the timing (a cold compile inside the first call
# would otherwise shrink the chunks): the counts then compare steps, not calls
fastprop.config.CHUNK_SECONDS = 1e9
rng = np.random.default_rng(0)
X = rng.normal(size=(1024, 12))
y = rng.integers(0, 4, 1024)
for batch_size in (1, 32, 128):
    model = fp.Model([12, 40, 4], loss="cross_entropy", dtype=np.float32, seed=0,
                     dropout=0.1)
    model.fit(X[:256], y[:256], epochs=1, batch_size=batch_size, optimizer=fp.Adam())
    counts = []
    for n in (256, 1024):       # 4x the steps
        before = rtsys.get_allocation_stats().alloc
        model.fit(X[:n], y[:n], epochs=1, batch_size=batch_size)
        counts.append(rtsys.get_allocation_stats().alloc - before)
    print(batch_size, counts[0], counts[1])
"""


def test_no_allocation_per_training_step():
    """Numba runtime allocations during fit do not grow with the number of steps
    (NRT statistics must be switched on before Numba starts: a fresh process)."""
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    proc = subprocess.run([sys.executable, "-c", ALLOCATION_PROBE], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for line in proc.stdout.strip().splitlines():
        batch_size, few_steps, many_steps = map(int, line.split())
        assert many_steps == few_steps, line


def test_bad_thread_counts():
    X, y = data(10)
    model = fp.Model([12, 4, 4], loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match="n_threads"):
        model.fit(X, y, n_threads=0)
    with pytest.raises(ValueError, match="n_threads"):
        model.fit(X, y, n_threads=10 ** 6)
    with pytest.raises(TypeError, match="n_threads"):
        model.fit(X, y, n_threads=1.5)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_one_model_shared_by_threads_takes_turns():
    X, y = data(600)
    model = fp.Model([12, 32, 4], loss="cross_entropy", dtype=np.float32, seed=0)
    expected = model.predict(X)
    results, errors = [], []

    def predict_many():
        try:
            for _ in range(20):
                results.append(model.predict(X))
        except Exception as err:     # reported below
            errors.append(err)

    threads = [threading.Thread(target=predict_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(r, expected) for r in results)
    # a fit in one thread while another predicts: each predict sees whole steps only
    trainer = threading.Thread(target=lambda: model.fit(X, y, epochs=3, n_threads=1))
    trainer.start()
    outputs = [model.predict(X[:5]) for _ in range(50)]
    trainer.join()
    assert all(np.isfinite(o).all() for o in outputs)


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_blas_stays_on_one_thread_until_the_last_of_overlapping_runs_ends():
    # BLAS's thread count belongs to the process: a run that ends while another runs
    # (fits in two Python threads) must not hand BLAS its threads back under it
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        if max(before) < 2:
            pytest.skip("BLAS runs one thread here")
        first, second = threads.training_threads(1), threads.training_threads(2)
        first.__enter__()
        assert blas_threads() == [1] * len(before)
        second.__enter__()
        first.__exit__(None, None, None)           # ends before the other
        assert blas_threads() == [1] * len(before)
        second.__exit__(None, None, None)
        assert blas_threads() == before


def test_the_finiteness_check_of_a_large_input_runs_blas_on_one_thread(monkeypatch):
    # fit checks X by a BLAS dot product; on several BLAS threads, OpenBLAS's workers
    # would go on spinning on the cores the fit's own threads are about to use
    from threadpoolctl import threadpool_limits
    from fastprop import validation
    seen = []
    real_dot = np.dot

    def watched_dot(a, b):
        seen.append(blas_threads())
        return real_dot(a, b)

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        if max(before) < 2:
            pytest.skip("BLAS runs one thread here")
        monkeypatch.setattr(validation.np, "dot", watched_dot)
        X = np.ones((1000, 50))
        assert validation.all_finite(X)
        X[3, 7] = np.nan
        assert not validation.all_finite(X)
        monkeypatch.undo()
        assert seen == [[1] * len(before)] * 2
        assert blas_threads() == before
