"""`fastprop predict`: apply a saved model to a CSV or .npz file."""
import contextlib
import csv
import json
import os
import sys

import numpy as np

from fastprop import io as fpio

from .common import EXIT_ERROR, PROG, UsageError, network_size, user_errors
from .data import check_in_range, read_csv_frame, read_data, scaled
from .encode import Encoding
from .train import check_output_path, predicted_classes


# ---------------------------------------------------------------- predict
def add_predict_parser(subparsers):
    """Register `fastprop predict`."""
    p = subparsers.add_parser(
        "predict", help="predict with a saved model",
        description="Apply a model saved by `fastprop train --out` (or Model.save) to a CSV "
                    "or .npz file and write one prediction per sample as CSV: class labels "
                    "for classifiers (probabilities with --proba), values for regression. "
                    "When the model knows its feature names, a CSV with a header row must "
                    "name every one of them: its columns are matched by name, in any order, "
                    "and extra columns (such as the target) are ignored. A CSV without a "
                    "header row, or an .npz file, is taken by position. The columns are "
                    "encoded as in training, from the arrays stored with the model: gaps "
                    "filled with the training medians (most frequent values for text), "
                    "numbers standardised, text one-hot encoded (a category not seen in "
                    "training gives zeros).")
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
    except OverflowError:
        raise UsageError(f"cannot load {path}: its layer sizes are beyond what a 64-bit "
                         f"count can index") from None
    except MemoryError as err:
        sizes = _stored_sizes(path)
        what = f"a network of {network_size(sizes, np.float32, 0)[0]:,} parameters" \
            if sizes is not None else "its network"
        raise UsageError(f"cannot load {path}: not enough memory for {what} ({err})") from None


