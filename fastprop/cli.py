"""The `fastprop` command line.

    fastprop train [DATA.csv|DATA.npz --target NAME | --dataset digits] [--layers 128,64]
                   [--optimizer adam] [--epochs 30] [--out model.npz] [--plot curves.png] ...
    fastprop predict model.npz DATA.csv|DATA.npz [--out predictions.csv] [--proba]
    fastprop bench [--workload W2] [--threads 1]

Each subcommand is a function `cmd_<name>(args) -> exit code` registered by an
`add_<name>_parser(subparsers)` function; `main` builds the parser and dispatches.
User mistakes (bad option values, missing or unreadable files, unknown columns, data
that does not fit the model) are reported as one line `fastprop: error: ...` on stderr
with exit code 2, never as a traceback.

`train --out` saves the model with fastprop.io and, beside it, what `predict` needs to
take raw data: the inputs' standardisation (x_mean, x_scale), the class labels, the
regression target's scaling, and the feature and target names.
"""
import argparse
import contextlib
import csv
import importlib.util
import os
import sys
import time

import numpy as np

import fastprop as fp
from fastprop import codes
from fastprop import io as fpio

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
# --lr when none is given: 0.1 for plain SGD on classes (0.01 for regression, where 0.1
# diverges on diabetes), each optimizer's usual rate otherwise.
DEFAULT_LR = {"sgd": 0.1, "sgd_regression": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2,
              "adadelta": 1.0}

DTYPES = {"float32": np.float32, "float64": np.float64}
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")
MAX_GUESSED_CLASSES = 20   # an integer target with at most this many values is a class

EXIT_ERROR = 1        # training failed (diverged), or an output could not be written
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
def int_at_least(low, words):
    """argparse type: an integer >= low, described as `words` in the error."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}")
        return value
    return parse


positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0, "an integer >= 0")


def fraction(text):
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
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


def dropout_rates(text):
    """argparse type: one dropout rate for every hidden layer, or comma-separated rates
    (one per hidden layer), each in [0, 1)."""
    rates = [fraction(part) for part in text.split(",")]
    return rates[0] if len(rates) == 1 else rates


# ---------------------------------------------------------------- data
class Table:
    """Data read for training or prediction: features X (n, d) float64, the target y
    (n,) or (n, k) (numbers or strings; None when absent), and names where known."""

    def __init__(self, X, y=None, feature_names=None, target_name=None, source=""):
        self.X, self.y = X, y
        self.feature_names, self.target_name, self.source = feature_names, target_name, source


def load_dataset(name):
    """A Table for a bundled scikit-learn data set (class labels 0..k-1) and its task,
    classification or regression."""
    import sklearn.datasets
    loader_name, task = DATASETS[name]
    bunch = getattr(sklearn.datasets, loader_name)()
    names = [str(n) for n in bunch.feature_names] if "feature_names" in bunch else None
    table = Table(np.asarray(bunch.data, np.float64), np.asarray(bunch.target), names,
                  "target", source=name)
    return table, task


def read_data(path, target=None, need_target=True):
    """A Table from a CSV or .npz file. CSV: a header row (any non-numeric field makes
    the first row one) names the columns; `target` is a column name or index (default:
    the last column). NPZ: `target` names an array (default "y"); the features are the
    array "X" or else the only other array."""
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder, not a data file")
    if path.lower().endswith(".npz"):
        return _read_npz(path, target, need_target)
    return _read_csv(path, target, need_target)


def _read_csv(path, target, need_target):
    header, rows = read_csv_fields(path)
    width = len(rows[0])
    t = None
    if need_target or target is not None:
        t = _column_index(path, header, width, target)
    features = [j for j in range(width) if j != t]
    if not features:
        raise UsageError(f"{path} has no feature columns besides the target")
    X = csv_numbers(path, header, rows, features)
    y = None
    if t is not None:
        values = [row[t].strip() for row in rows]
        y = (np.array([float(v) for v in values]) if all(_is_number(v) for v in values)
             else np.array(values))
    names = [header[j] for j in features] if header is not None else None
    target_name = (header[t] if header is not None else str(t)) if t is not None else None
    return Table(X, y, names, target_name, source=path)


def read_csv_fields(path):
    """(header or None, rows of string fields) of a CSV file; blank lines are skipped,
    every row must have the same number of fields. The first row is a header when any
    of its fields is not a number."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(field.strip() for field in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UsageError(f"cannot read {path}: {err}") from None
    if not rows:
        raise UsageError(f"{path} holds no data")
    header = None
    if not all(_is_number(field) for field in rows[0]):
        header, rows = [field.strip() for field in rows[0]], rows[1:]
        if not rows:
            raise UsageError(f"{path} has a header row but no data")
    width = len(header) if header is not None else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            line = i + (2 if header is not None else 1)
            raise UsageError(f"{path} line {line} has {len(row)} fields, expected {width}")
    return header, rows


