"""The benchmark workloads W1-W4 (described in bench/README.md), built once and shared
by every framework, plus the thread-pinning helper.

Every framework trains the same network from the same initial weights (Glorot-uniform
drawn from ``np.random.default_rng(0)`` layer by layer, biases zero) on the same float32
data in the same order (no shuffling), with the same loss and optimizer settings.

  W1 tiny online  1-2-1 relu/identity, 20,000 x ~ U(-2, 2), y = |x|, mse, SGD 0.01, batch 1
  W2 small        64-128-10 relu/softmax, digits x/16 (first 1,408), cross-entropy,
                  Adam 1e-3, batch 32
  W3 mnist-shape  784-512-256-10 relu/softmax, 12,800 N(0, 1) inputs labelled by a random
                  linear teacher, cross-entropy, Adam 1e-3, batch 128
  W4 latency      the W3 network, one-sample predict

Data seeds (the spec fixes only the weights' seed): W1's x from default_rng(1), W3's
inputs and teacher from default_rng(3), W4's sample from default_rng(4).
"""
import contextlib
import functools
import inspect
import os
import sys
from dataclasses import dataclass, field

import numpy as np

DTYPE = np.float32
WEIGHT_SEED = 0


@dataclass(frozen=True)
class Workload:
    name: str                 # "W1" ...
    group: str                # pytest-benchmark group, e.g. "W1 tiny online"
    sizes: tuple              # layer widths
    activation: str           # hidden activation (relu everywhere)
    loss: str                 # "mse" or "cross_entropy"
    optimizer: str            # "sgd" or "adam"
    lr: float
    batch_size: int
    X: np.ndarray             # (n, n_in) float32, C-contiguous
    y: np.ndarray             # cross_entropy: (n,) int64 labels; mse: (n, n_out) float32
    Y: np.ndarray             # (n, n_out) float32 targets (one-hot for cross_entropy)
    init: list = field(repr=False)   # [(W (n_in, n_out) float32, b (n_out,) float32)]
    predict_only: bool = False       # W4: time one predict of `sample`
    sample: np.ndarray = None        # (1, n_in) float32, W4's input

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_batches(self):
        return -(-self.n_samples // self.batch_size)

    @property
    def n_params(self):
        return sum(W.size + b.size for W, b in self.init)

    @property
    def output_activation(self):
        return "softmax" if self.loss == "cross_entropy" else "identity"

    def batches(self):
        """(start, stop) row ranges of the epoch's batches, in order."""
        n, B = self.n_samples, self.batch_size
        return [(s, min(s + B, n)) for s in range(0, n, B)]


def glorot_uniform(sizes, seed=WEIGHT_SEED):
    """[(W, b)] float32: W ~ U(+-sqrt(6 / (n_in + n_out))) drawn in float64 from one
    default_rng(seed), layer after layer, then rounded; b = 0."""
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        W = rng.uniform(-limit, limit, (n_in, n_out)).astype(DTYPE)
        layers.append((W, np.zeros(n_out, DTYPE)))
    return layers


def _one_hot(labels, n_classes):
    Y = np.zeros((labels.size, n_classes), DTYPE)
    Y[np.arange(labels.size), labels] = 1
    return Y


@functools.lru_cache(maxsize=None)
def _w1():
    sizes = (1, 2, 1)
    rng = np.random.default_rng(1)
    X = rng.uniform(-2.0, 2.0, (20_000, 1)).astype(DTYPE)
    y = np.abs(X)
    return Workload("W1", "W1 tiny online", sizes, "relu", "mse", "sgd", 0.01, 1,
                    X, y, y, glorot_uniform(sizes))


@functools.lru_cache(maxsize=None)
def _w2():
    from sklearn.datasets import load_digits
    sizes = (64, 128, 10)
    digits = load_digits()
    X = np.ascontiguousarray(digits.data[:1408] / 16.0, dtype=DTYPE)
    labels = digits.target[:1408].astype(np.int64)
    return Workload("W2", "W2 small", sizes, "relu", "cross_entropy", "adam", 1e-3, 32,
                    X, labels, _one_hot(labels, 10), glorot_uniform(sizes))


@functools.lru_cache(maxsize=None)
def _w3_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12_800, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10), dtype=np.float32)
    labels = np.argmax(X @ teacher, axis=1).astype(np.int64)
    return X, labels


