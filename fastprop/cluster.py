"""Training an Ensemble's members on a Dask cluster: `fit_on_cluster`, which
``Ensemble.fit(X, y, ..., client=client)`` calls (the ``distributed`` extra).

    from distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=4, threads_per_worker=2))
    histories = ens.fit(X, y, epochs=50, optimizer="adam", bootstrap=True, client=client)

The members are cut into even contiguous shards, one per worker; each worker fits its
shard as an Ensemble of its own and sends the members back. A member's bits do not
depend on the sharding: its training and validation rows, optimizer, L2 penalty and
schedule are decided here, exactly as a local fit decides them, and the shard is told
them (``rows=``, ``validation_rows=``), so the result is the local ``ens.fit(X, y,
...)``'s, bit for bit: parameters, optimizer state, shuffling and dropout streams,
histories (but for their ``seconds``).

Threads. A task trains on as many threads as its worker has (``nthreads``; fewer where
``n_threads`` asks for fewer), never on every core of the machine: Dask's nanny sets
OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS to 1 in the worker processes
it starts, but not NUMBA_NUM_THREADS, so Numba's pool in each worker is as large as the
machine. fastprop code that runs in a worker outside `fit_on_cluster` (a scikit-learn
estimator under ``joblib.parallel_backend("dask")``) uses every core it may, unless
the workers are started with NUMBA_NUM_THREADS set (``LocalCluster(...,
env={"NUMBA_NUM_THREADS": "1"})``, or the environment of ``dask worker``).

Numba's cache. Worker processes that compile fastprop's kernels at the same time write
into one cache folder (NUMBA_CACHE_DIR, or ``__pycache__`` beside fastprop's sources).
That is safe for the files: numba/core/caching.py (``IndexDataCacheFile._open_for_write``)
writes every index (``.nbi``) and data (``.nbc``) file under a fresh temporary name
(uuid4) and renames it over the target with ``os.replace``, which is atomic, so a reader
sees a whole old file or a whole new one, never a torn one. Workers compiling the same
kernels (the case of one fit) write the same index key to the same data file name with
equivalent code. The index itself is read, updated and rewritten without a lock,
though: two processes compiling *different* signatures of one kernel at the same
moment (float32 on one worker, float64 on another) can drop each other's index entry
(the next process compiles it again) or, in a narrow window, pair one's entry with
the other's data file. Compile ahead (``fastprop warmup``, for each dtype used) before
starting the workers, or give each worker its own NUMBA_CACHE_DIR, when workers fit
models of different dtypes. tests/test_dask.py compiles into one empty folder from two
fresh processes at once and loads the result from a third.
"""
from __future__ import annotations

import contextlib
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike

from .ensemble import Ensemble
from .history import History
from .io import from_arrays, to_arrays
from .model import _State
from .optimizers import SGD
from .threads import available_cores
from .validation import check_int

#: the fit arguments every shard gets as they were given
SHARED = ("epochs", "batch_size", "shuffle", "early_stopping", "patience", "min_delta",
          "restore_best", "monitor")
#: what fit_on_cluster uses of a client
CLIENT_METHODS = ("nthreads", "scatter", "submit", "gather", "cancel")


