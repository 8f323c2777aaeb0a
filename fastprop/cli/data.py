"""Reading data for the command line: bundled scikit-learn data sets, CSV and .npz
files; splitting and standardising them."""
import csv
import os

import numpy as np

from .common import CLASSIFICATION_LOSSES, DATASETS, MAX_GUESSED_CLASSES, UsageError


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


def standardise(train, test, dtype=np.float64, source="the data", names=None):
    """Scale columns by the training part's mean and std (std 0 counts as 1); refuse a
    test value that lands outside the model's `dtype` once scaled."""
    mean, std = column_stats(train)
    test_scaled = scaled(test, mean, std)
    check_in_range(test_scaled, test, dtype, source, names, (mean, std))
    return scaled(train, mean, std), test_scaled, mean, std


def column_stats(values):
    """(mean, std) along axis 0, std 0 counting as 1. Columns whose sums or squares
    overflow (finite values near the float64 limit) are computed again divided by their
    largest magnitude, so huge but finite data gets finite statistics."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = values.mean(axis=0), values.std(axis=0)
    flat = values.reshape(len(values), int(np.prod(values.shape[1:])))
    mean, std = np.array(mean, np.float64).reshape(-1), np.array(std, np.float64).reshape(-1)
    redo = ~(np.isfinite(mean) & np.isfinite(std))
    if redo.any() and len(values):
        big = np.abs(flat[:, redo]).max(axis=0)
        unit = flat[:, redo] / big
        mean[redo], std[redo] = unit.mean(axis=0) * big, unit.std(axis=0) * big
    std = np.where(std == 0, 1.0, std)
    return mean.reshape(values.shape[1:]), std.reshape(values.shape[1:])


def scaled(values, mean, scale):
    """(values - mean) / scale without overflow in the difference: where it overflows
    (values and mean of opposite sign near the float64 limit), halves are subtracted."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (values - mean) / scale
        bad = ~np.isfinite(out)
        if bad.any():
            out = np.where(bad, (values * 0.5 - mean * 0.5) / scale * 2.0, out)
    return out


def check_in_range(result, values, dtype, source, names=None, scaling=None):
    """UsageError naming the first column whose (scaled) `result` is not finite in the
    model's `dtype`; `values` are the numbers as read, `scaling` the (mean, scale) used."""
    limit = np.finfo(dtype).max
    bad = ~(np.abs(result) <= limit)
    if not bad.any():
        return
    i, j = np.argwhere(bad)[0]
    column = repr(names[j]) if names is not None else str(j)
    if scaling is None:
        raise UsageError(f"{source}: column {column} holds {values[i, j]:.6g}, beyond the "
                         f"range of the model's {np.dtype(dtype).name}")
    mean, scale = scaling
    raise UsageError(f"{source}: column {column} holds {values[i, j]:.6g}, too far from the "
                     f"training data (mean {mean[j]:.6g}, std {scale[j]:.6g}) to "
                     f"standardise in {np.dtype(dtype).name}")
