"""Write examples/houses.csv: 200 made-up house sales, deterministic (seeded).

    python examples/make_houses.py          # rewrites houses.csv beside this script
    fastprop train examples/houses.csv --target price

Columns: area_m2, rooms, age_years, distance_km (numbers), city (text, 5 cities) and
the target price (thousands). About 5% of the numeric cells (and 1.5% of the cities) are empty or NA, as in a
real export, so that `fastprop train` shows its imputation.
"""
import csv
import sys
from pathlib import Path

import numpy as np

CITIES = {"Lyon": 1.0, "Paris": 1.8, "Nantes": 0.8, "Lille": 0.7, "Bordeaux": 1.1}
N = 200


def houses(seed=7):
    """The rows (a list of lists of str) of the data set, header first."""
    rng = np.random.default_rng(seed)
    city = rng.choice(list(CITIES), size=N, p=[0.25, 0.3, 0.15, 0.15, 0.15])
    area = np.round(rng.gamma(6.0, 15.0, N) + 20.0, 1)
    rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.7, N)), 1, 9).astype(int)
    age = np.round(rng.uniform(0, 80, N)).astype(int)
    distance = np.round(rng.exponential(6.0, N), 2)
    factor = np.array([CITIES[c] for c in city])
    price = (factor * (2.6 * area + 12 * rooms) * (1 - 0.003 * age)
             * np.exp(-distance / 40) + rng.normal(0, 12, N))
    price = np.round(price, 1)
    rows = [["area_m2", "rooms", "age_years", "distance_km", "city", "price"]]
    for i in range(N):
        rows.append([f"{area[i]:.1f}", str(rooms[i]), str(age[i]), f"{distance[i]:.2f}",
                     city[i], f"{price[i]:.1f}"])
    # features only (the target is always given); city rarely, as a missing city
    # costs a prediction dearly
    gaps = rng.random((N, 5)) < [0.06, 0.05, 0.05, 0.05, 0.015]
    for i, j in zip(*np.nonzero(gaps)):
        rows[i + 1][j] = "NA" if rng.random() < 0.5 else ""
    return rows


def main(path=None):
    path = Path(path) if path else Path(__file__).with_name("houses.csv")
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(houses())
    print(f"wrote {N} rows to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
