"""The one set of compile options every fastprop kernel uses.

cache=True: compiled code is kept on disk, so later processes start fast.
nogil=True: kernels release the GIL, so Python threads can train models side by side.
_nrt=False: compiled without Numba's runtime, so a kernel cannot allocate (it would not
compile) and no reference counting runs on array arguments and views; on tiny
networks those atomic increments and decrements cost more than the arithmetic.
No fastmath: isfinite/isnan checks stay truthful and results stay IEEE-exact.
"""
from numba import njit

kernel = njit(cache=True, nogil=True, _nrt=False)

