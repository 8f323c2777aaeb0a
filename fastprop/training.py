"""The training loop around the compiled kernels: epochs, validation, schedules, early
stopping, callbacks, progress, interrupts and divergence. Python runs once per chunk of
batches (at most config.CHUNK_SECONDS of compiled work) and once per epoch, never per
step. Which compiled walk trains a run is chosen here, so a run compiles only it."""
import numbers
import time

import numba
import numpy as np

from . import codes, config
from .compile_notice import CompileNotice
from .history import History
from .kernels.narrow import WIDTH, train_online_sgd_narrow
from .kernels.network import evaluate_rows
from .kernels.tiled import train_batches, train_batches_parallel
from .layout import N_IN, N_OUT
from .optimizers import _check_number as check_number
from .schedules import Constant, Schedule
from .sparse import take_rows
from .thread_choice import ThreadChoice
from .threads import parallel_section, resolve_threads, training_threads
from .tile_bits import cuts_keep_bits
from .tiles import (is_cut, make_tiles, most_tasks, share_gradient_tiles, tiles_of,
                    whole_plan)
from .validation import all_finite, as_sample_weight, check_choice, check_int

MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")


class FitOptions:
    """fit()'s arguments, checked before anything changes."""

    def __init__(self, model, X, Y, epochs, batch_size, shuffle, verbose, validation_data,
                 validation_split, early_stopping, patience, min_delta, restore_best,
                 monitor, schedule, callbacks, n_threads, sample_weight=None):
        self.epochs = check_int("epochs", epochs, 1)
        self.n_threads = resolve_threads(n_threads)
        self.batch_size = check_int("batch_size", batch_size, 1)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = bool(shuffle)
        if verbose not in (0, 1) or isinstance(verbose, float):
            raise ValueError(f"verbose must be 0 or 1, got {verbose!r}")
        self.verbose = int(verbose)
        w = (None if sample_weight is None
             else as_sample_weight(sample_weight, X.shape[0], model.dtype))
        self.X, self.Y, self.w, self.X_val, self.Y_val, self.w_val = self._split(
            model, X, Y, w, validation_data, validation_split)
        if self.w is not None and not (self.w > 0).any():
            raise ValueError("sample_weight: every training sample left after "
                             "validation_split has weight 0")
        self.classifier = model._net.loss in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY)
        if not isinstance(early_stopping, (bool, np.bool_)):
            raise TypeError(f"early_stopping must be True or False, got {early_stopping!r}")
        self.early_stopping = bool(early_stopping)
        self.patience = check_int("patience", patience, 0)
        self.min_delta = check_number("min_delta", min_delta)
        if not isinstance(restore_best, (bool, np.bool_)):
            raise TypeError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = bool(restore_best)
        if monitor is None:
            monitor = "val_loss" if self.X_val is not None else "loss"
        check_choice("monitor", monitor, MONITORS)
        if monitor.startswith("val_") and self.X_val is None:
            raise ValueError(f"monitor={monitor!r} needs validation_data or validation_split")
        if monitor.endswith("accuracy") and not self.classifier:
            raise ValueError(f"monitor={monitor!r} needs a classification loss "
                             f"(cross_entropy or binary_cross_entropy)")
        self.monitor = monitor
        if schedule is None:
            schedule = Constant()
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a fastprop schedule such as "
                            f"fp.schedules.CosineAnnealing(T_max=50), got {schedule!r}")
        self.schedule = schedule
        callbacks = [] if callbacks is None else (
            [callbacks] if callable(callbacks) else list(callbacks))
        for i, cb in enumerate(callbacks):
            if not callable(cb):
                raise TypeError(f"callbacks[{i}] must be callable as cb(epoch, logs), "
                                f"got {cb!r}")
        self.callbacks = callbacks

    @staticmethod
    def _split(model, X, Y, w, validation_data, validation_split):
        """(X, Y, w, X_val, Y_val, w_val): the training rows and the validation rows,
        with their weights (None where unweighted)."""
        if validation_data is not None and validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or \
                    len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a pair (X_val, y_val) or a "
                                 "triple (X_val, y_val, sample_weight_val)")
            X_val, Y_val = model._data(*validation_data[:2], name="validation_data")
            w_val = None
            if len(validation_data) == 3 and validation_data[2] is not None:
                w_val = as_sample_weight(validation_data[2], X_val.shape[0], model.dtype,
                                         "validation_data[2]")
            return X, Y, w, X_val, Y_val, w_val
        if validation_split is not None and not (
                isinstance(validation_split, numbers.Real) and validation_split == 0):
            validation_split = check_number("validation_split", validation_split, 0.0, 1.0,
                                            low_open=True, high_open=True)
            n = X.shape[0]
            n_val = int(round(n * validation_split))
            if n_val < 1 or n_val >= n:
                raise ValueError(f"validation_split={validation_split} leaves no "
                                 f"{'validation' if n_val < 1 else 'training'} samples "
                                 f"out of {n}")
            # a fixed, seeded split: the same model seed always holds out the same rows
            order = np.random.default_rng((model.seed, 2)).permutation(n)
            val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
            X_train, X_val = take_rows(X, train), take_rows(X, val)
            if w is None:
                return X_train, Y[train], None, X_val, Y[val], None
            if not (w[val] > 0).any():
                raise ValueError("sample_weight: every sample validation_split holds out "
                                 "has weight 0")
            return X_train, Y[train], w[train], X_val, Y[val], w[val]
        return X, Y, w, None, None, None


