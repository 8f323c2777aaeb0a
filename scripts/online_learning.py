"""Online learning inside compiled code: a simulation written with @njit trains a
fastprop network sample by sample, never returning to Python, then Python uses it.

The "simulation" is a sensor that reads a noisy sin(3x) at random positions x. Each
reading is learned at once with one SGD step (the textbook's online SGD), through
fastprop.kernels.sgd_step on the model's shared buffers.

    python scripts/online_learning.py
"""
import time

import numpy as np
from numba import njit

import fastprop as fp
from fastprop import kernels


@njit(cache=True)
def next_uniform(state):
    """The simulation's own generator: xorshift64* on state[0], a float in [0, 1)."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) / 9007199254740992.0


@njit(cache=True)
def simulate_and_learn(net, n_steps, lr, noise, state):
    """Run the sensor for n_steps readings, learning each; return the running mean cost
    of the last 1000 readings (measured before each step)."""
    x = np.zeros((1, 1), net.params.dtype)
    y = np.zeros((1, 1), net.params.dtype)
    recent = 0.0
    for t in range(n_steps):
        x[0, 0] = 4.0 * next_uniform(state) - 2.0
        # sensor noise: a sum of 4 uniforms, roughly normal with unit variance
        u = next_uniform(state) + next_uniform(state) + next_uniform(state) \
            + next_uniform(state)
        y[0, 0] = np.sin(3.0 * x[0, 0]) + noise * (u - 2.0) * np.sqrt(3.0)
        cost = kernels.sgd_step(net, x, y, lr)
        if t >= n_steps - 1000:
            recent += cost
    return recent / 1000


def main():
    model = fp.Model([1, 32, 32, 1], activation="tanh", loss="mse", dtype=np.float64,
                     seed=0)
    grid = np.linspace(-2, 2, 9).reshape(-1, 1)
    print("before:", np.round(model.predict(grid)[:, 0], 2))
    start = time.perf_counter()
    state = np.array([88172645463325252], np.uint64)     # the simulation's seed
    cost = simulate_and_learn(model.net, 200_000, 0.02, 0.05, state)
    seconds = time.perf_counter() - start
    print(f"200,000 online steps inside @njit code in {seconds:.2f} s "
          f"(first call includes compiling the simulation); recent cost {cost:.4f}")
    print("after: ", np.round(model.predict(grid)[:, 0], 2))
    print("target:", np.round(np.sin(3 * grid[:, 0]), 2))
    print("mean squared error on a fine grid:",
          float(np.mean((model.predict(np.linspace(-2, 2, 401).reshape(-1, 1))[:, 0]
                         - np.sin(3 * np.linspace(-2, 2, 401))) ** 2)))


if __name__ == "__main__":
    main()
