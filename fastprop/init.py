"""Weight initialisation schemes. Biases always start at zero.

Weights are drawn in float64 from the model's seeded generator and then cast, so a
float32 model starts from exactly the rounded float64 weights of the same seed.
"""
import numpy as np

INITS = ("he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "lecun_normal")
ALIASES = {"he": "he_normal", "xavier": "xavier_uniform", "glorot": "xavier_uniform",
           "glorot_uniform": "xavier_uniform", "glorot_normal": "xavier_normal",
           "lecun": "lecun_normal"}
RELU_LIKE = ("relu", "leaky_relu", "elu", "gelu")


def resolve_init(name):
    """Canonical scheme name for `name` (or None); ValueError listing the choices."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"init must be a string or None, got {type(name).__name__}")
    canonical = ALIASES.get(name, name)
    if canonical not in INITS:
        choices = ", ".join(sorted(INITS + tuple(ALIASES)))
        raise ValueError(f"init must be one of {choices}; got {name!r}")
    return canonical


def default_init(activation):
    """He for ReLU-like activations, Xavier (Glorot) for the others."""
    return "he_normal" if activation in RELU_LIKE else "xavier_uniform"


def draw_weights(rng, scheme, n_in, n_out):
    """A float64 (n_in, n_out) weight matrix drawn by `scheme`."""
    if scheme == "he_normal":
        return rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out))
    if scheme == "he_uniform":
        limit = np.sqrt(6.0 / n_in)
        return rng.uniform(-limit, limit, (n_in, n_out))
    if scheme == "xavier_normal":
        return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), (n_in, n_out))
    if scheme == "xavier_uniform":
        limit = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, (n_in, n_out))
    return rng.normal(0.0, np.sqrt(1.0 / n_in), (n_in, n_out))   # lecun_normal
