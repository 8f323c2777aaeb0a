"""Training on a Dask cluster (fastprop/cluster.py): `Ensemble.fit(..., client=)` gives
the local fit's bits, a refused call sends nothing, a worker's error changes nothing,
GridSearchCV under joblib's dask backend scores as a local run, and worker processes
compiling into one Numba cache at once are safe. One 2-worker LocalCluster serves the
module; every test is bounded in time (a worker that hangs fails the test)."""
import faulthandler
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import fastprop as fp                                   # noqa: E402
from fastprop.cluster import worker_threads             # noqa: E402

# The most one test may take: a hang guard, not a speed test (with a warm Numba cache the
# file takes ~15 s on 2 cores; on an empty cache the first fits compile, ~40 s a dtype)
SECONDS = 240


@pytest.fixture(autouse=True)
def bounded():
    """Fail a test that runs past SECONDS (SIGALRM), and dump every thread's stack
    and exit where even that does not return (a hang in C)."""
    faulthandler.dump_traceback_later(SECONDS + 30, exit=True)
    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        def expire(signum, frame):
            raise TimeoutError(f"test ran past {SECONDS} s")
        previous = signal.signal(signal.SIGALRM, expire)
        signal.alarm(SECONDS)
    try:
        yield
    finally:
        if alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def client():
    # Dask's nanny writes OMP_NUM_THREADS=1 and the like into this process's
    # environment before it spawns a worker: put it back for the tests after these
    saved = dict(os.environ)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        os.environ.clear()
        os.environ.update(saved)


def data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    return X, y


def ensemble(dtype, K=5):
    return fp.Ensemble([6, 12, 3], n_members=K, loss="cross_entropy", dropout=0.25,
                       dtype=dtype, seed=3)


def state(ens):
    """Every bit a fit leaves in the members."""
    return [(m.params.tobytes(), m.net.opt_state.tobytes(), m.net.opt_step.tobytes(),
             m.net.opt_hyper.tobytes(), m.net.rng.tobytes(), type(m.optimizer),
             m._shuffle_rng.bit_generator.state) for m in ens.members]


def records(histories):
    return [(h.loss, h.val_loss, h.accuracy, h.val_accuracy, h.lr, h.samples,
             h.best_epoch, h.stopped_epoch) for h in histories]


def case_arguments(case):
    """(dtype, fit arguments) of a case, made anew for each ensemble (its own
    optimizer objects)."""
    if case == "float64-bootstrap-split-early-stopping":
        return np.float64, dict(optimizer=fp.Adam(lr=0.01), bootstrap=True,
                                validation_split=0.2, early_stopping=True, patience=3)
    if case == "float32-weights-shared-validation":
        return np.float32, dict(optimizer=fp.Adam(lr=0.01), validation_data=data(60, 1),
                                sample_weight=np.linspace(0.5, 1.5, 240),
                                l2=[0.0, 1e-3, 0.0, 1e-2, 0.0],
                                schedule=fp.schedules.CosineAnnealing(T_max=8))
    # one optimizer object per member, which the second fit passes again (continues)
    return np.float64, dict(optimizer=[fp.AdamW(lr=0.01) for _ in range(5)], folds=5,
                            early_stopping=True, monitor="val_accuracy", patience=2)


CASES = ["float64-bootstrap-split-early-stopping", "float32-weights-shared-validation",
         "float64-folds-own-optimizers"]


@pytest.mark.parametrize("case", CASES)
def test_cluster_fit_has_the_bits_of_the_local_fit(client, case):
    X, y = data()
    (dtype, mine), (_, theirs) = case_arguments(case), case_arguments(case)
    here, there = ensemble(dtype), ensemble(dtype)
    expected = here.fit(X, y, epochs=6, batch_size=16, **mine)
    got = there.fit(X, y, epochs=6, batch_size=16, client=client, **theirs)
    assert records(got) == records(expected)
    assert state(there) == state(here)
    assert all(np.shares_memory(m.params, there.params) for m in there.members)
    if isinstance(theirs["optimizer"], list):       # bound as a local fit binds them
        assert all(m.optimizer is o for m, o in zip(there.members, theirs["optimizer"]))
    # the state travelled: a second fit continues the optimizers and streams alike
    for kwargs in (mine, theirs):
        if not isinstance(kwargs["optimizer"], list):
            kwargs.pop("optimizer")
    assert records(there.fit(X, y, epochs=4, client=client, **theirs)) == \
        records(here.fit(X, y, epochs=4, **mine))
    assert state(there) == state(here)
    assert there.params.tobytes() == here.params.tobytes()


def test_two_fits_at_once_do_not_share_keys(client):
    # identical fits from two threads: the same data, scattered twice, must not be one
    # key that the first fit to finish releases under the other
    X, y = data()
    fit = dict(epochs=3, batch_size=32, optimizer="adam", bootstrap=True)
    expected = ensemble(np.float64)
    expected.fit(X, y, **fit)
    pair = [ensemble(np.float64), ensemble(np.float64)]
    errors = []

    def run(ens):
        try:
            ens.fit(X, y, client=client, **fit)
        except BaseException as err:     # reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(ens,)) for ens in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS / 2)
    assert not errors and not any(t.is_alive() for t in threads)
    assert state(pair[0]) == state(pair[1]) == state(expected)


