"""Whether cutting a step's products into tiles changes their bits on this machine.

fit's results are bit-identical for any thread count because every run computes the
tiles of one plan (tiles.py), whichever threads take them. On one thread the cuts only
cost time: each extra block makes BLAS repack the operand its blocks share. One thread
may compute the products whole instead (tiles.whole_plan) where that gives the same
bits, and whether it does is up to the BLAS library: each output entry is a sum over
the same terms either way, but a BLAS may order a sum differently for a block of
another shape (a different kernel for small blocks or edges). OpenBLAS 0.3.31's
SkylakeX kernels give the cut products of every net tried the bits of whole ones
(784-512-256-10 and 300-512-8-3, float32 and float64, batches of 128 and 1280); its
Haswell kernels do for float64, but not for float32 (thousands of entries differ in the
last bits).

So it is checked, not assumed: each product of a step, cut by the plan and whole, on
the same pseudo-random operands of the step's shapes, compared bit for bit, with BLAS
on one thread as in training (BLAS's own threads split a product differently: the same
product under 1 and 2 OpenBLAS threads differed in its bits here). A BLAS call's order
of operations depends on its shapes, its thread count and the library (which picks its
kernels once, for the processor; some, like MKL, also on the operands' alignment, and
the check's buffers are aligned as training's), not on the values, so one check
answers for every step of those shapes in this process. Answers are kept per shape.
"""
import numpy as np

from . import config
from .buffers import aligned_zeros
from .kernels.tiled import tile_products
from .threads import training_threads

_answers = {}     # (dtype, layout, capacity, plan, whole, rows) -> bool


def cuts_keep_bits(net, plan, whole, rows):
    """Whether every product of a step on `rows` rows gives the same bits cut as
    `plan` says and as `whole` says, on this machine's BLAS (see above)."""
    key = (net.params.dtype.str, net.layout.tobytes(), net.capacity, plan.tobytes(),
           whole.tobytes(), int(rows))
    answer = _answers.get(key)
    if answer is None:
        answer = _same_products(net, plan, whole, rows)
        if len(_answers) >= config.MAX_BIT_ANSWERS:
            _answers.clear()
        _answers[key] = answer
    return answer


def _same_products(net, plan, whole, rows):
    """Run tile_products by both plans on scratch copies of the net's buffers, filled
    with the same random operands; compare what they write. (Random, not the model's
    own values: all-zero operands, a fresh workspace's, would agree whatever the order.
    The scratch, about three times the parameters and five times the workspace, is
    freed on return.)"""
    rng = np.random.default_rng(0)
    dtype = net.params.dtype

    def filled(like):
        buf = aligned_zeros(like.shape, dtype)
        buf[...] = rng.standard_normal(like.shape)
        return buf

    params, inputs, errors = filled(net.params), filled(net.A), filled(net.E)
    runs = []
    with training_threads(1):      # BLAS on one thread, as in training
        for p in (plan, whole):
            # the products read params, A and E, and write Z, E and grads: each run
            # writes its own Z, E, grads; E starts from the same values in both
            scratch = net._replace(params=params, A=inputs, E=errors.copy(),
                                   Z=aligned_zeros(net.Z.shape, dtype),
                                   grads=aligned_zeros(net.grads.shape, dtype))
            tile_products(scratch, p, np.int64(rows))
            runs.append(scratch)
    cut, one = runs
    return bool(np.array_equal(cut.Z, one.Z) and np.array_equal(cut.E, one.E)
                and np.array_equal(cut.grads, one.grads))
