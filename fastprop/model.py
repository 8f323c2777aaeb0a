"""`Model`: owns the arrays and offers the friendly API; the maths is in kernels/."""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import codes, config
from .buffers import aligned_zeros
from .init import default_init, draw_weights, resolve_init
from .kernels.network import backward_rows, evaluate_rows, predict_into, predict_rows
from .layout import count_params, layer_views, make_layout, param_count
from .kernels.check import MAX_WIDTH

MAX_PARAMS = 2**58       # NumPy refuses arrays of 2**63 bytes; no machine has 2**58 floats
from .history import History
from .net import Net, make_net, with_workspace
from .optimizers import SGD, Optimizer, _check_number, resolve_optimizer
from .schedules import Schedule
from .sparse import SparseRows, as_sparse_rows, dense_rows, is_sparse
from .trace import Trace
from .training import FitOptions, FitState, Snapshot, run_fit
from .validation import (all_finite, as_features, as_sample_weight, as_targets, check_choice,
                         check_dtype, check_finite, check_int)


def _too_large(sizes, dtype):
    """MemoryError's message for a network too large to allocate."""
    n_params = count_params(sizes)
    # params, grads, two moment buffers, and four workspace buffers of capacity rows
    width = sum(sizes)
    needed = (4 * n_params + 4 * config.DEFAULT_CAPACITY * width) * dtype.itemsize
    return (f"layer_sizes {list(sizes)} make a network of {n_params:,} parameters, which "
            f"needs about {needed / 2**30:,.1f} GiB in {dtype.name}: more than this machine "
            f"could allocate")


