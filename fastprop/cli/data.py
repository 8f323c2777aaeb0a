"""Reading data for the command line: bundled scikit-learn data sets, CSV and .npz
files; splitting and standardising them."""
import csv
import os
import re

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


def read_data(path, target=None, need_target=True, drop=()):
    """A Table from a CSV or .npz file. CSV (see `read_csv_frame`): a header row (any
    non-numeric field makes the first row one) names the columns; `target` is a column
    name or index (default: the last column); `drop` names columns to leave out. The
    Table's `frame` holds the feature columns (numbers as float64 with NaN where
    missing, text as str with NaN) and X is None until they are encoded. NPZ: `target`
    names an array (default "y"); the features are the array "X" or else the only
    other array."""
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder, not a data file")
    if path.lower().endswith(".npz"):
        if drop:
            raise UsageError("--drop names CSV columns; an .npz file has none")
        return _read_npz(path, target, need_target)
    return _read_csv(path, target, need_target, drop)


def _read_csv(path, target, need_target, drop):
    frame, names, header = read_csv_frame(path)
    width = len(names)
    t = None
    if need_target or target is not None:
        t = _column_index(path, names if header else None, width, target)
    dropped = set()
    for name in drop:
        if name not in names:
            raise UsageError(f"--drop {name}: {path} has no column {name!r}; its columns "
                             f"are {_listing(names)}")
        dropped.add(names.index(name))
    if t is not None and t in dropped:
        raise UsageError(f"--drop {names[t]}: that is the target column")
    features = [j for j in range(width) if j != t and j not in dropped]
    if not features:
        raise UsageError(f"{path} has no feature columns besides the target")
    repeated = sorted({names[j] for j in features if names.count(names[j]) > 1})
    if repeated:
        raise UsageError(f"{path} has more than one column named {repeated[0]!r}")
    y = None
    if t is not None:
        column = frame[t]
        missing = column.isna().to_numpy()
        if missing.any():
            raise UsageError(f"the target {names[t]!r} of {path} is missing in "
                             f"{int(missing.sum())} row{'s' if missing.sum() > 1 else ''} "
                             f"(first at line {first_line(missing, header)}); drop those "
                             f"rows or choose another --target")
        numbers = as_numbers(column)
        y = numbers if numbers is not None else column.to_numpy(dtype=str)
    table = Table(None, y, [names[j] for j in features], names[t] if t is not None else None,
                  source=path)
    features_frame = frame[features]
    features_frame.columns = table.feature_names
    table.frame = typed_columns(features_frame, path, header)
    table.header = header
    return table


def _listing(names, most=10):
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


# The delimiters a CSV file may use; the first line that shows one decides.
DELIMITERS = ",;\t|"


def read_csv_frame(path):
    """(frame, column names, whether the file has a header row) of a CSV file, read by
    pandas: the delimiter (comma, semicolon, tab or |) sniffed from the first lines,
    quoted fields, UTF-8 (with or without a BOM) or else Latin-1 text, blank lines
    skipped. Every cell is a stripped string, or NaN where it is empty or an NA marker
    (NA, N/A, NaN, null, ...). The first row is a header when any of its fields is
    not a number; without one the columns are named by their index, 0, 1, ..."""
    import pandas as pd
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None
    encoding = "utf-8-sig"
    try:
        head.decode(encoding)
    except UnicodeDecodeError as err:
        encoding = "latin-1" if err.start < len(head) - 4 else encoding   # a cut character
    frame = None
    for attempt in (encoding, "latin-1"):
        delimiter = _sniff_delimiter(head.decode(attempt, "replace"))
        try:
            frame = pd.read_csv(path, sep=delimiter,
                                header=None, dtype=str, skipinitialspace=True,
                                encoding=attempt, skip_blank_lines=True)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise UsageError(f"{path} holds no data") from None
        except (pd.errors.ParserError, ValueError, OSError) as err:
            raise UsageError(f"cannot read {path}: {' '.join(str(err).split())}") from None
    frame = frame.apply(lambda c: c.str.strip()).replace("", np.nan)
    frame = frame.dropna(how="all").reset_index(drop=True)
    frame.columns = range(frame.shape[1])
    if frame.empty:
        raise UsageError(f"{path} holds no data")
    first = frame.iloc[0]
    header = any(isinstance(v, str) and not _is_number(v) and not (
        delimiter != "," and re.match(DECIMAL_COMMA, v)) for v in first)
    if header:
        names = [v if isinstance(v, str) else f"column {j + 1}" for j, v in enumerate(first)]
        frame = frame.iloc[1:].reset_index(drop=True)
        if frame.empty:
            raise UsageError(f"{path} has a header row but no data")
    else:
        names = [str(j) for j in range(frame.shape[1])]
    if delimiter != ",":
        frame = _decimal_commas(frame)
    return frame, names, header