@functools.lru_cache(maxsize=None)
def _w3():
    sizes = (784, 512, 256, 10)
    X, labels = _w3_data()
    return Workload("W3", "W3 mnist-shape", sizes, "relu", "cross_entropy", "adam", 1e-3,
                    128, X, labels, _one_hot(labels, 10), glorot_uniform(sizes))


@functools.lru_cache(maxsize=None)
def _w4():
    w3 = _w3()
    sample = np.random.default_rng(4).standard_normal((1, 784), dtype=np.float32)
    return Workload("W4", "W4 latency", w3.sizes, w3.activation, w3.loss, w3.optimizer,
                    w3.lr, 1, w3.X, w3.y, w3.Y, w3.init, predict_only=True, sample=sample)


BUILDERS = {"W1": _w1, "W2": _w2, "W3": _w3, "W4": _w4}
NAMES = tuple(BUILDERS)


def get(name):
    """The workload `name` ("W1".."W4"), built once per process (arrays are shared:
    don't modify them)."""
    try:
        return BUILDERS[name.upper()]()
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(NAMES)}")


# ---------------------------------------------------------------------- threads
def _tasks():
    """Thread ids of this process (Linux), or [0] (the calling thread) elsewhere."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def _set_affinity(cpus):
    """Pin every thread of the process to `cpus` (threads made later inherit it from
    their creator). os.sched_setaffinity(0, ...) alone pins only the calling thread,
    which would leave existing BLAS/OpenMP/XLA pool threads free."""
    for tid in _tasks():
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:   # the thread ended meanwhile
            pass


@contextlib.contextmanager
def pin_threads(n):
    """Run the body with `n` threads: the process pinned to the first n cores it may
    use (os.sched_setaffinity, where the OS has it), numba's pool, every BLAS/OpenMP
    pool threadpoolctl finds (numpy's and SciPy's OpenBLAS, torch's OpenMP) and torch's
    intra-op pool (if torch is imported) set to n. Restores all of it on exit.

    Libraries loaded inside the body are pinned by affinity but not limited by
    threadpoolctl: import them first. JAX/XLA sizes its pool when its backend starts;
    only the affinity limits it afterwards, so start it (jax.devices()) beforehand.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    try:   # imported before the affinity changes: numba sizes its pool at import
        import numba
    except ImportError:
        numba = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    with contextlib.ExitStack() as stack:
        if hasattr(os, "sched_setaffinity"):
            old = os.sched_getaffinity(0)
            allowed = sorted(old)
            if n > len(allowed):
                raise ValueError(f"asked for {n} threads but this process may use only "
                                 f"{len(allowed)} cores ({allowed})")
            _set_affinity(set(allowed[:n]))
            stack.callback(_set_affinity, old)
        if numba is not None:
            if n > numba.config.NUMBA_NUM_THREADS:
                raise ValueError(f"numba's pool has {numba.config.NUMBA_NUM_THREADS} "
                                 f"threads; cannot set {n}")
            old_numba = numba.get_num_threads()
            numba.set_num_threads(n)
            stack.callback(numba.set_num_threads, old_numba)
        if threadpool_limits is not None:
            stack.enter_context(threadpool_limits(limits=n))
        torch = sys.modules.get("torch")
        if torch is not None:
            old_torch = torch.get_num_threads()
            torch.set_num_threads(n)
            stack.callback(torch.set_num_threads, old_torch)
        yield n


def cores_available():
    """How many cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def fit_accepts(name):
    """Whether fastprop's Model.fit takes the keyword `name` (e.g. n_threads, which it
    may gain later)."""
    import fastprop as fp
    try:
        return name in inspect.signature(fp.Model.fit).parameters
    except (TypeError, ValueError):
        return False
