"""Costs C(y_hat, y) of one sample, and the output layer error E_L = dC/dZ_L.

Shapes: Z, A are workspace buffers whose output region starts at `start` and holds
(rows, width) row-major; Y is the batch target buffer, (rows, width) row-major from 0;
SW the rows' sample weights (rows,) from 0, read only where `weighted`.
Every cost is summed over the sample's outputs; kernels return the sum over the rows
of those per-row sums (each times its weight where weighted), in float64 (the caller
divides by the batch size, or the weights' sum, for the mean). Summing row by row
makes a batch's cost the same float64 number however its rows are grouped into calls
(the narrow walk takes one row per call). Unweighted, no weight enters a product: the
bits are those of a kernel without weights.

The shortcut E_L = y_hat - y is used only where it is exact: identity + mse,
sigmoid + binary cross-entropy, softmax + cross-entropy and exp + Poisson (each
computed from the logits Z). Every other pair uses the general product
C'(y_hat) * f'(Z_L), whose second factor the caller applies (see output_error).
"""
import math

from .jit import inlined, kernel

from ..codes import (BINARY_CROSS_ENTROPY, CROSS_ENTROPY, HUBER_DELTA, MAE, MSE, POISSON,
                     SOFTMAX)


@inlined
def _regression_cost(loss, d):
    """Cost of one output for a residual d = y_hat - y, in float64."""
    d = float(d)
    if loss == MSE:
        return 0.5 * d * d
    if loss == MAE:
        return abs(d)
    ad = abs(d)      # HUBER
    if ad <= HUBER_DELTA:
        return 0.5 * d * d
    return HUBER_DELTA * (ad - 0.5 * HUBER_DELTA)


@inlined
def _regression_slope(loss, d):
    """dC/dy_hat of one output for a residual d = y_hat - y, in float64 (exact for
    float32 d too: it is d itself, a sign or +-delta)."""
    d = float(d)
    if loss == MSE:
        return d
    if loss == MAE:
        return 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
    # HUBER: d clipped to +-delta, min(max(d, -delta), delta) (see jit.py)
    at_least = -HUBER_DELTA if d < -HUBER_DELTA else d
    return HUBER_DELTA if at_least > HUBER_DELTA else at_least


@inlined
def regression_error(loss, y_hat, y, scale):
    """(scale * C'(y_hat), C) of one output under a regression loss: the error in
    y_hat's dtype (the rounding of slope * scale), the cost in float64."""
    d = y_hat - y
    return type(y_hat)(_regression_slope(loss, d)) * scale, _regression_cost(loss, d)


@inlined
def _logsumexp(z):
    """log(sum(exp(z))) of a row z, in float64, shifted by its maximum: no overflow."""
    m = z[0]
    for j in range(1, z.size):
        m = z[j] if z[j] > m else m      # max(m, z[j]) (see jit.py)
    total = 0.0
    for j in range(z.size):
        total += math.exp(float(z[j] - m))
    return float(m) + math.log(total)


@inlined
def _cross_entropy_row(Z, A, Y, row, width):
    """Cross-entropy of the row starting at `row`: -sum_j y_j log p_j, p = softmax(z).

    Read from the softmax outputs A (one log per labelled class instead of an exp per
    class); a labelled probability that underflowed to 0 takes the log-sum-exp form
    sum_j y_j (logsumexp(z) - z_j), which stays finite for any logits.
    Inlined at Numba's level: a call per row, passing three arrays, costs a small
    output layer a tenth of output_error's time."""
    total = 0.0
    for j in range(width):
        y = float(Y[row + j])
        if y != 0.0:
            p = float(A[row + j])
            if not p > 0.0:
                return _cross_entropy_from_logits(Z[row:row + width], Y[row:row + width])
            total -= y * math.log(p)
    return total


@inlined
def _cross_entropy_from_logits(z, y):
    """sum_j y_j (logsumexp(z) - z_j) for one row."""
    lse = _logsumexp(z)
    total = 0.0
    for j in range(z.size):
        total += float(y[j]) * (lse - float(z[j]))
    return total


@inlined
def _binary_cross_entropy(z, y):
    """Binary cross-entropy of one output from its logit z, in float64."""
    z = float(z)
    positive_part = 0.0 if z < 0.0 else z     # max(z, 0.0) (see jit.py)
    return positive_part - z * float(y) + math.log1p(math.exp(-abs(z)))


@inlined
def _poisson(z, a, y):
    """Half the Poisson deviance of one output, y log(y / a) - y + a with a = exp(z),
    from the logit (y log a = y z), in float64; y log y is 0 at y = 0."""
    y = float(y)
    own = y * math.log(y) if y > 0.0 else 0.0
    return own - y * float(z) - y + float(a)


@inlined
def _weight(SW, r, weighted):
    """Row r's sample weight, float64 (1 where unweighted)."""
    return float(SW[r]) if weighted else 1.0


@inlined
def _row_cost(Z, A, Y, row, width, loss):
    """The cost of the sample whose outputs start at `row` (float64)."""
    if loss == CROSS_ENTROPY:
        return _cross_entropy_row(Z, A, Y, row, width)
    total = 0.0
    if loss == BINARY_CROSS_ENTROPY:
        for j in range(row, row + width):
            total += _binary_cross_entropy(Z[j], Y[j])
    elif loss == POISSON:
        for j in range(row, row + width):
            total += _poisson(Z[j], A[j], Y[j])
    else:
        for j in range(row, row + width):
            total += _regression_cost(loss, A[j] - Y[j])
    return total