def _one_at_a_time(method):
    """Run `method` holding the model's lock: calls that use the model's buffers from
    different Python threads take turns instead of overwriting each other's work."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


class Model:
    """A multi-layer perceptron trained by backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int
        Widths from input to output, e.g. [64, 128, 10]: at least two.
    activation : str or list of str
        Hidden-layer activation, one name for all or one per hidden layer:
        identity (linear), relu, leaky_relu, elu, sigmoid, tanh, softplus, gelu.
    loss : str
        mse, mae, huber, binary_cross_entropy or cross_entropy.
    output_activation : str or None
        None picks the loss's natural one (softmax for cross_entropy, sigmoid for
        binary_cross_entropy, identity otherwise).
    dtype : np.float32 or np.float64
        Of the parameters, the kernels' arithmetic and every output.
    seed : int or None
        Seeds initialisation and shuffling; the same seed gives bit-identical runs.
        None draws one (kept in `model.seed`).
    init : str or None
        he (he_normal), he_uniform, xavier (xavier_uniform), xavier_normal,
        lecun_normal; None picks He for ReLU-like layers and Xavier for the others.
    dropout : float or list of float
        Inverted-dropout rate of each hidden layer's output during training (one rate
        for all or one per hidden layer), in [0, 1).
    l2 : float
        L2 penalty: the cost minimised is the mean loss + l2/2 * sum of squared weights
        (biases excluded). fit(l2=...) overrides it for one run.

    Attributes
    ----------
    sizes : tuple of int
        The layer widths, from input to output.
    activations : list of str
        The activation of each layer, the output layer's last.
    loss_name : str
        The loss's name.
    dtype : numpy.dtype
        The parameters' dtype.
    seed : int
        The seed the model was made with (drawn when None was given).
    params : numpy.ndarray
        Every weight and bias, layer by layer, in one flat array.
    weights, biases : list of numpy.ndarray
        Per-layer views into `params`: weights[l] is (n_in, n_out), biases[l] (n_out,).
    optimizer : Optimizer or None
        The optimizer the last fit (or set_optimizer) used; None before any.

    Raises
    ------
    TypeError
        If an argument has the wrong type (layer_sizes not a sequence, a non-integer
        width or seed, a non-numeric rate).
    ValueError
        If an argument is out of range or unknown: fewer than two layers, a width below
        1, an unknown activation, loss, init or dtype, an output activation that does
        not pair with the loss, a dropout rate outside [0, 1).
    MemoryError
        If the network is too large to allocate on this machine.

    See Also
    --------
    fastprop.load : Read back a model written by `save`.
    fastprop.sklearn.MLPClassifier, fastprop.sklearn.MLPRegressor : The same networks
        as scikit-learn estimators.

    Examples
    --------
    >>> import numpy as np
    >>> import fastprop as fp
    >>> model = fp.Model([2, 8, 1], activation="tanh", loss="mse", seed=0)
    >>> model
    Model([2, 8, 1], activations=[tanh, identity], loss='mse', dtype=float32, params=33)
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> y = np.array([0, 1, 1, 0], dtype=np.float32)
    >>> history = model.fit(X, y, epochs=5, batch_size=4, optimizer=fp.Adam(lr=0.01))
    >>> history.epochs
    5
    >>> model.predict(X).shape
    (4, 1)
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str | Sequence[str] = "relu",
                 loss: str = "mse", output_activation: str | None = None,
                 dtype: DTypeLike = np.float32, seed: int | None = None,
                 init: str | None = None, dropout: float | Sequence[float] = 0.0,
                 l2: float = 0.0) -> None:
        self.sizes = self._check_sizes(layer_sizes)
        n_layers = len(self.sizes) - 1
        self.loss_name = check_choice("loss", loss, codes.LOSSES)
        loss_code = codes.LOSSES[loss]
        hidden = self._check_hidden_activations(activation, n_layers - 1)
        if output_activation is None:
            output_activation = codes.DEFAULT_OUTPUT[loss_code]
        check_choice("output_activation", output_activation, codes.ACTIVATIONS)
        if output_activation not in codes.ALLOWED_OUTPUT[loss_code]:
            raise ValueError(f"output_activation {output_activation!r} does not pair with "
                             f"loss {loss!r}; it takes "
                             f"{', '.join(codes.ALLOWED_OUTPUT[loss_code])}")
        self.activations = hidden + [output_activation]
        self.dtype = check_dtype(dtype)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        self.seed = check_int("seed", seed, 0)
        self.init = resolve_init(init)
        rates = self._check_dropout(dropout, n_layers - 1)
        l2 = _check_number("l2", l2)

        try:
            if count_params(self.sizes) > MAX_PARAMS:     # beyond what NumPy can index
                raise MemoryError
            self._allocate(act_names=self.activations, loss_code=loss_code, rates=rates,
                           l2=l2)
        except MemoryError:
            raise MemoryError(_too_large(self.sizes, self.dtype)) from None

    def _allocate(self, act_names, loss_code, rates, l2):
        """Every array of the model: parameters (initialised), optimizer state and the
        workspace of config.DEFAULT_CAPACITY rows."""
        self.layout = make_layout(self.sizes)
        act = np.array([codes.ACTIVATIONS[a] for a in act_names], np.int64)
        init_seq, shuffle_seq = np.random.SeedSequence(self.seed).spawn(2)
        self._shuffle_rng = np.random.default_rng(shuffle_seq)
        n_params = param_count(self.layout)
        self.params = aligned_zeros(n_params, self.dtype)
        self.weights, self.biases = layer_views(self.params, self.layout)
        init_rng = np.random.default_rng(init_seq)
        for l, W in enumerate(self.weights):
            scheme = self.init or default_init(self.activations[l])
            W[...] = draw_weights(init_rng, scheme, *W.shape)
        self.optimizer = None
        self._lock = threading.RLock()
        self._fit_state = FitState()     # what repeated fits reuse (training.py)
        key = int(np.random.SeedSequence((self.seed, 3)).generate_state(1, np.uint64)[0])
        self._net = make_net(self.params, self.layout, act, loss_code, config.DEFAULT_CAPACITY,
                             seed=key)
        self._net.dropout[:-1] = rates
        self._net = self._net._replace(l2=l2)

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_sizes(layer_sizes):
        try:
            sizes = list(layer_sizes)
        except TypeError as err:
            raise TypeError(f"layer_sizes must be a sequence of positive integers, got "
                            f"{layer_sizes!r}") from err
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs at least an input and an output width, "
                             f"got {sizes!r}")
        for i, s in enumerate(sizes):
            check_int(f"layer_sizes[{i}]", s, 1)
            if s > MAX_WIDTH:
                raise ValueError(f"layer_sizes[{i}] must be at most {MAX_WIDTH} (2**31 - 1), "
                                 f"got {s}")
        return tuple(int(s) for s in sizes)

    @staticmethod
    def _check_hidden_activations(activation, n_hidden):
        names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        if len(names) != n_hidden:
            raise ValueError(f"activation must be one name or a list of {n_hidden} names "
                             f"(one per hidden layer); got {len(names)}")
        for i, name in enumerate(names):
            check_choice(f"activation[{i}]", name, codes.HIDDEN_ACTIVATIONS)
        return names

    @staticmethod
    def _check_dropout(dropout, n_hidden):
        rates = [dropout] * n_hidden if np.ndim(dropout) == 0 else list(dropout)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout must be one rate or a list of {n_hidden} rates "
                             f"(one per hidden layer); got {len(rates)}")
        return [_check_number(f"dropout[{i}]", r, 0.0, 1.0, high_open=True)
                for i, r in enumerate(rates)]

    def _features(self, X, name="X", check_finite=True):
        """X as the kernels take it: a C-contiguous 2-D array of the model's dtype, or
        for a scipy.sparse matrix SparseRows (always checked for finiteness)."""
        if is_sparse(X):
            return as_sparse_rows(X, self.sizes[0], self.dtype, name)
        if isinstance(X, SparseRows) and X.data.dtype == self.dtype \
                and int(X.shape[1]) == self.sizes[0]:
            return X        # made (and checked) by as_sparse_rows for a model like this

        return as_features(X, self.sizes[0], self.dtype, name, check_finite)

    def _data(self, X, y, name=None):
        X = self._features(X, f"{name}[0]" if name else "X")
        Y = as_targets(y, self._net.loss, self.sizes[-1], X.shape[0], self.dtype,
                       f"{name}[1]" if name else "y")
        return X, Y

    @property
    def l2(self) -> float:
        """float: The L2 penalty.

        The cost minimised is the mean loss + l2/2 * sum of squared weights (biases
        excluded). It is kept in the `Net`, where the kernels read it; assigning a
        negative or non-finite value raises ValueError, a non-number TypeError.
        """
        return self._net.l2

    @l2.setter
    def l2(self, value: float) -> None:
        with self._lock:
            self._net = self._net._replace(l2=_check_number("l2", value))

    @property
    def dropout(self) -> list[float]:
        """list of float: The dropout rate of each hidden layer (a copy)."""
        return [float(r) for r in self._net.dropout[:-1]]

    @property
    def is_classifier(self) -> bool:
        """bool: Whether the loss is cross_entropy or binary_cross_entropy."""
        return self._net.loss in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY)

    # ------------------------------------------------------------------ state
    @property
    def net(self) -> Net:
        """Net: The arrays the compiled kernels work on (see `fastprop.kernels`).

        It shares params, grads and optimizer state with the model. Methods that
        replace buffers (`reserve`, `set_optimizer`, `fit`) make a new one: take
        `model.net` again after calling them.
        """
        return self._net

    @property
    def n_params(self) -> int:
        """int: The number of parameters (weights and biases)."""
        return self.params.size

    def _ensure_capacity(self, rows):
        """Grow the workspace (from Python, before compiled code runs) to `rows`."""
        if rows > self._net.capacity:
            self._net = with_workspace(self._net, rows)

    def _scratch_net(self, rows):
        """A Net over this model's params with its own workspace, grads and dropout
        stream (a copy), so that inspecting the model changes nothing in it."""
        grads = aligned_zeros(self.params.shape, self.dtype)
        return with_workspace(self._net._replace(grads=grads, rng=self._net.rng.copy()), rows)

    @_one_at_a_time
    def reserve(self, rows: int) -> None:
        """Make the workspace hold batches of up to `rows` rows.

        For the kernel API (`fastprop.kernels`), whose functions take batches of at
        most ``net.capacity`` rows. The workspace never shrinks. Take the new
        `model.net` afterwards.

        Parameters
        ----------
        rows : int
            The largest batch the kernels will be given, at least 1.

        Raises
        ------
        TypeError
            If `rows` is not an integer.
        ValueError
            If `rows` is below 1.

        Examples
        --------
        >>> import fastprop as fp
        >>> model = fp.Model([3, 4, 2], seed=0)
        >>> model.reserve(1000)
        >>> model.net.capacity >= 1000
        True
        """
        self._ensure_capacity(check_int("rows", rows, 1))

    @_one_at_a_time
    def set_optimizer(self, optimizer: Optimizer) -> None:
        """Make `optimizer` the model's, as ``fit(optimizer=...)`` does.

        For the kernel API: `fastprop.kernels.optimizer_step` and
        `fastprop.kernels.train_step` update by the net's optimizer. A different object
        than the current one starts from zero moments and step count; the same object
        keeps them. Take `model.net` afterwards.

        Parameters
        ----------
        optimizer : Optimizer
            A fastprop optimizer such as ``fp.Adam(lr=1e-3)``.

        Raises
        ------
        TypeError
            If `optimizer` is not a fastprop optimizer.

        Examples
        --------
        >>> import fastprop as fp
        >>> model = fp.Model([3, 4, 2], seed=0)
        >>> model.set_optimizer(fp.Adam(lr=1e-3))
        >>> model.optimizer
        Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0)
        """
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a fastprop optimizer such as fp.Adam(), "
                            f"got {type(optimizer).__name__}")
        self._bind_optimizer(optimizer)

    def _bind_optimizer(self, optimizer):
        """Use `optimizer`; a different object than the last one starts fresh state."""
        if optimizer is None:
            optimizer = self.optimizer if self.optimizer is not None else SGD(lr=0.01)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a fastprop optimizer such as fp.SGD(lr=0.1), "
                            f"got {type(optimizer).__name__}")
        net = self._net
        hyper = optimizer.hyper()
        if optimizer is not self.optimizer:
            state = aligned_zeros(net.opt_state.shape, net.opt_state.dtype)
            step = np.zeros(1, np.int64)
        else:
            state, step = net.opt_state, net.opt_step
        self._net = net._replace(opt_code=optimizer.code, opt_hyper=hyper,
                                 opt_state=state, opt_step=step)
        self.optimizer = optimizer

    @_one_at_a_time
    def reset_optimizer(self) -> None:
        """Zero the optimizer's moment buffers and step count.

        The optimizer's settings stay; the next update starts as a fresh optimizer's
        first one would.

        Examples
        --------
        >>> import fastprop as fp
        >>> model = fp.Model([3, 4, 2], seed=0)
        >>> model.reset_optimizer()
        >>> int(model.net.opt_step[0])
        0
        """
        self._net.opt_state[...] = 0
        self._net.opt_step[...] = 0

    # ------------------------------------------------------------------ training
    @_one_at_a_time
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 10, batch_size: int = 32,
            optimizer: Optimizer | str | None = None, shuffle: bool = True, verbose: int = 0,
            validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            validation_split: float = 0.0, early_stopping: bool = False, patience: int = 10,
            min_delta: float = 0.0, restore_best: bool = True, monitor: str | None = None,
            schedule: Schedule | None = None,
            callbacks: Callable[[int, dict], Any] | Iterable[Callable[[int, dict], Any]]
            | None = None,
            l2: float | None = None, n_threads: int | None = None,
            sample_weight: ArrayLike | None = None) -> History:
        """Train by mini-batch backpropagation.

        Whole runs of batches execute in compiled code, in chunks of about 0.2 s of
        work; Python runs between chunks and epochs only. ``batch_size=1`` is online
        SGD; ``batch_size >= len(X)`` is full batch. The same seed gives bit-identical
        runs, for any number of threads.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Training inputs, finite; converted to the model's dtype. A scipy.sparse
            matrix (CSR, CSC, COO) trains as its dense twin, bit for bit: each batch's
            rows are copied from its entries, no dense copy of X is made.
        y : array_like
            Training targets, finite. cross_entropy takes integer class labels
            (n_samples,) or (n_samples, 1) in [0, n_out), or rows of probabilities
            (n_samples, n_out);
            binary_cross_entropy takes values in [0, 1], shape (n_samples, n_out);
            regression losses take (n_samples, n_out), or (n_samples,) when n_out is 1.
        epochs : int, default 10
            Number of passes over the training data, at least 1.
        batch_size : int, default 32
            Samples per gradient step, at least 1 (the last batch of an epoch may be
            smaller).
        optimizer : Optimizer or str or None, default None
            A fastprop optimizer, or a name: 'sgd', 'adam', 'adamw', 'rmsprop',
            'adagrad' or 'adadelta' (a new optimizer of that class with its default
            settings). None keeps the model's (``fp.SGD(lr=0.01)`` at first). The
            same object again continues its moments; a name starts fresh ones.
        shuffle : bool, default True
            Shuffle the training samples before each epoch (a seeded order).
        verbose : {0, 1}, default 0
            1 shows a progress bar with the epoch's metrics.
        validation_data : tuple (X_val, y_val[, sample_weight_val]) or None, default None
            Data to evaluate after each epoch (``val_loss``, ``val_accuracy``), with
            optional weights (weighted means).
        validation_split : float, default 0.0
            Instead of `validation_data`: the fraction of X, in (0, 1), held out for
            validation (a split seeded by the model's seed), with its sample weights.
            0 holds out nothing.
        early_stopping : bool, default False
            Stop when `monitor` has not improved by more than `min_delta` for
            `patience` epochs.
        patience : int, default 10
            Epochs without improvement that early stopping waits, at least 0.
        min_delta : float, default 0.0
            The smallest change of `monitor` that counts as an improvement, >= 0.
        restore_best : bool, default True
            When early stopping ends the run, put back the weights of the best epoch.
        monitor : {'val_loss', 'val_accuracy', 'loss', 'accuracy'} or None, default None
            The metric early stopping watches; None means val_loss when there is
            validation data, else loss. The accuracies need a classification loss.
        schedule : Schedule or None, default None
            A learning-rate schedule from `fastprop.schedules`, applied per epoch;
            None keeps the optimizer's rate.
        callbacks : callable or iterable of callables or None, default None
            Each is called as ``cb(epoch, logs)`` after every epoch, `logs` being
            `History.logs()`; a truthy return value stops training.
        l2 : float or None, default None
            The L2 penalty for this run only; None uses the model's `l2`.
        n_threads : int or None, default None
            Threads that share each step's work; None means every core this process
            may use (never more than a step has tasks). The result is bit-identical
            for any count.
        sample_weight : array_like, shape (n_samples,), or None, default None
            A weight >= 0 per sample, finite, not all 0: each step then follows the
            gradient of its batch's weighted mean cost, sum_i w_i C_i / sum_i w_i,
            plus the L2 penalty (a batch whose weights are all 0 takes a step on the
            penalty alone), and the history's losses and accuracies are weighted
            means. Integer weights train as repeated rows would in one full batch.

        Returns
        -------
        History
            The per-epoch record of the run (losses, accuracies, learning rates,
            times, and where and why it stopped).

        Raises
        ------
        TypeError
            If an argument has the wrong type (for example a non-boolean `shuffle`, an
            object that is not an optimizer or schedule, a callback that is not
            callable).
        ValueError
            If an argument is out of range or inconsistent: data of the wrong shape or
            not finite, targets the loss does not take, an unknown optimizer name or
            monitor, both validation_data and validation_split.
        FloatingPointError
            If the cost becomes non-finite (divergence); the message names the epoch
            and step.

        Notes
        -----
        Ctrl-C stops between chunks and returns the history so far, with the
        parameters at the last completed step (``history.interrupted`` is True). A call
        that raises (refused arguments, divergence, an exception from a callback)
        leaves the model as it was: parameters, optimizer with its moments and step
        count, the shuffling generator and the dropout stream.

        Examples
        --------
        >>> import numpy as np
        >>> import fastprop as fp
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(64, 3)).astype(np.float32)
        >>> y = (X[:, 0] > 0).astype(np.int64)
        >>> model = fp.Model([3, 16, 2], loss="cross_entropy", seed=0)
        >>> history = model.fit(X, y, epochs=20, batch_size=16, optimizer="adam",
        ...                     validation_split=0.25, early_stopping=True, patience=5)
        >>> len(history.loss) == history.epochs
        True
        """
        X, Y = self._data(X, y)
        opts = FitOptions(self, X, Y, epochs, batch_size, shuffle, verbose, validation_data,
                          validation_split, early_stopping, patience, min_delta,
                          restore_best, monitor, schedule, callbacks, n_threads,
                          sample_weight)
        l2 = self._net.l2 if l2 is None else _check_number("l2", l2)
        optimizer = resolve_optimizer(optimizer)
        before = _State(self)
        try:
            self._bind_optimizer(optimizer)
            self._ensure_capacity(min(opts.batch_size, opts.X.shape[0]))
            self._net = self._net._replace(l2=l2)
            history = run_fit(self, opts)
        except BaseException:
            before.restore(self)
            raise
        self._net = self._net._replace(l2=before.net.l2)
        return history

    @_one_at_a_time
    def evaluate(self, X: ArrayLike, y: ArrayLike,
                 sample_weight: ArrayLike | None = None) -> dict[str, float]:
        """The mean cost, and for classifiers the accuracy, on (X, y).

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Inputs, finite.
        y : array_like
            Targets, as `fit` takes them.
        sample_weight : array_like, shape (n_samples,), or None, default None
            Weights >= 0 (not all 0): weighted means.

        Returns
        -------
        dict
            ``{'loss': mean cost with the L2 penalty}``, and for classifiers also
            ``'accuracy'``: the share of samples classified correctly.

        Raises
        ------
        ValueError
            If X or y has the wrong shape or is not finite.
        FloatingPointError
            If the loss overflows on these inputs.

        Examples
        --------
        >>> import numpy as np
        >>> import fastprop as fp
        >>> model = fp.Model([2, 4, 3], loss="cross_entropy", seed=0)
        >>> scores = model.evaluate(np.zeros((5, 2)), np.array([0, 1, 2, 0, 1]))
        >>> sorted(scores)
        ['accuracy', 'loss']
        """
        X, Y = self._data(X, y)
        w, mass = self._weights(sample_weight, X.shape[0])
        cost, correct = evaluate_rows(self._net, X, Y, w, False)
        result = {"loss": self._finite("the loss", cost / mass)}
        if self.is_classifier:
            result["accuracy"] = correct / mass
        return result

    def _weights(self, sample_weight, n):
        """(w, mass): the checked weights (empty for None: the kernels' "unweighted")
        and what the means divide by (their sum, or n)."""
        if sample_weight is None:
            return self._net.SW[:0], n
        w = as_sample_weight(sample_weight, n, self.dtype)
        return w, float(w.sum(dtype=np.float64))

    # ------------------------------------------------------------------ inference
    @_one_at_a_time
    def predict(self, X: ArrayLike, dropout: bool = False) -> np.ndarray:
        """The network's output activations for X.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Inputs, finite; any number of rows.
        dropout : bool, default False
            True draws dropout masks as in training (Monte-Carlo dropout), advancing
            the model's dropout stream.

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_out)
            The outputs in the model's dtype: probabilities for softmax and sigmoid
            outputs.

        Raises
        ------
        ValueError
            If X has the wrong shape or is not finite.
        TypeError
            If `dropout` is not True or False.
        FloatingPointError
            If finite inputs overflow the network (as loss, evaluate and gradients
            raise it).

        Examples
        --------
        >>> import numpy as np
        >>> import fastprop as fp
        >>> model = fp.Model([3, 8, 2], loss="cross_entropy", seed=0)
        >>> proba = model.predict(np.ones((4, 3)))
        >>> proba.shape
        (4, 2)
        >>> bool(np.allclose(proba.sum(axis=1), 1.0))
        True
        """
        net = self._net
        if self._dropout_flag(dropout):
            X = self._features(X)
            out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
            predict_into(out, net, X, True)
            return self._finite("the prediction", out)
        # the arrays, not the Net, and X's finiteness counted as the kernel copies it
        # in: see kernels.network.predict_rows
        X = self._features(X, check_finite=False)
        out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
        bad = predict_rows(out, X, net.params, net.layout, net.act, net.Z, net.A,
                           net.capacity, net.blas_min)
        if bad > 0:
            check_finite("X", X)                # names the first culprit
            raise ValueError("X must be finite")
        if bad < 0:
            self._finite("the prediction", np.nan)
        return out

    def predict_classes(self, X: ArrayLike) -> np.ndarray:
        """The predicted classes of a classifier.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Inputs, finite.

        Returns
        -------
        numpy.ndarray of int64
            For cross_entropy, the class index (the argmax) of each sample, shape
            (n_samples,); for binary_cross_entropy, 0/1 per output (output > 0.5),
            shape (n_samples, n_out).

        Raises
        ------
        ValueError
            If the model's loss is not a classification loss, or X is refused as by
            `predict`.

        Examples
        --------
        >>> import numpy as np
        >>> import fastprop as fp
        >>> model = fp.Model([3, 8, 4], loss="cross_entropy", seed=0)
        >>> model.predict_classes(np.ones((2, 3))).shape
        (2,)
        """
        if not self.is_classifier:
            raise ValueError(f"predict_classes needs a classification loss "
                             f"(cross_entropy or binary_cross_entropy); this model's loss "
                             f"is {self.loss_name!r}")
        p = self.predict(X)
        if self._net.loss == codes.CROSS_ENTROPY:
            return p.argmax(axis=1).astype(np.int64)
        return (p > 0.5).astype(np.int64)

    @_one_at_a_time
    def loss(self, X: ArrayLike, y: ArrayLike, dropout: bool = False,
             sample_weight: ArrayLike | None = None) -> float:
        """The mean cost over the samples (X, y), with the L2 penalty.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Inputs, finite.
        y : array_like
            Targets, as `fit` takes them.
        dropout : bool, default False
            True draws dropout masks as in training.
        sample_weight : array_like, shape (n_samples,), or None, default None
            Weights >= 0 (not all 0): the weighted mean sum_i w_i C_i / sum_i w_i.

        Returns
        -------
        float
            The mean cost.

        Raises
        ------
        ValueError
            If X or y has the wrong shape or is not finite.
        TypeError
            If `dropout` is not True or False.
        FloatingPointError
            If the cost overflows on these inputs.

        Examples
        --------
        >>> import numpy as np
        >>> import fastprop as fp
        >>> model = fp.Model([2, 4, 1], seed=0)
        >>> model.loss(np.zeros((3, 2)), np.zeros(3)) >= 0
        True
        """
        X, Y = self._data(X, y)
        training = self._dropout_flag(dropout)
        w, mass = self._weights(sample_weight, X.shape[0])
        cost, _ = evaluate_rows(self._net, X, Y, w, training)
        return self._finite("the loss", cost / mass)

    @_one_at_a_time
    def gradients(self, X: ArrayLike, y: ArrayLike, dropout: bool = False,
                  sample_weight: ArrayLike | None = None
                  ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The gradient of the mean cost over all of (X, y), layer by layer.

        The model is not changed (unless `dropout` is True, which advances its dropout
        stream).

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Inputs, finite.
        y : array_like
            Targets, as `fit` takes them.
        dropout : bool, default False
            True draws dropout masks as in training.
        sample_weight : array_like, shape (n_samples,), or None, default None
            Weights >= 0 (not all 0): the gradient of the weighted mean cost.

        Returns
        -------
        dW : list of numpy.ndarray
            dW[l], shape (n_in_l, n_out_l): the gradient with respect to layer l's
            weights (with the L2 penalty's).
        db : list of numpy.ndarray
            db[l], shape (n_out_l,): the gradient with respect to layer l's biases.

        Raises
        ------
        ValueError
            If X or y has the wrong shape or is not finite.
        TypeError
            If `dropout` is not True or False.
        FloatingPointError
            If the gradient overflows on these inputs.

        Examples
        --------
        >>> import numpy as np
        >>> import fastprop as fp
        >>> model = fp.Model([2, 4, 1], seed=0)
        >>> dW, db = model.gradients(np.ones((3, 2)), np.zeros(3))
        >>> [w.shape for w in dW]
        [(2, 4), (4, 1)]
        """
        X, Y = self._data(X, y)
        training = self._dropout_flag(dropout)
        w, mass = self._weights(sample_weight, X.shape[0])
        net, _ = self._run_backward(X, Y, training, w, mass)
        self._finite("the gradient", net.grads)
        return tuple(copy_views(net.grads, self.layout))

    def _finite(self, what, value):
        """`value` (a float or an array), or FloatingPointError if it is not finite: the
        network overflowed on finite inputs (inputs near the dtype's largest value)."""
        finite = all_finite(value) if isinstance(value, np.ndarray) else np.isfinite(value)
        if not finite:
            raise FloatingPointError(
                f"{what} is not finite: the network overflowed {self.dtype.name} on these "
                f"inputs (largest {np.finfo(self.dtype).max:.3g}); scale the inputs, or "
                f"use dtype=np.float64")
        return value

    @staticmethod
    def _dropout_flag(dropout):
        if not isinstance(dropout, (bool, np.bool_)):
            raise TypeError(f"dropout must be True or False, got {dropout!r}")
        return bool(dropout)

    @_one_at_a_time
    def trace(self, X: ArrayLike, y: ArrayLike) -> Trace:
        """The textbook quantities of one backpropagation over the batch (X, y).

        The model is not changed. Dropout is not applied.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
            Inputs, finite.
        y : array_like
            Targets, as `fit` takes them.

        Returns
        -------
        Trace
            Z, A and the per-sample errors E = dC_i/dZ of each layer, the gradient of
            the mean cost (dW, db), and the mean cost.

        Raises
        ------
        ValueError
            If X or y has the wrong shape or is not finite.

        Examples
        --------
        >>> import numpy as np
        >>> import fastprop as fp
        >>> model = fp.Model([2, 3, 1], seed=0)
        >>> t = model.trace(np.ones((5, 2)), np.zeros(5))
        >>> [a.shape for a in t.A]
        [(5, 3), (5, 1)]
        """
        X, Y = self._data(X, y)
        n = X.shape[0]
        net, _ = self._run_backward(X, Y, False, scale=1.0)
        Z, A, E = [], [], []
        for n_in, n_out, _, _, _, out_unit in self.layout:
            region = slice(n * out_unit, n * out_unit + n * n_out)
            Z.append(net.Z[region].reshape(n, n_out).copy())
            A.append(net.A[region].reshape(n, n_out).copy())
            E.append(net.E[region].reshape(n, n_out).copy())
        net, cost = self._run_backward(X, Y, False)     # the mean cost's gradient
        dW, db = copy_views(net.grads, self.layout)
        return Trace(X=dense_rows(X), Z=Z, A=A, E=E, dW=dW, db=db, loss=cost / n)

    def _run_backward(self, X, Y, training, w=None, mass=None, scale=None):
        """One forward and backward pass over all of (X, Y) on a scratch workspace:
        (net, summed cost). w: the rows' weights (None or empty: unweighted); the
        errors are scaled by `scale`, by default 1 / mass (the mean's gradient)."""
        n = X.shape[0]
        net = self._scratch_net(n)
        if training:
            net = net._replace(rng=self._net.rng)   # draws advance the model's stream
        if w is None:
            w = net.SW[:0]
        if scale is None:
            scale = 1.0 / (mass if mass is not None else n)
        return net, backward_rows(net, X, Y, w, training, scale)

    @_one_at_a_time
    def save(self, path: str | os.PathLike[str], include_optimizer: bool = True) -> None:
        """Write the model to the ``.npz`` file `path`, as `fastprop.io.save` does.

        `fastprop.load` reads it back. It waits for a fit running in another thread to
        end, so the file holds one consistent state.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write, exactly that name (no suffix is added); written under a
            temporary name and renamed, so an interrupted save leaves an old file
            intact.
        include_optimizer : bool, default True
            Also store the optimizer and its moments, so that training continues
            exactly where it stopped.

        Raises
        ------
        OSError
            If the file cannot be written.

        See Also
        --------
        fastprop.io.save, fastprop.load

        Examples
        --------
        >>> import fastprop as fp
        >>> model = fp.Model([2, 4, 1], seed=0)
        >>> model.save("model.npz")  # doctest: +SKIP
        >>> fp.load("model.npz").sizes  # doctest: +SKIP
        (2, 4, 1)
        """
        from .io import save
        save(self, path, include_optimizer=include_optimizer)

    def __reduce__(self):
        # Pickle through the same plain arrays as save(): the copy gets fresh buffers
        # whose per-layer views really look into its own params.
        from .io import to_arrays
        return (_unpickle_model, (to_arrays(self),))

    def __repr__(self):
        acts = ", ".join(self.activations)
        return (f"Model({list(self.sizes)}, activations=[{acts}], loss={self.loss_name!r}, "
                f"dtype={self.dtype.name}, params={self.n_params})")


class _State:
    """Everything of a model that a fit changes, kept so that a failed fit can put it
    back: the Net (whose optimizer state arrays a newly bound optimizer replaces rather
    than overwrites), copies of what training overwrites in place (parameters, moments,
    step count, dropout stream) and the shuffling generator's state."""

    def __init__(self, model):
        net = model._net
        self.net = net
        self.optimizer = model.optimizer
        self.trained = Snapshot(net)
        self.trained.save(net)
        self.opt_hyper = net.opt_hyper.copy()
        self.rng = net.rng.copy()
        self.shuffle = model._shuffle_rng.bit_generator.state

    def restore(self, model):
        net = self.net
        self.trained.restore(net)
        np.copyto(net.opt_hyper, self.opt_hyper)
        np.copyto(net.rng, self.rng)
        model._net = net
        model.optimizer = self.optimizer
        model._shuffle_rng.bit_generator.state = self.shuffle


def copy_views(flat, layout):
    """Per-layer copies (weights list, biases list) of a flat parameter-shaped array."""
    weights, biases = layer_views(flat, layout)
    return [w.copy() for w in weights], [b.copy() for b in biases]


def _unpickle_model(arrays):
    from .io import from_arrays
    return from_arrays(arrays, "a pickle")[0]