def fit_on_cluster(ens: Ensemble, client: Any, X: ArrayLike, y: ArrayLike,
                   fit_kwargs: dict) -> list[History]:
    """Fit the ensemble's members on the workers of a Dask cluster, with the bits of
    ``ens.fit(X, y, **fit_kwargs)``.

    The arguments are checked here, as a local fit checks them, before anything is
    sent; each member's rows (bootstrap sample, validation split, folds), optimizer,
    L2 penalty and schedule are decided here too. X, y, the sample weights and the
    validation data go to every worker once (``client.scatter(broadcast=True)``);
    the members, as `fastprop.io.to_arrays` arrays, go in one task per worker (even
    contiguous shards of the members), which fits them on the worker's own thread
    count. The members come back the same way, and their state (parameters, optimizer
    and its moments, step count and rates, dropout and shuffling streams) is copied
    into ``ens.members``, whose parameters stay views into ``ens.params``.

    The call waits for every shard, with no timeout of its own. An interrupt (Ctrl-C)
    cancels the tasks and leaves the ensemble as it was, where a local fit returns the
    histories so far.

    Parameters
    ----------
    ens : Ensemble
        The ensemble to train; changed only when every shard's fit succeeded.
    client : distributed.Client
        A client of the cluster; its workers must have fastprop installed.
    X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
        Training inputs, as `Ensemble.fit` takes them.
    y : array_like
        Training targets, as `Ensemble.fit` takes them.
    fit_kwargs : dict
        Every other argument of `Ensemble.fit` (epochs, batch_size, optimizer, ...),
        by name; a missing one takes its default. ``n_threads`` caps each task's
        threads (default: its worker's ``nthreads``); ``callbacks`` must be None.

    Returns
    -------
    list of History
        One per member, as the local fit returns them (``seconds`` are the workers').

    Raises
    ------
    ValueError, TypeError
        If an argument is refused, as `Ensemble.fit` refuses it, or callbacks are
        given (they cannot be shipped to run in the workers); nothing is sent and
        nothing changes.
    TypeError
        If `client` is not a Dask client (after the arguments' checks).
    RuntimeError
        If the cluster has no workers.
    Exception
        The error a worker's fit raised (a `FloatingPointError` for a member that
        diverged): the ensemble is then unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> ens = fp.Ensemble([4, 8, 1], n_members=4, seed=0)
    >>> X, y = np.ones((32, 4)), np.ones(32)
    >>> histories = ens.fit(X, y, epochs=3, client=client)  # doctest: +SKIP
    """
    kwargs = dict(fit_kwargs)
    if kwargs.pop("callbacks", None) is not None:
        raise ValueError("callbacks cannot run with client=: they would run in the workers' "
                         "processes, on copies of the members (use early_stopping, or fit "
                         "without client)")
    n_threads = kwargs.pop("n_threads", None)
    if n_threads is not None:
        n_threads = check_int("n_threads", n_threads, 1)   # capped on each worker
    members = ens.members
    with contextlib.ExitStack() as held:
        for member in members:      # as a local fit, the members' calls take turns
            held.enter_context(member._lock)
        plan = _Probe(ens).fit(X, y, **kwargs)    # every check of a local fit, no training
        keep = [o is not None and o is m.optimizer for o, m in zip(plan.optimizers, members)]
        arrays = [to_arrays(m, include_optimizer=k) for m, k in zip(members, keep)]
        missing = [name for name in CLIENT_METHODS if not hasattr(client, name)]
        if missing:
            raise TypeError(f"client must be a dask.distributed Client; got a "
                            f"{type(client).__name__}, which has no {', '.join(missing)}")
        shards, results = _run_shards(client, plan, kwargs, keep, arrays, n_threads)
        rebuilt = [[(from_arrays(a, source=f"member {k} from the cluster"), h)
                    for k, a, h in zip(shard, out, hist)]
                   for shard, (out, hist, _) in zip(shards, results)]
        _adopt(ens, plan, shards, rebuilt)
        for shard, (_, _, schedules) in zip(shards, results):
            for k, s in zip(shard, schedules):      # the schedules' state, as a local fit
                if hasattr(plan.schedules[k], "__dict__") and hasattr(s, "__dict__"):
                    vars(plan.schedules[k]).update(vars(s))
        return [h for part in rebuilt for _, h in part]


def _run_shards(client, plan, kwargs, keep, arrays, n_threads):
    """(shards, results): the members' indices cut into one shard per worker, and
    what each shard's task returned; every task and datum it sent is released."""
    workers = sorted(client.nthreads())
    if not workers:
        raise RuntimeError("the Dask cluster has no workers")
    shards = [s for s in np.array_split(np.arange(len(arrays)), len(workers)) if s.size]
    shared = [plan.X, plan.Y, plan.w, plan.validation_data]
    sent = [i for i, v in enumerate(shared) if v is not None]
    # a list, not a dict (whose keys would be the data's names on the cluster), and
    # hash=False: names of this fit's own, which no other fit releases
    data = client.scatter([shared[i] for i in sent], broadcast=True, hash=False)
    args = [None] * len(shared)
    for i, future in zip(sent, data):
        args[i] = future
    futures = []
    try:
        for worker, shard in zip(workers, shards):
            job = _shard_job(plan, kwargs, shard, keep, arrays)
            # pure=False: a key of its own, though another fit's task were the same
            futures.append(client.submit(_fit_shard, job, *args, n_threads, pure=False,
                                         workers=[worker], allow_other_workers=True))
        return shards, client.gather(futures)
    finally:
        client.cancel(futures + data)


class _Plan:
    """What a local fit would train with: the checked data and, per member, the rows,
    validation rows, optimizer, L2 and schedule."""

    def __init__(self, X, Y, w, rows, val_rows, validation_data, optimizers, l2s,
                 schedules):
        self.X, self.Y, self.w = X, Y, w
        self.rows, self.val_rows = rows, val_rows
        self.validation_data = validation_data
        self.optimizers, self.l2s, self.schedules = optimizers, l2s, schedules


