"""Every buffer the kernels stream through starts on a cache line (fastprop/buffers.py)."""
import numpy as np
import pytest

import fastprop as fp
from fastprop.buffers import ALIGNMENT, aligned_zeros


@pytest.mark.parametrize("shape", [0, 1, 7, 1000, (3, 5), (2, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_aligned_zeros_is_np_zeros_on_a_cache_line(shape, dtype):
    arrays = [aligned_zeros(shape, dtype) for _ in range(20)]   # many placements
    for arr in arrays:
        expected = np.zeros(shape, dtype)
        assert arr.shape == expected.shape and arr.dtype == expected.dtype
        assert arr.flags.c_contiguous and arr.flags.writeable
        np.testing.assert_array_equal(arr, expected)
        if arr.size:            # an empty array has no data to align
            assert arr.ctypes.data % ALIGNMENT == 0
    arrays[0][...] = 1          # views of separate allocations: no sharing
    assert not arrays[1].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_buffers_are_aligned(dtype):
    m = fp.Model([784, 64, 10], loss="cross_entropy", dtype=dtype, seed=0)
    X = np.random.default_rng(0).normal(size=(300, 784)).astype(dtype)
    y = np.arange(300) % 10
    m.fit(X, y, epochs=1, batch_size=256, optimizer=fp.Adam(), verbose=0, n_threads=1)
    net = m.net
    buffers = [m.params, net.params, net.grads, net.opt_state, net.Z, net.A, net.E, net.M,
               net.Y]
    for buf in buffers:
        assert buf.ctypes.data % ALIGNMENT == 0
    assert m.weights[0].ctypes.data == m.params.ctypes.data   # views, not copies


def test_unpickled_and_loaded_models_are_aligned(tmp_path):
    import pickle
    m = fp.Model([300, 40, 3], loss="cross_entropy", dtype=np.float32, seed=1)
    m.fit(np.ones((8, 300), np.float32), np.arange(8) % 3, epochs=1, optimizer=fp.Adam(),
          verbose=0)
    m.save(tmp_path / "m.npz")
    for copy in (pickle.loads(pickle.dumps(m)), fp.load(tmp_path / "m.npz")):
        np.testing.assert_array_equal(copy.params, m.params)
        for buf in (copy.params, copy.net.grads, copy.net.opt_state, copy.net.A):
            assert buf.ctypes.data % ALIGNMENT == 0
