"""The parameters of fastprop.sklearn's estimators: scikit-learn's constraints (checked by
BaseEstimator._validate_params, which raises scikit-learn's InvalidParameterError with
its messages), the checks those constraints cannot state (lists of activations or
dropout rates, combinations), and the parameters' documentation, shared by both
estimators."""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions

from . import codes
from .optimizers import Optimizer, _check_number
from .validation import check_int

# scikit-learn's activation names, then fastprop's own hidden activations.
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               **{name: name for name in codes.HIDDEN_ACTIVATIONS}}
STOCHASTIC_SOLVERS = ("sgd", "adam")
OPTIMIZER_NAMES = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta")

# scikit-learn's BaseMultilayerPerceptron._parameter_constraints, with lists allowed
# for activation (one per hidden layer), then fastprop's parameters.
BASE_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS)), list, tuple],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
    "optimizer": [None, StrOptions(set(OPTIMIZER_NAMES)), Optimizer],
    "dtype": [None, StrOptions({"float32", "float64"})],
    "early_stopping_metric": [StrOptions({"score", "loss"})],
}
CLASSIFIER_CONSTRAINTS = {**BASE_CONSTRAINTS,
                          "class_weight": [None, StrOptions({"balanced"}), dict]}
REGRESSOR_CONSTRAINTS = {**BASE_CONSTRAINTS,
                         "loss": [StrOptions({"squared_error", "poisson"})]}


def hidden_sizes(est):
    """hidden_layer_sizes as a list of ints >= 1 (scikit-learn's message for a width
    <= 0; a width that is not an integer is refused by name)."""
    sizes = est.hidden_layer_sizes
    sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
    for i, s in enumerate(sizes):
        check_int(f"hidden_layer_sizes[{i}]", s)
    if any(s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def hidden_activations(est, n_hidden):
    """fastprop's activation name of each hidden layer."""
    names = [est.activation] * n_hidden if isinstance(est.activation, str) \
        else list(est.activation)
    for name in names:
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)} (or a "
                             f"list of them, one per hidden layer); got {name!r}")
    if len(names) != n_hidden:
        raise ValueError(f"activation must be one name or a list of {n_hidden} names "
                         f"(one per hidden layer); got {len(names)}")
    return [ACTIVATIONS[name] for name in names]


def dropout_rates(est, n_hidden):
    """The dropout rate of each hidden layer, each in [0, 1)."""
    rates = [est.dropout] * n_hidden if np.ndim(est.dropout) == 0 else list(est.dropout)
    if len(rates) != n_hidden:
        raise ValueError(f"dropout must be one rate or a list of {n_hidden} rates "
                         f"(one per hidden layer); got {len(rates)}")
    return [_check_number(f"dropout[{i}]", r, 0.0, 1.0, high_open=True)
            for i, r in enumerate(rates)]


def check_params(est):
    """What the constraints cannot say, checked on every fit and partial_fit after
    _validate_params (nothing is checked in __init__ or set_params, scikit-learn's
    convention): the hidden widths, a list of activations or rates per hidden layer,
    and what lbfgs cannot take (an optimizer, dropout: it is deterministic, full batch)."""
    n_hidden = len(hidden_sizes(est))
    hidden_activations(est, n_hidden)
    rates = dropout_rates(est, n_hidden)
    if est.solver == "lbfgs":
        if est.optimizer is not None:
            raise ValueError(f"optimizer={est.optimizer!r} needs a stochastic solver "
                             f"('sgd' or 'adam'); solver='lbfgs' has none")
        if any(rates):
            raise ValueError("dropout needs a stochastic solver ('sgd' or 'adam'); "
                             "solver='lbfgs' trains without it")


