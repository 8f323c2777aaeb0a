"""The compile options of fastprop's kernels (fastprop/kernels/jit.py): plain Numba,
every kernel cached, nothing private; and no min()/max() builtins in kernels."""
import importlib
import inspect
import io
import pkgutil
import tokenize

from numba.core.registry import CPUDispatcher

import fastprop

PUBLIC_OPTIONS = {"nopython", "boundscheck", "cache", "nogil", "error_model", "inline",
                  "parallel"}   # njit's documented options
RUNTIME_OFF = "_nrt"      # the one undocumented option, see jit.py


def _modules():
    yield fastprop
    for info in pkgutil.walk_packages(fastprop.__path__, "fastprop."):
        if not info.name.endswith("__main__"):      # importing it runs the CLI
            yield importlib.import_module(info.name)


def _kernels():
    seen = {}
    for module in _modules():
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher):
                seen[id(value)] = value
    return list(seen.values())


def test_every_kernel_is_plain_numba_and_cached():
    kernels = _kernels()
    assert len(kernels) > 30
    for dispatcher in kernels:
        options = dispatcher.targetoptions
        name = dispatcher.py_func.__qualname__
        assert set(options) <= PUBLIC_OPTIONS | {RUNTIME_OFF}, (name, options)
        # parallel loops need Numba's runtime; every other kernel is compiled without
        assert options.get(RUNTIME_OFF, True) is options.get("parallel", False), name
        assert options["nogil"], name
        assert dispatcher.stats.cache_path is not None, name      # cache=True
        assert options["error_model"] == "numpy", name
        assert type(dispatcher) is CPUDispatcher, name


def test_public_kernel_api_is_callable_from_python():
    from fastprop import kernels
    for name in kernels.__all__:
        assert isinstance(getattr(kernels, name), CPUDispatcher), name


def test_no_private_numba_imports_in_the_package():
    """Nothing from numba.core (codegen, pipelines, registries) in library code."""
    for module in _modules():
        source = inspect.getsource(module)
        assert "numba.core" not in source, module.__name__


def test_no_kernel_calls_the_min_or_max_builtins():
    """See jit.py: each argument-type combination of min()/max() compiles a function of
    its own in a cold start; kernels write the conditional expression instead."""
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
