"""A Numba compiler pipeline for kernels that run only inside their callers.

How Numba builds a call from one compiled function to another: each function is
compiled into an LLVM module of its own, optimised there (function passes as its IR is
added, then the whole O3 module pipeline: inlining, loop vectorisation, ...) and turned
into machine code. A caller links copies of its callees' optimised modules into its own
and runs the O3 pipeline and the machine-code generation again over the lot. So a
kernel's module passes and code generation run once for the kernel alone and again in
every caller. For a `kernel` (jit.py: no Python wrapper) the first round is wasted
work, as long as its own machine code is never run: and it could be, because LLVM's JIT
resolves a callee the caller did not inline to the first definition of that symbol in
the process, which is the kernel's own.

`LinkOnlyCompiler` gives such a kernel a `LinkOnlyLibrary`:
- its module gets the function passes (they shrink the IR before callers link it;
  skipping them as well made a cold W2 fit slower) but not the module passes;
- no machine code is made from it: the JIT engine gets only a stub holding the
  environment pointers of the functions in it (a global Numba fills in for every
  compiled function);
- the on-disk cache keeps the stub's object code and the function-optimised IR, which
  later callers link in: a cached kernel still spares a new caller its front end.
Every caller (a fastprop entry point, `python_caller`'s wrapper, a user's own @njit
function) then runs the O3 module pipeline and code generation over the kernel's code
inside itself, once where it used to run twice (once on the kernel alone). A call the
caller does not inline now runs a caller's copy (the first loaded, as the JIT engine
resolves symbols), never an unoptimised one. A kernel whose module needs the engine to
see its code (mutually recursive calls, dynamic globals: `needs_engine`) is compiled
the ordinary way. The trained parameters are bit for bit the same as before (checked
on every activation and optimizer, both dtypes): without fastmath (and without Intel's
SVML, which Numba does not use here) no pass may change floating-point results.

Measured, fresh processes with an empty cache, import and first call, alternating
with the code before: one W2 fit epoch 4.75-5.19 -> 3.75-4.12 s (3.74 s and 4.21 s
in two comparison runs, against 5.13-5.44 s before); a float64 W2 fit 5.15 -> 4.17 s;
and in the next process, with those kernels cached, predict 1.56 -> 1.38 s and
evaluate 1.81 -> 1.72 s. The steps run as fast as before (W1-W4, side by side).
`inspect_llvm()`/`inspect_asm()` of a kernel now show it before the module passes,
not the code that runs (inspect its caller for that).

This overrides two methods of Numba's JIT code library, relying on how
`CPUCodeLibrary.finalize` uses them (the same from numba 0.61 to 0.68 at least); if
they are missing, `SUPPORTED` is False, and if an import below fails jit.py catches
it: either way kernels compile the ordinary way.
tests/test_link_only.py checks the stub, the fallbacks, the cache and the results.
"""
import llvmlite.binding as ll
from numba.core import compiler
from numba.core.codegen import JITCodeLibrary, RuntimeLinker
from numba.core.compiler_machinery import LoweringPass, register_pass
from numba.core.typed_passes import IRLegalization

SUPPORTED = all(callable(getattr(JITCodeLibrary, name, None))
                for name in ("_optimize_final_module", "_finalize_final_module",
                             "_verify_declare_only_symbols"))

_ENV_PREFIX = "_ZN08NumbaEnv"     # Numba's mangled names of environment pointers
_UNRESOLVED_PREFIX = RuntimeLinker.PREFIX    # pointers to callees resolved at run time


class LinkOnlyLibrary(JITCodeLibrary):
    """A code library whose module is optimised and compiled only where it is linked,
    unless it needs the JIT engine to see its code (then it is an ordinary library)."""

    _link_only = True

    def _optimize_final_module(self):
        # called once everything is linked in, before _finalize_final_module
        self._link_only = not needs_engine(self._final_module)
        if not self._link_only:
            super()._optimize_final_module()
        # else: the caller's module passes optimise it

    def _finalize_final_module(self):
        if not self._link_only:
            super()._finalize_final_module()
            return
        # Numba hands `_final_module` to the JIT engine (and the engine's object code
        # to the cache): hand it the environment stub instead, then put the module
        # back, for callers to link.
        module = self._final_module
        self._verify_declare_only_symbols()
        self._final_module = environment_stub(module)
        try:
            super()._finalize_final_module()
        finally:
            self._final_module = module


def needs_engine(module):
    """Whether `module` has globals the JIT engine must fill in from this library's own
    code: calls between mutually recursive functions, which Numba makes through a
    pointer it sets from the functions the library defines, and dynamic globals
    (addresses taken at compile time: a large global array, a ctypes function), which
    Numba only declines to cache. No fastprop kernel has either."""
    return any(gv.name.startswith((_UNRESOLVED_PREFIX, "numba.dynamic.globals"))
               for gv in module.global_variables)


def environment_stub(module):
    """A module defining only `module`'s environment pointers (the kernel's and those of
    the functions linked into it), as Numba declares them: common linkage, null until
    Numba sets them."""
    names = [gv.name for gv in module.global_variables if gv.name.startswith(_ENV_PREFIX)]
    stub = ll.parse_assembly("".join(f'@"{name}" = common global i8* null\n'
                                     for name in names))
    stub.name = module.name
    stub.triple = module.triple
    stub.data_layout = module.data_layout
    return stub


@register_pass(mutates_CFG=False, analysis_only=True)
class UseLinkOnlyLibrary(LoweringPass):
    """Before lowering: give the function a LinkOnlyLibrary (Numba's lowering makes a
    plain library only when none is set)."""

    _name = "fastprop_link_only_library"

    def __init__(self):
        LoweringPass.__init__(self)

    def run_pass(self, state):
        if state.library is None:
            state.library = LinkOnlyLibrary(state.targetctx.codegen(),
                                            state.func_id.func_qualname)
            state.library.enable_object_caching()    # as Numba's lowering does
        return False                                 # the IR is unchanged


class LinkOnlyCompiler(compiler.CompilerBase):
    """Numba's nopython pipeline with UseLinkOnlyLibrary before lowering."""

    def define_pipelines(self):
        pm = compiler.DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.add_pass_after(UseLinkOnlyLibrary, IRLegalization)
        pm.finalize()
        return [pm]
