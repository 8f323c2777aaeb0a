"""`fastprop bench`: time training of a workload here (and in PyTorch, when
installed)."""
import time

import numpy as np

import fastprop as fp

from .common import OPTIMIZERS, positive_int, user_errors

# ---------------------------------------------------------------- bench
# The training workloads of the project's benchmark suite (bench/workloads.py has the
# full set and the peers); every framework trains the same float32 network from the
# same Glorot-uniform weights (default_rng(0), biases zero) on the same data in the
# same order (no shuffling).
WORKLOADS = {
    "W1": "tiny online: 1-2-1 (relu), 20,000 x ~ U(-2, 2), y = |x|, mse, SGD 0.01, batch 1",
    "W2": "small: 64-128-10 (relu), digits x/16 (1,408 samples), cross-entropy, Adam 1e-3, "
          "batch 32",
    "W3": "mnist-shape: 784-512-256-10 (relu), 12,800 N(0, 1) samples labelled by a random "
          "linear teacher, cross-entropy, Adam 1e-3, batch 128",
}
DEFAULT_BENCH_EPOCHS = {"W1": 1, "W2": 10, "W3": 1}


class Workload:
    """Network, data and training settings of one benchmark workload."""

    def __init__(self, name):
        self.name = name
        if name == "W1":
            self.sizes, self.loss, self.optimizer, self.lr, self.batch_size = \
                (1, 2, 1), "mse", "sgd", 0.01, 1
            self.X = np.random.default_rng(1).uniform(-2.0, 2.0, (20_000, 1)).astype(np.float32)
            self.y = np.abs(self.X)
        elif name == "W2":
            from sklearn.datasets import load_digits
            digits = load_digits()
            self.sizes, self.loss, self.optimizer, self.lr, self.batch_size = \
                (64, 128, 10), "cross_entropy", "adam", 1e-3, 32
            self.X = np.ascontiguousarray(digits.data[:1408] / 16.0, dtype=np.float32)
            self.y = digits.target[:1408].astype(np.int64)
        else:
            rng = np.random.default_rng(3)
            self.sizes, self.loss, self.optimizer, self.lr, self.batch_size = \
                (784, 512, 256, 10), "cross_entropy", "adam", 1e-3, 128
            self.X = rng.standard_normal((12_800, 784), dtype=np.float32)
            teacher = rng.standard_normal((784, 10), dtype=np.float32)
            self.y = np.argmax(self.X @ teacher, axis=1).astype(np.int64)
        rng = np.random.default_rng(0)
        self.init = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            limit = np.sqrt(6.0 / (n_in + n_out))
            self.init.append(rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32))

    @property
    def steps_per_epoch(self):
        return -(-len(self.X) // self.batch_size)


def add_bench_parser(subparsers):
    """Register `fastprop bench`."""
    listing = "; ".join(f"{k}: {v}" for k, v in WORKLOADS.items())
    p = subparsers.add_parser(
        "bench", help="time training on this machine (and PyTorch's, when installed)",
        description="Time training of a benchmark workload with fastprop and print "
                    "samples/s and microseconds per optimizer step; when PyTorch is "
                    "installed, train the same network from the same weights on the same "
                    f"data with it and print the ratio. Workloads: {listing}.")
    p.add_argument("--workload", choices=WORKLOADS, default="W2", help="default: W2")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs per timed run (default: W1 1, W2 10, W3 1)")
    p.add_argument("--repeats", type=positive_int, default=3,
                   help="timed runs; the fastest counts (default: 3)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="threads for fastprop's training and PyTorch's (default: 1)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.set_defaults(run=cmd_bench)


def _time_fastprop(wl, epochs, repeats, threads):
    """(best seconds per run, final loss) of fastprop training `epochs` epochs."""
    def fresh():
        model = fp.Model(wl.sizes, loss=wl.loss, dtype=np.float32, seed=0)
        for W, W0 in zip(model.weights, wl.init):
            W[...] = W0
        for b in model.biases:
            b[...] = 0
        return model, OPTIMIZERS[wl.optimizer](wl.lr)

    model, opt = fresh()                     # warm-up: load the compiled kernels
    rows = min(len(wl.X), 2 * wl.batch_size + 1)
    model.fit(wl.X[:rows], wl.y[:rows], epochs=1, batch_size=wl.batch_size, optimizer=opt,
              shuffle=False, n_threads=threads)
    best = float("inf")
    for _ in range(repeats):
        model, opt = fresh()
        start = time.perf_counter()
        model.fit(wl.X, wl.y, epochs=epochs, batch_size=wl.batch_size, optimizer=opt,
                  shuffle=False, n_threads=threads)
        best = min(best, time.perf_counter() - start)
    return best, model.loss(wl.X, wl.y)


def _time_torch(torch, wl, epochs, repeats):
    """(best seconds per run, final loss, optimizer name) of PyTorch eager training."""
    F = torch.nn.functional
    layers = []
    for l, (n_in, n_out) in enumerate(zip(wl.sizes[:-1], wl.sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if l < len(wl.sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    X = torch.from_numpy(wl.X)
    T = torch.from_numpy(wl.y)
    batches = list(zip(torch.split(X, wl.batch_size), torch.split(T, wl.batch_size)))

    def loss_fn(out, t):
        return F.cross_entropy(out, t) if wl.loss == "cross_entropy" else \
            0.5 * F.mse_loss(out, t)

    def fresh():
        with torch.no_grad():
            for lin, W0 in zip(linears, wl.init):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W0.T)))
                lin.bias.zero_()
        if wl.optimizer == "sgd":
            return torch.optim.SGD(net.parameters(), lr=wl.lr), "SGD"
        try:
            return torch.optim.Adam(net.parameters(), lr=wl.lr, fused=True), "Adam(fused)"
        except (RuntimeError, TypeError, ValueError):
            return torch.optim.Adam(net.parameters(), lr=wl.lr), "Adam"

    def run(opt, steps):
        for xb, tb in steps:
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xb), tb).backward()
            opt.step()

    opt, name = fresh()
    run(opt, batches[:3])                    # warm-up
    best = float("inf")
    for _ in range(repeats):
        opt, name = fresh()
        start = time.perf_counter()
        for _ in range(epochs):
            run(opt, batches)
        best = min(best, time.perf_counter() - start)
    with torch.no_grad():
        final = float(loss_fn(net(X), T))
    return best, final, name


