"""No NaN comes back without a word: finite inputs that overflow the network raise
FloatingPointError from Model.predict, loss, evaluate and gradients (the kernel API's
cases are in test_net_checks.py, a file's NaN parameters in test_load_hostile.py)."""
import numpy as np
import pytest

import fastprop as fp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_overflow_on_finite_inputs_is_said(dtype, loss):
    model = fp.Model([3, 8, 2], loss=loss, seed=0, dtype=dtype)
    huge = np.full((5, 3), np.finfo(dtype).max / 2, dtype)
    y = np.zeros(5, np.int64) if loss == "cross_entropy" else np.zeros((5, 2))
    calls = {"loss": lambda: model.loss(huge, y),
             "evaluate": lambda: model.evaluate(huge, y),
             "gradients": lambda: model.gradients(huge, y)}
    if loss == "mse":      # softmax and sigmoid outputs saturate rather than overflow
        calls["predict"] = lambda: model.predict(huge)
        calls["predict, dropout"] = lambda: model.predict(huge, dropout=True)
    params = model.params.copy()
    for name, call in calls.items():
        with pytest.raises(FloatingPointError, match="overflowed"):
            call()
    np.testing.assert_array_equal(model.params, params)
    # ordinary inputs are unaffected
    assert np.isfinite(model.predict(np.ones((2, 3), dtype))).all()


def test_float32_inputs_near_the_limit():
    # the case: a float32 model and finite inputs near +-3e38
    model = fp.Model([2, 4, 1], seed=0)
    X = np.array([[3e38, -3e38]], np.float32)
    with pytest.raises(FloatingPointError):
        model.predict(X)
    with pytest.raises(FloatingPointError):
        model.loss(X, np.zeros(1))
