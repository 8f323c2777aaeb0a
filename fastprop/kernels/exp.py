"""exp(x) and exp(x) - 1 for x <= 0, and log(1 + x) for 0 <= x <= 1, in plain
arithmetic, so that loops calling them vectorise.

math.exp (and expm1, log1p, tanh) compile to calls of the C library, which LLVM cannot
vectorise (Numba maps them to a vector library only when Intel's SVML is installed).
Softmax and sigmoid evaluate exp(x) with x <= 0 (z - max(z), -|z|); tanh and ELU
evaluate expm1(x) with x <= 0 (-2|z|, z < 0); softplus log1p(e^-|z|). Written as
arithmetic, their loops run 16 float32 lanes at a time (AVX-512).

Method (as in Cephes and most vector math libraries): x = k ln2 + r with k an
integer and |r| <= ln2/2, exp(x) = 2^k exp(r). ln2 is split in two (Cody-Waite), so
k ln2_hi is exact and r keeps full precision; exp(r) is its Taylor polynomial to r^14
(truncation < 4e-18 relative, below a float64 ulp; float32 takes the same polynomial);
2^k is written into the exponent bits. Where 2^k would be below the smallest normal
number (x < -87.3 for float32, x < -708.4 for float64) the result is 0 instead of a
subnormal. exp(0) = 1 exactly, exp(-inf) = 0, NaN stays NaN.
Accuracy over the whole range (tests/test_exp.py): within 1.2 ulp of the exact value
for float32 and within 1.5 ulp of NumPy's exp for float64. expm1_nonpositive works
the same way (see its docstring). Plain IEEE
operations (no fastmath, no FMA contraction): the same bits on every machine.
"""
import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .jit import inlined

_LOG2E = 1.0 / math.log(2.0)
_LN2_HI = 0.693145751953125          # 16 significant bits: k * _LN2_HI is exact
_LN2_LO = 1.42860682030941723212e-6  # ln 2 - _LN2_HI


@intrinsic
def _times_pow2(typingctx, p, k):
    """p * 2**k for a float p and a float k holding an integer (of p's type), by
    writing k + bias into the exponent bits of a float; 0 where 2**k is not a normal
    number of that type (k < -126 for float32, k < -1022 for float64)."""
    if not isinstance(p, types.Float) or p != k:
        return None

    def codegen(context, builder, signature, args):
        p_val, k_val = args
        if p_val.type == ir.FloatType():
            int_t, mantissa, bias, min_k = ir.IntType(32), 23, 127, -126
        else:
            int_t, mantissa, bias, min_k = ir.IntType(64), 52, 1023, -1022
        lowest = ir.Constant(p_val.type, float(min_k))
        in_range = builder.fcmp_ordered(">=", k_val, lowest)
        # clamp before the integer conversion (a NaN or huge k would make it undefined)
        k_int = builder.fptosi(builder.select(in_range, k_val, lowest), int_t)
        exponent = builder.shl(builder.add(k_int, ir.Constant(int_t, bias)),
                               ir.Constant(int_t, mantissa))
        product = builder.fmul(p_val, builder.bitcast(exponent, p_val.type))
        below = builder.fcmp_ordered("<", k_val, lowest)    # false for NaN: NaN stays
        return builder.select(below, ir.Constant(p_val.type, 0.0), product)

    return p(p, k), codegen


@inlined
def _reduce(x):
    """(k, r) with x = k ln2 + r, k a float holding an integer and |r| <= ln2/2."""
    t = type(x)
    k = np.floor(x * t(_LOG2E) + t(0.5))
    return k, (x - k * t(_LN2_HI)) - k * t(_LN2_LO)


