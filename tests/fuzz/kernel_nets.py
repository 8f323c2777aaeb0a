"""Fuzz the public kernels with mutated Nets (run by tests/test_fuzz.py in a
subprocess, so that a segfault fails that test instead of killing the run). Every call
must return or raise ValueError or FloatingPointError."""
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import fastprop as fp
from fastprop import kernels

EXAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 200
OPTIONS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))
MODEL = fp.Model([3, 5, 2], seed=0)
MODEL.set_optimizer(fp.Adam(1e-2))
NET = MODEL.net
X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
Y = np.full((4, 2), 0.5, np.float32)
OUT = np.empty((4, 2), np.float32)

INT_FIELDS = ("capacity", "loss", "opt_code", "blas_min")
ARRAY_FIELDS = {"params": np.float32, "grads": np.float32, "Z": np.float32,
                "A": np.float32, "E": np.float32, "M": np.float32, "Y": np.float32,
                "opt_hyper": np.float64, "opt_step": np.int64, "dropout": np.float64,
                "act": np.int64, "rng": np.uint64}

ints = st.one_of(st.integers(-3, 12), st.integers(-2**62, 2**62))
changes = st.one_of(
    st.tuples(st.sampled_from(INT_FIELDS), ints),
    st.tuples(st.sampled_from(sorted(ARRAY_FIELDS)), st.integers(0, 3000),
              st.floats(-10, 10) | st.just(np.nan)),
    st.tuples(st.just("layout"), st.integers(0, 1), st.integers(0, 5), ints),
    st.tuples(st.just("opt_state"), st.integers(0, 3), st.integers(0, 100)),
    st.tuples(st.just("l2"), st.floats(allow_nan=True, allow_infinity=True)),
)


def mutated(net, change):
    field = change[0]
    if field in INT_FIELDS:
        return net._replace(**{field: change[1]})
    if field == "layout":
        layout = net.layout.copy()
        layout[change[1], change[2]] = change[3]
        return net._replace(layout=layout)
    if field == "opt_state":
        return net._replace(opt_state=np.zeros(change[1:], np.float32))
    if field == "l2":
        return net._replace(l2=change[1])
    size, fill = change[1], change[2]
    dtype = ARRAY_FIELDS[field]
    value = np.full(size, fill if np.dtype(dtype).kind == "f" else 1, dtype)
    return net._replace(**{field: value})


@OPTIONS
@given(st.lists(changes, min_size=1, max_size=3))
def fuzz_nets(change_list):
    net = NET._replace(params=NET.params.copy(), grads=NET.grads.copy(),
                       opt_state=NET.opt_state.copy(), opt_step=NET.opt_step.copy())
    for change in change_list:
        net = mutated(net, change)
    for call in (lambda: kernels.predict(net, X, OUT), lambda: kernels.loss(net, X, Y),
                 lambda: kernels.loss_and_gradients(net, X, Y),
                 lambda: kernels.sgd_step(net, X, Y, 0.1),
                 lambda: kernels.optimizer_step(net), lambda: kernels.train_step(net, X, Y)):
        try:
            call()
        except (ValueError, FloatingPointError):
            pass


if __name__ == "__main__":
    fuzz_nets()
    print("ok")
