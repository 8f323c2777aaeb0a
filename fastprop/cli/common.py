"""What every `fastprop` subcommand shares: constants, the one-line user-error
mechanism, and the argparse option types."""
import argparse
import contextlib

import numpy as np

import fastprop as fp

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
