"""In-place parameter updates over the flat buffers, one loop per optimizer.

The rules are those documented for torch.optim (dampening 0, not centered, no amsgrad,
no lr_decay, initial accumulator 0), so results can be compared with it line by line.
Arguments: params (P,) updated in place; grads (P,) the gradient of the mean cost;
state (STATE_ROWS, P) the moment buffers; hyper (HYPER_SIZE,) float64, slots per
optimizer below; step (1,) int64, the number of updates done, incremented here.

  SGD       hyper = lr, momentum, nesterov (0/1), weight_decay     state[0] = momentum buffer
  Adam      hyper = lr, beta1, beta2, eps, weight_decay            state = m, v
  AdamW     hyper = lr, beta1, beta2, eps, weight_decay (decoupled) state = m, v
  RMSprop   hyper = lr, alpha, eps, momentum, weight_decay         state = v, momentum buffer
  Adagrad   hyper = lr, eps, weight_decay                          state[0] = sum of g^2
  Adadelta  hyper = lr, rho, eps, weight_decay                     state = v, u (squared deltas)

Decaying state is flushed to zero below the smallest normal number (_flush): a
parameter whose gradient stays 0 (a weight from an input pixel that is always 0, a
dead ReLU unit) has moments that shrink geometrically into the subnormal range, where
arithmetic is many times slower (a few percent of subnormal moments made an Adam update
several times slower). Flushed, such a moment differs from the IEEE value by less than 1.2e-38
(float32) and the parameter's update by less than lr * that / eps; NaN is kept.
"""
import math

import numpy as np

from .jit import inlined, kernel

from ..codes import ADADELTA, ADAGRAD, ADAM, ADAMW, RMSPROP, SGD


@kernel
def optimizer_update(params, grads, state, hyper, step, code):
    """One update of every parameter by the optimizer `code`; step[0] += 1."""
    step[0] += 1
    optimizer_update_range(params, grads, state, hyper, step[0], code, np.int64(0),
                           params.size)    # np.int64(): see jit.py


@inlined
def _flush(x, tiny):
    """x, or 0 where |x| is below the smallest normal number `tiny` (NaN stays NaN)."""
    return type(x)(0.0) if abs(x) < tiny else x


@inlined
def _tiny(params):
    """The smallest normal number of params' dtype."""
    return params.dtype.type(1.1754943508222875e-38 if params.itemsize == 4
                             else 2.2250738585072014e-308)


@inlined
def _adam_update(params, m, v, i, g, b1, b2, step_size, inv_root_c2, eps, tiny):
    """Adam's moments m[i], v[i] and parameter i for the gradient g (weight decay, if
    any, already applied). torch's sqrt(v) / sqrt(1 - beta2^t) is taken as a product
    with the reciprocal (rounded once, from float64): one division per parameter fewer,
    results within an ulp of the quotient."""
    one = params.dtype.type(1.0)
    mi = _flush(b1 * m[i] + (one - b1) * g, tiny)
    vi = _flush(b2 * v[i] + (one - b2) * g * g, tiny)
    m[i] = mi
    v[i] = vi
    params[i] -= step_size * mi / (math.sqrt(vi) * inv_root_c2 + eps)


@inlined
def sgd_rule(p, g, lr, wd):
    """Plain SGD's new value of a parameter p with gradient g: p - lr (g + wd p)."""
    return p - lr * (g + wd * p)


@inlined
def sgd_update(params_buf, grads_buf, lr, wd, lo, hi):
    """Plain SGD on parameters lo..hi-1: p -= lr (g + wd p), in the parameters' dtype."""
    params = params_buf[lo:hi]
    grads = grads_buf[lo:hi]
    for i in range(hi - lo):
        params[i] = sgd_rule(params[i], grads[i], lr, wd)


@inlined
def sgd_keeps_finite(params, grads, lr, wd):
    """Whether sgd_update over all of params would leave every parameter finite (it
    writes nothing: the kernel API's sgd_step refuses a step that would not). A count,
    not a float sum: an integer reduction vectorises, a float one (in IEEE order) waits
    on each addition."""
    bad = 0
    for i in range(params.size):
        bad += 0 if math.isfinite(sgd_rule(params[i], grads[i], lr, wd)) else 1
    return bad == 0


