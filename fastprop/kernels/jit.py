"""The compile options of every fastprop kernel: plain Numba, no compiler extensions.

cache=True: compiled code is kept on disk, so later processes start fast.
nogil=True: kernels release the GIL, so Python threads can train models side by side.
error_model="numpy": division follows IEEE (x/0 gives inf or nan, which the finiteness
checks catch) instead of raising ZeroDivisionError, whose check in every division would
stop loops from vectorising.
No fastmath: isfinite/isnan checks stay truthful and results stay IEEE-exact.

`kernel` compiles a function of its own (one per argument types); `inlined` is
inlined into each compiled caller at Numba's level (its IR is copied in), for small
helpers on the path of every step whose call would cost more than their work (a Net
passed by value to a compiled call is copied onto the stack: ~130 words).

Conventions that keep the number of compiled specialisations down (compile time is a
cold start's cost): constants are passed as np.int64(1) or bool(True) where a kernel
calls another with a literal (a literal argument is typed Literal[int](1), and the
callee compiles once per distinct value), and min()/max() are written as conditional
expressions (`b if b < a else a` is min(a, b) exactly, NaN in a stays NaN; every
argument-type combination of the builtins compiles an overload of its own).
"""
from numba import njit

OPTIONS = dict(cache=True, nogil=True, error_model="numpy")

# _nrt=False: compiled without Numba's reference counting, the one option of Numba's
# that is not in its documented jit() signature. With it, a kernel cannot allocate (it
# would not compile), and no atomic reference-count update runs when a kernel takes a
# view or passes an array to another: those make an online step of a tiny network
# several times slower (docs/performance.md). Parallel loops need the runtime, so
# parallel kernels keep it.
kernel = njit(_nrt=False, **OPTIONS)
inlined = njit(inline="always", _nrt=False, **OPTIONS)
parallel_kernel = njit(parallel=True, **OPTIONS)
