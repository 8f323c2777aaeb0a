"""The targets and weights of fastprop.sklearn's fits, as the Model and the scoring take
them: `Targets`, the labels decoded from the network's outputs, the checked
sample_weight."""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_array


def check_sample_weight(sample_weight, X):
    """sample_weight as an (n_samples,) array of X's dtype (a scalar for every row), or
    None. The Model refuses negative weights and weights that are all 0."""
    if sample_weight is None:
        return None
    n = X.shape[0]
    if isinstance(sample_weight, numbers.Number):
        return np.full(n, float(sample_weight), dtype=X.dtype)
    weights = check_array(sample_weight, ensure_2d=False, dtype=X.dtype, copy=True,
                          input_name="sample_weight")
    if weights.ndim != 1:
        raise ValueError("Sample weights must be 1D array or scalar")
    if weights.shape != (n,):
        raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n,)}!")
    if n and not weights.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


class Targets:
    """The targets of a fit as the Model and the scoring take them.

    Attributes: y (the targets as validated: labels, indicator matrix or values),
    targets (the Model's: class indices, 0/1 columns or values), n_outputs, loss (the
    Model's), out_activation (scikit-learn's name), stratify (the early-stopping
    split's, or None), decode (network outputs -> predictions as y holds them), and
    fitted (attributes the fit commits: classes_)."""

    def __init__(self, **kwargs):
        self.fitted = {}
        self.stratify = None
        vars(self).update(kwargs)

    def take(self, rows):
        """These targets of the rows `rows` only (a bootstrap sample's), with the same
        encoding (classes, outputs) and no fitted attributes of their own."""
        taken = Targets(**vars(self))
        taken.fitted = {}
        taken.y, taken.targets = self.y[rows], self.targets[rows]
        if self.stratify is not None:
            taken.stratify = self.stratify[rows]
        return taken


def decode_classes(out, classes, out_activation):
    """Labels from the network's outputs (scikit-learn's LabelBinarizer inverse): the
    most probable class (softmax), classes_[p > 0.5] (one logistic output; the one
    class of a single-class fit), or the 0/1 matrix p > 0.5 (multilabel)."""
    if out_activation == "softmax":
        return classes[np.argmax(out, axis=1)]
    if out.shape[1] == 1:
        if len(classes) == 1:
            return np.repeat(classes[0], out.shape[0])
        return classes[(out[:, 0] > 0.5).astype(np.int64)]
    return (out > 0.5).astype(np.int64)
