"""The `fastprop` command line.

    fastprop train [--dataset digits] [--layers 128] [--epochs 30] ...

Each subcommand is a function `cmd_<name>(args) -> exit code` registered by an
`add_<name>_parser(subparsers)` function; `main` builds the parser and dispatches.
User mistakes (bad option values, arguments fastprop rejects) are reported as one line
`fastprop: error: ...` on stderr with exit code 2, never as a traceback.
"""
import argparse
import contextlib
import sys

import numpy as np

import fastprop as fp
from fastprop import codes

PROG = "fastprop"

# name -> (scikit-learn loader, task); all bundled with scikit-learn, no download.
DATASETS = {
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}

OPTIMIZERS = {
    "sgd": fp.SGD,
    "adam": fp.Adam,
    "adamw": fp.AdamW,
    "rmsprop": fp.RMSprop,
    "adagrad": fp.Adagrad,
    "adadelta": fp.Adadelta,
}

DTYPES = {"float32": np.float32, "float64": np.float64}

EXIT_ERROR = 1        # training failed (diverged)
EXIT_USAGE = 2        # user mistake
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A user mistake; `main` prints it as one line and returns EXIT_USAGE."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise UsageError instead of printing usage and exiting."""

    def error(self, message):
        raise UsageError(message)


@contextlib.contextmanager
def user_errors():
    """Turn ValueError/TypeError raised by fastprop's argument checks into UsageError."""
    try:
        yield
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from err


# ---------------------------------------------------------------- option types
def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def layer_widths(text):
    """argparse type: comma-separated positive hidden widths, e.g. "128" or "256,128";
    an empty string means no hidden layer."""
    if not text.strip():
        return []
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        widths = None
    if widths is None or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 128 or 256,128; got {text!r}")
    return widths


# ---------------------------------------------------------------- data
def load_dataset(name):
    """(X, y, task) for a bundled scikit-learn data set; task is classification or
    regression. Class labels are 0..k-1 integers."""
    import sklearn.datasets
    loader_name, task = DATASETS[name]
    X, y = getattr(sklearn.datasets, loader_name)(return_X_y=True)
    return np.asarray(X, np.float64), np.asarray(y), task


def split(X, y, task, seed):
    """75/25 train/test split (stratified for classification), seeded by `seed`."""
    from sklearn.model_selection import train_test_split
    stratify = y if task == "classification" else None
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=stratify)


def standardise(train, test):
    """Scale columns by the training part's mean and std (std 0 counts as 1)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    return (train - mean) / std, (test - mean) / std, mean, std


# ---------------------------------------------------------------- results
def accuracy(model, X, labels):
    """(fraction correct, number correct) of the argmax of model.predict(X)."""
    predicted = model.predict(X).argmax(axis=1)
    correct = int((predicted == labels).sum())
    return correct / len(labels), correct


def regression_scores(predicted, y):
    """(R^2, MSE) of predictions against targets, both 1-D."""
    residual = y - predicted
    mse = float(np.mean(residual ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual ** 2)) / total if total > 0 else float("nan")
    return r2, mse


def warm_up(make_model, make_optimizer, X, y, batch_size):
    """Fit and predict once with a throwaway model of the same configuration on a few
    rows, so that loading the compiled kernels (a one-off cost per process, a fraction
    of a second) is not counted in the timed run's throughput."""
    rows = min(len(X), batch_size + 1)     # a full batch and a partial one
    scratch = make_model()
    scratch.fit(X[:rows], y[:rows], epochs=1, batch_size=batch_size,
                optimizer=make_optimizer(), verbose=0)
    scratch.predict(X[:rows])


def throughput(history):
    """Training samples per second over the whole fit: epochs * n_train / fit seconds."""
    seconds = sum(history.seconds)
    return history.epochs * history.samples / seconds if seconds > 0 else float("inf")


