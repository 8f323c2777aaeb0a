"""scikit-learn's MLPRegressor / MLPClassifier under the bench's common interface
(bench/frameworks.py). One epoch is one ``partial_fit(X, y)`` (a single pass over the
data in order: shuffle=False), with alpha=0 (no L2), the workload's batch size,
learning rate and solver (sgd: constant rate, no momentum; adam: default betas, eps
1e-8 — sklearn adds eps to sqrt(v) after folding the bias corrections into the step
size, a slightly different but standard form). float32 data stays float32.

The initial weights are the shared Glorot ones: the estimator is initialised by a
partial_fit on one batch, then its coefs_/intercepts_ are overwritten in place and its
optimizer dropped, so the next partial_fit starts fresh Adam/SGD state.
"""
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor


class Trainer:
    name = "sklearn"

    def __init__(self, wl, n_threads):
        self.wl = wl
        kw = dict(hidden_layer_sizes=tuple(wl.sizes[1:-1]), activation="relu",
                  alpha=0.0, batch_size=wl.batch_size, learning_rate_init=wl.lr,
                  shuffle=False, random_state=0)
        if wl.optimizer == "sgd":
            kw.update(solver="sgd", learning_rate="constant", momentum=0.0,
                      nesterovs_momentum=False)
        else:
            kw.update(solver="adam", beta_1=0.9, beta_2=0.999, epsilon=1e-8)
        self.classifier = wl.loss == "cross_entropy"
        if self.classifier:
            self.est = MLPClassifier(**kw)
            self.y = wl.y
            self.classes = np.arange(wl.sizes[-1])
        else:
            self.est = MLPRegressor(**kw)
            self.y = wl.Y.ravel() if wl.Y.shape[1] == 1 else wl.Y
            self.classes = None
        B = wl.batch_size
        self._partial_fit(wl.X[:B], self.y[:B])   # creates coefs_ of the right shapes
        self.reset()

    def _partial_fit(self, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.classifier:
                self.est.partial_fit(X, y, classes=self.classes)
            else:
                self.est.partial_fit(X, y)

    def reset(self):
        for coef, intercept, (W, b) in zip(self.est.coefs_, self.est.intercepts_,
                                           self.wl.init):
            coef[...] = W
            intercept[...] = b
        if hasattr(self.est, "_optimizer"):
            del self.est._optimizer       # next partial_fit: fresh optimizer state

    def warmup(self):
        if self.wl.predict_only:
            self.predict()
        else:
            B = self.wl.batch_size
            self._partial_fit(self.wl.X[:B], self.y[:B])

    def epoch(self):
        self._partial_fit(self.wl.X, self.y)

    def predict(self):
        if self.classifier:
            return self.est.predict_proba(self.wl.sample)
        return self.est.predict(self.wl.sample)

    def params(self):
        return [(c.copy(), i.copy()) for c, i in zip(self.est.coefs_, self.est.intercepts_)]