class Snapshot:
    """A copy of the trainable state (parameters, optimizer moments and step count),
    kept in preallocated arrays."""

    def __init__(self, net):
        self.params = np.empty_like(net.params)
        self.state = np.empty_like(net.opt_state)
        self.step = np.empty_like(net.opt_step)

    def save(self, net):
        np.copyto(self.params, net.params)
        np.copyto(self.state, net.opt_state)
        np.copyto(self.step, net.opt_step)

    def restore(self, net):
        np.copyto(net.params, self.params)
        np.copyto(net.opt_state, self.state)
        np.copyto(net.opt_step, self.step)


def _tqdm():
    """tqdm's progress bar class, imported when a fit first shows one: tqdm.auto
    imports asyncio, 14 ms of every `import fastprop` otherwise (a warm start is ~0.45 s)."""
    from tqdm.auto import tqdm
    return tqdm


class FitState:
    """What a model's fits keep from one run to the next, so that repeated fits
    allocate nothing: batches per compiled call by batch size (sized by time), the tile
    plans of the last batch size, and 0..n-1 for epochs without shuffling."""

    def __init__(self):
        self.chunk_batches = {}     # batch size -> batches per compiled call
        self.plans = None           # (batch size, blas_min), cut Tiles, whole Tiles
        self.in_order = None
        self.choice = None          # (batch size, threads), ThreadChoice

    def thread_choice(self, batch_size, threads):
        """The ThreadChoice of runs of this batch size and thread count, kept across
        fits so that its measurements and probe interval carry over."""
        if self.choice is None or self.choice[0] != (batch_size, threads):
            self.choice = ((batch_size, threads), ThreadChoice(threads))
        return self.choice[1]

    def ordered(self, n):
        """0, 1, ..., n-1 (int64), made once per size: the kernels only read it."""
        if self.in_order is None or self.in_order.size != n:
            self.in_order = np.arange(n, dtype=np.int64)
        return self.in_order

    def tiles(self, net, batch_size):
        """(cut, whole): the tile plan of batches of batch_size rows, and the same with
        every product whole (tiles.whole_plan); cut is None where the plan cuts
        nothing (whole is then the plan itself)."""
        key = (batch_size, net.blas_min)
        if self.plans is None or self.plans[0] != key:
            tiles = make_tiles(net.layout, batch_size, net.blas_min)
            if not is_cut(tiles.plan, net.layout, batch_size):
                self.plans = (key, None, tiles)
            else:
                whole = tiles_of(whole_plan(tiles.plan, net.layout, batch_size),
                                 net.layout, batch_size)
                self.plans = (key, tiles, whole)
        return self.plans[1], self.plans[2]


def forward_work(layout, rows):
    """Multiply-adds of a batch's forward pass: sum over layers of rows * n_in * n_out."""
    return int(rows * (layout[:, N_IN] * layout[:, N_OUT]).sum())


