"""The shape grid of WORKLOADS.md ("Beyond the four workloads"): a fixed, sampled set of
network shapes on which fastprop is compared with its peers, as workload objects the
existing peers (bench/frameworks.py) accept unchanged.

Axes (every value of every axis appears in the set; `points()` asserts it):

  in_width   8, 16, 64, 256, 784          hidden  16, 64, 128, 256, 512, 1024
  depth      1-6 hidden layers, all `hidden` wide, ReLU
  batch      1, 16, 32, 64, 128, 256, 1024
  loss       cross_entropy (10 softmax outputs) or mse (1 identity output)
  optimizer  sgd (lr 0.01) or adam (lr 1e-3)
  dtype      float32 or float64

Sampling rule (deterministic): point i takes, on every axis, entry i of a column made
by concatenating independent random permutations of that axis's values
(np.random.default_rng(SEED)), so each value appears once per cycle and the values
of different axes mix freely. A point whose epoch would cost more than its budget in
multiply-adds (`epoch_macs`: samples x `macs_per_sample`; budget MAC_BUDGET, divided
by BATCH1_DIVISOR at batch 1 where steps run at matrix-vector speed, halved for
float64) is shrunk one step at a time, depth and hidden width in turn (depth first),
until it fits. Nothing else is ever changed. So huge shapes (784 -> 1024 x 6 at
batch 1) appear only as smaller versions and no point dominates the run's time, while
the widest and deepest values still appear, each paired with small values of the
other axis.

Data (per point): inputs N(0, 1); a random linear teacher T ~ N(0, 1/in_width)
drawn first, then X, from default_rng([DATA_SEED, in_width]); cross-entropy labels
argmax(X T) over 10 classes, mse targets tanh(X t) with one output. 8,192 samples
(20,000 at batch 1), or fewer (`workload(point, max_samples=...)`, rounded down to a
whole number of batches). Float64 points use the same values as float32 ones.
Weights: workloads.glorot_uniform(sizes) (default_rng(0), float32-rounded), cast
to the point's dtype; biases zero. Batches in order, no shuffling.

scripts/compare.py --grid measures FRAMEWORKS (fastprop, JAX's whole-epoch scan,
PyTorch eager) on the points at one thread, and at more threads those with at least
MULTI_THREAD_MACS multiply-adds per step.

The peers build float32 models (their module-level DTYPE, torch's default dtype,
JAX without x64); `dtype_context(dtype)` switches all of them to a point's dtype for
as long as its trainers are built and run.
"""
import contextlib
import sys
from dataclasses import dataclass, replace

import numpy as np

from . import workloads

IN_WIDTHS = (8, 16, 64, 256, 784)
HIDDEN_WIDTHS = (16, 64, 128, 256, 512, 1024)
DEPTHS = (1, 2, 3, 4, 5, 6)
BATCHES = (1, 16, 32, 64, 128, 256, 1024)
LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("sgd", "adam")
DTYPES = ("float32", "float64")
AXES = {"in_width": IN_WIDTHS, "hidden": HIDDEN_WIDTHS, "depth": DEPTHS,
        "batch": BATCHES, "loss": LOSSES, "optimizer": OPTIMIZERS, "dtype": DTYPES}

N_POINTS = 64
SEED = 21                 # the sampling of the points
DATA_SEED = 2100          # the data: default_rng([DATA_SEED, in_width])
N_SAMPLES = 8192          # divisible by every batch size
N_SAMPLES_BATCH1 = 20_000
LR = {"sgd": 0.01, "adam": 1e-3}
N_CLASSES = 10
MAC_BUDGET = 3.2e10       # multiply-adds per epoch of a float32 point at batch >= 16
BATCH1_DIVISOR = 8        # ... and at batch 1: MAC_BUDGET / 8
MULTI_THREAD_MACS = 2e6   # points with at least this many multiply-adds per step also
                          # run at more than one thread
FRAMEWORKS = ("fastprop", "jax", "torch")


