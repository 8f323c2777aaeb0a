"""A fit that raises leaves the whole model as it was: parameters, the optimizer and
its moments and step count, the shuffling generator, the dropout stream and the
workspace; so the next fit gives the bits of the same fit on a model that never saw
the failed one."""
import numpy as np
import pytest

import fastprop as fp


def data(n=96):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    return X, np.sin(X[:, :2])


def snapshot(model):
    net = model.net
    return dict(params=model.params.copy(), opt_state=net.opt_state.copy(),
                opt_step=net.opt_step.copy(), opt_hyper=net.opt_hyper.copy(),
                rng=net.rng.copy(), shuffle=model._shuffle_rng.bit_generator.state,
                optimizer=model.optimizer, opt_code=net.opt_code, l2=model.l2,
                capacity=net.capacity)


def assert_same(before, after):
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
        elif key == "optimizer":
            assert after[key] is value
        else:
            assert after[key] == value, key


def trained(dtype=np.float32, dropout=0.2):
    model = fp.Model([4, 16, 2], seed=1, dtype=dtype, dropout=dropout)
    X, y = data()
    model.fit(X, y, epochs=2, batch_size=16, optimizer=fp.Adam(1e-2))
    return model


class BlowUp(fp.schedules.Schedule):
    """The base rate, then one far too large from the second epoch on."""

    def lr(self, epoch, base_lr, logs):
        return base_lr if epoch == 0 else 1e30


class Stop(Exception):
    pass


def raise_in_epoch(k):
    def callback(epoch, logs):
        if epoch == k:
            raise Stop("from a callback")
    return callback


FAILURES = {
    "divergence, new optimizer": (dict(optimizer=fp.SGD(lr=1e30)), FloatingPointError),
    "divergence, new batch size": (dict(optimizer=fp.SGD(lr=1e30), batch_size=200),
                                   FloatingPointError),
    "divergence in a later epoch": (dict(optimizer=fp.SGD(1e-2), schedule=BlowUp()),
                                    FloatingPointError),
    "a callback raises": (dict(callbacks=raise_in_epoch(1)), Stop),
    "a callback raises with a new optimizer": (
        dict(optimizer=fp.RMSprop(1e-3), callbacks=raise_in_epoch(0), l2=0.5), Stop),
    "refused: bad epochs": (dict(epochs=0), ValueError),
    "refused: bad optimizer": (dict(optimizer="nadam"), (TypeError, ValueError)),
    "refused: bad split": (dict(validation_split=1.5), ValueError),
    "refused: bad monitor": (dict(monitor="val_loss"), ValueError),
    "refused: bad l2": (dict(l2=-1.0), ValueError),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FAILURES))
def test_a_failed_fit_changes_nothing(name, dtype):
    kwargs, error = FAILURES[name]
    X, y = data()
    model = trained(dtype)
    before = snapshot(model)
    with pytest.raises(error):
        model.fit(X, y, **{"epochs": 3, "batch_size": 16, **kwargs})
    assert_same(before, snapshot(model))

    # and the next fit is the same as on a twin that never saw the failure
    twin = trained(dtype)
    h1 = model.fit(X, y, epochs=2, batch_size=16)
    h2 = twin.fit(X, y, epochs=2, batch_size=16)
    np.testing.assert_array_equal(model.params, twin.params)
    np.testing.assert_array_equal(model.net.opt_state, twin.net.opt_state)
    assert h1.loss == h2.loss


def test_a_failed_first_fit_leaves_a_fresh_model():
    X, y = data()
    model = fp.Model([4, 8, 2], seed=3)
    twin = fp.Model([4, 8, 2], seed=3)
    with pytest.raises(FloatingPointError, match="as it was before"):
        model.fit(X, y, epochs=2, optimizer=fp.SGD(lr=1e30))
    assert model.optimizer is None
    model.fit(X, y, epochs=1)
    twin.fit(X, y, epochs=1)
    np.testing.assert_array_equal(model.params, twin.params)


def test_interrupt_keeps_the_steps_done():
    # Ctrl-C is not a failure: fit returns the history so far with the steps it made
    X, y = data()
    model = trained()
    before = model.params.copy()

    def interrupt(epoch, logs):
        raise KeyboardInterrupt

    history = model.fit(X, y, epochs=5, callbacks=interrupt)
    assert history.interrupted and history.epochs == 1
    assert not np.array_equal(model.params, before)
