"""The kinds of kernel (fastprop/kernels/jit.py): kernels compiled without Numba's
Python wrapper are never what the package calls from Python, and still give the same
results when a user or a test calls one from Python."""
import importlib
import pkgutil

import numpy as np
import pytest
from numba import njit
from numba.core.registry import CPUDispatcher

import fastprop
import fastprop as fp
from fastprop.codes import ACTIVATIONS
from fastprop import training
from fastprop.kernels import activations, exp, jit
from helpers import cut_fine


def _modules():
    yield fastprop
    for info in pkgutil.walk_packages(fastprop.__path__, "fastprop."):
        if not info.name.endswith("__main__"):      # importing it runs the CLI
            yield importlib.import_module(info.name)


def test_python_modules_call_only_entry_kernels():
    """A module outside fastprop.kernels calls what it imports; none of it may be a
    compiled-only kernel, whose Python calls go through an uncached wrapper (a
    compile in every new process)."""
    checked = 0
    for module in _modules():
        if module.__name__.startswith("fastprop.kernels"):
            continue
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher):
                checked += 1
                assert not isinstance(value, jit.CompiledOnlyDispatcher), \
                    f"{module.__name__}.{name} is compiled-only but used from Python"
    assert checked >= 10


def test_public_kernel_api_is_callable_from_python_directly():
    from fastprop import kernels
    for name in kernels.__all__:
        function = getattr(kernels, name)
        assert isinstance(function, CPUDispatcher)
        assert not isinstance(function, jit.CompiledOnlyDispatcher), name


def test_every_kernel_kind_is_compiled_without_cfunc_wrapper_and_cached():
    seen = set()
    for module in _modules():
        if not module.__name__.startswith("fastprop.kernels"):
            continue
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and id(value) not in seen:
                seen.add(id(value))
                options = value.targetoptions
                name = value.py_func.__qualname__
                assert options.get("no_cfunc_wrapper"), name
                # prange needs Numba's runtime; every other kernel is compiled without
                assert options.get("_nrt", True) is options.get("parallel", False), name
                assert value._cache.__class__.__name__ == "FunctionCache"
                compiled_only = isinstance(value, jit.CompiledOnlyDispatcher)
                assert options.get("no_cpython_wrapper", False) == compiled_only
    assert len(seen) > 30


@njit
def _activate_compiled(out, z, start, rows, width, code):
    activations.activate(out, z, start, rows, width, code)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_only_kernel_called_from_python_matches_compiled_call(dtype):
    assert isinstance(activations.activate, jit.CompiledOnlyDispatcher)
    rng = np.random.default_rng(0)
    z = rng.normal(size=24).astype(dtype) * 3
    for code in ACTIVATIONS.values():
        from_python = np.zeros_like(z)
        from_compiled = np.zeros_like(z)
        activations.activate(from_python, z, 4, 4, 5, code)
        _activate_compiled(from_compiled, z, 4, 4, 5, code)
        np.testing.assert_array_equal(from_python, from_compiled)
        assert np.all(from_python[:4] == 0)      # outside the region: untouched
    # the Python-side caller is built once, then reused; keywords work too
    caller = jit.python_caller(activations.activate)
    assert jit.python_caller(activations.activate) is caller
    value = exp.expm1_nonpositive(x=dtype(-0.5))
    assert value == pytest.approx(np.expm1(-0.5), rel=1e-6)


def test_a_kernel_with_a_default_or_star_parameter_is_refused_when_defined():
    def with_default(out, scale=1.0):
        out[0] = scale

    def with_star(*arrays):
        return arrays[0][0]

    for function in (with_default, with_star):
        with pytest.raises(TypeError, match="plain positional parameters"):
            jit.kernel(function)


def test_the_model_api_never_calls_a_compiled_only_kernel_from_python(monkeypatch):
    """At run time, not only by the imports above: every Model method that reaches
    compiled code, on each training path (layer by layer, row by row with fused SGD,
    row by row with Adam, tiles shared by threads)."""
    def refuse(dispatcher):
        raise AssertionError(f"{dispatcher.py_func.__qualname__} called from Python")

    monkeypatch.setattr(jit, "python_caller", refuse)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    y = rng.integers(0, 3, size=200)
    big = fp.Model([6, 256, 3], loss="cross_entropy", dropout=0.1, seed=0)
    cut_fine(monkeypatch)
    assert training._tiles_for(big, 128, 2) is not None
    big.fit(X, y, epochs=1, batch_size=128, optimizer=fp.Adam(), n_threads=2,
            validation_split=0.2)
    small = fp.Model([6, 4, 3], loss="cross_entropy", seed=0)
    small.fit(X, y, epochs=1, batch_size=1, optimizer=fp.SGD(lr=0.01))
    small.fit(X, y, epochs=1, batch_size=1, optimizer=fp.Adam())
    small.fit(X, y, epochs=1, batch_size=16, optimizer=fp.Adam(), l2=1e-3)
    for model in (big, small):
        model.predict(X[:1])
        model.predict(X, dropout=True)
        model.predict_classes(X)
        model.evaluate(X, y)
        model.loss(X, y)
        model.gradients(X[:8], y[:8])
        model.trace(X[:4], y[:4])



def test_no_kernel_calls_the_min_or_max_builtins():
    """See jit.py: each argument-type combination of min()/max() compiles a function of
    its own in a cold start; kernels write the conditional expression instead."""
    import inspect
    import io
    import tokenize
    checked = 0
    for module in _modules():
        if not module.__name__.startswith("fastprop.kernels"):
            continue
        source = inspect.getsource(module)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        for token, following in zip(tokens, tokens[1:]):
            if token.type == tokenize.NAME and token.string in ("min", "max"):
                assert following.string != "(", \
                    f"{module.__name__} line {token.start[0]}: {token.line.strip()}"
        checked += 1
    assert checked >= 10
