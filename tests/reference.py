"""A plain, obviously-correct NumPy float64 backpropagation, written from the equations.

Nothing here imports fastprop's kernels: it is the independent reference they are
checked against. Layers are lists of (W (n_in, n_out), b (n_out,)).

  forward   Z_l = A_{l-1} @ W_l + b_l,  A_l = f_l(Z_l),  A_{-1} = X
  output    E_L = dC/dZ_L (per sample)
  hidden    E_l = (E_{l+1} @ W_{l+1}^T) * f_l'(Z_l)
  gradients dW_l = A_{l-1}^T @ E_l / n,  db_l = sum_rows(E_l) / n
"""
import numpy as np
from scipy.special import erf, xlogy

SQRT2 = np.sqrt(2.0)


def act(name, z):
    if name in ("identity", "linear"):
        return z.copy()
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))        # = 1 / (1 + e^-z), without overflow
    if name == "tanh":
        return np.tanh(z)
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "gelu":
        return 0.5 * z * (1.0 + erf(z / SQRT2))
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "exp":
        return np.exp(z)
    raise ValueError(name)


def act_grad(name, z):
    """f'(z) elementwise (not softmax)."""
    if name in ("identity", "linear"):
        return np.ones_like(z)
    if name == "relu":
        return (z > 0).astype(float)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, 0.01)
    if name == "elu":
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))
    if name == "sigmoid":
        s = act("sigmoid", z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "softplus":
        return act("sigmoid", z)
    if name == "gelu":
        return 0.5 * (1.0 + erf(z / SQRT2)) + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    if name == "exp":
        return np.exp(z)
    raise ValueError(name)


def cost(loss, z, a, y):
    """Per-sample cost (n,) from the output pre-activation z, activation a, target y."""
    d = a - y
    if loss == "mse":
        return 0.5 * (d ** 2).sum(axis=1)
    if loss == "mae":
        return np.abs(d).sum(axis=1)
    if loss == "huber":
        ad = np.abs(d)
        return np.where(ad <= 1.0, 0.5 * d * d, ad - 0.5).sum(axis=1)
    if loss == "binary_cross_entropy":      # -y log s(z) - (1-y) log(1 - s(z))
        return (np.logaddexp(0.0, z) - y * z).sum(axis=1)
    if loss == "poisson":                   # y log(y / a) - y + a, a = exp(z)
        return (xlogy(y, y) - y * z - y + a).sum(axis=1)
    if loss == "cross_entropy":             # -sum y log softmax(z)
        m = z.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
        return (y * (lse - z)).sum(axis=1)
    raise ValueError(loss)


def cost_slope(loss, a, y):
    """dC/da for the regression losses."""
    d = a - y
    if loss == "mse":
        return d
    if loss == "mae":
        return np.sign(d)
    if loss == "huber":
        return np.clip(d, -1.0, 1.0)
    raise ValueError(loss)


def forward(layers, activations, X):
    """Lists Z, A (one per layer)."""
    Z, A = [], []
    a = X
    for (W, b), name in zip(layers, activations):
        z = a @ W + b
        a = act(name, z)
        Z.append(z)
        A.append(a)
    return Z, A


def output_error(loss, out_act, z, a, y):
    """Per-sample E_L = dC/dZ_L."""
    if loss == "cross_entropy":
        return a * y.sum(axis=1, keepdims=True) - y
    if loss in ("binary_cross_entropy", "poisson"):
        return a - y
    g = cost_slope(loss, a, y)
    if out_act == "softmax":        # J^T g with J = diag(a) - a a^T
        return a * (g - (g * a).sum(axis=1, keepdims=True))
    return g * act_grad(out_act, z)


def backprop(layers, activations, loss, X, Y, w=None):
    """Returns dict with Z, A, E (per-sample), dW, db (mean-cost gradient), loss (mean);
    with sample weights w (n,), of the weighted mean sum w_i C_i / sum w_i."""
    n = X.shape[0]
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    Z, A = forward(layers, activations, X)
    E = [None] * len(layers)
    E[-1] = output_error(loss, activations[-1], Z[-1], A[-1], Y)
    for l in range(len(layers) - 2, -1, -1):
        W_next = layers[l + 1][0]
        E[l] = (E[l + 1] @ W_next.T) * act_grad(activations[l], Z[l])
    dW, db = [], []
    mass = w.sum()
    for l in range(len(layers)):
        a_prev = X if l == 0 else A[l - 1]
        e = E[l] * w[:, None]       # backpropagation is linear in the output error
        dW.append(a_prev.T @ e / mass)
        db.append(e.sum(axis=0) / mass)
    return dict(Z=Z, A=A, E=E, dW=dW, db=db,
                loss=(w * cost(loss, Z[-1], A[-1], Y)).sum() / mass)


def one_hot(labels, k):
    out = np.zeros((labels.size, k))
    out[np.arange(labels.size), labels] = 1.0
    return out
