"""Turning a table's columns into the model's inputs, and back from a model file.

Training fits a scikit-learn ColumnTransformer on the training rows: numeric columns
get SimpleImputer(median) then a StandardScaler, text columns SimpleImputer
(most_frequent) then OneHotEncoder(handle_unknown="ignore"). The model's inputs are the
scaled numeric columns (in the file's order), then each text column's one-hot block
(its categories sorted). What was fitted is stored beside the model as plain arrays
(`Encoding.extra`, never pickles):

    columns          the feature columns, in the training file's order (str)
    numeric_columns  the numeric ones (str); numeric_fill their training medians
    text_columns     the text ones (str); text_fill their most frequent values (str)
    cat_0, cat_1 ... the categories of each text column, in one-hot order (str)
    x_mean, x_scale  per model input: the numeric columns' mean and std, 0 and 1 for
                     the one-hot inputs (so a file without text columns has the layout
                     of the files that older versions wrote)

`fastprop predict` applies the same transformation with numpy from these arrays
(`Encoding.transform`): fill, (x - mean) / scale, and one-hot by equality with the
categories, an unknown category giving all zeros."""
import contextlib
import warnings

import numpy as np

from .common import UsageError
from .data import check_in_range, column_stats, first_line, numbers_of, scaled


@contextlib.contextmanager
def quiet_overflow():
    """No RuntimeWarnings from scikit-learn's sums over values near the float64 limit
    (its checks and medians; the statistics that matter are computed without overflow
    here)."""
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def overflow_free_scaler():
    """A StandardScaler whose statistics and transform are data.column_stats and
    data.scaled: finite for values near the float64 limit, where StandardScaler's sums
    of squares overflow."""
    from sklearn.preprocessing import StandardScaler

    class OverflowFreeScaler(StandardScaler):
        def fit(self, X, y=None, sample_weight=None):
            X = np.asarray(X, np.float64)
            self.mean_, self.scale_ = column_stats(X)
            self.var_ = self.scale_ ** 2
            self.n_features_in_ = X.shape[1]
            self.n_samples_seen_ = X.shape[0]
            return self

        def transform(self, X, copy=None):
            return scaled(np.asarray(X, np.float64), self.mean_, self.scale_)

    return OverflowFreeScaler()


