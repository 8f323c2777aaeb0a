"""`Model`: owns the arrays and offers the friendly API; the maths is in kernels/."""
import time

import numpy as np
from tqdm.auto import tqdm

from . import codes
from .history import History
from .init import default_init, draw_weights, resolve_init
from .kernels.network import backward, dataset_cost, forward, load_rows, predict_into
from .kernels.training import train_batches
from .layout import IN_UNIT, N_IN, N_OUT, OUT_UNIT, layer_views, make_layout, param_count
from .net import make_net
from .optimizers import SGD, Optimizer
from .trace import Trace
from .validation import as_features, as_targets, check_choice, check_dtype, check_int

DEFAULT_CAPACITY = 256       # workspace rows: batches up to this size need no growth
CHUNK_SECONDS = 0.2          # compiled work between returns to Python (Ctrl-C, progress)


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
    """

    def __init__(self, layer_sizes, activation="relu", loss="mse", output_activation=None,
                 dtype=np.float32, seed=None, init=None):
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

        self.layout = make_layout(self.sizes)
        act = np.array([codes.ACTIVATIONS[a] for a in self.activations], np.int64)
        init_seq, shuffle_seq = np.random.SeedSequence(self.seed).spawn(2)
        self._shuffle_rng = np.random.default_rng(shuffle_seq)
        n_params = param_count(self.layout)
        self.params = np.zeros(n_params, self.dtype)
        self.weights, self.biases = layer_views(self.params, self.layout)
        init_rng = np.random.default_rng(init_seq)
        for l, W in enumerate(self.weights):
            scheme = self.init or default_init(self.activations[l])
            W[...] = draw_weights(init_rng, scheme, *W.shape)
        self._grads = np.zeros(n_params, self.dtype)
        self.optimizer = None
        self._net = make_net(self.params, self._grads, self.layout, act, loss_code,
                             DEFAULT_CAPACITY)

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

    def _features(self, X):
        return as_features(X, self.sizes[0], self.dtype)

    def _data(self, X, y):
        X = self._features(X)
        Y = as_targets(y, self._net.loss, self.sizes[-1], X.shape[0], self.dtype)
        return X, Y

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
        net = self._net
        if rows > net.capacity:
            self._net = make_net(net.params, net.grads, net.layout, net.act, net.loss,
                                 rows, net.opt_code, net.opt_hyper, net.opt_state,
                                 net.opt_step, net.blas_min)

    def _scratch_net(self, rows):
        """A Net over this model's params with its own workspace and grads."""
        net = self._net
        return make_net(net.params, np.zeros_like(net.grads), net.layout, net.act,
                        net.loss, rows, blas_min=net.blas_min)

    def reserve(self, rows):
        """Make the workspace hold batches of `rows` rows (for the kernel API: take the
        new `model.net` afterwards). Never shrinks."""
        self._ensure_capacity(check_int("rows", rows, 1))

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
            state = np.zeros_like(net.opt_state)
            step = np.zeros(1, np.int64)
        else:
            state, step = net.opt_state, net.opt_step
        self._net = net._replace(opt_code=optimizer.code, opt_hyper=hyper,
                                 opt_state=state, opt_step=step)
        self.optimizer = optimizer

    def reset_optimizer(self):
        """Zero the optimizer's moment buffers and step count."""
        self._net.opt_state[...] = 0
        self._net.opt_step[...] = 0

    # ------------------------------------------------------------------ training
    def fit(self, X, y, epochs=10, batch_size=32, optimizer=None, shuffle=True, verbose=0):
        """Train by mini-batch backpropagation; return a History.

        Whole runs of batches execute in compiled code. batch_size=1 is online SGD;
        batch_size >= len(X) is full batch. A non-finite cost stops training with
        FloatingPointError and restores the parameters and optimizer state of the last
        check point (at most CHUNK_SECONDS of training back). Ctrl-C stops between
        chunks and returns the history so far, parameters at the last completed step.
        """
        X, Y = self._data(X, y)
        epochs = check_int("epochs", epochs, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        if verbose not in (0, 1):
            raise ValueError(f"verbose must be 0 or 1, got {verbose!r}")
        self._bind_optimizer(optimizer)
        n = X.shape[0]
        batch_size = min(batch_size, n)
        self._ensure_capacity(batch_size)
        net = self._net
        n_batches = -(-n // batch_size)
        history = History(samples=n)
        backup_params = np.empty_like(net.params)
        backup_state = np.empty_like(net.opt_state)
        backup_step = np.empty_like(net.opt_step)
        chunk = min(n_batches, 16)   # first guess; then sized to CHUNK_SECONDS
        try:
            for epoch in range(epochs):
                order = (self._shuffle_rng.permutation(n) if shuffle
                         else np.arange(n)).astype(np.int64)
                start = time.perf_counter()
                total = 0.0
                bar = tqdm(total=n, desc=f"epoch {epoch + 1}/{epochs}", unit="samples",
                           disable=not verbose, leave=True, mininterval=0.5)
                b = 0
                while b < n_batches:
                    stop = min(b + chunk, n_batches)
                    np.copyto(backup_params, net.params)
                    np.copyto(backup_state, net.opt_state)
                    np.copyto(backup_step, net.opt_step)
                    t0 = time.perf_counter()
                    cost, bad = train_batches(net, X, Y, order, batch_size, b, stop)
                    elapsed = time.perf_counter() - t0
                    if bad >= 0 or not np.isfinite(net.params).all():
                        np.copyto(net.params, backup_params)
                        np.copyto(net.opt_state, backup_state)
                        np.copyto(net.opt_step, backup_step)
                        where = f"step {bad + 1} of {n_batches}" if bad >= 0 else \
                            f"steps {b + 1}-{stop} of {n_batches}"
                        raise FloatingPointError(
                            f"training diverged: non-finite cost in epoch {epoch + 1}, "
                            f"{where}; parameters restored to before step {b + 1} "
                            f"(try a smaller learning rate)")
                    total += cost
                    bar.update(min(stop * batch_size, n) - min(b * batch_size, n))
                    bar.set_postfix(loss=f"{total / min(stop * batch_size, n):.4g}",
                                    refresh=False)
                    chunk = max(1, min(n_batches, int((stop - b) * CHUNK_SECONDS
                                                      / max(elapsed, 1e-9))))
                    b = stop
                bar.close()
                history.loss.append(total / n)
                history.seconds.append(time.perf_counter() - start)
        except KeyboardInterrupt:
            history.interrupted = True
        return history

    # ------------------------------------------------------------------ inference
    def predict(self, X):
        """Output activations (n, n_out): probabilities for softmax/sigmoid outputs."""
        X = self._features(X)
        out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
        predict_into(out, self._net, X)
        return out

    def loss(self, X, y):
        """Mean cost over the samples (float)."""
        X, Y = self._data(X, y)
        return dataset_cost(self._net, X, Y) / X.shape[0]

    def gradients(self, X, y):
        """(dW, db): per-layer lists of the gradient of the mean cost over all of X."""
        X, Y = self._data(X, y)
        net = self._run_backward(X, Y, 1.0 / X.shape[0])
        return tuple(copy_views(net.grads, self.layout))

    def trace(self, X, y):
        """The textbook quantities of one backpropagation over the batch (X, y):
        Z, A and per-sample E = dC_i/dZ for each layer, and the mean-cost dW, db.
        The model is not changed."""
        X, Y = self._data(X, y)
        n = X.shape[0]
        net = self._run_backward(X, Y, 1.0)
        Z, A, E = [], [], []
        for n_in, n_out, _, _, _, out_unit in self.layout:
            region = slice(n * out_unit, n * out_unit + n * n_out)
            Z.append(net.Z[region].reshape(n, n_out).copy())
            A.append(net.A[region].reshape(n, n_out).copy())
            E.append(net.E[region].reshape(n, n_out).copy())
        cost = backward(net, n, 1.0 / n) / n
        dW, db = copy_views(net.grads, self.layout)
        return Trace(X=X, Z=Z, A=A, E=E, dW=dW, db=db, loss=cost)

    def _run_backward(self, X, Y, scale):
        n = X.shape[0]
        net = self._scratch_net(n)
        load_rows(net, X, 0, n)
        net.Y[:Y.size] = Y.ravel()
        forward(net, n)
        backward(net, n, scale)
        return net

    def __repr__(self):
        acts = ", ".join(self.activations)
        return (f"Model({list(self.sizes)}, activations=[{acts}], loss={self.loss_name!r}, "
                f"dtype={self.dtype.name}, params={self.n_params})")


def copy_views(flat, layout):
    """Per-layer copies (weights list, biases list) of a flat parameter-shaped array."""
    weights, biases = layer_views(flat, layout)
    return [w.copy() for w in weights], [b.copy() for b in biases]
