"""`fastprop predict`: apply a saved model to a CSV or .npz file."""
import contextlib
import csv
import os
import sys

import numpy as np

from fastprop import io as fpio

from .common import EXIT_ERROR, PROG, UsageError
from .data import csv_numbers, read_csv_fields, read_data
from .train import check_output_path, predicted_classes


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
