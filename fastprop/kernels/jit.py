"""The one set of compile options every fastprop kernel uses.

cache=True: compiled code is kept on disk, so later processes start fast.
nogil=True: kernels release the GIL, so Python threads can train models side by side.
_nrt=False: compiled without Numba's runtime, so a kernel cannot allocate (it would not
compile) and no reference counting runs on array arguments and views; on tiny
networks those atomic increments and decrements cost more than the arithmetic.
error_model="numpy": division follows IEEE (x/0 gives inf or nan, which the finiteness
checks catch) instead of Python's ZeroDivisionError, whose check in every division would
stop loops from vectorising and put an exception path in hot loops.
No fastmath: isfinite/isnan checks stay truthful and results stay IEEE-exact.

Constant arguments: a call from compiled code with a literal argument (0, 1, True)
types it as Literal[int](0), Literal[bool](True), ..., and Numba compiles the callee
once per distinct literal value. Kernels therefore pass int(1), bool(True) where they
call with a constant, so that every call site shares one compiled specialisation
(measured: gemm was compiled three times, for its three combinations of flags).
"""
from numba import njit

kernel = njit(cache=True, nogil=True, _nrt=False, error_model="numpy")


# For small kernels that take a whole Net, called once per step: inlined at Numba's level,
# because passing a Net by value to a compiled call copies ~130 words onto the stack
# (measured: 132 -> 110 ns per W1 step for load_batch). Large ones (backward) got slower
# when inlined this way, so they stay ordinary calls.
net_kernel = njit(cache=True, nogil=True, _nrt=False, error_model="numpy", inline="always")
