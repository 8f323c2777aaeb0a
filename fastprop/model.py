"""`Model`: owns the arrays and offers the friendly API; the maths is in kernels/."""
import functools
import threading

import numpy as np

from . import codes, config
from .buffers import aligned_zeros
from .init import default_init, draw_weights, resolve_init
from .kernels.network import (backward, copy_rows, evaluate_rows, forward, predict_into,
                              predict_rows)
from .layout import layer_views, make_layout, param_count
from .kernels.check import MAX_WIDTH

MAX_PARAMS = 2**58       # NumPy refuses arrays of 2**63 bytes; no machine has 2**58 floats
from .net import make_net, with_workspace
from .optimizers import SGD, Optimizer, _check_number
from .trace import Trace
from .training import FitOptions, FitState, Snapshot, run_fit
from .validation import (all_finite, as_features, as_targets, check_choice, check_dtype,
                         check_finite, check_int)


def _too_large(sizes, dtype):
    """MemoryError's message for a network too large to allocate."""
    n_params = _param_count(sizes)
    # params, grads, two moment buffers, and four workspace buffers of capacity rows
    width = sum(sizes)
    needed = (4 * n_params + 4 * config.DEFAULT_CAPACITY * width) * dtype.itemsize
    return (f"layer_sizes {list(sizes)} make a network of {n_params:,} parameters, which "
            f"needs about {needed / 2**30:,.1f} GiB in {dtype.name}: more than this machine "
            f"could allocate")