def us_per_step(seconds, steps):
    """Microseconds per step with three significant digits (a W1 step is well under
    one), with thousands separated where it is that long."""
    us = seconds / steps * 1e6
    return f"{us:,.0f}" if us >= 1000 else f"{us:.3g}"


def cmd_bench(args):
    """Run `fastprop bench`: time fastprop (and PyTorch) on one workload."""
    from fastprop.threads import resolve_threads
    with user_errors():
        threads = resolve_threads(args.threads)
    wl = Workload(args.workload)
    epochs = args.epochs or DEFAULT_BENCH_EPOCHS[wl.name]
    samples = epochs * len(wl.X)
    steps = epochs * wl.steps_per_epoch
    print(f"{wl.name} {WORKLOADS[wl.name]}")
    print(f"{epochs} epoch{'s' if epochs > 1 else ''} ({steps:,} steps) per run, fastest of "
          f"{args.repeats}, {threads} thread{'s' if threads > 1 else ''}, float32")

    seconds, loss = _time_fastprop(wl, epochs, args.repeats, threads)
    rate = samples / seconds
    print(f"fastprop: {rate:,.0f} samples/s  {us_per_step(seconds, steps)} us/step  "
          f"(final loss {loss:.4g})")

    if args.no_torch:
        return 0
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: no comparison (pip install torch to add one)")
        return 0
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t_seconds, t_loss, name = _time_torch(torch, wl, epochs, args.repeats)
    finally:
        torch.set_num_threads(previous)
    t_rate = samples / t_seconds
    print(f"torch {torch.__version__} {name}: {t_rate:,.0f} samples/s  "
          f"{us_per_step(t_seconds, steps)} us/step  (final loss {t_loss:.4g})")
    print(f"fastprop / torch: {rate / t_rate:.2f}x")
    return 0
