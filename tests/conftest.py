"""Fixtures shared by the tests."""
import os

import pytest


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture of the same name (its tests take it; test_sklearn_upstream
    runs them): the seed in SKLEARN_TESTS_GLOBAL_RANDOM_SEED, 42 by default. A single
    integer only (scikit-learn also takes ranges such as "0-99", for long runs)."""
    return int(os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42"))