@kernel
def optimizer_update_range(params_buf, grads_buf, state, hyper, t, code, lo, hi):
    """Update parameters lo..hi-1 as update number t (from 1) of the optimizer `code`.
    Each parameter's update reads only its own entries, so disjoint ranges can run on
    different threads with results identical to one pass."""
    dt = params_buf.dtype.type
    one = dt(1.0)
    tiny = _tiny(params_buf)
    lr = dt(hyper[0])
    # views of the range, indexed from 0 (see activations.activate): loops vectorise
    n = hi - lo
    params = params_buf[lo:hi]
    grads = grads_buf[lo:hi]
    state0 = state[0, lo:hi]
    state1 = state[1, lo:hi]
    if code == SGD:
        mu = dt(hyper[1])
        nesterov = hyper[2] != 0.0
        wd = dt(hyper[3])
        buf = state0
        if hyper[1] == 0.0:
            sgd_update(params_buf, grads_buf, lr, wd, lo, hi)
        else:
            for i in range(n):
                g = grads[i] + wd * params[i]
                b = _flush(mu * buf[i] + g, tiny)
                buf[i] = b
                params[i] -= lr * (g + mu * b if nesterov else b)
    elif code == ADAM or code == ADAMW:
        b1 = dt(hyper[1])
        b2 = dt(hyper[2])
        eps = dt(hyper[3])
        wd = dt(hyper[4])
        # beta^t by math.pow, the C library's pow() as Python's and torch's beta ** t
        # (Numba's ** of an integer exponent is repeated squaring, each use compiled
        # inline: slower to compile)
        step_size = dt(hyper[0] / (1.0 - math.pow(hyper[1], float(t))))
        inv_root_c2 = dt(1.0 / math.sqrt(1.0 - math.pow(hyper[2], float(t))))
        decay = dt(1.0 - hyper[0] * hyper[4])
        m = state0
        v = state1
        # one loop per rule: a branch on the code inside the loop would stop it vectorising
        if code == ADAMW:
            for i in range(n):
                params[i] *= decay
                _adam_update(params, m, v, i, grads[i], b1, b2, step_size, inv_root_c2, eps,
                             tiny)
        else:
            for i in range(n):
                _adam_update(params, m, v, i, grads[i] + wd * params[i], b1, b2,
                             step_size, inv_root_c2, eps, tiny)
    elif code == RMSPROP:
        alpha = dt(hyper[1])
        eps = dt(hyper[2])
        mu = dt(hyper[3])
        wd = dt(hyper[4])
        v = state0
        buf = state1
        for i in range(n):
            g = grads[i] + wd * params[i]
            vi = _flush(alpha * v[i] + (one - alpha) * g * g, tiny)
            v[i] = vi
            if hyper[3] > 0.0:
                b = _flush(mu * buf[i] + g / (math.sqrt(vi) + eps), tiny)
                buf[i] = b
                params[i] -= lr * b
            else:
                params[i] -= lr * g / (math.sqrt(vi) + eps)
    elif code == ADAGRAD:
        eps = dt(hyper[1])
        wd = dt(hyper[2])
        acc = state0
        for i in range(n):
            g = grads[i] + wd * params[i]
            a = acc[i] + g * g
            acc[i] = a
            params[i] -= lr * g / (math.sqrt(a) + eps)
    elif code == ADADELTA:
        rho = dt(hyper[1])
        eps = dt(hyper[2])
        wd = dt(hyper[3])
        v = state0
        u = state1
        for i in range(n):
            g = grads[i] + wd * params[i]
            vi = _flush(rho * v[i] + (one - rho) * g * g, tiny)
            v[i] = vi
            delta = math.sqrt(u[i] + eps) / math.sqrt(vi + eps) * g
            u[i] = _flush(rho * u[i] + (one - rho) * delta * delta, tiny)
            params[i] -= lr * delta