@inlined
def _taylor_tail(r):
    """(exp(r) - 1 - r) / r^2 = 1/2! + r/3! + ... + r^12/14! for |r| <= ln2/2 (the rest
    of the series is below 4e-18 relative)."""
    t = type(r)
    p = t(1.0 / 87178291200.0)         # 1/14!
    p = p * r + t(1.0 / 6227020800.0)  # 1/13!
    p = p * r + t(1.0 / 479001600.0)
    p = p * r + t(1.0 / 39916800.0)
    p = p * r + t(1.0 / 3628800.0)
    p = p * r + t(1.0 / 362880.0)
    p = p * r + t(1.0 / 40320.0)
    p = p * r + t(1.0 / 5040.0)
    p = p * r + t(1.0 / 720.0)
    p = p * r + t(1.0 / 120.0)
    p = p * r + t(1.0 / 24.0)
    p = p * r + t(1.0 / 6.0)
    return p * r + t(0.5)


@inlined
def exp_nonpositive(x):
    """exp(x) for a float32 or float64 x <= 0 (see the module's docstring); the result
    has x's type. Not for x > 0 (it would overflow the exponent bits)."""
    t = type(x)
    k, r = _reduce(x)
    p = (_taylor_tail(r) * r + t(1.0)) * r + t(1.0)      # exp(r) = 1 + r + r^2 tail
    return _times_pow2(p, k)


@inlined
def expm1_nonpositive(x):
    """exp(x) - 1 for a float32 or float64 x <= 0, accurate relative to the result
    also where it is tiny (x near 0), in arithmetic that vectorises as exp_nonpositive
    does: behind tanh and ELU. With x = k ln2 + r as there, exp(x) - 1 =
    2^k expm1(r) + (2^k - 1): expm1(r) = r + r^2 tail, the scaling by 2^k is exact and
    2^k - 1 is exact, so one rounding joins them. -1 below exp's normal range;
    expm1(-0) = -0, NaN stays NaN. Within 1.5 ulp of NumPy's expm1 in float64, 1.2 ulp
    of the exact value in float32 (tests/test_exp.py). Not for x > 0."""
    t = type(x)
    k, r = _reduce(x)
    q = (_taylor_tail(r) * r) * r + r   # expm1(r)
    scaled = _times_pow2(q, k) + (_times_pow2(t(1.0), k) - t(1.0))
    if x == t(0.0):
        return x                       # keeps the sign of -0
    return q if k == 0.0 else scaled


_SQRT2 = math.sqrt(2.0)
_LN2 = math.log(2.0)


@inlined
def log1p_unit(x):
    """log(1 + x) for a float32 or float64 x in [0, 1], in arithmetic that vectorises:
    behind softplus, log(1 + e^-|z|). (math.log1p calls the C library once per
    element: softplus of 32 x 128 took 88 us.)

    Method (fdlibm's log1p): u = 1 + x rounded, and c = (x - (u - 1)) / u puts back
    what the rounding lost (u - 1 is exact); m = u or u/2, whichever lies in
    [sqrt(1/2), sqrt(2)], with u = 2^k m, k = 0 or 1; f = m - 1 exactly, s = f/(2 + f)
    and log(1 + f) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R)), with R = 2s^2/3 +
    2s^4/5 + ... to s^22 (s^2 <= 0.0295: truncation < 1e-18 relative). The large terms
    are exact, so the result is within an ulp or so (tests/test_exp.py); log1p(0) = 0,
    NaN stays NaN. Not for x outside [0, 1]."""
    t = type(x)
    one = t(1.0)
    u = one + x
    c = (x - (u - one)) / u
    k = t(1.0) if u > t(_SQRT2) else t(0.0)
    m = u * t(0.5) if u > t(_SQRT2) else u
    f = m - one
    s = f / (t(2.0) + f)
    z = s * s
    R = t(2.0 / 23.0)
    R = R * z + t(2.0 / 21.0)
    R = R * z + t(2.0 / 19.0)
    R = R * z + t(2.0 / 17.0)
    R = R * z + t(2.0 / 15.0)
    R = R * z + t(2.0 / 13.0)
    R = R * z + t(2.0 / 11.0)
    R = R * z + t(2.0 / 9.0)
    R = R * z + t(2.0 / 7.0)
    R = R * z + t(2.0 / 5.0)
    R = R * z + t(2.0 / 3.0)
    R = R * z
    hfsq = t(0.5) * f * f
    return k * t(_LN2_HI) + ((f - (hfsq - s * (hfsq + R))) + (c + k * t(_LN2_LO)))