def choose_walk(state, net, batch_size, n, n_threads, weighted=False):
    """(trainer, tiles, threads) for a run on n samples in batches of batch_size.

    Online plain SGD on narrow regression nets walks a row at a time with its values
    in registers (narrow.py). Batches (online ones too) walk layer by
    layer on one thread (tiled.train_batches) unless the plan cuts the products, a
    step has config.PARALLEL_MIN_WORK of work and more than one thread is asked: then
    the plan's tiles are shared among threads (tiled.train_batches_parallel). One
    thread on such a step computes the products whole where this machine's BLAS gives
    them the tiles' bits (tile_bits.py), else walks the tiles itself. Every choice
    gives the bits of any other thread count. No more threads run than a step's
    largest parallel loop has tasks: the others would only wait at each loop's end."""
    if not weighted and _narrow_online(net, batch_size):
        return train_online_sgd_narrow, None, 1
    cut, whole = state.tiles(net, batch_size)
    if cut is None or forward_work(net.layout, batch_size) < config.PARALLEL_MIN_WORK:
        return train_batches, whole, 1
    threads = min(n_threads, most_tasks(cut, net.layout, batch_size))
    if threads == 1:
        last = n - (-(-n // batch_size) - 1) * batch_size
        shapes = (batch_size,) if last == batch_size else (batch_size, last)
        if all(cuts_keep_bits(net, cut.plan, whole.plan, rows) for rows in shapes):
            return train_batches, whole, 1
    share_gradient_tiles(cut, net.layout, threads)
    return train_batches_parallel, cut, threads


def run_fit(model, opts):
    """Train `model` (optimizer and workspace already bound) as `opts` says."""
    n = opts.X.shape[0]
    batch_size = min(opts.batch_size, n)
    notice = CompileNotice(model.dtype.name).start()
    try:
        walk = choose_walk(model._fit_state, model._net, batch_size, n, opts.n_threads,
                           opts.w is not None)
        trainer, tiles, threads = walk
        with training_threads(threads):
            if trainer is train_batches_parallel:
                with parallel_section():
                    return _run_epochs(model, opts, walk, notice)
            return _run_epochs(model, opts, walk, notice)
    finally:
        notice.stop()


def _run_epochs(model, opts, walk, notice):
    trainer, tiles, threads = walk
    state = model._fit_state
    net = model._net
    X, Y = opts.X, opts.Y
    n = X.shape[0]
    # the weights of the rows, or none (an empty array: the kernels' "unweighted");
    # the epoch's means divide by their sum
    w = opts.w if opts.w is not None else net.SW[:0]
    mass = float(opts.w.sum(dtype=np.float64)) if opts.w is not None else n
    w_val = opts.w_val if opts.w_val is not None else net.SW[:0]
    val_mass = (float(opts.w_val.sum(dtype=np.float64)) if opts.w_val is not None
                else (opts.X_val.shape[0] if opts.X_val is not None else 0))
    batch_size = min(opts.batch_size, n)
    n_batches = -(-n // batch_size)
    choice = state.thread_choice(batch_size, threads) if threads > 1 else None
    history = History(samples=n)
    best = Snapshot(net) if opts.early_stopping and opts.restore_best else None
    best_value = np.inf
    waited = 0
    base_lr = float(net.opt_hyper[0])
    opts.schedule.reset()
    # Batches per compiled call: sized to config.CHUNK_SECONDS from the last call's speed, and
    # remembered per batch size, so that repeated short fits need no probing call.
    chunk = state.chunk_batches.get(batch_size, min(n_batches, 16))
    if notice.pending:
        chunk = 1       # the first call then times compiling, not training (see notice)
    try:
        for epoch in range(opts.epochs):
            lr = float(opts.schedule.lr(epoch, base_lr, history.logs()))
            net.opt_hyper[0] = lr
            if opts.shuffle:
                order = model._shuffle_rng.permutation(n).astype(np.int64, copy=False)
            else:
                order = state.ordered(n)
            start = time.perf_counter()
            cost = correct = 0.0
            bar = (_tqdm()(total=n, desc=f"epoch {epoch + 1}/{opts.epochs}",
                           unit="samples", leave=True, mininterval=0.5)
                   if opts.verbose else None)
            b = 0
            while b < n_batches:
                count, batches, probe = (choice.next(chunk) if choice
                                         else (threads, chunk, False))
                if choice:
                    numba.set_num_threads(count)
                stop = min(b + batches, n_batches)
                t0 = time.perf_counter()
                if tiles is None:
                    cost, correct, bad = trainer(net, X, Y, order, batch_size, b, stop,
                                                 cost, correct)
                else:
                    cost, correct, bad = trainer(net, tiles, X, Y, w, order, batch_size,
                                                 b, stop, cost, correct)
                elapsed = time.perf_counter() - t0
                notice.stop()
                if bad >= 0 or not all_finite(net.params):
                    where = (f"step {bad + 1} of {n_batches}" if bad >= 0
                             else f"steps {b + 1}-{stop} of {n_batches}")
                    # Model.fit puts the whole model back as it was before the call
                    raise FloatingPointError(
                        f"training diverged: non-finite cost in epoch {epoch + 1}, {where}; "
                        f"the model is as it was before this fit (try a smaller learning "
                        f"rate)")
                done = min(stop * batch_size, n)
                if opts.verbose:
                    bar.update(done - min(b * batch_size, n))
                    bar.set_postfix(loss=f"{cost * n / (done * mass):.4g}", refresh=False)
                if choice:
                    choice.record(count, probe, elapsed, stop - b)
                if not probe:
                    chunk = max(1, int((stop - b) * config.CHUNK_SECONDS / max(elapsed, 1e-9)))
                    state.chunk_batches[batch_size] = chunk
                b = stop
            if bar is not None:
                bar.close()
            history.seconds.append(time.perf_counter() - start)
            history.loss.append(cost / mass)
            history.lr.append(lr)
            if opts.classifier:
                history.accuracy.append(correct / mass)
            if opts.X_val is not None:
                v_cost, v_correct = evaluate_rows(net, opts.X_val, opts.Y_val, w_val, False)
                history.val_loss.append(v_cost / val_mass)
                if opts.classifier:
                    history.val_accuracy.append(v_correct / val_mass)
            if opts.verbose:
                _tqdm().write(_epoch_line(history))
            stop_now = False
            if opts.early_stopping:
                value = getattr(history, opts.monitor)[-1]
                value = -value if opts.monitor.endswith("accuracy") else value
                if value < best_value - opts.min_delta:
                    best_value = value
                    waited = 0
                    history.best_epoch = epoch
                    if best is not None:
                        best.save(net)
                else:
                    waited += 1
                    stop_now = waited >= opts.patience
            for cb in opts.callbacks:
                if cb(epoch, history.logs()):
                    stop_now = True
            if stop_now:
                history.stopped_epoch = epoch
                break
    except KeyboardInterrupt:
        history.interrupted = True
    if best is not None and history.best_epoch is not None:
        best.restore(net)
    return history


def _narrow_online(net, batch_size):
    """Whether kernels/narrow.py (a row's values in registers) serves this run: online
    plain SGD (no momentum, no L2 penalty) on a regression net that _online_on_loops
    accepts (no dropout, every layer on explicit loops), whose layers are all at most
    narrow.WIDTH wide, inputs included, with ReLU or identity hidden layers and an
    identity output."""
    # the scalar tests first: most runs stop there (this runs once per fit)
    if (batch_size != 1 or net.opt_code != codes.SGD or net.opt_hyper[1] != 0.0
            or net.l2 != 0.0 or net.loss in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY)):
        return False
    act = net.act.tolist()
    return (act[-1] == codes.IDENTITY
            and all(code in (codes.RELU, codes.IDENTITY) for code in act[:-1])
            and net.layout[:, N_IN:N_OUT + 1].max() <= WIDTH
            and _online_on_loops(net, batch_size))    # no dropout, no layer on BLAS


def _online_on_loops(net, batch_size):
    """Whether this run is online training (batch 1) without dropout on layers small
    enough for the explicit loops (one condition of the narrow walk)."""
    if batch_size != 1:
        return False
    layout = net.layout
    return not net.dropout.any() and bool((layout[:, N_IN] * layout[:, N_OUT]).max()
                                          < net.blas_min)


def _epoch_line(history):
    e = history.epochs
    parts = [f"epoch {e}", f"loss {history.loss[-1]:.4g}"]
    if history.accuracy:
        parts.append(f"accuracy {history.accuracy[-1]:.4f}")
    if history.val_loss:
        parts.append(f"val_loss {history.val_loss[-1]:.4g}")
    if history.val_accuracy:
        parts.append(f"val_accuracy {history.val_accuracy[-1]:.4f}")
    parts.append(f"lr {history.lr[-1]:.3g}")
    parts.append(f"{history.samples / max(history.seconds[-1], 1e-12):,.0f} samples/s")
    return " - ".join(parts)
