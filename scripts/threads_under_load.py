"""A fit with the default thread count against n_threads=1 while another process keeps
one core busy: parallel loops that wait at barriers for a descheduled thread degrade
badly when a core is taken. Prints seconds per epoch of each, alternating runs, with
and without the competing process, and the threading layer Numba used.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/threads_under_load.py
"""
import argparse
import multiprocessing
import statistics
import time

import numba
import numpy as np

import fastprop as fp


def spin(stop):
    """Keep one core busy until `stop` is set."""
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def epoch_seconds(X, y, n_threads, epochs):
    model = fp.Model([784, 512, 256, 10], loss="cross_entropy", seed=0)
    model.fit(X[:256], y[:256], epochs=1, batch_size=128, optimizer=fp.Adam(1e-3),
              n_threads=n_threads)                        # compile and warm up
    t0 = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=128, n_threads=n_threads)
    return (time.perf_counter() - t0) / epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6400)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(3)
    X = rng.standard_normal((args.rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.rows)
    from fastprop.threads import available_cores
    print(f"cores available: {available_cores()}")
    for busy in (False, True):
        stop = multiprocessing.Event()
        spinner = multiprocessing.Process(target=spin, args=(stop,)) if busy else None
        if spinner:
            spinner.start()
            time.sleep(0.5)
        times = {"default": [], "1": []}
        for _ in range(args.repeats):
            times["default"].append(epoch_seconds(X, y, None, args.epochs))
            times["1"].append(epoch_seconds(X, y, 1, args.epochs))
        if spinner:
            stop.set()
            spinner.join()
        d, one = statistics.median(times["default"]), statistics.median(times["1"])
        print(f"{'one core busy' if busy else 'idle machine '}: default threads "
              f"{d:.3f} s/epoch, n_threads=1 {one:.3f} s/epoch, default/1 = {d / one:.2f}")
    print(f"threading layer: {numba.threading_layer()}")


if __name__ == "__main__":
    main()
