"""The smaller refusals: huge layer sizes, NumPy scalars where numbers are taken, range
messages that read right, and a network too large for memory."""
import numpy as np
import pytest

import fastprop as fp

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
Y = rng.normal(size=(40, 1))


@pytest.mark.parametrize("sizes", [[4, 10**20, 3], [4, 2**31, 3], [2**63, 2]])
def test_layer_sizes_beyond_the_limit_name_layer_sizes(sizes):
    with pytest.raises(ValueError, match=r"layer_sizes\[\d\] must be at most"):
        fp.Model(sizes)


@pytest.mark.parametrize("sizes", [[2**31 - 1, 2**31 - 1, 1], [2**29, 2**30, 1]])
def test_a_network_too_large_for_memory_says_so(sizes):
    # ~4.6e18 and ~5.8e17 parameters: beyond what any machine holds, refused before
    # allocating (an overcommitting allocator might grant them, and the draws then touch)
    with pytest.raises(MemoryError, match="layer_sizes .* GiB"):
        fp.Model(sizes)


@pytest.mark.parametrize("scalar", [np.float32, np.float64, float])
def test_numpy_floats_are_numbers(scalar):
    model = fp.Model([3, 4, 1], seed=0)
    history = model.fit(X, Y, epochs=2, validation_split=scalar(0.25), early_stopping=True,
                        min_delta=scalar(0.001), patience=1)
    assert len(history.val_loss) >= 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(validation_split=np.float32(1.5)), "validation_split must be a finite number in (0, 1), got 1.5"),
    (dict(validation_split="0.2"), "validation_split must be a real number"),
    (dict(min_delta=np.float64(-1)), "min_delta must be a finite number >= 0, got -1.0"),
    (dict(min_delta=np.nan), "min_delta must be a finite number >= 0, got nan"),
])
def test_number_messages_say_what_is_expected(kwargs, message):
    model = fp.Model([3, 4, 1], seed=0)
    with pytest.raises((TypeError, ValueError)) as info:
        model.fit(X, Y, epochs=1, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("make, message", [
    (lambda: fp.Adam(lr=-1), "lr must be a finite number >= 0, got -1.0"),
    (lambda: fp.SGD(lr=np.inf), "lr must be a finite number >= 0, got inf"),
    (lambda: fp.Adam(betas=(1.0, 0.9)), "betas[0] must be a finite number in [0, 1), got 1.0"),
    (lambda: fp.Model([2, 3, 1], dropout=1.0), "dropout[0] must be a finite number in [0, 1), got 1.0"),
    (lambda: fp.Model([2, 3, 1], l2=10**400), "l2 must be a finite number >= 0"),
])
def test_range_messages_read_right(make, message):
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert message in str(info.value)
