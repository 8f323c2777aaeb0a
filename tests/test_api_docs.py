"""The public API documents itself: numpydoc docstrings with a Parameters entry for
every parameter and a Returns section where something is returned, type hints on the
Python-level callables (not on the Numba kernels, whose types the docstrings give), and
the py.typed marker. See docs/api for the reference built from these docstrings."""
import inspect
import pathlib

import pytest
from numpydoc.docscrape import NumpyDocString

import fastprop
import fastprop.cluster
import fastprop.debug
import fastprop.history
import fastprop.io
import fastprop.kernels
import fastprop.optimizers
import fastprop.schedules
import fastprop.sklearn

SCHEDULES = [fastprop.schedules.Schedule, fastprop.schedules.Constant,
             fastprop.schedules.StepDecay, fastprop.schedules.ExponentialDecay,
             fastprop.schedules.CosineAnnealing, fastprop.schedules.ReduceOnPlateau]
CLASSES = ([getattr(fastprop, name) for name in fastprop.__all__
            if inspect.isclass(getattr(fastprop, name))]
           + SCHEDULES + [fastprop.sklearn.MLPClassifier, fastprop.sklearn.MLPRegressor,
                          fastprop.sklearn.MLPEnsembleClassifier,
                          fastprop.sklearn.MLPEnsembleRegressor, fastprop.debug.Walk])
FUNCTIONS = ([fastprop.load, fastprop.sweep, fastprop.cluster.fit_on_cluster,
              fastprop.cluster.worker_threads]
             + [getattr(fastprop.io, n) for n in ("save", "load", "to_arrays", "from_arrays")]
             + [getattr(fastprop.debug, n) for n in ("walk", "set_blas_min", "plans",
                                                     "set_chunk", "arrays")])
KERNELS = [getattr(fastprop.kernels, name) for name in fastprop.kernels.__all__]


def _own(member):
    """Whether `member` (a function, or a property's getter) is fastprop's own code."""
    func = member.fget if isinstance(member, property) else member
    return getattr(func, "__module__", "").startswith("fastprop")


def public_methods(cls):
    """(name, member) of the public methods and properties `cls` defines or inherits
    from fastprop classes (scikit-learn's and object's own are theirs to document)."""
    seen = {}
    for klass in reversed(cls.__mro__):
        for name, member in vars(klass).items():
            if name.startswith("_") or not (callable(member) or isinstance(member, property)):
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            seen[name] = member
    return sorted((name, m) for name, m in seen.items() if _own(m))


def _params(func, skip_first):
    names = []
    for i, p in enumerate(inspect.signature(func).parameters.values()):
        if (i == 0 and skip_first) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        names.append(p.name)
    return names


def _documented(doc, section="Parameters"):
    names = set()
    for param in doc[section]:
        names.update(n.strip() for n in param.name.split(","))
    return names


def _returns_something(func):
    ann = inspect.signature(func).return_annotation
    return ann not in (None, "None", inspect.Signature.empty)


