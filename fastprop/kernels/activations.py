"""Activation functions f and their derivatives f', on regions of flat buffers.

Each kernel branches on the activation code once, then runs a plain loop, so the
loop body has no branch on the code and LLVM can vectorise it.
Arguments: outputs first; `start` is the region's offset, `count` its length.
"""
import math

from .exp import exp_nonpositive, expm1_nonpositive, log1p_unit
from .jit import inlined, kernel

from ..codes import (ELU, ELU_ALPHA, EXP, GELU, IDENTITY, LEAKY_RELU, LEAKY_SLOPE, RELU,
                     SIGMOID, SOFTMAX, SOFTPLUS, TANH)

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@inlined
def sigmoid(z):
    """Logistic function without overflow for large |z|: from e = exp(-|z|) <= 1,
    1 / (1 + e) for z >= 0 and e / (1 + e) below (vectorisable: see exp.py)."""
    one = type(z)(1.0)
    e = exp_nonpositive(-abs(z))
    return one / (one + e) if z >= 0 else e / (one + e)


@inlined
def tanh(z):
    """tanh(z) = -m / (2 + m) with m = exp(-2|z|) - 1 in (-1, 0], the sign of z put
    back: vectorisable (exp.py), within 3 ulp (tests/test_exp.py), odd, exactly 0 at
    0 and +-1 for large |z|.
    (math.tanh calls the C library once per element: 32 x 128 took 34 us.)"""
    t = type(z)
    m = expm1_nonpositive(t(-2.0) * abs(z))
    return math.copysign(-m / (t(2.0) + m), z)


@kernel
def activate(A_buf, Z_buf, start, rows, width, code):
    """A[region] = f(Z[region]) for a (rows, width) region; softmax is row-wise."""
    dt = Z_buf.dtype.type
    zero = dt(0.0)
    one = dt(1.0)
    count = rows * width
    # Loops run over views from index 0: Numba then knows indices are non-negative and
    # drops its negative-index fix-up, which would otherwise stop vectorisation.
    A = A_buf[start:start + count]
    Z = Z_buf[start:start + count]
    if code == IDENTITY:
        for i in range(count):
            A[i] = Z[i]
    elif code == RELU:
        for i in range(count):
            z = Z[i]
            A[i] = z if z > zero else zero
    elif code == LEAKY_RELU:
        slope = dt(LEAKY_SLOPE)
        for i in range(count):
            z = Z[i]
            A[i] = z if z > zero else slope * z
    elif code == ELU:
        alpha = dt(ELU_ALPHA)
        for i in range(count):
            z = Z[i]
            # min(z, 0): expm1_nonpositive is evaluated on every lane before the select
            A[i] = z if z > zero else alpha * expm1_nonpositive(zero if zero < z else z)
    elif code == SIGMOID:
        for i in range(count):
            A[i] = sigmoid(Z[i])
    elif code == TANH:
        for i in range(count):
            A[i] = tanh(Z[i])
    elif code == SOFTPLUS:
        # log(1 + e^z) without overflow: max(z, 0) + log1p(e^-|z|), written out here:
        # as a call LLVM did not inline it and the loop ran 15x slower (94 us on 32 x
        # 128 against 6 us); max() as a select for the same reason
        for i in range(count):
            z = Z[i]
            A[i] = (z if z > zero else zero) + log1p_unit(exp_nonpositive(-abs(z)))
    elif code == GELU:
        half = dt(0.5)
        c = dt(_INV_SQRT2)
        for i in range(count):
            z = Z[i]
            A[i] = half * z * (one + math.erf(z * c))
    elif code == EXP:       # the output of the Poisson loss (overflow is its caller's)
        for i in range(count):
            A[i] = math.exp(Z[i])
    elif code == SOFTMAX:
        # p_j = exp(z_j - max z) / sum_k exp(z_k - max z), in three passes so that the
        # exponentials run as one loop over the whole region, which vectorises across
        # rows (exp.py; a row of 10 is shorter than one vector)
        for r in range(rows):
            row = r * width
            m = Z[row]
            for j in range(row + 1, row + width):
                m = Z[j] if Z[j] > m else m      # max(m, Z[j]) (see jit.py)
            for j in range(row, row + width):
                A[j] = Z[j] - m
        for i in range(count):
            A[i] = exp_nonpositive(A[i])        # of z - max z <= 0
        for r in range(rows):
            row = r * width
            total = zero
            for j in range(row, row + width):
                total += A[j]
            inv = one / total
            for j in range(row, row + width):
                A[j] *= inv


@kernel
def mul_activation_grad(E_buf, Z_buf, A_buf, start, count, code, a_scale):
    """E[region] *= f'(Z[region]) for an elementwise activation, given A = f(Z) / a_scale
    (a_scale is 1, or 1 - rate where dropout scaled the kept activations up; where it
    dropped them E is already 0).

    Softmax is not elementwise; its Jacobian product lives in losses.output_error.
    """
    dt = Z_buf.dtype.type
    zero = dt(0.0)
    one = dt(1.0)
    s = dt(a_scale)
    E = E_buf[start:start + count]
    Z = Z_buf[start:start + count]
    A = A_buf[start:start + count]
    if code == IDENTITY:
        return
    elif code == RELU:
        for i in range(count):
            if not Z[i] > zero:
                E[i] = zero
    elif code == LEAKY_RELU:
        slope = dt(LEAKY_SLOPE)
        for i in range(count):
            if not Z[i] > zero:
                E[i] *= slope
    elif code == ELU:
        alpha = dt(ELU_ALPHA)
        for i in range(count):
            if not Z[i] > zero:
                E[i] *= s * A[i] + alpha      # d/dz alpha*(e^z - 1) = alpha*e^z = f + alpha
    elif code == SIGMOID:
        for i in range(count):
            a = s * A[i]
            E[i] *= a * (one - a)
    elif code == TANH:
        for i in range(count):
            a = s * A[i]
            E[i] *= one - a * a
    elif code == SOFTPLUS:
        for i in range(count):
            E[i] *= sigmoid(Z[i])
    elif code == GELU:
        half = dt(0.5)
        c = dt(_INV_SQRT2)
        d = dt(_INV_SQRT2PI)
        for i in range(count):
            z = Z[i]
            # d/dz z*Phi(z) = Phi(z) + z*phi(z)
            E[i] *= half * (one + math.erf(z * c)) + z * d * exp_nonpositive(-half * z * z)
    elif code == EXP:
        for i in range(count):
            E[i] *= s * A[i]
