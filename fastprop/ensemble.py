"""`Ensemble`: K networks of one architecture trained together, in one compiled pass
per epoch (kernels/members.py), each member the bits of training it alone.

    ens = fp.Ensemble([64, 128, 10], n_members=8, loss="cross_entropy", seed=0)
    histories = ens.fit(X, y, epochs=20, optimizer="adam", bootstrap=True)
    ens.predict(X_test)                  # the members' mean (probabilities averaged)
    ens.predict(X_test, members=True)    # (K, n, n_out)
    ens.members[3]                       # an fp.Model over member 3's parameters

Member k is an `fp.Model` built with seed `seeds[k]` and the ensemble's arguments (l2
and dropout may differ per member); its parameters are row k of `ens.params`. A fit
trains member k as `members[k].fit(X_k, y_k, ...)` would on its own, bit for bit and
for any thread count, where X_k is the full set, its bootstrap sample
(rows `default_rng((seeds[k], 4)).integers(0, n, n)`) or all folds but fold k
(`folds=K`, fold k held out for its validation): the members are the unit of parallel
work, each member's steps on one thread, through the one-thread walk `Model.fit` takes.
"""
from __future__ import annotations

import contextlib
import copy
import numbers
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .buffers import aligned_zeros
from .history import History
from .kernels.members import Members, member_net, train_members, train_members_narrow
from .kernels.narrow import train_online_sgd_narrow
from .kernels.network import evaluate_rows
from .kernels.tiled import train_batches
from .layout import layer_views
from .model import Model
from .optimizers import Optimizer, resolve_optimizer
from .schedules import Constant, Schedule
from .sparse import take_rows
from .threads import parallel_section, training_threads
from .training import MONITORS, FitOptions, Snapshot, choose_walk
from .validation import all_finite, as_sample_weight, check_choice, check_int

PER_MEMBER = ("l2", "dropout")     # Model arguments that may take one value per member


