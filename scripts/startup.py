#!/usr/bin/env python
"""Start-up as a user meets it: a fresh process imports fastprop, makes its data and
runs one fit. Run it with NUMBA_CACHE_DIR set to an empty folder for a cold start
(everything compiled), then again for a warm one:

    NUMBA_CACHE_DIR=$(mktemp -d) python scripts/startup.py w2      # w2 | readme | w3

w2: one W2 epoch (64-128-10, batch 32, Adam); readme: the README's first example
(64-256-128-10 with dropout, early stopping, evaluate and predict); w3: one W3 epoch on
2 threads (784-512-256-10, batch 128). Prints the import time and the process total.
"""
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402

import fastprop as fp  # noqa: E402

t_import = time.perf_counter() - t0
which = sys.argv[1] if len(sys.argv) > 1 else "w2"
if which == "readme":
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    model = fp.Model([64, 256, 128, 10], activation="relu", loss="cross_entropy",
                     dropout=0.2, dtype=np.float32, seed=0)
    model.fit(X_train, y_train, epochs=200, batch_size=32, optimizer=fp.Adam(lr=1e-3),
              validation_split=0.1, early_stopping=True, patience=15)
    model.evaluate(X_test, y_test)
    model.predict_classes(X_test[:3])
elif which == "w2":
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    model = fp.Model([64, 128, 10], activation="relu", loss="cross_entropy", seed=0)
    model.fit((X[:1408] / 16).astype(np.float32), y[:1408], epochs=1, batch_size=32,
              optimizer=fp.Adam(lr=1e-3), shuffle=False)
elif which == "w3":
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12800, 784)).astype(np.float32)
    model = fp.Model([784, 512, 256, 10], activation="relu", loss="cross_entropy", seed=0)
    model.fit(X, rng.integers(0, 10, 12800), epochs=1, batch_size=128,
              optimizer=fp.Adam(lr=1e-3), shuffle=False, n_threads=2)
else:
    raise SystemExit(f"usage: startup.py [w2|readme|w3], got {which!r}")
print(f"{which}: import {t_import:.2f} s, total {time.perf_counter() - t0:.2f} s")