@dataclass(frozen=True)
class GridPoint:
    """One shape: `depth` hidden ReLU layers `hidden` wide between `in_width` inputs
    and n_out outputs, trained in batches of `batch` with `loss` and `optimizer` in
    `dtype`; `index` is its place in points()."""
    index: int
    in_width: int
    hidden: int
    depth: int
    batch: int
    loss: str
    optimizer: str
    dtype: str

    @property
    def name(self):
        return f"G{self.index:02d}"

    @property
    def n_out(self):
        return N_CLASSES if self.loss == "cross_entropy" else 1

    @property
    def sizes(self):
        return (self.in_width,) + (self.hidden,) * self.depth + (self.n_out,)

    @property
    def n_samples(self):
        """The full sample count (before any max_samples cut)."""
        return N_SAMPLES_BATCH1 if self.batch == 1 else N_SAMPLES

    @property
    def n_weights(self):
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def macs_per_sample(self):
        """Multiply-adds one sample's training needs: W forward, W for dW, and W - W1
        for the errors passed down (W: all weights, W1: the first layer's), as in
        WORKLOADS.md "Counting flops honestly"; biases and the optimizer update are
        not counted."""
        return 3 * self.n_weights - self.in_width * self.sizes[1]

    @property
    def macs_per_step(self):
        return self.batch * self.macs_per_sample

    @property
    def epoch_macs(self):
        return self.n_samples * self.macs_per_sample

    @property
    def network(self):
        """e.g. "784-256x3-10"."""
        return f"{self.in_width}-{self.hidden}x{self.depth}-{self.n_out}"

    @property
    def label(self):
        """e.g. "G07 784-256x3-10 b128 cross_entropy adam float32"."""
        return (f"{self.name} {self.network} b{self.batch} {self.loss} {self.optimizer} "
                f"{self.dtype}")


def mac_budget(point):
    """The most multiply-adds an epoch of `point` may cost (see the module docstring)."""
    budget = MAC_BUDGET / (BATCH1_DIVISOR if point.batch == 1 else 1)
    return budget / (2 if point.dtype == "float64" else 1)


def _shrink(point):
    """`point` with depth and hidden width lowered, one step at a time and in turn
    (depth first), until its epoch fits mac_budget."""
    turn = 0
    while point.epoch_macs > mac_budget(point):
        h, d = HIDDEN_WIDTHS.index(point.hidden), DEPTHS.index(point.depth)
        if h == 0 and d == 0:
            break
        if d > 0 and (turn % 2 == 0 or h == 0):
            point = replace(point, depth=DEPTHS[d - 1])
        else:
            point = replace(point, hidden=HIDDEN_WIDTHS[h - 1])
        turn += 1
    return point


def _column(values, n, rng):
    """n entries: random permutations of `values`, one after another."""
    out = []
    while len(out) < n:
        out.extend(values[i] for i in rng.permutation(len(values)))
    return out[:n]


def check_coverage(points):
    """Raise AssertionError unless every value of every axis appears in `points`."""
    for axis, values in AXES.items():
        missing = set(values) - {getattr(p, axis) for p in points}
        assert not missing, f"grid axis {axis}: values {sorted(missing)} never appear"


def points(n=N_POINTS, seed=SEED):
    """The grid's n points (deterministic for given n and seed), index 0..n-1, every
    axis value present (asserted)."""
    rng = np.random.default_rng(seed)
    columns = {axis: _column(values, n, rng) for axis, values in AXES.items()}
    pts = [_shrink(GridPoint(index=i, **{axis: col[i] for axis, col in columns.items()}))
           for i in range(n)]
    check_coverage(pts)
    return pts


