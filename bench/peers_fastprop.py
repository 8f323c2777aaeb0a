"""fastprop under the bench's common interface (bench/frameworks.py).

Training goes through the public API a user calls: ``model.fit(X, y, epochs=1,
batch_size=B, optimizer=opt, shuffle=False)`` with the same optimizer object every
round, so optimizer state carries over between rounds exactly as in one longer fit.
The per-call costs of fit (input validation, one-hot of the labels, its checkpoint
copies) are therefore part of the measured epoch. `n_threads=` is passed to fit
when fastprop's fit accepts it.
"""
import fastprop as fp
import numpy as np

from .workloads import DTYPE, fit_accepts


class Trainer:
    name = "fastprop"

    def __init__(self, wl, n_threads):
        self.wl = wl
        self.model = fp.Model(list(wl.sizes), activation=wl.activation, loss=wl.loss,
                              output_activation=wl.output_activation, dtype=DTYPE,
                              seed=0, init="xavier_uniform")
        self._fit_kwargs = {}
        if fit_accepts("n_threads"):
            self._fit_kwargs["n_threads"] = int(n_threads)
        self.n_threads_passed = "n_threads" in self._fit_kwargs
        if wl.optimizer == "sgd":
            self.opt = fp.SGD(lr=wl.lr)
        else:
            self.opt = fp.Adam(lr=wl.lr)
        self.reset()

    def _set_params(self, layers):
        for l, (W, b) in enumerate(layers):
            self.model.weights[l][...] = W
            self.model.biases[l][...] = b

    def reset(self):
        self._set_params(self.wl.init)
        if self.model.optimizer is not None:
            self.model.reset_optimizer()

    def _fit(self, X, y):
        return self.model.fit(X, y, epochs=1, batch_size=self.wl.batch_size,
                              optimizer=self.opt, shuffle=False, verbose=0,
                              **self._fit_kwargs)

    def warmup(self):
        """Compile (or load from numba's cache) fit's and predict's kernels: one
        batch of training, then one predict."""
        wl = self.wl
        if not wl.predict_only:
            self._fit(wl.X[:wl.batch_size], wl.y[:wl.batch_size])
        self.model.predict(wl.X[:1] if wl.sample is None else wl.sample)

    def epoch(self):
        self._fit(self.wl.X, self.wl.y)

    def predict(self):
        return self.model.predict(self.wl.sample)

    def params(self):
        return [(np.array(W), np.array(b))
                for W, b in zip(self.model.weights, self.model.biases)]