def _param_count(sizes):
    """The number of parameters of a network of widths `sizes`, in Python integers."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


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
    """

    def __init__(self, layer_sizes, activation="relu", loss="mse", output_activation=None,
                 dtype=np.float32, seed=None, init=None, dropout=0.0, l2=0.0):
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
            if _param_count(self.sizes) > MAX_PARAMS:     # beyond what NumPy can index
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

    def _features(self, X, name="X"):
        return as_features(X, self.sizes[0], self.dtype, name)

    def _data(self, X, y, name=None):
        X = self._features(X, f"{name}[0]" if name else "X")
        Y = as_targets(y, self._net.loss, self.sizes[-1], X.shape[0], self.dtype,
                       f"{name}[1]" if name else "y")
        return X, Y

    @property
    def l2(self):
        """The L2 penalty: the cost minimised is the mean loss + l2/2 * sum of squared
        weights (biases excluded). Kept in the Net, where the kernels read it."""
        return self._net.l2

    @l2.setter
    def l2(self, value):
        with self._lock:
            self._net = self._net._replace(l2=_check_number("l2", value))

    @property
    def dropout(self):
        """Dropout rate of each hidden layer."""
        return [float(r) for r in self._net.dropout[:-1]]

    @property
    def is_classifier(self):
        return self._net.loss in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY)

    # ------------------------------------------------------------------ state
    @property
    def net(self):
        """The `Net` the kernels work on; shares params, grads and optimizer state."""
        return self._net

    @property
    def n_params(self):
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
    def reserve(self, rows):
        """Make the workspace hold batches of `rows` rows (for the kernel API: take the
        new `model.net` afterwards). Never shrinks."""
        self._ensure_capacity(check_int("rows", rows, 1))

    @_one_at_a_time
    def set_optimizer(self, optimizer):
        """Make `optimizer` the model's, as fit(optimizer=...) does: a different object
        than the current one starts from zero state. Take `model.net` afterwards."""
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
    def reset_optimizer(self):
        """Zero the optimizer's moment buffers and step count."""
        self._net.opt_state[...] = 0
        self._net.opt_step[...] = 0

    # ------------------------------------------------------------------ training
    @_one_at_a_time
    def fit(self, X, y, epochs=10, batch_size=32, optimizer=None, shuffle=True, verbose=0,
            validation_data=None, validation_split=0.0, early_stopping=False, patience=10,
            min_delta=0.0, restore_best=True, monitor=None, schedule=None, callbacks=None,
            l2=None, n_threads=None):
        """Train by mini-batch backpropagation; return a History.

        Whole runs of batches execute in compiled code; Python runs between chunks and
        epochs only. batch_size=1 is online SGD; batch_size >= len(X) is full batch.

        optimizer       an fp optimizer; None keeps the model's (fp.SGD(lr=0.01) at
                        first). The same object again continues its moments.
        validation_*    (X_val, y_val), or a fraction of X held out (a seeded split)
        early_stopping  stop when `monitor` (val_loss by default, else loss; or
                        val_accuracy, accuracy) has not improved by min_delta for
                        `patience` epochs; restore_best puts back the best epoch's weights
        schedule        an fp.schedules learning-rate schedule (per epoch)
        callbacks       callables cb(epoch, logs) run after each epoch; a truthy return
                        stops training
        l2              overrides the model's L2 penalty for this run
        n_threads       threads that share each step's tiles (default: every core this
                        process may use; never more than a step has tasks); the
                        result is bit-identical for any count

        A non-finite cost raises FloatingPointError naming the epoch and step. Ctrl-C
        stops between chunks and returns the history so far, parameters at the last
        completed step. A call that raises (refused arguments, divergence, an exception
        from a callback) leaves the model as it was: parameters, optimizer and its
        moments and step count, the shuffling generator and the dropout stream.
        """
        X, Y = self._data(X, y)
        opts = FitOptions(self, X, Y, epochs, batch_size, shuffle, verbose, validation_data,
                          validation_split, early_stopping, patience, min_delta,
                          restore_best, monitor, schedule, callbacks, n_threads)
        l2 = self._net.l2 if l2 is None else _check_number("l2", l2)
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
    def evaluate(self, X, y):
        """{'loss': mean cost, 'accuracy': share correct (classifiers only)}."""
        X, Y = self._data(X, y)
        cost, correct = evaluate_rows(self._net, X, Y, False)
        result = {"loss": self._finite("the loss", cost / X.shape[0])}
        if self.is_classifier:
            result["accuracy"] = correct / X.shape[0]
        return result

    # ------------------------------------------------------------------ inference
    @_one_at_a_time
    def predict(self, X, dropout=False):
        """Output activations (n, n_out): probabilities for softmax/sigmoid outputs.
        dropout=True draws dropout masks as in training (Monte-Carlo dropout).
        FloatingPointError if finite inputs overflow the network (as loss, evaluate
        and gradients raise it)."""
        net = self._net
        if self._dropout_flag(dropout):
            X = self._features(X)
            out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
            predict_into(out, net, X, True)
            return self._finite("the prediction", out)
        # the arrays, not the Net, and X's finiteness counted as the kernel copies it
        # in: see kernels.network.predict_rows
        X = as_features(X, self.sizes[0], self.dtype, "X", check_finite=False)
        out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
        bad = predict_rows(out, X, net.params, net.layout, net.act, net.Z, net.A,
                           net.capacity, net.blas_min)
        if bad > 0:
            check_finite("X", X)                # names the first culprit
            raise ValueError("X must be finite")
        if bad < 0:
            self._finite("the prediction", np.nan)
        return out

    def predict_classes(self, X):
        """Class indices (n,) int64: the argmax for cross_entropy; for
        binary_cross_entropy, (n, n_out) of 0/1 (output > 0.5)."""
        if not self.is_classifier:
            raise ValueError(f"predict_classes needs a classification loss "
                             f"(cross_entropy or binary_cross_entropy); this model's loss "
                             f"is {self.loss_name!r}")
        p = self.predict(X)
        if self._net.loss == codes.CROSS_ENTROPY:
            return p.argmax(axis=1).astype(np.int64)
        return (p > 0.5).astype(np.int64)

    @_one_at_a_time
    def loss(self, X, y, dropout=False):
        """Mean cost over the samples (float), with the L2 penalty."""
        X, Y = self._data(X, y)
        cost, _ = evaluate_rows(self._net, X, Y, self._dropout_flag(dropout))
        return self._finite("the loss", cost / X.shape[0])

    @_one_at_a_time
    def gradients(self, X, y, dropout=False):
        """(dW, db): per-layer lists of the gradient of the mean cost over all of X."""
        X, Y = self._data(X, y)
        net = self._run_backward(X, Y, 1.0 / X.shape[0], self._dropout_flag(dropout))
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
    def trace(self, X, y):
        """The textbook quantities of one backpropagation over the batch (X, y):
        Z, A and per-sample E = dC_i/dZ for each layer, and the mean-cost dW, db.
        The model is not changed."""
        X, Y = self._data(X, y)
        n = X.shape[0]
        net = self._run_backward(X, Y, 1.0, False)
        Z, A, E = [], [], []
        for n_in, n_out, _, _, _, out_unit in self.layout:
            region = slice(n * out_unit, n * out_unit + n * n_out)
            Z.append(net.Z[region].reshape(n, n_out).copy())
            A.append(net.A[region].reshape(n, n_out).copy())
            E.append(net.E[region].reshape(n, n_out).copy())
        cost = backward(net, n, 1.0 / n, False) / n
        dW, db = copy_views(net.grads, self.layout)
        return Trace(X=X, Z=Z, A=A, E=E, dW=dW, db=db, loss=cost)

    def _run_backward(self, X, Y, scale, training):
        n = X.shape[0]
        net = self._scratch_net(n)
        if training:
            net = net._replace(rng=self._net.rng)   # draws advance the model's stream
        copy_rows(net.A, X, 0, n)
        copy_rows(net.Y, Y, 0, n)
        forward(net, n, training)
        backward(net, n, scale, training)
        return net

    @_one_at_a_time
    def save(self, path, include_optimizer=True):
        """Write the model to the `.npz` file `path` (fastprop.io.save); fastprop.load
        reads it back. include_optimizer=True also stores the optimizer and its moments,
        so that training continues exactly where it stopped. It waits for a fit running
        in another thread to end, so the file is one consistent state."""
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