DECIMAL_COMMA = r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$"
INTEGER = r"^[+-]?\d+$"


def _decimal_commas(frame):
    """Columns of a file not delimited by commas whose values are all numbers written
    with a decimal comma (1,5), or integers, with the comma made a point."""
    for j in frame.columns:
        values = frame[j].dropna()
        comma = values.str.match(DECIMAL_COMMA)
        if len(values) and comma.any() and (comma | values.str.match(INTEGER)).all():
            frame[j] = frame[j].str.replace(",", ".", regex=False)
    return frame


def _sniff_delimiter(text):
    """The delimiter of a CSV file's first lines: what csv.Sniffer finds among
    DELIMITERS, else the one of them the first line holds most of, else a comma."""
    lines = [line for line in text.splitlines() if line.strip()][:20]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    counts = {d: lines[0].count(d) for d in DELIMITERS} if lines else {}
    best = max(counts, key=counts.get) if counts else ","
    return best if counts.get(best) else ","


def first_line(mask, header):
    """The file line of the first True row of `mask` (rows counted after the header)."""
    return int(np.argmax(mask)) + (2 if header else 1)


def as_numbers(column):
    """The float64 values of a column of strings (NaN where missing), or None when a
    present value is not a number. Converted as Python's float() does (correctly
    rounded), not with pandas' faster, inexact parser."""
    try:
        return column.astype(np.float64).to_numpy()
    except (ValueError, TypeError):
        return None


def typed_columns(frame, path, header):
    """The frame with every column that holds only numbers (and gaps) as float64, the
    others as text (str, NaN where missing). Infinite numbers are refused."""
    out = frame.copy()
    for j in frame.columns:
        numbers = as_numbers(frame[j])
        if numbers is None:
            continue
        infinite = np.isinf(numbers)
        if infinite.any():
            raise UsageError(f"{path} line {first_line(infinite, header)}, column "
                             f"{_label(j, header)}: infinite value "
                             f"({numbers[infinite][0]})")
        out[j] = numbers
    return out


def _label(name, header):
    """A column as messages name it: its quoted header name, or its index."""
    return repr(str(name)) if header else str(name)


def numbers_of(frame, column, path, header, named=None):
    """The float64 values of one column (NaN where missing); a value that is not a
    number, or an infinite one, is reported with its line and column (its quoted name
    where `named`, default: when the file has a header)."""
    values = frame[column]
    numbers = as_numbers(values) if values.dtype.kind != "f" else values.to_numpy()
    label = _label(column, header if named is None else named)
    if numbers is None:
        bad = ~values.isna().to_numpy() & np.array(
            [isinstance(v, str) and not _is_number(v) for v in values])
        raise UsageError(f"{path} line {first_line(bad, header)}, column {label}: "
                         f"{values[int(np.argmax(bad))]!r} is not a number")
    infinite = np.isinf(numbers)
    if infinite.any():
        raise UsageError(f"{path} line {first_line(infinite, header)}, column {label}: "
                         f"infinite value ({numbers[infinite][0]})")
    return numbers


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
    except (ValueError, TypeError):
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
