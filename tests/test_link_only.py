"""Kernels optimised and compiled only inside their callers (fastprop/kernels/link_only.py):
the JIT engine and the cache get only an environment stub from a kernel, its callers
optimise its code, and kernels loaded from the cache by a new process give callers
compiled there the same bits."""
import os
import subprocess
import sys
import textwrap

import numpy as np
from numba import njit

from fastprop.kernels import activations, jit, link_only


def _square_all(out, x):
    for i in range(x.size):
        out[i] = x[i] * x[i]


_kernel = njit(no_cpython_wrapper=True, pipeline_class=link_only.LinkOnlyCompiler,
               **dict(jit._OPTIONS, cache=False))(_square_all)


@njit(**dict(jit._OPTIONS, cache=False))
def _caller(out, x):
    _kernel(out, x)


def test_link_only_is_active_on_this_numba():
    assert link_only.SUPPORTED
    assert activations.activate._compiler.pipeline_class is link_only.LinkOnlyCompiler


def test_kernel_gets_a_stub_and_its_caller_the_optimised_code():
    x = np.arange(1000, dtype=np.float64)
    out = np.zeros_like(x)
    _caller(out, x)
    np.testing.assert_array_equal(out, x * x)

    cres = next(iter(_kernel.overloads.values()))
    library = cres.library
    assert isinstance(library, link_only.LinkOnlyLibrary)
    # what the engine (and a cache) got: the environment pointer, not the function
    stub = library._get_compiled_object()
    assert cres.fndesc.env_name.encode() in stub
    assert cres.fndesc.mangled_name.encode() not in stub
    # the kernel's own module was not module-optimised (its loop is not vectorised) ...
    assert "x double>" not in library.get_llvm_str()
    # ... while its caller's copy was, there
    caller_ir = next(iter(_caller.overloads.values())).library.get_llvm_str()
    assert cres.fndesc.mangled_name in caller_ir
    assert "x double>" in caller_ir


def test_environment_stub_keeps_only_environment_pointers():
    cres = next(iter(_kernel.overloads.values()), None)
    if cres is None:
        _caller(np.zeros(3), np.ones(3))
        cres = next(iter(_kernel.overloads.values()))
    module = cres.library._final_module
    stub = link_only.environment_stub(module)
    assert [gv.name for gv in stub.global_variables] == [cres.fndesc.env_name]
    assert not list(stub.functions)


PROCESS = '''
import sys
import numpy as np
import fastprop as fp
rng = np.random.default_rng(0)
X = rng.normal(size=(96, 12))
y = rng.integers(0, 3, 96)
for dtype in (np.float32, np.float64):
    m = fp.Model([12, 16, 3], activation="tanh", loss="cross_entropy", dtype=dtype, seed=1)
    m.fit(X.astype(dtype), y, epochs=2, batch_size=16, optimizer=fp.Adam(lr=1e-2), verbose=0)
    if sys.argv[1] == "predict":
        print(m.params.tobytes().hex(), m.predict(X.astype(dtype)).tobytes().hex())
    else:
        print(m.params.tobytes().hex())
'''


def test_kernels_from_the_cache_link_into_callers_compiled_later(tmp_path):
    """Process 1 trains, compiling and caching fit's kernels. Process 2 loads fit from
    the cache and compiles predict, linking the cached kernels (stub and IR): it must
    train the same bits and predict what this process predicts."""
    (tmp_path / "run.py").write_text(textwrap.dedent(PROCESS))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    outputs = []
    for step in ("fit", "predict"):
        proc = subprocess.run([sys.executable, str(tmp_path / "run.py"), step], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout.split())
    fitted, predicted = outputs
    assert len(fitted) == 2 and len(predicted) == 4
    assert predicted[0] == fitted[0] and predicted[2] == fitted[1]

    import fastprop as fp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 12))
    y = rng.integers(0, 3, 96)
    for i, dtype in enumerate((np.float32, np.float64)):
        m = fp.Model([12, 16, 3], activation="tanh", loss="cross_entropy", dtype=dtype,
                     seed=1)
        m.fit(X.astype(dtype), y, epochs=2, batch_size=16, optimizer=fp.Adam(lr=1e-2),
              verbose=0)
        assert predicted[2 * i] == m.params.tobytes().hex()
        assert predicted[2 * i + 1] == m.predict(X.astype(dtype)).tobytes().hex()