# ---------------------------------------------------------------- train
def add_train_parser(subparsers):
    """Register `fastprop train` and its options."""
    p = subparsers.add_parser(
        "train", help="train an MLP on a bundled scikit-learn data set",
        description="Train a multi-layer perceptron on a data set bundled with "
                    "scikit-learn (75/25 stratified split, inputs standardised on the "
                    "training part) and report test accuracy (R^2 and MSE for regression) "
                    "and training throughput.")
    p.add_argument("--dataset", choices=DATASETS, default="digits",
                   help="data set (default: digits); diabetes is regression (mse loss), "
                        "the others classification (cross_entropy)")
    p.add_argument("--layers", type=layer_widths, default=[128], metavar="W[,W...]",
                   help="hidden layer widths, comma-separated (default: 128)")
    p.add_argument("--activation", choices=codes.HIDDEN_ACTIVATIONS, default="relu",
                   help="hidden activation (default: relu)")
    p.add_argument("--epochs", type=positive_int, default=30, help="default: 30")
    p.add_argument("--batch-size", type=positive_int, default=32, help="default: 32")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="default: sgd")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="default: float32")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the split, initialisation and shuffling (default: 0)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or header; print only the results")
    p.set_defaults(run=cmd_train)


def cmd_train(args):
    """Run `fastprop train`: load, split, standardise, fit, evaluate, report."""
    X, y, task = load_dataset(args.dataset)
    X_train, X_test, y_train, y_test = split(X, y, task, args.seed)
    X_train, X_test, _, _ = standardise(X_train, X_test)
    if task == "classification":
        n_out, loss = int(y.max()) + 1, "cross_entropy"
        targets = y_train
    else:
        # Targets are standardised too so that default learning rates behave; the
        # scores below are in the data set's own units.
        n_out, loss = 1, "mse"
        y_mean, y_std = y_train.mean(), y_train.std() or 1.0
        targets = (y_train - y_mean) / y_std

    def make_model():
        return fp.Model([X.shape[1], *args.layers, n_out], activation=args.activation,
                        loss=loss, dtype=DTYPES[args.dtype], seed=args.seed)

    def make_optimizer():
        return OPTIMIZERS[args.optimizer](args.lr)

    with user_errors():
        model = make_model()
        optimizer = make_optimizer()
    if not args.quiet:
        what = f"{n_out} classes" if task == "classification" else "1 target"
        print(f"{args.dataset}: {len(X_train)} train / {len(X_test)} test samples, "
              f"{X.shape[1]} features -> {what}")
        print(f"{model!r}\n{optimizer!r}, {args.epochs} epochs, batch size "
              f"{args.batch_size}")

    try:
        with user_errors():
            warm_up(make_model, make_optimizer, X_train, targets, args.batch_size)
            history = model.fit(X_train, targets, epochs=args.epochs,
                                batch_size=args.batch_size, optimizer=optimizer,
                                verbose=0 if args.quiet else 1)
    except FloatingPointError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    if history.interrupted:
        print(f"{PROG}: interrupted after {history.epochs} of {args.epochs} epochs",
              file=sys.stderr)
    if history.epochs:
        print(f"final training loss: {history.loss[-1]:.4g}")

    if task == "classification":
        acc, correct = accuracy(model, X_test, y_test)
        print(f"test accuracy: {acc:.4f} ({correct}/{len(y_test)})")
    else:
        predicted = model.predict(X_test)[:, 0].astype(np.float64) * y_std + y_mean
        r2, mse = regression_scores(predicted, y_test.astype(np.float64))
        print(f"test R^2: {r2:.4f}  MSE: {mse:.4g}")
    if history.epochs:
        print(f"throughput: {throughput(history):,.0f} samples/s ({history.epochs} epochs "
              f"x {history.samples} samples in {sum(history.seconds):.3g} s)")
    return EXIT_INTERRUPTED if history.interrupted else 0


# ---------------------------------------------------------------- entry point
def build_parser():
    """The top-level parser with one subparser per command."""
    parser = _Parser(prog=PROG, description="Multi-layer perceptrons trained by "
                                            "backpropagation in Numba-compiled kernels.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {fp.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_train_parser(subparsers)
    return parser


def main(argv=None):
    """Parse `argv` (default sys.argv[1:]), run the command, return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exit_:     # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
