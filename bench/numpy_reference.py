"""A plain, vectorised NumPy MLP trainer in float32: the peer that is always there.

Written to be a fair peer, not a straw man: parameters and gradients live in one flat
float32 buffer each (layer views into it), so an optimizer update is a handful of
whole-buffer ufunc calls; every batch-sized work array is allocated once and written
with ``out=``; matrix products go to BLAS through ``np.matmul(..., out=)``. The maths
is the same as fastprop's (and torch's):

  forward   Z_l = A_{l-1} @ W_l + b_l, A_l = relu(Z_l) (output: identity or softmax)
  output    E_L = (A_L - Y) / B   (mse ½(ŷ-y)² with identity, cross-entropy with softmax)
  backward  dW_l = A_{l-1}^T E_l, db_l = sum_rows E_l, E_{l-1} = (E_l W_l^T) * [Z_{l-1} > 0]
  SGD       p -= lr g
  Adam      m = b1 m + (1-b1) g, v = b2 v + (1-b2) g², p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)

The loss value is not computed while training (nothing needs it); `loss()` computes it.
"""
import math

import numpy as np

from .workloads import DTYPE


class NumpyMLP:
    """A ReLU MLP with an identity (mse) or softmax (cross-entropy) output."""

    def __init__(self, init, loss, optimizer, lr, batch_size, betas=(0.9, 0.999),
                 eps=1e-8):
        if loss not in ("mse", "cross_entropy"):
            raise ValueError(f"loss must be mse or cross_entropy, got {loss!r}")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, got {optimizer!r}")
        self.loss_name, self.optimizer, self.lr = loss, optimizer, float(lr)
        self.beta1, self.beta2, self.eps = float(betas[0]), float(betas[1]), float(eps)
        self.sizes = [init[0][0].shape[0]] + [W.shape[1] for W, _ in init]
        n_params = sum(W.size + b.size for W, b in init)
        self.params = np.empty(n_params, DTYPE)
        self.grads = np.zeros(n_params, DTYPE)
        self.W, self.b = self._views(self.params)
        self.dW, self.db = self._views(self.grads)
        self.m = np.zeros(n_params, DTYPE)   # Adam moments
        self.v = np.zeros(n_params, DTYPE)
        self.tmp = np.empty(n_params, DTYPE)
        self.tmp2 = np.empty(n_params, DTYPE)
        self.t = 0
        self.set_params(init)
        self._alloc(batch_size)

    def _views(self, flat):
        Ws, bs, off = [], [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            Ws.append(flat[off:off + n_in * n_out].reshape(n_in, n_out))
            off += n_in * n_out
            bs.append(flat[off:off + n_out])
            off += n_out
        return Ws, bs

    def _alloc(self, rows):
        """Work arrays for batches of up to `rows` rows."""
        self.capacity = rows
        outs = self.sizes[1:]
        self.Z = [np.empty((rows, n), DTYPE) for n in outs]
        self.A = [np.empty((rows, n), DTYPE) for n in outs]
        self.E = [np.empty((rows, n), DTYPE) for n in outs]
        self.mask = [np.empty((rows, n), np.bool_) for n in outs[:-1]]
        self.rowvec = np.empty((rows, 1), DTYPE)

    def set_params(self, layers):
        for l, (W, b) in enumerate(layers):
            self.W[l][...] = W
            self.b[l][...] = b

    def get_params(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b)]

    def reset_optimizer(self):
        self.m[...] = 0
        self.v[...] = 0
        self.t = 0

    # ------------------------------------------------------------------ passes
    def forward(self, X):
        """Output activations of X (rows <= capacity), in the work arrays."""
        rows = X.shape[0]
        if rows > self.capacity:
            self._alloc(rows)
        a = X
        last = len(self.W) - 1
        for l in range(last + 1):
            z = self.Z[l][:rows]
            np.matmul(a, self.W[l], out=z)
            z += self.b[l]
            if l < last:
                a = np.maximum(z, 0, out=self.A[l][:rows])
            else:
                a = self._output(z, self.A[l][:rows])
        return a

    def _output(self, z, out):
        if self.loss_name == "mse":
            return z        # identity
        m = self.rowvec[:z.shape[0]]
        np.max(z, axis=1, keepdims=True, out=m)
        np.subtract(z, m, out=out)
        np.exp(out, out=out)
        np.sum(out, axis=1, keepdims=True, out=m)
        out /= m
        return out

    def backward(self, X, Y):
        """After forward(X): the gradient of the batch's mean cost into self.grads."""
        rows = X.shape[0]
        last = len(self.W) - 1
        e = self.E[last][:rows]
        out = self.Z[last][:rows] if self.loss_name == "mse" else self.A[last][:rows]
        np.subtract(out, Y, out=e)
        e *= DTYPE(1.0 / rows)
        for l in range(last, -1, -1):
            a_prev = X if l == 0 else self.A[l - 1][:rows]
            np.matmul(a_prev.T, e, out=self.dW[l])
            np.sum(e, axis=0, out=self.db[l])
            if l > 0:
                e_prev = self.E[l - 1][:rows]
                np.matmul(e, self.W[l].T, out=e_prev)
                mask = np.greater(self.Z[l - 1][:rows], 0, out=self.mask[l - 1][:rows])
                np.multiply(e_prev, mask, out=e_prev)
                e = e_prev

    def update(self):
        """One optimizer step from self.grads."""
        p, g = self.params, self.grads
        if self.optimizer == "sgd":
            np.multiply(g, DTYPE(self.lr), out=self.tmp)
            p -= self.tmp
            return
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        m, v, tmp, tmp2 = self.m, self.v, self.tmp, self.tmp2
        m *= DTYPE(b1)                              # m = b1 m + (1 - b1) g
        np.multiply(g, DTYPE(1.0 - b1), out=tmp)
        m += tmp
        v *= DTYPE(b2)                              # v = b2 v + (1 - b2) g²
        np.multiply(g, g, out=tmp)
        tmp *= DTYPE(1.0 - b2)
        v += tmp
        step_size = self.lr / (1.0 - b1 ** self.t)
        root_c2 = math.sqrt(1.0 - b2 ** self.t)
        np.sqrt(v, out=tmp)                         # denominator sqrt(v)/sqrt(c2) + eps
        tmp *= DTYPE(1.0 / root_c2)
        tmp += DTYPE(self.eps)
        np.divide(m, tmp, out=tmp2)
        tmp2 *= DTYPE(step_size)
        p -= tmp2

    def train_batch(self, X, Y):
        self.forward(X)
        self.backward(X, Y)
        self.update()

    def train_epoch(self, X, Y, batches):
        """One pass over X, Y in the given (start, stop) row ranges, in order."""
        for s, e in batches:
            self.train_batch(X[s:e], Y[s:e])

    def predict(self, X):
        """Output activations (a fresh array), any number of rows."""
        outs = []
        for s in range(0, X.shape[0], self.capacity):
            outs.append(self.forward(X[s:s + self.capacity]).copy())
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def loss(self, X, Y):
        """Mean cost over X, Y (float)."""
        total = 0.0
        for s in range(0, X.shape[0], self.capacity):
            xb, yb = X[s:s + self.capacity], Y[s:s + self.capacity]
            self.forward(xb)
            z = self.Z[-1][:xb.shape[0]].astype(np.float64)
            if self.loss_name == "mse":
                total += 0.5 * ((z - yb) ** 2).sum()
            else:
                m = z.max(axis=1, keepdims=True)
                lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
                total += (yb * (lse - z)).sum()
        return total / X.shape[0]


class Trainer:
    """The bench's common interface (see bench/frameworks.py) over NumpyMLP."""
    name = "numpy"

    def __init__(self, wl, n_threads):
        self.wl = wl
        self.model = NumpyMLP(wl.init, wl.loss, wl.optimizer, wl.lr,
                              1 if wl.predict_only else wl.batch_size)
        self._batches = wl.batches()

    def warmup(self):
        if self.wl.predict_only:
            self.predict()
        else:
            s, e = self._batches[0]
            self.model.train_batch(self.wl.X[s:e], self.wl.Y[s:e])

    def reset(self):
        self.model.set_params(self.wl.init)
        self.model.reset_optimizer()

    def epoch(self):
        self.model.train_epoch(self.wl.X, self.wl.Y, self._batches)

    def predict(self):
        return self.model.predict(self.wl.sample)

    def params(self):
        return self.model.get_params()
