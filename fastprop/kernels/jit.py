"""The compile options of every fastprop kernel, and the three kinds of kernel.

Options shared by all:
cache=True: compiled code is kept on disk, so later processes start fast.
nogil=True: kernels release the GIL, so Python threads can train models side by side.
_nrt=False: compiled without Numba's runtime, so a kernel cannot allocate (it would not
compile) and no reference counting runs on array arguments and views; on tiny
networks those atomic increments and decrements cost more than the arithmetic.
error_model="numpy": division follows IEEE (x/0 gives inf or nan, which the finiteness
checks catch) instead of Python's ZeroDivisionError, whose check in every division would
stop loops from vectorising and put an exception path in hot loops.
no_cfunc_wrapper=True: no C-callable wrapper (only `numba.cfunc` users need one).
No fastmath: isfinite/isnan checks stay truthful and results stay IEEE-exact.

The kinds, chosen for compile time (a cold start compiles every kernel once per dtype):
- `entry`: called from Python (the Model, the public kernel API) as well as from
  compiled code; compiled with Numba's Python wrapper, which unboxes every argument
  (a Net has 19 fields).
- `kernel`: called only from compiled code, so compiled without that wrapper. Each
  compiled function is linked into, re-optimised and turned into machine code again
  inside every caller, wrappers included: dropping them cut the first W2 fit's compile
  from 9.1 to 7.7 s (measured). A kernel is also optimised and turned into machine
  code only inside its callers, not on its own as well (link_only.py: a cold first
  W2 fit 4.75-5.19 -> 3.75-4.12 s). A Python call still works, through a small wrapper
  compiled on first use and not cached (tests, exploring); the package itself calls
  only `entry` functions from Python (tests/test_jit.py checks).
- `net_kernel`: inlined at Numba's level into each compiled caller, so it is never a
  separate compiled function there (a Python call compiles it as an `entry`). For
  small kernels that take a whole Net, called once per step: passing a Net by value to
  a compiled call copies ~130 words onto the stack (measured: 132 -> 110 ns per W1 step
  for load_batch). And for forward_rows and backward, called from one place in each
  entry point: inlined, they are not compiled a second time as functions of their own
  (first W2 fit 7.7 -> 6.6 s, the steps unchanged; measured). Larger kernels called
  from many places stay ordinary calls: inlining the layer kernels as well made the
  first fit slower (9.6 s; Numba's inlining re-runs its front end per call site), as
  did inlining the scalar helpers (exp, random, the optimizers' per-element updates).
With these kinds (and blas.py's pointer intrinsic) a cold first W2 fit compiles in
5.5 s where it took 8.8 s, side by side in fresh processes.

No min() or max() builtins in kernels: each combination of argument types compiles an
overload of its own (five in a cold W2 fit), after a slow typing of their *args form at
every call site; a conditional expression with the builtin's exact semantics (min(a, b)
is `b if b < a else a`, max(a, b) is `b if b > a else a`: NaN in a stays NaN) compiles
to one select instruction (a cold first W2 fit 4.65 -> 4.52 s, means of 4 alternating
pairs of fresh processes; tests/test_jit.py keeps the builtins out).

Constant arguments: a call from compiled code with a literal argument (0, 1, True)
types it as Literal[int](0), Literal[bool](True), ..., and Numba compiles the callee
once per distinct literal value. Kernels therefore pass np.int64(1), bool(True) where
they call with a constant, so that every call site shares one compiled specialisation
(measured: gemm was compiled three times, for its three combinations of flags).
(np.int64 rather than int(): Numba's int() of an integer is an overload compiled as a
function of its own, np.int64() a cast.)
"""
import inspect

from numba import njit
from numba.core.registry import CPUDispatcher

try:     # Numba internals (link_only.py); if they moved, kernels compile the usual way
    from .link_only import SUPPORTED as _LINK_ONLY, LinkOnlyCompiler
except ImportError:
    _LINK_ONLY = False

_OPTIONS = dict(cache=True, nogil=True, _nrt=False, error_model="numpy",
                no_cfunc_wrapper=True)

entry = njit(**_OPTIONS)
net_kernel = njit(inline="always", **_OPTIONS)
_compiled_only = njit(no_cpython_wrapper=True, **_OPTIONS,
                      **({"pipeline_class": LinkOnlyCompiler} if _LINK_ONLY else {}))


class CompiledOnlyDispatcher(CPUDispatcher):
    """A Numba dispatcher compiled without the Python wrapper. Numba's own call path
    would jump to the missing wrapper (a crash), so a call from Python goes through
    `python_caller` instead."""

    def __call__(self, *args, **kwargs):
        return python_caller(self)(*args, **kwargs)


def kernel(function):
    """Compile `function` as a kernel called only from compiled code (see above)."""
    params = inspect.signature(function).parameters.values()
    if any(p.kind != p.POSITIONAL_OR_KEYWORD or p.default is not p.empty for p in params):
        raise TypeError(f"{function.__qualname__}: a kernel takes plain positional "
                        "parameters (its Python caller repeats them)")
    dispatcher = _compiled_only(function)
    if isinstance(dispatcher, CPUDispatcher):     # not under NUMBA_DISABLE_JIT
        # njit built it with every option; the subclass changes only a Python call
        dispatcher.__class__ = CompiledOnlyDispatcher
    return dispatcher


def python_caller(dispatcher):
    """A compiled function, with Python wrapper, that calls `dispatcher` with the same
    arguments and returns its result; built once per kernel, on its first Python call."""
    caller = dispatcher.__dict__.get("_python_caller")
    if caller is None:
        names = ", ".join(inspect.signature(dispatcher.py_func).parameters)
        namespace = {"_kernel": dispatcher}
        exec(f"def call({names}):\n    return _kernel({names})\n", namespace)
        options = {k: v for k, v in _OPTIONS.items() if k != "cache"}   # no source file
        caller = njit(**options)(namespace["call"])
        dispatcher._python_caller = caller
    return caller
