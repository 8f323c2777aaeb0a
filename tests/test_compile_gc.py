"""fastprop/kernels/compile_gc.py: no full garbage collection starts while a fastprop
function compiles; other compiles and the time outside compiles are left alone."""
import gc

import pytest
from numba import njit
from numba.core import event
from numba.core.errors import TypingError

from fastprop.kernels import compile_gc


def _function(module, body):
    """A fresh (uncompiled, uncached) njit function that Numba sees as defined in
    `module`, and its callee."""
    namespace = {}
    exec("def inner(x):\n    return x * 2\n", namespace)
    inner = njit(namespace["inner"])
    namespace = {"inner": inner}
    exec(f"def outer(x):\n    {body}\n", namespace)
    outer = namespace["outer"]
    outer.__module__ = module
    return njit(outer)


class _Thresholds(event.Listener):
    """The oldest generation's threshold seen at the start of each compile."""

    def __init__(self):
        self.seen = []

    def on_start(self, ev):
        self.seen.append((ev.data["dispatcher"].py_func.__name__, gc.get_threshold()[2]))

    def on_end(self, ev):
        pass


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    listener = _Thresholds()
    event.register("numba:compile", listener)       # after compile_gc's own listener
    yield listener
    event.unregister("numba:compile", listener)
    assert gc.get_threshold() == before
    assert compile_gc.pause.depth == 0 and compile_gc.pause.paused_at is None
    assert compile_gc.pause.saved is None


def test_full_collections_paused_during_a_fastprop_compile_and_its_callees(thresholds):
    usual = gc.get_threshold()
    function = _function("fastprop.probe", "return inner(x) + 1")
    assert function(3) == 7
    assert thresholds.seen == [("outer", compile_gc._NO_FULL_COLLECTION),
                               ("inner", compile_gc._NO_FULL_COLLECTION)]
    assert gc.get_threshold() == usual


def test_other_compiles_are_left_alone(thresholds):
    usual = gc.get_threshold()
    for module in ("fastprop_other", "mypackage.fastprop", "__main__"):
        assert _function(module, "return inner(x) + 1")(3) == 7
    assert {threshold for _, threshold in thresholds.seen} == {usual[2]}


def test_paused_for_fastprop_kernels_compiled_inside_a_users_function(thresholds):
    """A user's @njit function calling fastprop's kernels: the pause covers fastprop's
    part of the compile, from its start to its end, and nothing else."""
    usual = gc.get_threshold()
    kernel = _function("fastprop.probe", "return inner(x) + 1")
    namespace = {"kernel": kernel}
    exec("def users(x):\n    return kernel(x) * 10\n", namespace)
    users = namespace["users"]
    users.__module__ = "mypackage.model"
    assert njit(users)(3) == 70
    assert thresholds.seen == [("users", usual[2]),
                               ("outer", compile_gc._NO_FULL_COLLECTION),
                               ("inner", compile_gc._NO_FULL_COLLECTION)]
    assert gc.get_threshold() == usual


def test_thresholds_restored_when_a_compile_fails(thresholds):
    usual = gc.get_threshold()
    function = _function("fastprop.probe", "return inner(x) + undefined_name")
    with pytest.raises(TypingError):
        function(3)
    assert thresholds.seen[0] == ("outer", compile_gc._NO_FULL_COLLECTION)
    assert gc.get_threshold() == usual


def test_a_threshold_set_during_the_compile_is_kept(thresholds):
    usual = gc.get_threshold()
    wanted = (usual[0] + 1, usual[1], usual[2] + 1)

    class SetsThreshold(event.Listener):
        def on_start(self, ev):
            gc.set_threshold(*wanted)

        def on_end(self, ev):
            pass

    setter = SetsThreshold()
    event.register("numba:compile", setter)
    try:
        _function("fastprop.probe", "return x + 1")(3)
        assert gc.get_threshold() == wanted
    finally:
        event.unregister("numba:compile", setter)
        gc.set_threshold(*usual)