class Encoding:
    """The column preprocessing of one model: see the module's description. A model
    file without `columns` (older files, and models trained on .npz files or bundled
    data sets) is an Encoding of numeric columns without fill values."""

    def __init__(self, columns, numeric, numeric_fill, text, text_fill, categories, mean,
                 scale):
        self.columns, self.numeric, self.text = list(columns), list(numeric), list(text)
        self.numeric_fill, self.text_fill = numeric_fill, text_fill
        self.categories, self.mean, self.scale = categories, mean, scale

    # ------------------------------------------------------------ training
    @classmethod
    def fit(cls, frame, rows):
        """(Encoding, transformer) fitted with scikit-learn on frame.iloc[rows]."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        numeric = [c for c in frame.columns if frame[c].dtype.kind == "f"]
        text = [c for c in frame.columns if c not in numeric]
        parts = []
        if numeric:
            parts.append(("numeric", Pipeline([
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", overflow_free_scaler())]), numeric))
        if text:
            parts.append(("text", Pipeline([
                ("impute", SimpleImputer(strategy="most_frequent", missing_values=np.nan)),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                                         dtype=np.float64))]), text))
        transformer = ColumnTransformer(parts, sparse_threshold=0.0)
        train = frame.iloc[rows]
        if text:
            train = train.astype({c: object for c in text})
        with quiet_overflow():     # medians near the float64 limit: recomputed below
            transformer.fit(train)
        numeric_fill, mean, scale = np.zeros(0), np.zeros(0), np.ones(0)
        text_fill, categories = np.zeros(0, str), []
        if numeric:
            steps = transformer.named_transformers_["numeric"].named_steps
            numeric_fill = np.array(steps["impute"].statistics_, np.float64)
            for k in np.flatnonzero(~np.isfinite(numeric_fill)):
                values = train[numeric[k]].to_numpy(np.float64)
                values = values[~np.isnan(values)]
                # a column of gaps only: 0; else the median of halves, doubled
                numeric_fill[k] = np.median(values * 0.5) * 2.0 if len(values) else 0.0
            steps["impute"].statistics_ = numeric_fill.copy()
            mean, scale = steps["scale"].mean_, steps["scale"].scale_
        if text:
            steps = transformer.named_transformers_["text"].named_steps
            text_fill = np.array([str(v) for v in steps["impute"].statistics_])
            categories = [np.array([str(v) for v in c]) for c in steps["onehot"].categories_]
        width = sum(len(c) for c in categories)
        encoding = cls(frame.columns, numeric, numeric_fill, text, text_fill, categories,
                       np.concatenate([mean, np.zeros(width)]),
                       np.concatenate([scale, np.ones(width)]))
        return encoding, transformer

    @staticmethod
    def transformed(transformer, frame):
        """What the fitted scikit-learn `transformer` makes of `frame`."""
        text = [c for c in frame.columns if frame[c].dtype.kind != "f"]
        if text:
            frame = frame.astype({c: object for c in text})
        with quiet_overflow():     # scikit-learn's finiteness check sums the values
            return np.asarray(transformer.transform(frame), np.float64)

    def extra(self):
        """The arrays to store beside the model."""
        arrays = {"columns": np.array(self.columns, dtype=str),
                  "numeric_columns": np.array(self.numeric, dtype=str),
                  "numeric_fill": np.asarray(self.numeric_fill, np.float64),
                  "text_columns": np.array(self.text, dtype=str),
                  "text_fill": np.array(self.text_fill, dtype=str),
                  "x_mean": self.mean, "x_scale": self.scale}
        for i, cats in enumerate(self.categories):
            arrays[f"cat_{i}"] = np.array(cats, dtype=str)
        return arrays

    def input_names(self):
        """The model inputs' names: the numeric columns, then `column=category`."""
        return self.numeric + [f"{c}={v}" for c, cats in zip(self.text, self.categories)
                               for v in cats]

    def summary(self, frame):
        """One line: what was scaled, one-hot encoded and filled in `frame`."""
        def plural(n, word):
            return f"{n} {word}{'s' if n != 1 else ''}"
        parts = []
        if self.numeric:
            parts.append(f"{plural(len(self.numeric), 'numeric column')} scaled")
        if self.text:
            cats = ", ".join(f"{c}: {len(k)}" for c, k in zip(self.text, self.categories))
            parts.append(f"{plural(len(self.text), 'text column')} one-hot ({cats} "
                         f"categor{'ies' if sum(map(len, self.categories)) != 1 else 'y'})")
        filled_numbers = int(frame[self.numeric].isna().to_numpy().sum()) if self.numeric \
            else 0
        filled_text = int(frame[self.text].isna().to_numpy().sum()) if self.text else 0
        if filled_numbers or filled_text:
            how = []
            if filled_numbers:
                how.append(f"{filled_numbers} with the median")
            if filled_text:
                how.append(f"{filled_text} with the most frequent value")
            parts.append(f"{plural(filled_numbers + filled_text, 'missing value')} filled "
                         f"({' and '.join(how)} of the training part)")
        else:
            parts.append("no missing values")
        return ", ".join(parts)

    # ------------------------------------------------------------ prediction
    @classmethod
    def from_checked(cls, prep, n_in):
        """The Encoding of what check_preprocessing returned; a model file of the older
        layout gives numeric columns (named by feature_names, else by position) without
        fill values."""
        if "columns" in prep:
            return cls(prep["columns"], prep["numeric_columns"], prep["numeric_fill"],
                       prep["text_columns"], prep["text_fill"], prep["categories"],
                       prep["x_mean"], prep["x_scale"])
        names = prep.get("feature_names") or [str(j) for j in range(n_in)]
        return cls(names, names, None, [], [], [], prep.get("x_mean"),
                   prep.get("x_scale"))

    def transform(self, frame, path, header, dtype, named=True):
        """The model's inputs from `frame` (its columns named as `columns`; text cells
        as str, NaN where missing) with numpy: exactly what the fitted ColumnTransformer
        computes. Gaps without a stored fill value, cells that are not numbers in a
        numeric column, and values too far from the training data for the model's
        dtype are UsageErrors, naming the line (counting the header row where `header`)
        and the column (by its quoted name where `named`)."""
        n = len(frame)
        X = np.empty((n, len(self.numeric)))
        for k, name in enumerate(self.numeric):
            values = numbers_of(frame, name, path, header, named)
            gaps = np.isnan(values)
            if gaps.any():
                if self.numeric_fill is None:
                    label = repr(name) if named else name
                    raise UsageError(f"{path} line {first_line(gaps, header)}, column "
                                     f"{label}: missing value (this "
                                     f"model stores no values to fill gaps with)")
                values = np.where(gaps, self.numeric_fill[k], values)
            X[:, k] = values
        if self.mean is not None:
            p = len(self.numeric)
            scaling = (self.mean[:p], self.scale[:p])
            result = scaled(X, *scaling)
            check_in_range(result, X, dtype, path, self.numeric if named else None,
                           scaling)
            X = result
        else:
            check_in_range(X, X, dtype, path, self.numeric if named else None)
        blocks = [X]
        for name, fill, cats in zip(self.text, self.text_fill, self.categories):
            column = frame[name]
            values = np.array([fill if not isinstance(v, str) and np.isnan(v) else str(v)
                               for v in column], dtype=str) if n else np.zeros(0, str)
            blocks.append((values[:, None] == cats[None, :]).astype(np.float64))
        return np.hstack(blocks) if len(blocks) > 1 else X


def refuse_gaps(frame, path, header):
    """--no-impute: a UsageError naming the first column with missing values."""
    for name in frame.columns:
        gaps = frame[name].isna().to_numpy()
        if gaps.any():
            label = repr(name) if header else name
            raise UsageError(f"{path}: column {label} has {int(gaps.sum())} missing "
                             f"value{'s' if gaps.sum() > 1 else ''} (first at line "
                             f"{first_line(gaps, header)}); --no-impute refuses to fill them "
                             f"(--drop the column, or leave out --no-impute)")