def _stored_sizes(path):
    """The layer sizes a model file claims, or None where they cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            sizes = json.loads(str(npz["meta"]))["layer_sizes"]
    except Exception:           # only for a message: the loader has already failed
        return None
    return sizes if all(type(s) is int and s > 0 for s in sizes) else None


def check_preprocessing(model, extra, path):
    """The preprocessing arrays saved beside the model (see `train --out`), checked
    against the model once: a dict with x_mean/x_scale and y_mean/y_scale as float64
    (n_in,) and (n_out,) arrays, classes, feature_names (a list of str) and
    target_name (str), each only where stored. Anything that does not fit the model is a
    UsageError naming the file, so that predictions never come from misfit arrays."""
    n_in, n_out = model.sizes[0], model.sizes[-1]

    def fail(message):
        raise UsageError(f"{path}: the stored preprocessing does not fit the model: "
                         f"{message}")

    for mean, scale in (("x_mean", "x_scale"), ("y_mean", "y_scale")):
        if (mean in extra) != (scale in extra):
            have, lack = (mean, scale) if mean in extra else (scale, mean)
            fail(f"extra.{have} without extra.{lack}")
    if model.is_classifier and "y_mean" in extra:
        fail("extra.y_mean and y_scale scale a regression target, but the model is a "
             "classifier")
    if not model.is_classifier and "classes" in extra:
        fail("extra.classes holds class labels, but the model does regression")

    checked = {}
    for name, width, what in (("x_mean", n_in, "input"), ("x_scale", n_in, "input"),
                              ("y_mean", n_out, "output"), ("y_scale", n_out, "output")):
        if name not in extra:
            continue
        value = extra[name]
        if value.dtype.kind not in "iuf":
            fail(f"extra.{name} holds {value.dtype}, not numbers")
        if value.shape != (width,):
            fail(f"extra.{name} has shape {value.shape}; the model has {width} {what}"
                 f"{'s' if width != 1 else ''}")
        value = value.astype(np.float64)
        bad = ~np.isfinite(value) | ((value <= 0) if name.endswith("scale") else False)
        if bad.any():
            k = int(np.argmax(bad))
            fail(f"extra.{name}[{k}] is {value[k]}; it must be finite"
                 + (" and positive" if name.endswith("scale") else ""))
        checked[name] = value

    if "classes" in extra:
        classes = extra["classes"]
        expected = 2 if model.loss_name == "binary_cross_entropy" and n_out == 1 else n_out
        if classes.ndim != 1 or classes.dtype.kind not in "biufUS":
            fail(f"extra.classes must be a list of labels; it is {classes.dtype} "
                 f"{classes.shape}")
        if len(classes) != expected:
            fail(f"extra.classes holds {len(classes)} labels but the model predicts "
                 f"{expected} classes")
        if len(np.unique(classes)) != len(classes):
            fail("extra.classes repeats a label")
        checked["classes"] = classes.astype(str) if classes.dtype.kind == "S" else classes

    if "feature_names" in extra:
        names = extra["feature_names"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            fail(f"extra.feature_names must be a list of names; it is {names.dtype} "
                 f"{names.shape}")
        names = [str(n) for n in names.astype(str)]
        if len(names) != n_in:
            fail(f"extra.feature_names holds {len(names)} names; the model has {n_in} "
                 f"input{'s' if n_in != 1 else ''}")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            fail(f"extra.feature_names repeats {', '.join(map(repr, repeated[:5]))}")
        checked["feature_names"] = names

    if "target_name" in extra:
        target = extra["target_name"]
        if target.ndim != 0 or target.dtype.kind not in "US":
            fail(f"extra.target_name must be one name; it is {target.dtype} {target.shape}")
        checked["target_name"] = str(target.astype(str))
    _check_columns(extra, checked, n_in, fail)
    return checked


COLUMN_ARRAYS = ("columns", "numeric_columns", "numeric_fill", "text_columns", "text_fill")


def _check_columns(extra, checked, n_in, fail):
    """The column encoding arrays (see encode.py), all or none of them, into `checked`:
    columns, numeric_columns and text_columns as lists of str, numeric_fill float64,
    text_fill str, categories a list of str arrays (cat_0, cat_1, ...)."""
    present = [name for name in COLUMN_ARRAYS if name in extra]
    if not present:
        stray = sorted(n for n in extra if n.startswith("cat_"))
        if stray:
            fail(f"extra.{stray[0]} without extra.columns")
        return
    if len(present) != len(COLUMN_ARRAYS):
        lack = [n for n in COLUMN_ARRAYS if n not in extra]
        fail(f"extra.{present[0]} without extra.{lack[0]}")
    if "x_mean" not in checked:
        fail("extra.columns without extra.x_mean and x_scale")
    names = {}
    for name in ("columns", "numeric_columns", "text_columns", "text_fill"):
        value = extra[name]
        if value.ndim != 1 or value.dtype.kind not in "US":
            fail(f"extra.{name} must be a list of names; it is {value.dtype} {value.shape}")
        names[name] = [str(v) for v in value.astype(str)]
    columns, numeric, text = names["columns"], names["numeric_columns"], names["text_columns"]
    if len(set(columns)) != len(columns):
        fail("extra.columns repeats a name")
    if sorted(numeric + text) != sorted(columns):
        fail("extra.numeric_columns and extra.text_columns must share out extra.columns")
    fill = extra["numeric_fill"]
    if fill.dtype.kind not in "iuf" or fill.shape != (len(numeric),):
        fail(f"extra.numeric_fill must hold {len(numeric)} numbers; it is {fill.dtype} "
             f"{fill.shape}")
    fill = fill.astype(np.float64)
    if not np.isfinite(fill).all():
        fail(f"extra.numeric_fill[{int(np.argmax(~np.isfinite(fill)))}] is not finite")
    if len(names["text_fill"]) != len(text):
        fail(f"extra.text_fill holds {len(names['text_fill'])} values for {len(text)} text "
             f"columns")
    categories = []
    for i in range(len(text)):
        cats = extra.get(f"cat_{i}")
        if cats is None:
            fail(f"extra.cat_{i} (the categories of text column {text[i]!r}) is missing")
        if cats.ndim != 1 or cats.dtype.kind not in "US" or len(cats) == 0:
            fail(f"extra.cat_{i} must be a non-empty list of categories; it is {cats.dtype} "
                 f"{cats.shape}")
        cats = cats.astype(str)
        if len(np.unique(cats)) != len(cats):
            fail(f"extra.cat_{i} repeats a category")
        if names["text_fill"][i] not in cats:
            fail(f"extra.text_fill[{i}] {names['text_fill'][i]!r} is not among "
                 f"extra.cat_{i}")
        categories.append(cats)
    if f"cat_{len(text)}" in extra:
        fail(f"extra.cat_{len(text)} has no text column")
    width = len(numeric) + sum(len(c) for c in categories)
    if width != n_in:
        fail(f"{len(numeric)} numeric columns and {sum(len(c) for c in categories)} "
             f"categories make {width} inputs; the model has {n_in}")
    mean, scale = checked["x_mean"][len(numeric):], checked["x_scale"][len(numeric):]
    if (mean != 0).any() or (scale != 1).any():
        fail("extra.x_mean and x_scale must be 0 and 1 for the one-hot inputs")
    checked.update(names, numeric_fill=fill, categories=categories)


def features_for(model, prep, path):
    """The model's input matrix from the data file `path`, encoded as in training (see
    encode.py); `prep` is what `check_preprocessing` returned. A CSV with a header row
    gives the model's columns by name, when the model knows them: every one must be
    there, in any order, and others are ignored; a header that does not match is
    refused, never read by position. Otherwise the columns are taken by position,
    without the target column when that is the one column too many. An .npz file gives
    numeric columns by position."""
    n_in = model.sizes[0]
    encoding = Encoding.from_checked(prep, n_in)
    width = len(encoding.columns)
    if path.lower().endswith(".npz"):
        if encoding.text:
            raise UsageError(f"{path}: the model takes the text column"
                             f"{'s' if len(encoding.text) > 1 else ''} "
                             f"{', '.join(map(repr, encoding.text))}; give a CSV file")
        X = read_data(path, need_target=False).X
        if X.shape[1] != n_in:
            raise UsageError(f"{path} has {X.shape[1]} feature columns but the model takes "
                             f"{n_in}")
        names = prep.get("feature_names")
        scaling = (prep["x_mean"], prep["x_scale"]) if "x_mean" in prep else None
        result = scaled(X, *scaling) if scaling is not None else X
        check_in_range(result, X, model.dtype, path, names, scaling)
        return result
    frame, header_names, header = read_csv_frame(path)
    known = "columns" in prep or "feature_names" in prep
    columns = list(range(len(header_names)))
    if header and known:
        missing = [n for n in encoding.columns if n not in header_names]
        if missing:
            raise UsageError(f"{path} lacks the column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(map(repr, missing[:5]))}"
                             f"{' ...' if len(missing) > 5 else ''} the model was trained "
                             f"on (its columns are {', '.join(header_names[:10])}"
                             f"{', ...' if len(header_names) > 10 else ''})")
        repeated = [n for n in encoding.columns if header_names.count(n) > 1]
        if repeated:
            raise UsageError(f"{path} has more than one column named {repeated[0]!r}")
        columns = [header_names.index(n) for n in encoding.columns]
    elif header and prep.get("target_name") in header_names and \
            len(columns) == width + 1:
        columns.remove(header_names.index(prep["target_name"]))
    if len(columns) != width:
        hint = (" (remove the target column, or give the file a header row)"
                if len(columns) == width + 1 else "")
        raise UsageError(f"{path} has {len(columns)} feature columns but the model takes "
                         f"{width}{hint}")
    frame = frame[columns]
    if known:
        names = encoding.columns
    else:           # an older model that does not know its columns' names: by position
        names = [header_names[j] for j in columns] if header else [str(j) for j in columns]
        encoding.columns = encoding.numeric = names
    frame.columns = names
    return encoding.transform(frame, path, header, model.dtype, named=header or known)


def cmd_predict(args):
    """Run `fastprop predict`: load the model, read and scale the data, write predictions."""
    model, extra = load_model(args.model)
    prep = check_preprocessing(model, extra, args.model)
    if args.out is not None:
        check_output_path(args.out, "--out")
    X = features_for(model, prep, args.data)
    try:
        with user_errors():
            out = model.predict(X)
    except MemoryError:
        raise UsageError(f"not enough memory to predict {len(X):,} samples of "
                         f"{args.data} at once") from None
    classes = prep.get("classes")
    target = prep.get("target_name", "prediction")
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
            index = predicted_classes(model, X, out)
            header, values = [target], (classes[index] if classes is not None else index)
    else:
        if args.proba:
            raise UsageError("--proba needs a classifier; this model does regression")
        values = out.astype(np.float64)
        if "y_mean" in prep:
            with np.errstate(over="ignore"):    # beyond float64: written as inf
                values = values * prep["y_scale"] + prep["y_mean"]
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