# The documentation of the parameters, in the order of the signatures: scikit-learn's,
# then fastprop's. The estimators' docstrings are assembled from these.
SKLEARN_PARAMS = """\
hidden_layer_sizes : int or array-like of int, default (100,)
    The width of each hidden layer.
activation : str or list of str, default 'relu'
    Hidden-layer activation, one name for all or one per hidden layer:
    scikit-learn's 'identity', 'logistic', 'tanh', 'relu', or any of fastprop's
    ('leaky_relu', 'elu', 'sigmoid', 'softplus', 'gelu').
solver : {'lbfgs', 'sgd', 'adam'}, default 'adam'
    'lbfgs': full-batch L-BFGS-B (scipy) over the flat parameter vector; 'sgd':
    ``fastprop.SGD(learning_rate_init, momentum=momentum,
    nesterov=nesterovs_momentum)``; 'adam': ``fastprop.Adam(learning_rate_init,
    betas=(beta_1, beta_2), eps=epsilon)``. `optimizer` can replace the last two.
alpha : float, default 1e-4
    Strength of the L2 penalty: a batch of B samples minimises its mean cost plus
    alpha / (2 B) * the sum of squared weights (biases excluded); lbfgs, over all
    n samples, alpha / (2 n). Weighted: B and n are the sums of the weights.
batch_size : int or 'auto', default 'auto'
    Samples per step of the stochastic solvers; 'auto' is min(200, n_samples),
    larger values are clipped to n_samples (with a warning). lbfgs uses all.
learning_rate : {'constant', 'invscaling', 'adaptive'}, default 'constant'
    The schedule of solver='sgd' (the others keep their rate): 'invscaling' trains
    with learning_rate_init / (``t_`` + 1) ** power_t after each epoch, 'adaptive'
    divides the rate by 5 where training would stop for lack of improvement, until
    it is at most 1e-6.
learning_rate_init : float, default 1e-3
    The learning rate of the stochastic solvers, > 0.
power_t : float, default 0.5
    The exponent of learning_rate='invscaling', >= 0.
max_iter : int, default 200
    The most epochs (stochastic solvers) or iterations (lbfgs) of a fit.
shuffle : bool, default True
    Shuffle the samples before each epoch (stochastic solvers).
random_state : int, numpy.random.RandomState or None, default None
    Draws the initial weights (as scikit-learn draws them), the early-stopping split,
    then the seed of the Model's shuffling and dropout.
tol : float, default 1e-4
    The improvement that counts: of the training loss, or with early_stopping of the
    validation score; for lbfgs, scipy's gtol.
verbose : bool or int, default False
    Print each epoch's loss ("Iteration 3, loss = ..."), as scikit-learn does.
warm_start : bool, default False
    Let `fit` continue from the current weights (with a new optimizer) instead of
    drawing new ones.
momentum : float, default 0.9
    The momentum of solver='sgd', in [0, 1].
nesterovs_momentum : bool, default True
    Nesterov's momentum for solver='sgd' (where momentum > 0).
early_stopping : bool, default False
    Hold out validation_fraction of the training data (stratified for binary
    labels) and stop when the validation score has not improved by tol for
    n_iter_no_change epochs, then keep the best epoch's weights.
validation_fraction : float, default 0.1
    The share of the training data early_stopping holds out, in [0, 1).
beta_1 : float, default 0.9
    Adam's decay rate of the first moment, in [0, 1).
beta_2 : float, default 0.999
    Adam's decay rate of the second moment, in [0, 1).
epsilon : float, default 1e-8
    Adam's term added to the root of the second moment, > 0.
n_iter_no_change : int or numpy.inf, default 10
    Epochs without improvement (by tol) after which training stops, at least 1;
    numpy.inf never stops early.
max_fun : int, default 15000
    The most cost evaluations of lbfgs.
"""

FASTPROP_PARAMS = """\
dropout : float or list of float, default 0.0
    Inverted-dropout rate of the hidden layers (one rate or one per layer), in
    [0, 1); the stochastic solvers only.
optimizer : str, fastprop.Optimizer or None, default None
    None lets `solver` choose. A name ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad',
    'adadelta') trains with that optimizer at learning_rate_init ('sgd' and 'adam'
    with the settings `solver` gives them); a fastprop optimizer object such as
    ``fastprop.RMSprop(0.01)`` trains with a copy of it, at its own lr. Needs a
    stochastic solver.
dtype : {None, 'float32', 'float64'}, default None
    None trains in X's dtype (float32 stays float32, anything else becomes float64),
    as scikit-learn does; 'float32' or 'float64' force one.
early_stopping_metric : {'score', 'loss'}, default 'score'
    What early stopping watches: 'score' the validation score (accuracy or R^2, as
    scikit-learn), 'loss' the validation loss; ``validation_scores_`` then holds minus
    the validation loss, so that higher is better either way.
"""

CLASS_WEIGHT_PARAM = """\
class_weight : dict, 'balanced' or None, default None
    Weights of the classes, multiplying sample_weight as
    sklearn.utils.class_weight.compute_sample_weight computes them.
"""

LOSS_PARAM = """\
loss : {'squared_error', 'poisson'}, default 'squared_error'
    'squared_error': half the squared error, identity outputs; 'poisson': half the
    Poisson deviance, exponential outputs (predictions > 0, targets >= 0).
"""

FITTED_ATTRIBUTES = """\
loss_ : float
    The training loss of the last epoch (lbfgs: at the solution), with the penalty.
best_loss_ : float or None
    The lowest training loss (None with early_stopping; not set by lbfgs).
loss_curve_ : list of float
    The training loss of each epoch, across warm-started fits and partial fits (not
    set by lbfgs).
validation_scores_ : list of float or None
    The validation score after each epoch (with early_stopping, else None).
best_validation_score_ : float or None
    The best validation score (with early_stopping, else None).
t_ : int
    The training samples seen by the stochastic solvers.
coefs_ : list of numpy.ndarray
    The weight matrix (n_in, n_out) of each layer: views into ``model_.params``.
    Assigning other arrays makes the next fit or prediction use them.
intercepts_ : list of numpy.ndarray
    The bias vector (n_out,) of each layer: views into ``model_.params``.
n_features_in_ : int
    The number of features seen by fit.
feature_names_in_ : numpy.ndarray of str
    The feature names seen by fit, where X had string column names.
n_iter_ : int
    The epochs (or lbfgs iterations) of the last fit; 1 after a partial_fit.
n_layers_ : int
    The number of layers, input and output included.
n_outputs_ : int
    The number of outputs.
model_ : fastprop.Model
    The network.
"""