class Spy:
    """A client that records every use (a refused call must make none)."""

    def __init__(self, client):
        self._client, self.used = client, []

    def __getattr__(self, name):
        self.used.append(name)
        return getattr(self._client, name)


@pytest.mark.parametrize("bad, error", [
    (dict(callbacks=lambda epoch, logs: False), ValueError),
    (dict(epochs=0), ValueError),
    (dict(folds=3), ValueError),
    (dict(n_threads=0), ValueError),
    (dict(optimizer=[fp.SGD(lr=0.1)] * 4 + [fp.Adam()]), ValueError),
    (dict(rows=[np.arange(10)] * 4), ValueError),
    (dict(validation_split=0.2, validation_data=data(10)), ValueError),
    (dict(monitor="val_loss", early_stopping=True), ValueError),
])
def test_a_refused_call_sends_nothing_and_changes_nothing(client, bad, error):
    X, y = data()
    ens = ensemble(np.float64)
    ens.fit(X, y, epochs=1, optimizer="adam")
    before = state(ens)
    spy = Spy(client)
    with pytest.raises(error):
        ens.fit(X, y, client=spy, **dict(dict(epochs=2), **bad))
    assert spy.used == []
    assert state(ens) == before


def test_a_worker_error_leaves_the_members_as_they_were(client):
    X, y = data()
    ens = ensemble(np.float64)
    ens.fit(X, y, epochs=2, optimizer="adam", client=client)
    before = state(ens)
    with pytest.raises(FloatingPointError, match="diverged.*shard of members"):
        ens.fit(X * 1e6, y, epochs=3, optimizer=fp.SGD(lr=1e30), client=client)
    assert state(ens) == before
    assert all(np.shares_memory(m.params, ens.params) for m in ens.members)
    # and the fit let go of what it sent (tasks and scattered data)
    deadline = time.monotonic() + 10
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
        assert time.monotonic() < deadline, "the cluster still holds the fit's keys"
        time.sleep(0.05)


def test_tasks_take_their_workers_thread_count(client):
    assert client.submit(worker_threads, None, pure=False).result(timeout=SECONDS) == 1
    assert client.submit(worker_threads, 8, pure=False).result(timeout=SECONDS) == 1
    assert worker_threads(1) == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_under_the_dask_backend_scores_as_a_local_run(client):
    joblib = pytest.importorskip("joblib")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from fastprop.sklearn import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X, y = X[:450] / 16, y[:450]
    grid = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-1]}
    estimator = MLPClassifier(max_iter=8, batch_size=64, random_state=0)
    local = GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, y)
    for key, values in local.cv_results_.items():
        if key.startswith(("split", "mean_test", "std_test", "rank_test", "param")):
            assert list(remote.cv_results_[key]) == list(values), key
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))


# Two kernels with fastprop's compile options (a caller and its callee, each an index
# and a data file in the cache), compiled by processes that start compiling together.
CACHED_MODULE = '''
import os, sys, time
import numpy as np
from fastprop.kernels.jit import kernel

@kernel
def dot(a, b):
    s = 0.0
    for i in range(a.size):
        s += a[i] * b[i]
    return s

@kernel
def energy(x, rounds):
    s = 0.0
    for r in range(rounds):
        s += dot(x, x) / (r + 1.0) + np.tanh(x[r % x.size])
    return s

def run(folder, me, parties):
    open(os.path.join(folder, f"ready.{me}"), "w").close()
    deadline = time.monotonic() + 100
    while len([f for f in os.listdir(folder) if f.startswith("ready.")]) < parties:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    x = np.linspace(-1.0, 1.0, 7)
    y = x.astype(np.float32)
    result = energy(x, 100) + energy(y, 100) + dot(x, x) + dot(y, y)
    hits = sum(sum(f.stats.cache_hits.values()) for f in (dot, energy))
    misses = sum(sum(f.stats.cache_misses.values()) for f in (dot, energy))
    print(repr(result), hits, misses)
'''


def test_processes_compiling_into_one_numba_cache_at_once(tmp_path):
    # numba/core/caching.py writes each index and data file under a temporary name
    # and os.replace()s it over the target (fastprop/cluster.py's docstring): two
    # processes compiling the same kernels at once into an empty cache both succeed,
    # and a third loads every kernel from what they wrote
    (tmp_path / "cachedmod.py").write_text(textwrap.dedent(CACHED_MODULE))
    cache, barrier = tmp_path / "cache", tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
               PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def start(me, parties):
        code = f"import cachedmod; cachedmod.run({str(barrier)!r}, {me}, {parties})"
        return subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    pair = [start(0, 2), start(1, 2)]
    outputs = [p.communicate(timeout=SECONDS / 2) for p in pair]
    for p, (out, err) in zip(pair, outputs):
        assert p.returncode == 0, err[-3000:]
    results = [out.split() for out, _ in outputs]
    assert results[0][0] == results[1][0]
    # each got its 4 overloads (2 kernels x 2 dtypes), compiled or, where the other
    # process had written one by then, loaded
    assert [int(r[1]) + int(r[2]) for r in results] == [4, 4]
    assert not list(cache.rglob("*.tmp.*"))             # no temporary file left behind
    third = start(2, 1)
    out, err = third.communicate(timeout=SECONDS / 2)
    assert third.returncode == 0, err[-3000:]
    value, hits, misses = out.split()
    assert (value, hits, misses) == (results[0][0], "4", "0")