class Ensemble:
    """K networks of one architecture, trained together.

    Parameters
    ----------
    layer_sizes : sequence of int
        The widths, input first, as `fastprop.Model` takes them.
    n_members : int
        K, the number of members, at least 1.
    seeds : sequence of int or None, default None
        One seed per member; None draws them from `seed` (or fresh entropy).
    seed : int or None, default None
        Where the members' seeds come from when `seeds` is None.
    **model_kwargs
        `fastprop.Model`'s other arguments, shared by every member; `l2` and `dropout`
        may also be a sequence of K values, one per member (a member's dropout a rate,
        or a list of one rate per hidden layer).

    Raises
    ------
    ValueError, TypeError
        If an argument is refused (as `Model` refuses it, or a per-member sequence of
        another length than K).

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> ens = fp.Ensemble([3, 8, 2], n_members=4, loss="cross_entropy", seed=0)
    >>> ens.params.shape
    (4, 50)
    >>> bool(np.shares_memory(ens.members[1].params, ens.params))
    True
    """

    def __init__(self, layer_sizes: Sequence[int], n_members: int,
                 seeds: Sequence[int] | None = None, seed: int | None = None,
                 **model_kwargs) -> None:
        K = check_int("n_members", n_members, 1)
        if seeds is None:
            entropy = seed if seed is not None else np.random.SeedSequence().entropy
            seeds = [int(s) for s in np.random.SeedSequence(entropy).generate_state(
                K, np.uint32)]
        seeds = list(seeds)
        if len(seeds) != K:
            raise ValueError(f"seeds must hold one seed per member ({K}); got {len(seeds)}")
        per_member = [dict(model_kwargs) for _ in range(K)]
        for name in PER_MEMBER:
            if name in model_kwargs and _is_per_member(name, model_kwargs[name], K):
                for k, value in enumerate(model_kwargs[name]):
                    per_member[k][name] = value
        self._adopt([Model(layer_sizes, seed=s, **kw) for s, kw in zip(seeds, per_member)])

    def _adopt(self, members):
        """Make `members` this ensemble's: their parameters become the rows of one
        stacked array (views)."""
        self.members = list(members)
        self.seeds = [m.seed for m in members]
        self.sizes = members[0].sizes
        self.dtype = members[0].dtype
        self.layout = members[0].layout
        self.params = aligned_zeros((len(members), members[0].n_params), self.dtype)
        for k, member in enumerate(members):
            self.params[k] = member.params
            _repoint_params(member, self.params[k])
        self._S = None          # the stacked arrays of the last fit (_stack)
        self._handed = []       # the Net each member was given over them

    @property
    def n_members(self) -> int:
        """int: K, the number of members."""
        return len(self.members)

    @classmethod
    def from_members(cls, members: Sequence[Model]) -> Ensemble:
        """An ensemble of these models (one architecture and dtype), which it then
        owns: their parameters become rows of its stacked array.

        Parameters
        ----------
        members : sequence of Model
            At least one model; all of the same layer sizes, activations, loss and
            dtype.

        Returns
        -------
        Ensemble
            The ensemble.

        Raises
        ------
        TypeError, ValueError
            If `members` is empty, holds something else than a Model, or models of
            different architectures.
        """
        members = list(members)
        if not members or not all(isinstance(m, Model) for m in members):
            raise TypeError("members must be a non-empty sequence of fastprop Models")
        first = members[0]
        for k, m in enumerate(members):
            if (m.sizes, m.activations, m.loss_name, m.dtype) != \
                    (first.sizes, first.activations, first.loss_name, first.dtype):
                raise ValueError(f"members[{k}] is a {m.sizes} {m.activations} "
                                 f"{m.loss_name} {m.dtype} network; members[0] a "
                                 f"{first.sizes} {first.activations} {first.loss_name} "
                                 f"{first.dtype} one: an ensemble has one architecture")
        ens = cls.__new__(cls)
        ens._adopt(members)
        return ens

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ensemble to the folder `path` (made if missing): one ``.npz`` per
        member (`fastprop.io.save`'s format, each written atomically) and
        ``ensemble.json`` last, which `fastprop.load(path)` reads first.

        Parameters
        ----------
        path : str or os.PathLike
            The folder.

        Raises
        ------
        OSError
            If the files cannot be written.
        """
        from .io_ensemble import save_ensemble
        save_ensemble(self, path)

    # ------------------------------------------------------------------ training
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 10, batch_size: int = 32,
            optimizer: Optimizer | str | Sequence[Optimizer | str] | None = None,
            shuffle: bool = True,
            validation_data: tuple | None = None, validation_split: float = 0.0,
            early_stopping: bool = False, patience: int = 10, min_delta: float = 0.0,
            restore_best: bool = True, monitor: str | None = None,
            schedule: Schedule | None = None, l2: float | Sequence[float] | None = None,
            n_threads: int | None = None,
            sample_weight: ArrayLike | None = None, bootstrap: bool = False,
            folds: int | None = None, rows: Sequence[ArrayLike] | None = None,
            validation_rows: Sequence[ArrayLike | None] | None = None,
            callbacks: Callable[[int, dict], Any] | Iterable[Callable[[int, dict], Any]]
            | None = None, client: Any = None) -> list[History]:
        """Train every member, as `Model.fit` trains one, all in one pass per epoch.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Training inputs, as `Model.fit` takes them.
        y : array_like
            Training targets, as `Model.fit` takes them.
        epochs, batch_size : int
            As `Model.fit` takes them.
        shuffle, early_stopping, restore_best : bool
            As `Model.fit` takes them; member k shuffles with its own generator, and
            its early stopping is its own (a member that stops waits while the others
            train on).
        validation_data : tuple or None
            As `Model.fit` takes it, shared by every member.
        validation_split : float
            As `Model.fit` takes it: member k's split is its own, seeded by its seed.
        patience : int
            As `Model.fit` takes it.
        min_delta : float
            As `Model.fit` takes it.
        monitor : str or None
            As `Model.fit` takes it (with `folds`, None means val_loss).
        schedule : Schedule, sequence of K of them, or None
            As `Model.fit` takes it: one, which each member follows a copy of, or one
            per member, which member k follows itself.
        sample_weight : array_like or None
            As `Model.fit` takes it, one weight per row of X.
        optimizer : Optimizer, str, sequence of K of them, or None, default None
            One optimizer or name for every member (each member trains a copy), or one
            per member; None keeps each member's. Given the same optimizer object as the
            last fit, each member goes on with its copy's moments (under the object's
            current settings), as `Model.fit` does with the same object.
        l2 : float, sequence of K floats, or None, default None
            This run's L2 penalty, one for all or one per member; None keeps each
            member's.
        n_threads : int or None, default None
            Threads sharing the members (each member's steps on one thread); None:
            every core this process may use. The result is the same for any count.
        bootstrap : bool, default False
            Train member k on its bootstrap sample of X (n rows drawn with
            replacement by `default_rng((seeds[k], 4))`), as bagging does.
        folds : int or None, default None
            K-fold cross-validation in one pass: the rows are cut into `folds` = K
            folds (a permutation seeded by the first member's seed, then
            numpy.array_split), member k trains on all but fold k and validates on fold
            k (its history's val_loss, val_accuracy).
        rows : sequence of K int arrays, or None, default None
            Member k trains on the rows ``X[rows[k]]``, in that order (as
            ``members[k].fit(X[rows[k]], y[rows[k]], ...)`` would): any split a caller
            draws, such as a scikit-learn CV splitter's. Not with bootstrap or folds.
        validation_rows : sequence of K (int array or None), or None, default None
            Member k validates on ``X[validation_rows[k]]`` (None: no validation). Not
            with validation_data, validation_split or folds.
        callbacks : callable, iterable of callables, or None, default None
            Called after each epoch of each member still training, as
            ``cb(epoch, logs)`` with that member's `History.logs()` and its index as
            ``logs["member"]``; a true return stops that member.
        client : dask.distributed.Client or None, default None
            Train the members on this Dask cluster's workers instead of here, with the
            same bits (`fastprop.cluster.fit_on_cluster`; needs the ``distributed``
            extra).

        Returns
        -------
        list of History
            One per member.

        Raises
        ------
        ValueError, TypeError
            If an argument is refused (nothing changes).
        FloatingPointError
            If a member's cost becomes non-finite (every member is then as before).
        """
        if client is not None:
            from .cluster import fit_on_cluster
            return fit_on_cluster(self, client, X, y, dict(
                epochs=epochs, batch_size=batch_size, optimizer=optimizer, shuffle=shuffle,
                validation_data=validation_data, validation_split=validation_split,
                early_stopping=early_stopping, patience=patience, min_delta=min_delta,
                restore_best=restore_best, monitor=monitor, schedule=schedule, l2=l2,
                n_threads=n_threads, sample_weight=sample_weight, bootstrap=bootstrap,
                folds=folds, rows=rows, validation_rows=validation_rows,
                callbacks=callbacks))
        K = self.n_members
        lead = self.members[0]
        if folds is not None:
            folds = check_int("folds", folds, 2)
            if folds != K:
                raise ValueError(f"folds={folds} needs one member per fold; the ensemble "
                                 f"has {K}")
            if validation_data is not None or validation_split:
                raise ValueError("folds hold out their own validation rows: give no "
                                 "validation_data or validation_split with folds")
        if not isinstance(bootstrap, (bool, np.bool_)):
            raise TypeError(f"bootstrap must be True or False, got {bootstrap!r}")
        X, Y = lead._data(X, y)
        n = X.shape[0]
        if rows is not None and (bootstrap or folds is not None):
            raise ValueError("rows are the members' training rows: give no bootstrap or "
                             "folds with rows")
        if validation_rows is not None and (folds is not None or validation_split
                                            or validation_data is not None):
            raise ValueError("validation_rows are the members' validation rows: give no "
                             "folds, validation_data or validation_split with them")
        rows = _member_rows("rows", rows, K, n)
        validation_rows = _member_rows("validation_rows", validation_rows, K, n,
                                       optional=True)
        # the options as Model.fit checks them (member 0's split is only a check)
        late_val = folds is not None or validation_rows is not None
        opts = FitOptions(lead, X, Y, epochs, batch_size, shuffle, 0, validation_data,
                          validation_split, early_stopping, patience, min_delta,
                          restore_best, "loss" if late_val else monitor, None, callbacks,
                          n_threads, sample_weight)
        if late_val:      # validation rows to come: what Model.fit would check
            every = validation_rows is None or all(r is not None for r in validation_rows)
            opts.monitor = ("val_loss" if every else "loss") if monitor is None else \
                check_choice("monitor", monitor, MONITORS)
            if opts.monitor.endswith("accuracy") and not opts.classifier:
                raise ValueError(f"monitor={monitor!r} needs a classification loss")
            if early_stopping and opts.monitor.startswith("val_") and not every:
                raise ValueError(f"monitor={opts.monitor!r} needs validation rows for "
                                 f"every member; validation_rows has None")
        w = None if sample_weight is None else as_sample_weight(sample_weight, n, self.dtype)
        schedules = self._schedules(schedule)
        train_rows, val_rows = self._rows(n, bootstrap, folds, validation_split,
                                          validation_data is not None, rows)
        if validation_rows is not None:
            val_rows = validation_rows
        optimizers = self._optimizers(optimizer)
        l2s = self._per_member("l2", l2)
        with contextlib.ExitStack() as held:
            for member in self.members:     # each member's calls take turns, as a Model's
                held.enter_context(member._lock)
            return self._fit_held(opts, X, Y, w, train_rows, val_rows, validation_data,
                                  optimizers, l2s, schedules)

    def _fit_held(self, opts, X, Y, w, rows, val_rows, validation_data, optimizers, l2s,
                  schedules):
        """fit, every member's lock held: bind, train, or put every member back."""
        before = _Before(self)
        try:
            for k, member in enumerate(self.members):
                member._bind_optimizer(optimizers[k])
                member._ensure_capacity(min(opts.batch_size, len(rows[k])))
            return self._run(opts, X, Y, w, rows, val_rows, validation_data, schedules,
                             l2s)
        except BaseException:
            before.restore(self)
            raise

    def _rows(self, n, bootstrap, folds, validation_split, has_val_data, rows=None):
        """(rows, val_rows): per member the indices of X it trains on (in the order
        Model.fit would see them) and those it validates on (None: the shared
        validation_data, or none). `rows`, where given, are the members' rows before
        a validation split."""
        K = self.n_members
        base = [np.arange(n, dtype=np.int64)] * K if rows is None else rows
        if bootstrap:
            base = [np.random.default_rng((s, 4)).integers(0, n, n).astype(np.int64)
                    for s in self.seeds]
        if folds is not None:
            cut = np.array_split(np.random.default_rng((self.seeds[0], 5)).permutation(n),
                                 folds)
            val = [np.sort(c).astype(np.int64) for c in cut]
            train = [np.sort(np.concatenate(cut[:k] + cut[k + 1:])).astype(np.int64)
                     for k in range(K)]
            train = [b[t] if bootstrap else t for b, t in zip(base, train)]
            return train, val
        if validation_split and not has_val_data:
            rows, val = [], []
            for s, b in zip(self.seeds, base):
                m = b.size
                n_val = int(round(m * validation_split))
                order = np.random.default_rng((s, 2)).permutation(m)   # FitOptions._split
                val.append(b[np.sort(order[:n_val])])
                rows.append(b[np.sort(order[n_val:])])
            return rows, val
        return base, [None] * K

    def _optimizers(self, optimizer):
        """One optimizer (or None) per member: a sequence of K, or copies of one."""
        K = self.n_members
        if isinstance(optimizer, (list, tuple)):
            if len(optimizer) != K:
                raise ValueError(f"optimizer: one for all, or one per member ({K}); got "
                                 f"{len(optimizer)}")
            return [resolve_optimizer(o) for o in optimizer]
        one = resolve_optimizer(optimizer)
        if one is None:
            return [m.optimizer for m in self.members]
        source, copies = getattr(self, "_shared_optimizer", (None, None))
        if one is source and all(m.optimizer is c for m, c in zip(self.members, copies)):
            # the object of the last fit again: each member goes on with its copy (and
            # its moments), under the object's settings now, as Model.fit goes on when
            # given the same optimizer again
            for c in copies:
                c.__dict__.update(copy.deepcopy(one.__dict__))
            return list(copies)
        copies = [copy.deepcopy(one) for _ in range(K)]
        self._shared_optimizer = (one, copies)
        return copies

    def _schedules(self, schedule):
        """One schedule per member: a sequence of K (each member its own), or copies
        of one (Constant where None)."""
        K = self.n_members
        if isinstance(schedule, (list, tuple)):
            if len(schedule) != K:
                raise ValueError(f"schedule: one for all, or one per member ({K}); got "
                                 f"{len(schedule)}")
            chosen = list(schedule)
        else:
            chosen = [Constant() if schedule is None else copy.deepcopy(schedule)
                      for _ in range(K)]
        for k, s in enumerate(chosen):
            if not isinstance(s, Schedule):
                raise TypeError(f"schedule[{k}] must be a fastprop schedule, got {s!r}")
        return chosen

    def _per_member(self, name, value):
        """K values of a fit argument: a sequence of K, or one for all."""
        K = self.n_members
        if isinstance(value, (list, tuple, np.ndarray)):
            if len(value) != K:
                raise ValueError(f"{name}: one value, or one per member ({K}); got "
                                 f"{len(value)}")
            return list(value)
        return [value] * K

    def _run(self, opts, X, Y, w, rows, val_rows, validation_data, schedules, l2s):
        K = self.n_members
        members = self.members
        batch_size = opts.batch_size
        val = [None] * K
        for k in range(K):
            if val_rows[k] is not None:
                val[k] = (take_rows(X, val_rows[k]), Y[val_rows[k]],
                          w[val_rows[k]] if w is not None else None)
            elif validation_data is not None:
                val[k] = (opts.X_val, opts.Y_val, opts.w_val)
        walks = [choose_walk(m._fit_state, m._net, min(batch_size, len(r)), len(r), 1,
                             w is not None) for m, r in zip(members, rows)]
        trainer = walks[0][0]
        same = all(walk[0] is trainer and (walk[1] is None or np.array_equal(
            walk[1].plan, walks[0][1].plan)) for walk in walks)
        S = self._stack()
        for k, l2_k in enumerate(l2s):      # this run's L2 (the members keep theirs)
            if l2_k is not None:
                S.l2[k] = l2_k
        histories = [History(samples=len(r)) for r in rows]
        mass = [float(w[r].sum(dtype=np.float64)) if w is not None else float(len(r))
                for r in rows]
        states = [_EarlyStop(opts, m) for m in members]
        base_lr = [float(m._net.opt_hyper[0]) for m in members]
        for s in schedules:
            s.reset()
        counts = np.array([len(r) for r in rows], np.int64)
        orders = np.zeros((K, counts.max()), np.int64)
        active = np.ones(K, np.bool_)
        totals = np.zeros(K)
        corrects = np.zeros(K)
        bad = np.full(K, -1, np.int64)
        w_arr = w if w is not None else S.SW[0, :0]
        threads = min(opts.n_threads, K)
        with training_threads(threads), parallel_section():
            for epoch in range(opts.epochs):
                for k in np.flatnonzero(active):
                    lr = float(schedules[k].lr(epoch, base_lr[k], histories[k].logs()))
                    S.opt_hyper[k, 0] = lr
                    histories[k].lr.append(lr)
                    r = rows[k]
                    orders[k, :r.size] = (r[members[k]._shuffle_rng.permutation(r.size)]
                                          if opts.shuffle else r)
                start = time.perf_counter()
                if same and trainer is train_online_sgd_narrow:
                    train_members_narrow(S, X, Y, orders, counts, active, totals, corrects,
                                         bad)
                elif same and trainer is train_batches:
                    tiles = walks[0][1]
                    train_members(S, tiles.plan, tiles.dw_first, tiles.owner, tiles.workers,
                                  X, Y, w_arr, orders, counts, active, batch_size, totals,
                                  corrects, bad)
                else:   # walks that differ (cut plans), or one the member loop lacks
                    self._solo_epochs(S, walks, X, Y, w_arr, orders, counts, active,
                                      batch_size, totals, corrects, bad)
                seconds = time.perf_counter() - start
                finite = all_finite(S.params)   # a member that stopped is as it was
                for k in np.flatnonzero(active):
                    if bad[k] >= 0 or not (finite or all_finite(S.params[k])):
                        raise FloatingPointError(
                            f"training diverged: member {k}'s cost is not finite in epoch "
                            f"{epoch + 1}; every member is as it was before this fit (try "
                            f"a smaller learning rate)")
                    h = histories[k]
                    h.seconds.append(seconds)
                    h.loss.append(totals[k] / mass[k])
                    if opts.classifier:
                        h.accuracy.append(corrects[k] / mass[k])
                    if val[k] is not None:
                        Xv, Yv, wv = val[k]
                        v_cost, v_correct = evaluate_rows(
                            member_net(S, k), Xv, Yv, wv if wv is not None else w_arr[:0],
                            False)
                        v_mass = float(wv.sum(dtype=np.float64)) if wv is not None \
                            else Xv.shape[0]
                        h.val_loss.append(v_cost / v_mass)
                        if opts.classifier:
                            h.val_accuracy.append(v_correct / v_mass)
                    stop = states[k].after_epoch(h, epoch, S, k)
                    if opts.callbacks:
                        logs = dict(h.logs(), member=int(k))
                        for cb in opts.callbacks:
                            if cb(epoch, logs):
                                stop = True
                    if stop:
                        h.stopped_epoch = epoch
                        active[k] = False
                if not active.any():
                    break
        for k in range(K):
            states[k].finish(histories[k], S, k)
        return histories

    def _solo_epochs(self, S, walks, X, Y, w, orders, counts, active, batch_size, totals,
                     corrects, bad):
        """One epoch of each active member by its own one-thread walk, in turn (where
        the members' walks differ, or the walk is one the member loop does not take)."""
        for k in np.flatnonzero(active):
            trainer, tiles, _ = walks[k]
            net = member_net(S, k)
            order = orders[k, :counts[k]]
            n_batches = -(-int(counts[k]) // batch_size)
            if tiles is None:
                totals[k], corrects[k], bad[k] = trainer(net, X, Y, order, batch_size, 0,
                                                         n_batches, 0.0, 0.0)
            else:
                with training_threads(1):
                    totals[k], corrects[k], bad[k] = trainer(
                        net, tiles, X, Y, w, order, batch_size, 0, n_batches, 0.0, 0.0)

    def _stack(self):
        """Every member's arrays stacked (Members), each member's Net re-pointed at its
        rows, so that compiled code and the members see the same memory. The stack of
        the last fit is kept: only what a member has since replaced (a fresh
        optimizer's state, a state put back after a failed fit) is copied into it."""
        members = self.members
        nets = [m._net for m in members]
        codes = {net.opt_code for net in nets}
        if len(codes) != 1:
            raise ValueError("every member must train with the same kind of optimizer "
                             f"in one fit; got codes {sorted(codes)}")
        C = max(net.capacity for net in nets)
        S = self._S
        if S is None or C > S.capacity:
            S = self._S = _new_stack(nets, self.params, C)
            self._handed = [None] * len(members)
        S = self._S = S._replace(opt_code=nets[0].opt_code)
        for k, (member, net) in enumerate(zip(members, nets)):
            handed = self._handed[k]
            for field in STATE_FIELDS:
                value = getattr(net, field)
                if handed is None or value is not getattr(handed, field):
                    getattr(S, field)[k].reshape(-1)[:value.size] = value.reshape(-1)
            S.l2[k] = net.l2
            member._net = self._handed[k] = member_net(S, k)._replace(l2=float(net.l2))
        return S

    # ------------------------------------------------------------------ inference
    def predict(self, X: ArrayLike, members: bool = False) -> np.ndarray:
        """The members' mean output (probabilities averaged for classifiers), or with
        members=True every member's, stacked (K, n, n_out).

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Inputs, finite.
        members : bool, default False
            Return each member's output instead of the mean.

        Returns
        -------
        numpy.ndarray
            (n_samples, n_out), or (K, n_samples, n_out) with members=True.

        Raises
        ------
        ValueError
            If X is refused.
        """
        X = self.members[0]._features(X)
        stack = np.stack([m.predict(X) for m in self.members])
        return stack if members else stack.mean(axis=0, dtype=np.float64).astype(self.dtype)


# a member's arrays that hold state between steps (the workspace's do not)
STATE_FIELDS = ("grads", "opt_hyper", "opt_state", "opt_step", "dropout", "rng")
WORKSPACE_FIELDS = ("Z", "A", "E", "M", "Y", "SW")


def _new_stack(nets, params, C):
    """Members over `params` (K, P) and new stacked arrays shaped after the first Net
    (workspace regions of C rows); the values are copied in by Ensemble._stack."""
    K = len(nets)
    first = nets[0]

    def stacked(field):
        value = getattr(first, field)
        if field in WORKSPACE_FIELDS:
            return aligned_zeros((K, value.size // first.capacity * C), value.dtype)
        return aligned_zeros((K,) + value.shape, value.dtype)

    return Members(params=params, grads=stacked("grads"), layout=first.layout,
                   act=first.act, loss=first.loss, capacity=C, blas_min=first.blas_min,
                   Z=stacked("Z"), A=stacked("A"), E=stacked("E"), Y=stacked("Y"),
                   opt_code=first.opt_code, opt_hyper=stacked("opt_hyper"),
                   opt_state=stacked("opt_state"), opt_step=stacked("opt_step"),
                   l2=np.zeros(K), dropout=stacked("dropout"), M=stacked("M"),
                   rng=stacked("rng"), SW=stacked("SW"),
                   cost=np.zeros((K, C)), correct=np.zeros((K, C)))  # a row tile: >= 1 row


class _Before:
    """What a fit changes in the members (parameters, optimizer moments, step counts
    and settings, dropout streams, Nets, optimizers, shuffling generators), kept so
    that a failed fit can put every member back. The parameters are the rows of
    Ensemble.params, copied in one piece; so are the other arrays of the members that
    still train over the last fit's stack, and those of a member that no longer does
    (a new optimizer's state, a state put back) are copied one by one."""

    FIELDS = ("opt_state", "opt_step", "opt_hyper", "rng")

    def __init__(self, ens):
        members = ens.members
        self.nets = [m._net for m in members]
        self.optimizers = [m.optimizer for m in members]
        self.shuffles = [m._shuffle_rng.bit_generator.state for m in members]
        self.params = ens.params.copy()
        S = self.S = ens._S
        self.own = {}       # member index -> (field, copy) of its own arrays
        for k, net in enumerate(self.nets):
            handed = ens._handed[k] if S is not None else None
            own = [f for f in self.FIELDS
                   if handed is None or getattr(net, f) is not getattr(handed, f)]
            if not np.may_share_memory(net.params, ens.params):   # not its row
                own.append("params")
            if own:
                self.own[k] = [(f, getattr(net, f).copy()) for f in own]
        self.stacked = [] if S is None else [getattr(S, f).copy() for f in self.FIELDS]

    def restore(self, ens):
        np.copyto(ens.params, self.params)
        for f, saved in zip(self.FIELDS, self.stacked):
            np.copyto(getattr(self.S, f), saved)
        for k, member in enumerate(ens.members):
            net = member._net = self.nets[k]
            for f, saved in self.own.get(k, ()):
                np.copyto(getattr(net, f), saved)
            member.optimizer = self.optimizers[k]
            member._shuffle_rng.bit_generator.state = self.shuffles[k]


class _EarlyStop:
    """One member's early stopping, as training._run_epochs keeps it."""

    def __init__(self, opts, model):
        self.opts = opts
        self.best = Snapshot(model._net) if opts.early_stopping and opts.restore_best \
            else None
        self.best_value = np.inf
        self.waited = 0

    def after_epoch(self, history, epoch, S, k):
        """Whether the member stops after this epoch."""
        opts = self.opts
        if not opts.early_stopping:
            return False
        value = getattr(history, opts.monitor)[-1]
        value = -value if opts.monitor.endswith("accuracy") else value
        if value < self.best_value - opts.min_delta:
            self.best_value = value
            self.waited = 0
            history.best_epoch = epoch
            if self.best is not None:
                self.best.save(member_net(S, k))
            return False
        self.waited += 1
        return self.waited >= opts.patience

    def finish(self, history, S, k):
        if self.best is not None and history.best_epoch is not None:
            self.best.restore(member_net(S, k))


def _member_rows(name, rows, K, n, optional=False):
    """rows: None, or K int64 index arrays into n rows (None entries where optional)."""
    if rows is None:
        return None
    rows = list(rows)
    if len(rows) != K:
        raise ValueError(f"{name} must hold one index array per member ({K}); got "
                         f"{len(rows)}")
    out = []
    for k, r in enumerate(rows):
        if r is None and optional:
            out.append(None)
            continue
        r = np.asarray(r)
        if r.ndim != 1 or not (r.size == 0 or np.issubdtype(r.dtype, np.integer)):
            raise TypeError(f"{name}[{k}] must be a 1-D array of row indices, got "
                            f"{r.dtype} of shape {r.shape}")
        if r.size == 0 and not optional:
            raise ValueError(f"{name}[{k}] is empty: a member needs rows to train on")
        if r.size and (r.min() < 0 or r.max() >= n):
            raise ValueError(f"{name}[{k}] holds indices outside [0, {n}): "
                             f"{int(r.min())}..{int(r.max())}")
        out.append(r.astype(np.int64) if r.size else None)
    return out


def _is_per_member(name, value, K):
    """Whether a Model argument's value is a sequence of one value per member (a
    sequence of another length, such as per-layer dropout rates, is every member's)."""
    if isinstance(value, (str, numbers.Number)) or value is None:
        return False
    return len(list(value)) == K


def _repoint_params(model, row):
    """Make `row` (a view into the ensemble's stacked parameters) the model's params."""
    model.params = row
    model.weights, model.biases = layer_views(row, model.layout)
    model._net = model._net._replace(params=row)


__all__ = ["Ensemble"]
