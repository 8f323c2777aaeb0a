"""The line on stderr while a first fit compiles (compile_notice.py): said once per
dtype and process, only when the first compiled call takes long, never on a warm run."""
import numpy as np
import pytest

import fastprop as fp
from fastprop import compile_notice, config


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(compile_notice, "_told", set())
    monkeypatch.setattr(compile_notice, "_active", set())


def test_a_slow_first_call_is_announced_once(fresh, capsys, monkeypatch):
    monkeypatch.setattr(config, "COMPILE_NOTICE_SECONDS", 0.0)   # any call is "slow"
    X = np.random.default_rng(0).normal(size=(64, 3))
    model = fp.Model([3, 4, 1], seed=0)
    model.fit(X, X[:, :1], epochs=1)
    err = capsys.readouterr().err
    assert "compiling fastprop's float32 kernels (once per machine; `fastprop warmup`" in err
    assert "compiled fastprop's float32 kernels in" in err
    model.fit(X, X[:, :1], epochs=1)             # once per dtype and process
    assert capsys.readouterr().err == ""


def test_nothing_is_said_when_the_first_call_is_quick_or_it_is_off(fresh, capsys,
                                                                   monkeypatch):
    X = np.random.default_rng(0).normal(size=(64, 3))
    fp.Model([3, 4, 1], seed=0).fit(X, X[:, :1], epochs=1)       # compiled: quick
    monkeypatch.setattr(compile_notice, "_told", set())
    monkeypatch.setattr(config, "COMPILE_NOTICE", False)
    monkeypatch.setattr(config, "COMPILE_NOTICE_SECONDS", 0.0)
    fp.Model([3, 4, 1], seed=0, dtype=np.float64).fit(X, X[:, :1], epochs=1)
    assert capsys.readouterr().err == ""


def test_the_first_call_trains_one_batch_and_the_bits_are_the_same(fresh):
    # the notice makes a process's first call one batch long: chunks never change bits
    X = np.random.default_rng(1).normal(size=(200, 3))
    first = fp.Model([3, 8, 1], seed=0)
    first.fit(X, X[:, :1], epochs=2, batch_size=8)
    again = fp.Model([3, 8, 1], seed=0)
    again.fit(X, X[:, :1], epochs=2, batch_size=8)
    np.testing.assert_array_equal(first.params, again.params)
