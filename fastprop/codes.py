"""Names users type, and the small integer codes the compiled kernels branch on.

Kernels select an activation, loss or optimizer by code once per layer (or once
per update), so one compiled function serves every combination and depth.
"""

# Activations. SOFTMAX is an output-layer activation only.
IDENTITY = 0
RELU = 1
LEAKY_RELU = 2
ELU = 3
SIGMOID = 4
TANH = 5
SOFTPLUS = 6
GELU = 7
SOFTMAX = 8
EXP = 9         # the Poisson loss's output (the log link's inverse)

ACTIVATIONS = {
    "identity": IDENTITY,
    "linear": IDENTITY,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "softplus": SOFTPLUS,
    "gelu": GELU,
    "softmax": SOFTMAX,
    "exp": EXP,
}
# Output-layer activations only: softmax is row-wise, exp overflows a hidden layer.
OUTPUT_ONLY = ("softmax", "exp")
HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name not in OUTPUT_ONLY)
ACTIVATION_NAMES = {code: name for name, code in ACTIVATIONS.items() if name != "linear"}

LEAKY_SLOPE = 0.01   # leaky_relu slope for z < 0
ELU_ALPHA = 1.0      # elu saturation value is -ELU_ALPHA
HUBER_DELTA = 1.0    # huber switches from quadratic to linear at |d| = HUBER_DELTA

# Losses (the cost of one sample; the kernels average over the batch).
MSE = 0
MAE = 1
HUBER = 2
BINARY_CROSS_ENTROPY = 3
CROSS_ENTROPY = 4
POISSON = 5     # half the Poisson deviance, exp output: y log(y / y_hat) - y + y_hat

LOSSES = {
    "mse": MSE,
    "mae": MAE,
    "huber": HUBER,
    "binary_cross_entropy": BINARY_CROSS_ENTROPY,
    "cross_entropy": CROSS_ENTROPY,
    "poisson": POISSON,
}
LOSS_NAMES = {code: name for name, code in LOSSES.items()}

# The output activation each loss gets when none is named, and the ones it accepts.
# Cross-entropies and Poisson are computed from the logits, so they pin their activation.
DEFAULT_OUTPUT = {
    MSE: "identity",
    MAE: "identity",
    HUBER: "identity",
    BINARY_CROSS_ENTROPY: "sigmoid",
    CROSS_ENTROPY: "softmax",
    POISSON: "exp",
}
ALLOWED_OUTPUT = {
    MSE: tuple(ACTIVATIONS),
    MAE: tuple(ACTIVATIONS),
    HUBER: tuple(ACTIVATIONS),
    BINARY_CROSS_ENTROPY: ("sigmoid",),
    CROSS_ENTROPY: ("softmax",),
    POISSON: ("exp",),
}
# Losses computed from the output logits, whose error is exactly y_hat - y.
FROM_LOGITS = (BINARY_CROSS_ENTROPY, CROSS_ENTROPY, POISSON)

# Optimizers (update rules as documented for torch.optim).
SGD = 0
ADAM = 1
ADAMW = 2
RMSPROP = 3
ADAGRAD = 4
ADADELTA = 5

# Slots of the optimizer hyperparameter vector; their meaning per optimizer is
# documented in fastprop/optimizers.py.
HYPER_SIZE = 6
STATE_ROWS = 2   # moment buffers per parameter (Adam's m and v, Adadelta's v and u, ...)
