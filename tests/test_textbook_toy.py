"""The textbook's toy network, 1 input -> 1 hidden (ReLU) -> 1 output, C = 1/2 (y_hat - y)^2,
worked by hand."""
import numpy as np
import pytest

import fastprop as fp


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hand_computed_backprop(dtype):
    model = fp.Model([1, 1, 1], activation="relu", loss="mse", dtype=dtype, seed=0)
    model.weights[0][...] = 0.5    # w_h
    model.biases[0][...] = 0.1     # b_h
    model.weights[1][...] = -1.5   # w_o
    model.biases[1][...] = 0.2     # b_o
    x, y = 2.0, 1.0
    # By hand: z_h = 0.5*2 + 0.1 = 1.1, a_h = relu(1.1) = 1.1
    #          z_o = -1.5*1.1 + 0.2 = -1.45, y_hat = -1.45 (identity)
    #          E_o = (y_hat - y) * 1 = -2.45
    #          E_h = E_o * w_o * relu'(z_h) = -2.45 * -1.5 * 1 = 3.675
    #          dW_o = a_h * E_o = 1.1 * -2.45 = -2.695, db_o = E_o
    #          dW_h = x * E_h = 2 * 3.675 = 7.35,    db_h = E_h
    #          C = 0.5 * 2.45^2 = 3.00125
    t = model.trace(np.array([[x]]), np.array([y]))
    tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(t.Z[0], [[1.1]], **tol)
    np.testing.assert_allclose(t.A[1], [[-1.45]], **tol)
    np.testing.assert_allclose(t.E[1], [[-2.45]], **tol)
    np.testing.assert_allclose(t.E[0], [[3.675]], **tol)
    np.testing.assert_allclose(t.dW[1], [[-2.695]], **tol)
    np.testing.assert_allclose(t.db[1], [-2.45], **tol)
    np.testing.assert_allclose(t.dW[0], [[7.35]], **tol)
    np.testing.assert_allclose(t.db[0], [3.675], **tol)
    np.testing.assert_allclose(t.loss, 3.00125, **tol)
    # one online SGD step with lr 0.1 moves each parameter by -0.1 * its gradient
    before = model.params.copy()
    model.fit(np.array([[x]]), np.array([y]), epochs=1, batch_size=1, shuffle=False,
              optimizer=fp.SGD(lr=0.1))
    expected = before - 0.1 * np.array([7.35, 3.675, -2.695, -2.45])
    np.testing.assert_allclose(model.params, expected, **tol)


def test_dead_relu_passes_no_error():
    model = fp.Model([1, 1, 1], activation="relu", loss="mse", dtype=np.float64, seed=0)
    model.weights[0][...] = -1.0
    model.biases[0][...] = 0.0
    t = model.trace(np.array([[2.0]]), np.array([1.0]))
    assert t.Z[0][0, 0] == -2.0 and t.E[0][0, 0] == 0.0 and t.dW[0][0, 0] == 0.0
