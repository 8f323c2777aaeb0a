"""save (and pickle) take the model's lock: a file saved while another thread fits
is one consistent state, the one before that fit or the one after it, never a mix."""
import pickle
import threading

import numpy as np

import fastprop as fp


def test_saving_while_another_thread_fits_writes_a_consistent_state(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 8))
    y = X[:, :2] ** 2
    model = fp.Model([8, 64, 2], seed=0, dtype=np.float64)
    model.fit(X, y, epochs=1, optimizer=fp.Adam(1e-3))
    start = (model.params.copy(), model.net.opt_step.copy())

    def fit():
        model.fit(X, y, epochs=8, batch_size=8)

    paths = []
    worker = threading.Thread(target=fit)
    worker.start()
    while worker.is_alive() or not paths:
        path = tmp_path / f"m{len(paths)}.npz"
        model.save(path)
        paths.append(path)
        pickled = pickle.loads(pickle.dumps(model))
        paths.append(pickled)
        if len(paths) > 40:
            break
    worker.join()
    end = (model.params.copy(), model.net.opt_step.copy())
    states = {"start": start, "end": end}
    for item in paths:
        saved = fp.load(item) if not isinstance(item, fp.Model) else item
        match = [name for name, (params, step) in states.items()
                 if np.array_equal(saved.params, params)
                 and np.array_equal(saved.net.opt_step, step)]
        assert match, "a saved state that is neither before nor after the fit"


def test_a_long_file_name_can_be_saved(tmp_path):
    # the temporary file's name does not grow with the target's
    model = fp.Model([2, 3, 1], seed=0)
    path = tmp_path / ("m" * 250 + ".npz")      # 254 characters, within NAME_MAX
    model.save(path)
    np.testing.assert_array_equal(fp.load(path).params, model.params)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