def select(pts, spec=None, where=None):
    """The points of `pts` that `spec` names and `where` matches, in grid order.

    spec: None (all), "N" (the first N), or comma-separated indices and ranges
    ("3,7,10-12"; the names "G03" work too). where: "axis=value[,axis=value]" on the
    axes of AXES (e.g. "batch=1,dtype=float64"); a point matches when it has every
    value given; one axis may be given several values ("batch=1,batch=16"), any of
    which matches.
    """
    by_index = {p.index: p for p in pts}
    if spec:
        spec = spec.strip()
        if spec.isdigit():
            chosen = pts[:int(spec)]
        else:
            idx = []
            for part in spec.split(","):
                part = part.strip().upper().lstrip("G")
                if not part:
                    continue
                lo, _, hi = part.partition("-")
                idx.extend(range(int(lo), int(hi.lstrip("G") or lo) + 1))
            unknown = [i for i in idx if i not in by_index]
            if unknown:
                raise ValueError(f"no grid points {unknown}; indices run 0-{len(pts) - 1}")
            chosen = [by_index[i] for i in sorted(set(idx))]
    else:
        chosen = list(pts)
    if where:
        wanted = {}
        for cond in where.split(","):
            axis, sep, value = (s.strip() for s in cond.partition("="))
            if not sep or axis not in AXES:
                raise ValueError(f"bad condition {cond!r}: use axis=value with axis in "
                                 f"{', '.join(AXES)}")
            kind = type(AXES[axis][0])
            wanted.setdefault(axis, set()).add(kind(value))
        chosen = [p for p in chosen
                  if all(getattr(p, axis) in vals for axis, vals in wanted.items())]
    return chosen


# ---------------------------------------------------------------------- data
def _one_hot(labels, n_classes, dtype):
    Y = np.zeros((labels.size, n_classes), dtype)
    Y[np.arange(labels.size), labels] = 1
    return Y


def workload(point, max_samples=None):
    """A workloads.Workload for `point` (data and weights as in the module docstring),
    named point.name. max_samples caps the sample count, rounded down to a multiple of
    the batch (at least one batch)."""
    n = point.n_samples
    if max_samples is not None:
        n = max(point.batch, min(n, int(max_samples)) // point.batch * point.batch)
    dtype = np.dtype(point.dtype)
    rng = np.random.default_rng([DATA_SEED, point.in_width])
    teacher = rng.standard_normal((point.in_width, point.n_out)) / np.sqrt(point.in_width)
    X64 = rng.standard_normal((n, point.in_width))
    if point.loss == "cross_entropy":
        y = np.argmax(X64 @ teacher, axis=1).astype(np.int64)
        Y = _one_hot(y, point.n_out, dtype)
    else:
        Y = np.tanh(X64 @ teacher).astype(dtype)
        y = Y
    init = [(W.astype(dtype), b.astype(dtype))
            for W, b in workloads.glorot_uniform(point.sizes)]
    return workloads.Workload(point.name, "grid", point.sizes, "relu", point.loss,
                              point.optimizer, LR[point.optimizer], point.batch,
                              np.ascontiguousarray(X64, dtype=dtype), y, Y, init)


@contextlib.contextmanager
def dtype_context(dtype):
    """Build and run the peers' trainers at `dtype` inside the body: sets DTYPE of the
    loaded bench peer modules (fastprop's Trainer builds its Model with it), torch's
    default dtype (torch.nn.Linear's parameters) and JAX's x64 mode (needed for float64
    arrays at all), for whichever of torch/JAX is imported; restores them on exit.
    Process-wide state: not for use by two threads at once."""
    dtype = np.dtype(dtype)
    with contextlib.ExitStack() as stack:
        for mod_name in ("bench.peers_fastprop", "bench.peers_torch", "bench.peers_jax"):
            mod = sys.modules.get(mod_name)
            if mod is not None and hasattr(mod, "DTYPE"):
                stack.callback(setattr, mod, "DTYPE", mod.DTYPE)
                mod.DTYPE = dtype.type
        torch = sys.modules.get("torch")
        if torch is not None:
            stack.callback(torch.set_default_dtype, torch.get_default_dtype())
            torch.set_default_dtype(getattr(torch, dtype.name))
        jax = sys.modules.get("jax")
        if jax is not None:
            stack.enter_context(jax.enable_x64(dtype == np.float64))
        yield dtype