class _Probe(Ensemble):
    """A view of an ensemble whose fit runs every check and decision of
    `Ensemble.fit` and returns them (a `_Plan`) where the training would start."""

    def __init__(self, ens):        # no Ensemble.__init__: the members are ens's own
        vars(self).update(vars(ens))

    def _fit_held(self, opts, X, Y, w, rows, val_rows, validation_data, optimizers, l2s,
                  schedules):
        # the one check of a fit's later steps (Ensemble._stack), which the shards
        # alone could pass
        kinds = {SGD.code if o is None else o.code for o in optimizers}
        if len(kinds) != 1:
            raise ValueError("every member must train with the same kind of optimizer "
                             f"in one fit; got codes {sorted(kinds)}")
        if validation_data is not None:     # as fit checked it, with its weights
            validation_data = (opts.X_val, opts.Y_val, opts.w_val)
        return _Plan(X, Y, w, rows, val_rows, validation_data, optimizers, l2s, schedules)


def _shard_job(plan, kwargs, shard, keep, arrays):
    """The task's arguments for the members `shard` (indices): their arrays, and the
    fit arguments that make the shard train each member as the whole ensemble would."""
    fit = {name: kwargs[name] for name in SHARED if name in kwargs}
    fit.update(
        rows=[plan.rows[k] for k in shard],
        # no validation_rows beside shared validation data (fit refuses both)
        validation_rows=(None if plan.validation_data is not None
                         else [plan.val_rows[k] for k in shard]),
        l2=[plan.l2s[k] for k in shard],
        schedule=[plan.schedules[k] for k in shard])
    # a member's own optimizer continues its state (which travels in its arrays); any
    # other is a new one to bind, which starts from zero state as it would here
    optimizers = [None if keep[k] else plan.optimizers[k] for k in shard]
    return {"arrays": [arrays[k] for k in shard], "keep": [keep[k] for k in shard],
            "optimizers": optimizers, "fit": fit, "first": int(shard[0])}


def _fit_shard(job, X, Y, w, validation_data, n_threads):
    """In a worker: rebuild the shard's members, fit them as one Ensemble, and return
    (their arrays with their optimizer rates, their histories, their schedules)."""
    models = [from_arrays(a, source=f"shard member {i}")[0]
              for i, a in enumerate(job["arrays"])]
    optimizers = [m.optimizer if keep else o
                  for m, keep, o in zip(models, job["keep"], job["optimizers"])]
    ens = Ensemble.from_members(models)
    try:
        histories = ens.fit(X, Y, optimizer=optimizers, sample_weight=w,
                            validation_data=validation_data,
                            n_threads=worker_threads(n_threads), **job["fit"])
    except FloatingPointError as err:   # its member numbers are the shard's
        first = job["first"]
        raise FloatingPointError(f"{err} [in the shard of members {first}.."
                                 f"{first + len(models) - 1}, on a Dask worker: member i "
                                 f"above is member {first} + i]") from None
    out = [to_arrays(m, extra={"opt_hyper": m.net.opt_hyper}) for m in ens.members]
    return out, histories, job["fit"]["schedule"]


def worker_threads(n_threads: int | None = None) -> int:
    """The threads a fit in this Dask worker takes: the worker's own thread count
    (``nthreads``), or `n_threads` where that is fewer; outside a worker, the cores this
    process may use. Never more than Numba's pool (NUMBA_NUM_THREADS).

    Parameters
    ----------
    n_threads : int or None, default None
        The most threads to take; None: the worker's count.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> from fastprop.cluster import worker_threads
    >>> worker_threads(1)
    1
    """
    try:
        from distributed import get_worker
        worker = get_worker()
        threads = getattr(worker, "state", worker).nthreads
    except (ImportError, ValueError):       # not in a worker's task
        threads = available_cores()
    threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
    return threads if n_threads is None else max(1, min(int(n_threads), threads))


def _adopt(ens, plan, shards, rebuilt):
    """Copy the rebuilt members' state into the ensemble's, every one or none."""
    members = ens.members
    before = [_State(m) for m in members]
    try:
        for shard, part in zip(shards, rebuilt):
            for k, ((model, extra), _) in zip(shard, part):
                _load_state(members[k], model, plan.optimizers[k], extra["opt_hyper"],
                           ens.params[k])
    except BaseException:
        for member, state in zip(members, before):
            state.restore(member)
        raise


def _load_state(member, model, optimizer, opt_hyper, params):
    """Make `member` (a Model whose parameters are the view `params`) continue as
    `model` (the same network, trained elsewhere): its parameters copied into the
    view, `optimizer` bound (the object a local fit would have bound) with `model`'s
    moments and step count, the rates `opt_hyper`, and the dropout and shuffling
    streams; what `fastprop.io.from_arrays` loads, into an existing model."""
    np.copyto(params, model.params)
    member._bind_optimizer(optimizer)
    net, source = member._net, model._net
    np.copyto(net.opt_state, source.opt_state)
    np.copyto(net.opt_step, source.opt_step)
    np.copyto(net.opt_hyper, opt_hyper)
    np.copyto(net.rng, source.rng)
    member._shuffle_rng.bit_generator.state = model._shuffle_rng.bit_generator.state


__all__ = ["fit_on_cluster", "worker_threads"]
