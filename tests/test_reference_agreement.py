"""The compiled kernels agree with tests/reference.py to ~1e-12 in float64."""
import numpy as np
import pytest

from helpers import HIDDEN, OUTPUT_PAIRS, make_case, max_rel_err, reference_layers, use_blas
from reference import backprop, forward

TOL = 1e-12


def check_against_reference(model, X, y, Y, loss):
    ref = backprop(reference_layers(model), model.activations, loss, X, Y)
    assert max_rel_err(model.predict(X), ref["A"][-1]) < TOL
    assert abs(model.loss(X, y) - ref["loss"]) <= TOL * max(1.0, abs(ref["loss"]))
    dW, db = model.gradients(X, y)
    for l in range(len(dW)):
        assert max_rel_err(dW[l], ref["dW"][l]) < TOL, f"dW[{l}]"
        assert max_rel_err(db[l], ref["db"][l]) < TOL, f"db[{l}]"
    t = model.trace(X, y)
    for l in range(len(dW)):
        assert max_rel_err(t.Z[l], ref["Z"][l]) < TOL, f"Z[{l}]"
        assert max_rel_err(t.A[l], ref["A"][l]) < TOL, f"A[{l}]"
        assert max_rel_err(t.E[l], ref["E"][l]) < TOL, f"E[{l}]"
        assert max_rel_err(t.dW[l], ref["dW"][l]) < TOL
    assert abs(t.loss - ref["loss"]) <= TOL * max(1.0, abs(ref["loss"]))


@pytest.mark.parametrize("blas", [False, True], ids=["loops", "blas"])
@pytest.mark.parametrize("loss,out_act", OUTPUT_PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_activation_and_loss(hidden, loss, out_act, blas):
    model, X, y, Y = make_case(hidden, loss, out_act, [5, 7, 6, 3], n=9)
    use_blas(model, blas)
    check_against_reference(model, X, y, Y, loss)


@pytest.mark.parametrize("blas", [False, True], ids=["loops", "blas"])
@pytest.mark.parametrize("sizes", [[4, 3], [3, 5, 2], [6, 16, 9, 8, 4], [2, 33, 1]])
@pytest.mark.parametrize("n", [1, 7, 300])   # 300 > the default workspace: chunked predict
def test_depths_widths_and_batch_sizes(sizes, n, blas):
    model, X, y, Y = make_case("tanh", "cross_entropy" if sizes[-1] > 1 else "mse",
                               None, sizes, n=n, seed=n)
    use_blas(model, blas)
    check_against_reference(model, X, y, Y, model.loss_name)


def test_probability_rows_for_cross_entropy():
    model, X, y, Y = make_case("relu", "cross_entropy", None, [4, 8, 5], n=11, labels=False)
    check_against_reference(model, X, y, Y, "cross_entropy")


def test_per_layer_activations():
    model, X, y, Y = make_case(["relu", "tanh", "gelu"], "mse", None, [3, 6, 5, 4, 2], n=8)
    assert model.activations == ["relu", "tanh", "gelu", "identity"]
    check_against_reference(model, X, y, Y, "mse")


def test_float32_follows_the_reference_to_float32_precision():
    model, X, y, Y = make_case("gelu", "cross_entropy", None, [8, 16, 4], n=20,
                               dtype=np.float32)
    assert model.params.dtype == np.float32
    _, A = forward(reference_layers(model), model.activations, X.astype(np.float32))
    out = model.predict(X)
    assert out.dtype == np.float32
    assert max_rel_err(out, A[-1]) < 1e-5
