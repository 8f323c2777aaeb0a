"""fit takes an optimizer by name as the CLI and the estimators do, and class labels
as a column vector (n, 1) as scikit-learn and Keras take them."""
import numpy as np
import pytest

import fastprop as fp

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 4))
labels = rng.integers(0, 3, 60)


@pytest.mark.parametrize("name, cls", [("sgd", fp.SGD), ("adam", fp.Adam),
                                       ("AdamW", fp.AdamW), ("rmsprop", fp.RMSprop),
                                       ("adagrad", fp.Adagrad), ("adadelta", fp.Adadelta)])
def test_an_optimizer_by_name_is_that_optimizer_with_its_defaults(name, cls):
    by_name = fp.Model([4, 8, 3], loss="cross_entropy", seed=0)
    by_object = fp.Model([4, 8, 3], loss="cross_entropy", seed=0)
    by_name.fit(X, labels, epochs=2, optimizer=name)
    by_object.fit(X, labels, epochs=2, optimizer=cls())
    assert type(by_name.optimizer) is cls
    np.testing.assert_array_equal(by_name.params, by_object.params)


def test_a_name_starts_fresh_moments_and_none_continues():
    model = fp.Model([4, 8, 3], loss="cross_entropy", seed=0)
    model.fit(X, labels, epochs=1, optimizer="adam")
    first = model.optimizer
    model.fit(X, labels, epochs=1)
    assert model.optimizer is first and model.net.opt_step[0] == 4
    model.fit(X, labels, epochs=1, optimizer="adam")
    assert model.optimizer is not first and model.net.opt_step[0] == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_labels_as_a_column_vector(dtype):
    a = fp.Model([4, 8, 3], loss="cross_entropy", seed=0, dtype=dtype)
    b = fp.Model([4, 8, 3], loss="cross_entropy", seed=0, dtype=dtype)
    a.fit(X, labels.reshape(-1, 1), epochs=2)
    b.fit(X, labels, epochs=2)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.evaluate(X, labels.reshape(-1, 1)) == b.evaluate(X, labels)
    with pytest.raises(ValueError, match="labels"):
        a.fit(X, (labels + 5).reshape(-1, 1))
