"""Full-batch training by L-BFGS-B: scipy.optimize.minimize drives a Model's flat
parameter vector, each evaluation one compiled forward and backward pass over all the
rows (the solver='lbfgs' of fastprop.sklearn).

The cost minimised is scikit-learn's: the (weighted) mean cost over the rows plus
alpha / (2 * sum of weights) * sum of squared weights, sum_i w_i C_i / sum_i w_i + l2/2
||W||^2 with the Net's l2 = alpha / sum_i w_i (alpha / n unweighted).
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from .buffers import aligned_zeros
from .kernels.network import backward_rows


def minimize_lbfgs(model, X, y, sample_weight=None, *, alpha=0.0, max_iter=200,
                   max_fun=15000, tol=1e-4, warn=True):
    """Minimise the model's cost on all of (X, y) by L-BFGS-B, starting from its params.

    Parameters
    ----------
    model : fastprop.Model
        The network; its params are set to the result (only if it is finite).
    X : array_like or scipy.sparse matrix, shape (n_samples, n_in)
        Inputs, finite (a sparse X's rows are read where they are, as in Model.fit).
    y : array_like
        Targets, as `Model.fit` takes them.
    sample_weight : array_like, shape (n_samples,), or None
        Weights >= 0, not all 0; None weighs every row 1.
    alpha : float
        The L2 penalty's strength, scaled by 1 / the sum of the weights.
    max_iter, max_fun : int
        scipy's maxiter and maxfun: the most iterations and cost evaluations.
    tol : float
        scipy's gtol: stop when the largest projected gradient entry is <= tol.
    warn : bool
        Warn where L-BFGS-B did not converge (False: the caller reads
        `convergence_message` itself).

    Returns
    -------
    scipy.optimize.OptimizeResult
        scipy's result; ``x`` is float64, the model's params its rounding.

    Raises
    ------
    FloatingPointError
        If the result is not finite; the model is then unchanged.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        If L-BFGS-B stopped before converging (iterations or evaluations ran out, or
        the line search failed).
    """
    X, Y = model._data(X, y)
    n = X.shape[0]
    w, mass = model._weights(sample_weight, n)
    # a workspace of n rows over a params buffer of its own: the model's parameters
    # change only once the result is known to be finite
    net = model._scratch_net(n)
    net = net._replace(params=aligned_zeros(model.params.shape, model.dtype),
                       l2=float(alpha) / mass)

    def cost_and_gradient(theta):
        net.params[...] = theta             # float64 to the model's dtype
        cost = backward_rows(net, X, Y, w, False, 1.0 / mass) / mass
        return cost, net.grads.astype(np.float64)      # a copy: scipy keeps it

    result = scipy.optimize.minimize(
        cost_and_gradient, model.params.astype(np.float64), method="L-BFGS-B", jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    if not np.isfinite(result.x).all():
        raise FloatingPointError("L-BFGS-B produced non-finite parameters")
    model.params[...] = result.x
    message = convergence_message(result)
    if warn and message:
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
    return result


def convergence_message(result):
    """The ConvergenceWarning's text for an L-BFGS-B result that did not converge
    (scipy's status != 0: iterations or evaluations ran out, or the line search
    failed), else None."""
    if result.status == 0:
        return None
    message = result.message
    if isinstance(message, bytes):
        message = message.decode("latin1")
    return (f"lbfgs stopped before converging, after {result.nit} iteration(s) and "
            f"{result.nfev} cost evaluation(s) (status {result.status}: {message}). "
            f"Raise max_iter or max_fun, or scale the data (e.g. with StandardScaler).")
