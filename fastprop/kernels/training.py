"""The training loop itself: mini-batch steps run back to back in compiled code."""
import math

import numpy as np

from ..codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY
from .jit import entry
from .network import backward, forward_rows, load_batch, next_batch, output_correct
from .optimizers import optimizer_update_range


@entry
def train_batches(net, X, Y, order, batch_size, first_batch, stop_batch, total, correct):
    """Train on batches first_batch..stop_batch-1 of the epoch given by `order`.

    Batch b holds rows order[b*batch_size : (b+1)*batch_size] of X (n, n_in) and
    Y (n, n_out); the last one may be partial. Each step: load, forward (with dropout),
    backward (gradient of the batch's mean cost), optimizer update.
    Returns (total + the summed cost of the rows trained, correct + their correct
    predictions, index of the first batch whose cost was not finite or -1). A
    non-finite batch stops the loop before its update. (The epoch's sums so far come
    in and go on, one step at a time: the epoch's cost is then the same float64 sum
    however fit splits the epoch into calls, and it splits by time.)
    """
    n = X.shape[0]
    # regression losses count no correct predictions: skip the call (it returns 0)
    counts = net.loss == CROSS_ENTROPY or net.loss == BINARY_CROSS_ENTROPY
    for b in range(first_batch, stop_batch):
        first = b * batch_size
        rows = n - first if n - first < batch_size else batch_size     # min() (see jit.py)
        load_batch(net, X, Y, order, first, rows)
        # bool(), np.int64(): see jit.py
        forward_rows(net, rows, bool(True), next_batch(net), np.int64(0))
        cost = backward(net, rows, 1.0 / rows, bool(True))
        if not math.isfinite(cost):
            return total, correct, b
        if counts:
            correct += output_correct(net, rows)
        net.opt_step[0] += 1
        optimizer_update_range(net.params, net.grads, net.opt_state, net.opt_hyper,
                               net.opt_step[0], net.opt_code, np.int64(0), net.params.size)
        total += cost
    return total, correct, -1
