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

from fastprop.codes import ACTIVATIONS
from fastprop.kernels import activations, jit, link_only, optimizers


def _square_all(out, x):
    for i in range(x.size):
        out[i] = x[i] * x[i]


_kernel = njit(no_cpython_wrapper=True, pipeline_class=link_only.LinkOnlyCompiler,
               **dict(jit._OPTIONS, cache=False))(_square_all)


@njit(**dict(jit._OPTIONS, cache=False))
def _caller(out, x):
    _kernel(out, x)


def test_link_only_is_active_on_this_numba():
    assert link_only.SUPPORTED and jit._LINK_ONLY
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
    # ... while in its caller (inlined or not) it was
    caller_ir = next(iter(_caller.overloads.values())).library.get_llvm_str()
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


_LINK_ONLY_OPTIONS = dict(no_cpython_wrapper=True, pipeline_class=link_only.LinkOnlyCompiler,
                          **dict(jit._OPTIONS, cache=False))
_PLAIN = dict(jit._OPTIONS, cache=False)


@njit(**_LINK_ONLY_OPTIONS)
def _is_even(n):
    if n == 0:
        return True
    return _is_odd(n - np.int64(1))


@njit(**_LINK_ONLY_OPTIONS)
def _is_odd(n):
    if n == 0:
        return False
    return _is_even(n - np.int64(1))


@njit(**_PLAIN)
def _call_is_odd(n):
    return _is_odd(n)


def test_mutually_recursive_kernels_compile_the_ordinary_way():
    """Numba calls between mutually recursive functions through a pointer the JIT engine
    fills in from the library's own code: such a kernel keeps it (needs_engine)."""
    assert _call_is_odd(np.int64(7)) and not _call_is_odd(np.int64(2))
    for kernel in (_is_even, _is_odd):
        library = next(iter(kernel.overloads.values())).library
        assert link_only.needs_engine(library._final_module)
        assert not library._link_only


_TABLE = np.arange(300_000.0)     # over 1 MB: Numba refers to it by address (dynamic)


@njit(**_LINK_ONLY_OPTIONS)
def _lookup(i):
    return _TABLE[i]


@njit(**_PLAIN)
def _call_lookup(i):
    return _lookup(i)


def test_kernel_with_a_dynamic_global_compiles_the_ordinary_way():
    assert _call_lookup(7) == 7.0
    library = next(iter(_lookup.overloads.values())).library
    assert not library._link_only


# the same kernels through Numba's ordinary pipeline, as they were compiled before
_plain_activate = njit(no_cpython_wrapper=True, **_PLAIN)(activations.activate.py_func)
_plain_grad = njit(no_cpython_wrapper=True, **_PLAIN)(activations.mul_activation_grad.py_func)
_plain_update = njit(no_cpython_wrapper=True, **_PLAIN)(
    optimizers.optimizer_update_range.py_func)


@njit(**_PLAIN)
def _run_link_only(A, E, Z, params, grads, state, hyper, act, opt, rows, width):
    activations.activate(A, Z, np.int64(0), rows, width, act)
    activations.mul_activation_grad(E, Z, A, np.int64(0), Z.size, act, 1.0)
    optimizers.optimizer_update_range(params, grads, state, hyper, np.int64(3), opt,
                                      np.int64(0), params.size)


@njit(**_PLAIN)
def _run_plain(A, E, Z, params, grads, state, hyper, act, opt, rows, width):
    _plain_activate(A, Z, np.int64(0), rows, width, act)
    _plain_grad(E, Z, A, np.int64(0), Z.size, act, 1.0)
    _plain_update(params, grads, state, hyper, np.int64(3), opt, np.int64(0), params.size)


def test_link_only_kernels_give_the_bits_of_the_ordinary_pipeline():
    from fastprop.optimizers import Adadelta, Adagrad, Adam, AdamW, RMSprop, SGD
    settings = [SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                Adam(lr=0.01, weight_decay=0.01), AdamW(lr=0.01), RMSprop(momentum=0.5),
                Adagrad(), Adadelta()]
    rng = np.random.default_rng(3)
    rows, width = 7, 13
    checked = 0
    for dtype in (np.float32, np.float64):
        Z = (rng.normal(size=rows * width) * 4).astype(dtype)
        Z[:4] = [0.0, -0.0, 80.0, -80.0]
        for act in sorted(set(ACTIVATIONS.values())):
            for setting in settings:
                opt = setting.code
                hyper = setting.hyper()
                grads = rng.normal(size=257).astype(dtype)
                start = rng.normal(size=257).astype(dtype)
                state0 = np.abs(rng.normal(size=(2, 257))).astype(dtype)
                results = []
                for run in (_run_link_only, _run_plain):
                    A = np.zeros_like(Z)
                    E = np.ones_like(Z)
                    params, state = start.copy(), state0.copy()
                    run(A, E, Z, params, grads, state, hyper, act, opt, rows, width)
                    results.append([A, E, params, state])
                for new, old in zip(*results):
                    assert new.tobytes() == old.tobytes(), (dtype, act, setting)
                checked += 1
    assert checked == 2 * len(set(ACTIVATIONS.values())) * len(settings)


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
from fastprop.kernels import activations
stats = activations.activate.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
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
    assert len(fitted) == 4 and len(predicted) == 6
    # process 1 compiled activate (both dtypes); process 2 loaded it from the cache to
    # link it into predict, and compiled nothing of it
    assert fitted[2:] == ["0", "2"] and predicted[4:] == ["2", "0"]
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