@kernel
def batch_cost(Z_buf, A_buf, Y, SW, start, rows, width, loss, weighted):
    """Sum over the rows of the per-sample cost (float64), each times its weight where
    `weighted`. Reads only; writes nothing."""
    total = 0.0
    Z = Z_buf[start:start + rows * width]     # views from 0 (see activations.activate)
    A = A_buf[start:start + rows * width]
    for r in range(rows):
        cost = _row_cost(Z, A, Y, r * width, width, loss)
        total += float(SW[r]) * cost if weighted else cost
    return total


@kernel
def output_error(E_buf, Z_buf, A_buf, Y, SW, start, rows, width, act, loss, scale,
                 weighted):
    """E[region] = scale * dC/dZ_L per sample, but for the factor f'(Z_L) of an
    elementwise output activation under a regression loss, which the caller applies
    (activations.mul_activation_grad, as for the hidden layers; a no-op for the identity
    and softmax): for cross-entropy (softmax output) and binary cross-entropy (sigmoid
    output) E_L = scale * (y_hat - y), the exact shortcut, as for Poisson (exp output);
    for a regression loss scale * C'(y_hat), times softmax's Jacobian for a softmax
    output. Returns the rows' summed cost (float64). `weighted`: row r's error and cost
    are times its weight SW[r] (its scale is the rounding of scale * SW[r]).

    scale = 1 gives the per-sample errors of the textbook; scale = 1/n gives the
    errors whose backpropagation yields the gradient of the mean cost (1 / the sum of
    the weights: of the weighted mean).
    The cost is summed in the pass that writes E (in batch_cost's order, so the same
    float64 sum): one pass over the outputs, not two. (Calling mul_activation_grad from
    here linked it into this kernel's own compiled code as well: a cold start compiled
    it once more.)
    """
    count = rows * width
    dt = Z_buf.dtype.type
    s = dt(scale)
    E = E_buf[start:start + count]     # views from 0 (see activations.activate)
    Z = Z_buf[start:start + count]
    A = A_buf[start:start + count]
    total = 0.0
    if loss == CROSS_ENTROPY:        # softmax output: dC/dz_k = p_k * sum(y) - y_k
        for r in range(rows):
            row = r * width
            s_r = dt(scale * SW[r]) if weighted else s
            mass = dt(0.0)
            for j in range(width):
                mass += Y[row + j]
            for j in range(width):
                E[row + j] = s_r * (A[row + j] * mass - Y[row + j])
            cost = _cross_entropy_row(Z, A, Y, row, width)
            total += float(SW[r]) * cost if weighted else cost
    elif loss == BINARY_CROSS_ENTROPY or loss == POISSON:
        # sigmoid output: dC/dz = sigmoid(z) - y; exp output: dC/dz = exp(z) - y
        for r in range(rows):
            s_r = dt(scale * SW[r]) if weighted else s
            row = 0.0
            for j in range(r * width, (r + 1) * width):
                E[j] = s_r * (A[j] - Y[j])
                if loss == POISSON:
                    row += _poisson(Z[j], A[j], Y[j])
                else:
                    row += _binary_cross_entropy(Z[j], Y[j])
            total += float(SW[r]) * row if weighted else row
    else:    # E = scale * C'(y_hat) (the rounding of slope * s)
        for r in range(rows):
            s_r = dt(scale * SW[r]) if weighted else s
            row = 0.0
            for j in range(r * width, (r + 1) * width):
                E[j], cost = regression_error(loss, A[j], Y[j], s_r)
                row += cost
            total += float(SW[r]) * row if weighted else row
        if act == SOFTMAX:   # E = J^T g with J = diag(p) - p p^T
            for r in range(rows):
                row = r * width
                dot = dt(0.0)
                for j in range(row, row + width):
                    dot += E[j] * A[j]
                for j in range(row, row + width):
                    E[j] = A[j] * (E[j] - dot)
    return total


@kernel
def batch_correct(Z, A_buf, Y, SW, start, rows, width, loss, weighted):
    """Correct predictions among the rows (float64): for cross-entropy, rows whose
    largest output is the target's largest entry; for binary cross-entropy, the share
    of each row's outputs on the target's side of 0.5; each row counted by its weight
    where `weighted`. 0 for regression losses."""
    correct = 0.0
    A = A_buf[start:start + rows * width]
    if loss == CROSS_ENTROPY:
        for r in range(rows):
            row = r * width
            best = 0
            target = 0
            for j in range(1, width):
                if A[row + j] > A[row + best]:
                    best = j
                if Y[r * width + j] > Y[r * width + target]:
                    target = j
            if best == target:
                correct += _weight(SW, r, weighted)
    elif loss == BINARY_CROSS_ENTROPY:
        half = A.dtype.type(0.5)
        for r in range(rows):
            hits = 0
            for j in range(width):
                if (A[r * width + j] > half) == (Y[r * width + j] > half):
                    hits += 1
            correct += _weight(SW, r, weighted) * (hits / width) if weighted \
                else hits / width
    return correct
