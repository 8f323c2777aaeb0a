"""What every `fastprop` subcommand shares: constants, the one-line user-error
mechanism, and the argparse option types."""
import argparse
import contextlib
import os

import numpy as np

import fastprop as fp
from fastprop import config

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
INT64_MAX = 2**63 - 1      # the kernels index parameters and units with int64


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


# ---------------------------------------------------------------- memory
def network_size(sizes, dtype, rows):
    """(parameters, bytes) of a Model of these layer sizes: parameters, gradients and two
    optimizer moments per parameter, plus a workspace of four arrays as wide as all the
    layers together for `rows` samples. A lower bound on what building and fitting take."""
    sizes = [int(s) for s in sizes]
    n_params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    rows = max(int(rows), config.DEFAULT_CAPACITY)
    n_values = 4 * n_params + rows * (4 * sum(sizes) + sizes[-1])
    return n_params, n_values * np.dtype(dtype).itemsize


def physical_memory():
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _gib(nbytes):
    gib = nbytes / 2**30
    return f"{gib:,.0f} GiB" if gib >= 10 else f"{gib:.3g} GiB"


def check_network_fits(sizes, dtype, rows, what):
    """Refuse, before allocating anything, a network larger than this machine's memory
    (`what` names its origin, such as the --layers option): an allocation that large
    fails, or succeeds lazily and gets the process killed once it is touched."""
    n_params, nbytes = network_size(sizes, dtype, rows)
    memory = physical_memory()
    if n_params > INT64_MAX:
        reason = "more parameters than a 64-bit count can index"
    elif memory is not None and nbytes > memory:
        reason = f"this machine has {_gib(memory)}"
    else:
        return
    raise UsageError(f"{what}: a network of {n_params:,} parameters needs at least "
                     f"{_gib(nbytes)}; {reason} (choose smaller layers)")


@contextlib.contextmanager
def out_of_memory(sizes, dtype, rows, what):
    """Turn a failed allocation while building or fitting the network into UsageError."""
    try:
        yield
    except (MemoryError, OverflowError):
        n_params, nbytes = network_size(sizes, dtype, rows)
        raise UsageError(f"{what}: a network of {n_params:,} parameters needs at least "
                         f"{_gib(nbytes)}; there is not enough free memory for it (choose "
                         f"smaller layers or --batch-size)") from None


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
    "none" asks for a network without hidden layers (an empty value is refused, since
    it is more often a shell variable that was not set than a wish)."""
    if text.strip().lower() == "none":
        return []
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "expected hidden layer widths such as 128 or 256,128 (or none for a network "
            "without hidden layers); got an empty value")
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        widths = None
    if widths is None or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 128 or 256,128; got {text!r}")
    too_wide = [w for w in widths if w > INT64_MAX]
    if too_wide:
        raise argparse.ArgumentTypeError(
            f"the width {too_wide[0]} is larger than a 64-bit integer (at most {INT64_MAX})")
    between = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    if sum(widths) > INT64_MAX or between > INT64_MAX:
        raise argparse.ArgumentTypeError(
            f"{text}: the hidden layers alone would have {between:,} parameters, more than "
            f"a 64-bit count can index")
    return widths


def dropout_rates(text):
    """argparse type: one dropout rate for every hidden layer, or comma-separated rates
    (one per hidden layer), each in [0, 1)."""
    rates = [fraction(part) for part in text.split(",")]
    return rates[0] if len(rates) == 1 else rates


def column_list(text):
    """argparse type: comma-separated column names, e.g. "id" or "id,notes"."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names; got "
                                         f"{text!r}")
    return names