def _check_callable(qualname, func, skip_first, hints=True):
    doc = NumpyDocString(inspect.getdoc(func) or "")
    assert doc["Summary"], f"{qualname} has no docstring summary"
    params = _params(func, skip_first)
    missing = [p for p in params if p not in _documented(doc)]
    assert not missing, f"{qualname}: parameters {missing} not in its Parameters section"
    # **kwargs is documented under its starred name (numpydoc's rule), not a parameter
    extra = {n for n in _documented(doc) if not n.startswith("*")} - set(params)
    assert not extra, f"{qualname}: Parameters documents {sorted(extra)}, not in signature"
    if hints:
        sig = inspect.signature(func)
        unhinted = [n for n in params if sig.parameters[n].annotation is sig.empty]
        assert not unhinted, f"{qualname}: parameters {unhinted} have no type hint"
        assert sig.return_annotation is not sig.empty, f"{qualname}: no return type hint"
        if _returns_something(func):
            assert doc["Returns"], f"{qualname} returns something but has no Returns"
    return doc


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_functions(func):
    doc = _check_callable(f"{func.__module__}.{func.__name__}", func, skip_first=False)
    assert doc["Examples"] or func.__module__ == "fastprop.debug"


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_kernels(kernel):
    # Numba dispatchers: the docstring is the Python function's; no type hints inside
    # @njit code, so the docstring's Parameters give the types and Returns the result.
    doc = _check_callable(f"fastprop.kernels.{kernel.__name__}", kernel, skip_first=False,
                          hints=False)
    assert doc["Returns"] and doc["Raises"] and doc["Examples"]
    assert all(p.type for p in doc["Parameters"]), "every parameter's type is given"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_classes(cls):
    name = f"{cls.__module__}.{cls.__qualname__}"
    # the class docstring documents the constructor's parameters (numpydoc convention);
    # NamedTuples and dataclasses have generated constructors without hints of their own
    generated = cls.__init__ is object.__init__ or not _own(cls.__init__) or \
        getattr(cls.__init__, "__qualname__", "").startswith("__create_fn__")
    doc = NumpyDocString(inspect.getdoc(cls) or "")
    assert doc["Summary"], f"{name} has no docstring"
    params = _params(cls, skip_first=False)
    missing = [p for p in params if p not in _documented(doc)]
    assert not missing, f"{name}: parameters {missing} not in its Parameters section"
    extra = {n for n in _documented(doc) if not n.startswith("*")} - set(params)
    assert not extra, f"{name}: Parameters documents {sorted(extra)}, not in signature"
    if _own(cls.__init__) and not generated:
        sig = inspect.signature(cls.__init__)
        unhinted = [n for n in params if sig.parameters[n].annotation is sig.empty]
        assert not unhinted, f"{name}.__init__: parameters {unhinted} have no type hint"
        assert sig.return_annotation is not sig.empty, f"{name}.__init__: no return hint"


def _methods():
    for cls in CLASSES:
        for name, member in public_methods(cls):
            yield pytest.param(cls, name, member, id=f"{cls.__qualname__}.{name}")


@pytest.mark.parametrize("cls, name, member", list(_methods()))
def test_methods_and_properties(cls, name, member):
    qualname = f"{cls.__module__}.{cls.__qualname__}.{name}"
    if isinstance(member, property):
        doc = inspect.getdoc(member)
        assert doc, f"{qualname} has no docstring"
        sig = inspect.signature(member.fget)
        assert sig.return_annotation is not sig.empty, f"{qualname}: no type hint"
        return
    skip_first = not isinstance(inspect.getattr_static(cls, name), staticmethod)
    _check_callable(qualname, member, skip_first=skip_first)


def test_model_fit_documents_every_argument():
    # the case: help(fastprop.Model.fit) named only some arguments, and an
    # internal constant
    text = inspect.getdoc(fastprop.Model.fit)
    doc = NumpyDocString(text)
    for arg in ("X", "y", "epochs", "batch_size", "verbose", "monitor", "min_delta",
                "restore_best", "optimizer", "n_threads"):
        assert arg in _documented(doc)
    assert doc["Returns"] and doc["Raises"] and doc["Examples"]
    assert "config." not in text and "CHUNK_SECONDS" not in text


def test_py_typed_ships():
    package = pathlib.Path(fastprop.__file__).parent
    assert (package / "py.typed").is_file()
    pyproject = (package.parent / "pyproject.toml").read_text()
    assert 'fastprop = ["py.typed"]' in pyproject


@pytest.mark.parametrize("module", ["optimizers", "schedules", "history", "model", "io",
                                    "sklearn", "sklearn_ensemble", "ensemble", "sweep", "cluster",
                                    "kernels", "net", "trace"])
def test_examples_run(module):
    # every public module's Examples, as written (those that write files are +SKIP)
    import doctest
    import importlib
    import warnings
    module = importlib.import_module(f"fastprop.{module}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # an example a user copies runs without them
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