def csv_numbers(path, header, rows, columns):
    """The float64 matrix (len(rows), len(columns)) of the chosen columns; a field that is
    not a number, or missing/infinite values, are reported with line and column."""
    X = np.empty((len(rows), len(columns)))
    for i, row in enumerate(rows):
        for out, j in enumerate(columns):
            try:
                X[i, out] = float(row[j])
            except ValueError:
                line = i + (2 if header is not None else 1)
                name = repr(header[j]) if header is not None else str(j)
                raise UsageError(f"{path} line {line}, column {name}: {row[j].strip()!r} is "
                                 f"not a number") from None
    if not np.isfinite(X).all():
        i, out = np.argwhere(~np.isfinite(X))[0]
        line = i + (2 if header is not None else 1)
        raise UsageError(f"{path} line {line}: missing or infinite feature value "
                         f"({X[i, out]})")
    return X


def _column_index(path, header, width, target):
    """The index of the target column: a header name, an integer index (negative counts
    from the end), or the last column when `target` is None."""
    if target is None:
        return width - 1
    if header is not None and target in header:
        return header.index(target)
    try:
        index = int(target)
    except ValueError:
        index = None
    if index is not None and -width <= index < width:
        return index % width
    known = f"its columns are {', '.join(header)}" if header is not None else \
        f"it has no header row, so give a column index 0..{width - 1}"
    raise UsageError(f"{path} has no column {target!r}; {known}")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_npz(path, target, need_target):
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as err:        # not a zip, damaged, pickled objects ...
        raise UsageError(f"cannot read {path} as an .npz archive of arrays: {err}") from None
    names = ", ".join(sorted(arrays)) or "nothing"
    y = None
    target_name = None
    if need_target or target is not None:
        target_name = target or "y"
        if target_name not in arrays:
            raise UsageError(f"{path} has no array {target_name!r}; it holds {names} "
                             f"(name the target array with --target)")
        y = arrays.pop(target_name)
    if "X" in arrays:
        X = arrays["X"]
    elif len(arrays) == 1:
        X = next(iter(arrays.values()))
    else:
        raise UsageError(f"{path}: cannot tell which array holds the features (it holds "
                         f"{names}); name it X")
    if X.dtype.kind not in "biuf":
        raise UsageError(f"{path}: the features must be numbers, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise UsageError(f"{path}: the features must be a 2-D array (samples, features); got "
                         f"shape {X.shape}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise UsageError(f"{path} has missing or infinite feature values (nan, inf)")
    if y is not None:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise UsageError(f"{path}: the target {target_name!r} has shape {y.shape} but "
                             f"the features have {X.shape[0]} samples")
        if y.dtype.kind not in "biufUS":
            raise UsageError(f"{path}: the target must hold numbers or strings, got dtype "
                             f"{y.dtype}")
        if y.dtype.kind == "S":
            y = y.astype(str)
    return Table(X, y, None, target_name, source=path)


def choose_task(y, loss, source, target_name):
    """'classification' or 'regression' for the target y: from the loss when given,
    else string, boolean or few-valued integer targets are classes."""
    numeric = y.dtype.kind in "biuf"
    if numeric and not np.isfinite(y).all():
        raise UsageError(f"the target {target_name!r} of {source} has missing or infinite "
                         f"values (nan, inf)")
    if loss is not None:
        task = "classification" if loss in CLASSIFICATION_LOSSES else "regression"
        if task == "regression" and not numeric:
            raise UsageError(f"the target {target_name!r} of {source} holds text labels; "
                             f"--loss {loss} needs numbers (use cross_entropy)")
        if task == "classification" and y.ndim != 1:
            raise UsageError(f"--loss {loss} needs one column of class labels; the target "
                             f"has shape {y.shape}")
        return task
    if y.ndim == 1 and (not numeric or y.dtype.kind == "b" or (
            np.all(y == np.round(y)) and len(np.unique(y)) <= MAX_GUESSED_CLASSES)):
        return "classification"
    return "regression"


def split(X, y, task, seed, test_fraction=0.25):
    """Train/test split (stratified for classification where every class has two or
    more samples), seeded by `seed`; test_fraction 0 keeps everything for training."""
    if test_fraction == 0:
        return X, X[:0], y, y[:0]
    from sklearn.model_selection import train_test_split
    stratify = None
    if task == "classification":
        _, counts = np.unique(y, return_counts=True)
        stratify = y if counts.min() >= 2 else None
    try:
        return train_test_split(X, y, test_size=test_fraction, random_state=seed,
                                stratify=stratify)
    except ValueError as err:
        raise UsageError(f"cannot split {len(X)} samples for testing: {err}") from None


def standardise(train, test):
    """Scale columns by the training part's mean and std (std 0 counts as 1)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    return (train - mean) / std, (test - mean) / std, mean, std


# ---------------------------------------------------------------- results
def accuracy(model, X, labels):
    """(fraction correct, number correct) of the model's class predictions."""
    predicted = predicted_classes(model, X)
    correct = int((predicted == labels).sum())
    return correct / len(labels), correct


def predicted_classes(model, X):
    """Class indices: argmax of softmax outputs, or sigmoid > 0.5 for one output."""
    out = model.predict(X)
    if model.loss_name == "binary_cross_entropy":
        return (out[:, 0] > 0.5).astype(np.int64)
    return out.argmax(axis=1)


def regression_scores(predicted, y):
    """(R^2, MSE) of predictions against targets (averaged over columns)."""
    residual = y - predicted
    mse = float(np.mean(residual ** 2))
    total = float(np.sum((y - y.mean(axis=0)) ** 2))
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


def check_output_path(path, option):
    """Refuse before training an output whose folder does not exist."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a folder; give a file name")


def plot_curves(history, path, title):
    """Write the loss (and accuracy) per epoch, training and validation, as an image.
    Uses matplotlib's object API with the Agg canvas: no display, no global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = [("loss", history.loss, history.val_loss)]
    if history.accuracy:
        panels.append(("accuracy", history.accuracy, history.val_accuracy))
    fig = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    FigureCanvasAgg(fig)
    epochs = np.arange(1, history.epochs + 1)
    for i, (name, train, val) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.plot(epochs, train, marker=".", label=f"training {name}")
        if val:
            ax.plot(epochs, val, marker=".", label=f"validation {name}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.savefig(path)


def prepare(table, task, loss, args):
    """Split and standardise the table for training: (X_train, X_test, y_train, y_test,
    training targets, output width, extra arrays to save with the model). Class labels
    become indices 0..k-1 (y_train/y_test); regression targets are standardised for
    training (y_train/y_test stay in the data's units)."""
    extra = {}
    y = table.y
    if task == "classification":
        classes, y = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise UsageError(f"the target of {table.source} has a single class "
                             f"({classes[0]!r}); nothing to learn")
        if loss == "binary_cross_entropy" and len(classes) != 2:
            raise UsageError(f"--loss binary_cross_entropy needs two classes; the target "
                             f"has {len(classes)}")
        n_out = 1 if loss == "binary_cross_entropy" else len(classes)
        extra["classes"] = classes
    else:
        y = y.astype(np.float64)
        n_out = 1 if y.ndim == 1 else y.shape[1]

    X_train, X_test, y_train, y_test = split(table.X, y, task, args.seed, args.test_split)
    X_train, X_test, x_mean, x_scale = standardise(X_train, X_test)
    extra.update(x_mean=x_mean, x_scale=x_scale)
    if task == "classification":
        targets = y_train.astype(np.float64) if loss == "binary_cross_entropy" else y_train
    else:
        # Targets are standardised too so that default learning rates behave; the
        # scores are reported in the data's own units.
        y_mean = y_train.mean(axis=0)
        y_scale = np.where(y_train.std(axis=0) == 0, 1.0, y_train.std(axis=0))
        targets = (y_train - y_mean) / y_scale
        extra.update(y_mean=np.atleast_1d(y_mean), y_scale=np.atleast_1d(y_scale))
    if table.feature_names is not None:
        extra["feature_names"] = np.array(table.feature_names)
    if table.target_name is not None:
        extra["target_name"] = np.array(table.target_name)
    return X_train, X_test, y_train, y_test, targets, n_out, extra


def report(model, history, X_test, y_test, extra, epochs):
    """Print the final training metrics, the test scores and the throughput."""
    if history.interrupted:
        print(f"{PROG}: interrupted after {history.epochs} of {epochs} epochs",
              file=sys.stderr)
    if history.stopped_epoch is not None:
        print(f"early stopping after epoch {history.stopped_epoch + 1}; kept the weights "
              f"of epoch {history.best_epoch + 1}")
    if history.epochs:
        line = f"final training loss: {history.loss[-1]:.4g}"
        if history.accuracy:
            line += f"  accuracy: {history.accuracy[-1]:.4f}"
        if history.val_loss:
            line += f"  validation loss: {history.val_loss[-1]:.4g}"
        if history.val_accuracy:
            line += f"  validation accuracy: {history.val_accuracy[-1]:.4f}"
        print(line)
    if len(X_test) and "classes" in extra:
        acc, correct = accuracy(model, X_test, y_test)
        print(f"test accuracy: {acc:.4f} ({correct}/{len(y_test)})")
    elif len(X_test):
        out = model.predict(X_test).astype(np.float64) * extra["y_scale"] + extra["y_mean"]
        r2, mse = regression_scores(out[:, 0] if y_test.ndim == 1 else out, y_test)
        print(f"test R^2: {r2:.4f}  MSE: {mse:.4g}")
    if history.epochs:
        print(f"throughput: {throughput(history):,.0f} samples/s ({history.epochs} epochs "
              f"x {history.samples} samples in {sum(history.seconds):.3g} s)")


# ---------------------------------------------------------------- train
def add_train_parser(subparsers):
    """Register `fastprop train` and its options."""
    p = subparsers.add_parser(
        "train", help="train an MLP on a CSV/.npz file or a bundled scikit-learn data set",
        description="Train a multi-layer perceptron on a CSV or .npz file or on a data set "
                    "bundled with scikit-learn: a stratified train/test split, inputs "
                    "standardised on the training part, then the test accuracy (R^2 and MSE "
                    "for regression) and the training throughput. --out saves the model, "
                    "with its input scaling, for `fastprop predict`.")
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="a CSV file (header row optional) or an .npz file of arrays; "
                        "default: the bundled data set named by --dataset")
    p.add_argument("--target", metavar="NAME",
                   help="CSV: the target column's name or index (default: the last column); "
                        ".npz: the target array (default: y; the features are X or the "
                        "only other array)")
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="bundled data set (default: digits); diabetes is regression, the "
                        "others classification")
    p.add_argument("--layers", type=layer_widths, default=[128], metavar="W[,W...]",
                   help="hidden layer widths, comma-separated (default: 128)")
    p.add_argument("--activation", choices=codes.HIDDEN_ACTIVATIONS, default="relu",
                   help="hidden activation (default: relu)")
    p.add_argument("--loss", choices=codes.LOSSES, default=None,
                   help="default: cross_entropy for classes (text, boolean, or integer "
                        f"targets with at most {MAX_GUESSED_CLASSES} values), mse otherwise")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="default: sgd")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: for sgd 0.1, or 0.01 for regression; 1e-3 "
                        "for adam, adamw and rmsprop; 1e-2 for adagrad; 1.0 for adadelta)")
    p.add_argument("--epochs", type=positive_int, default=30, help="default: 30")
    p.add_argument("--batch-size", type=positive_int, default=32, help="default: 32")
    p.add_argument("--dropout", type=dropout_rates, default=0.0, metavar="RATE[,RATE...]",
                   help="dropout rate of the hidden layers, one or one per layer (default: 0)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="default: float32")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the split, initialisation and shuffling (default: 0)")
    p.add_argument("--test-split", type=fraction, default=0.25, metavar="FRACTION",
                   help="share held out for the final test (default: 0.25; 0: none)")
    p.add_argument("--val-split", type=fraction, default=None, metavar="FRACTION",
                   help="share of the training part held out for validation each epoch "
                        "(default: none, or 0.1 with --early-stopping)")
    p.add_argument("--early-stopping", action="store_true",
                   help="stop when the validation loss has not improved for --patience "
                        "epochs and keep the best epoch's weights")
    p.add_argument("--patience", type=positive_int, default=10,
                   help="epochs without improvement before early stopping (default: 10)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="training threads (default: every core this process may use)")
    p.add_argument("--out", metavar="MODEL.npz",
                   help="save the trained model (and its input scaling) here")
    p.add_argument("--plot", metavar="CURVES.png",
                   help="draw the loss and accuracy curves into this image (needs "
                        "matplotlib)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or header; print only the results")
    p.set_defaults(run=cmd_train)


def cmd_train(args):
    """Run `fastprop train`: load, split, standardise, fit, evaluate, report, save."""
    if args.plot is not None:
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("--plot needs matplotlib, which is not installed: pip install "
                             "matplotlib (or pip install 'fastprop[plot]')")
        check_output_path(args.plot, "--plot")
    if args.out is not None:
        check_output_path(args.out, "--out")
    if args.data is not None and args.dataset is not None:
        raise UsageError("give a data file or --dataset, not both")
    if args.data is None and args.target is not None:
        raise UsageError("--target names a column of a data file; give the file too")

    if args.data is not None:
        table = read_data(args.data, args.target)
        task = choose_task(table.y, args.loss, table.source, table.target_name)
    else:
        table, task = load_dataset(args.dataset or "digits")
        if args.loss is not None and (args.loss in CLASSIFICATION_LOSSES) != (
                task == "classification"):
            raise UsageError(f"{table.source} is a {task} data set; --loss {args.loss} does "
                             f"not fit it")
    loss = args.loss or ("cross_entropy" if task == "classification" else "mse")
    X = table.X

    X_train, X_test, y_train, y_test, targets, n_out, extra = prepare(table, task, loss,
                                                                      args)
    val_split = args.val_split
    if args.early_stopping and not val_split:
        val_split = 0.1
    lr = args.lr
    if lr is None:
        lr = DEFAULT_LR["sgd_regression" if args.optimizer == "sgd" and task == "regression"
                        else args.optimizer]

    def make_model():
        return fp.Model([X.shape[1], *args.layers, n_out], activation=args.activation,
                        loss=loss, dtype=DTYPES[args.dtype], seed=args.seed,
                        dropout=args.dropout)

    def make_optimizer():
        return OPTIMIZERS[args.optimizer](lr)

    with user_errors():
        model = make_model()
        optimizer = make_optimizer()
    if not args.quiet:
        if task == "classification":
            what = f"{len(extra['classes'])} classes"
        else:
            what = f"{n_out} target{'s' if n_out > 1 else ''}"
        target = f" (target {table.target_name!r})" if args.data is not None else ""
        print(f"{table.source}: {len(X_train)} train / {len(X_test)} test samples, "
              f"{X.shape[1]} features -> {what}{target}")
        print(f"{model!r}\n{optimizer!r}, {args.epochs} epochs, batch size "
              f"{args.batch_size}" + (f", validation split {val_split}" if val_split else ""))

    try:
        with user_errors():
            warm_up(make_model, make_optimizer, X_train, targets, args.batch_size)
            history = model.fit(X_train, targets, epochs=args.epochs,
                                batch_size=args.batch_size, optimizer=optimizer,
                                verbose=0 if args.quiet else 1,
                                validation_split=val_split or 0.0,
                                early_stopping=args.early_stopping, patience=args.patience,
                                n_threads=args.threads)
    except FloatingPointError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    report(model, history, X_test, y_test, extra, args.epochs)

    outputs = []
    if args.out is not None:
        outputs.append((args.out, "the model", lambda: fpio.save(model, args.out, extra=extra)))
    if args.plot is not None and history.epochs:
        outputs.append((args.plot, "the training curves",
                        lambda: plot_curves(history, args.plot, f"{table.source}: {model!r}")))
    for path, what, write in outputs:
        try:
            write()
        except OSError as err:
            print(f"{PROG}: error: cannot write {path}: {err.strerror or err}",
                  file=sys.stderr)
            return EXIT_ERROR
        print(f"wrote {what} to {path}")
    return EXIT_INTERRUPTED if history.interrupted else 0


# ---------------------------------------------------------------- predict
def add_predict_parser(subparsers):
    """Register `fastprop predict`."""
    p = subparsers.add_parser(
        "predict", help="predict with a saved model",
        description="Apply a model saved by `fastprop train --out` (or Model.save) to a CSV "
                    "or .npz file and write one prediction per sample as CSV: class labels "
                    "for classifiers (probabilities with --proba), values for regression. "
                    "A CSV with a header row is matched to the model's feature names, so "
                    "extra columns (such as the target) are ignored.")
    p.add_argument("model", metavar="MODEL.npz", help="a saved fastprop model")
    p.add_argument("data", metavar="DATA", help="a CSV file or an .npz file (array X)")
    p.add_argument("--out", metavar="FILE",
                   help="write here instead of stdout (.npz: an array 'predictions')")
    p.add_argument("--proba", action="store_true",
                   help="classifiers: write each class's probability instead of the label")
    p.set_defaults(run=cmd_predict)


def load_model(path):
    """(model, extra) from a saved file; any problem is a one-line UsageError."""
    try:
        return fpio.load(path, return_extra=True)
    except FileNotFoundError:
        raise UsageError(f"no such model file: {path}") from None
    except ValueError as err:
        raise UsageError(str(err)) from None


def features_for(model, extra, path):
    """The model's input matrix from the data file `path`, matched by column name where
    both sides have names, else by position; then standardised as in training."""
    n_in = model.sizes[0]
    if path.lower().endswith(".npz"):
        X = read_data(path, need_target=False).X
    else:
        X = _csv_features(path, n_in, extra)
    if X.shape[1] != n_in:
        hint = (" (remove the target column, or give the file a header row)"
                if X.shape[1] == n_in + 1 else "")
        raise UsageError(f"{path} has {X.shape[1]} feature columns but the model takes "
                         f"{n_in}{hint}")
    if "x_mean" in extra:
        X = (X - extra["x_mean"]) / extra["x_scale"]
    return X


def _csv_features(path, n_in, extra):
    """The feature columns of a CSV for the model: by name when the model knows its
    feature names and the file has a header holding them all; without the target
    column when that is the one column too many; else every column, by position."""
    header, rows = read_csv_fields(path)
    width = len(rows[0])
    columns = list(range(width))
    names = [str(n) for n in extra["feature_names"]] if "feature_names" in extra else None
    target = str(extra["target_name"]) if "target_name" in extra else None
    if header is not None and names is not None:
        missing = [n for n in names if n not in header]
        if not missing:
            columns = [header.index(n) for n in names]
        elif width != n_in:
            raise UsageError(f"{path} lacks the column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(map(repr, missing[:5]))} the model was trained on")
    elif header is not None and target in header and width == n_in + 1:
        columns.remove(header.index(target))
    return csv_numbers(path, header, rows, columns)


def cmd_predict(args):
    """Run `fastprop predict`: load the model, read and scale the data, write predictions."""
    model, extra = load_model(args.model)
    if args.out is not None:
        check_output_path(args.out, "--out")
    X = features_for(model, extra, args.data)
    out = model.predict(X)
    classes = extra.get("classes")
    target = str(extra["target_name"]) if "target_name" in extra else "prediction"
    if model.is_classifier and args.proba:
        if model.loss_name == "binary_cross_entropy" and out.shape[1] == 1:
            out = np.column_stack([1 - out[:, 0], out[:, 0]])
        names = ([str(c) for c in classes] if classes is not None
                 else [str(k) for k in range(out.shape[1])])
        header, values = names, out
    elif model.is_classifier:
        if model.loss_name == "binary_cross_entropy" and out.shape[1] > 1:   # multilabel
            header = [f"{target}_{k}" for k in range(out.shape[1])]
            values = (out > 0.5).astype(np.int64)
        else:
            index = predicted_classes(model, X)
            header, values = [target], (classes[index] if classes is not None else index)
    else:
        if args.proba:
            raise UsageError("--proba needs a classifier; this model does regression")
        values = out.astype(np.float64)
        if "y_mean" in extra:
            values = values * extra["y_scale"] + extra["y_mean"]
        header = [target] if values.shape[1] == 1 else \
            [f"{target}_{k}" for k in range(values.shape[1])]
        if values.shape[1] == 1:
            values = values[:, 0]
    try:
        write_predictions(args.out, header, values, model.dtype)
    except BrokenPipeError:       # the reader (such as `head`) stopped early: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as err:
        print(f"{PROG}: error: cannot write {args.out}: {err.strerror or err}",
              file=sys.stderr)
        return EXIT_ERROR
    if args.out is not None:
        print(f"wrote {len(values)} predictions to {args.out}", file=sys.stderr)
    return 0


def write_predictions(path, header, values, dtype):
    """CSV (a header row, then one row per sample) to stdout or `path`; an .npz path gets
    the array 'predictions' instead. Floats keep every digit of the model's dtype."""
    values = np.asarray(values)
    if path is not None and path.lower().endswith(".npz"):
        np.savez(path, predictions=values)
        return
    digits = 9 if np.dtype(dtype) == np.float32 else 17
    rows = values.reshape(len(values), -1)

    def text(v):
        return f"{v:.{digits}g}" if isinstance(v, (float, np.floating)) else str(v)

    with (open(path, "w", newline="") if path is not None
          else contextlib.nullcontext(sys.stdout)) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([text(v) for v in row] for row in rows)


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
    print(f"fastprop: {rate:,.0f} samples/s  {seconds / steps * 1e6:,.1f} us/step  "
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
          f"{t_seconds / steps * 1e6:,.1f} us/step  (final loss {t_loss:.4g})")
    print(f"fastprop / torch: {rate / t_rate:.2f}x")
    return 0


# ---------------------------------------------------------------- entry point
def build_parser():
    """The top-level parser with one subparser per command."""
    parser = _Parser(prog=PROG, description="Multi-layer perceptrons trained by "
                                            "backpropagation in Numba-compiled kernels.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {fp.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_train_parser(subparsers)
    add_predict_parser(subparsers)
    add_bench_parser(subparsers)
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
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exit_:     # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
