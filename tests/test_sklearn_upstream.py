"""scikit-learn's own tests of MLPClassifier and MLPRegressor, run on fastprop's.

The installed scikit-learn's sklearn/neural_network/tests/test_mlp.py is read at test
time (not copied here), its import of the estimators pointed at fastprop.sklearn, and
executed into this module, so that pytest collects its tests as this module's. Removed
are only the tests that read scikit-learn's private attributes, each listed with the one
it needs; every other test must pass."""
import inspect
import pathlib

import sklearn.neural_network

# test name: the private attribute of scikit-learn's implementation it reads
NEEDS_PRIVATE = {
    "test_gradient": "_loss_grad_lbfgs",
    "test_learning_rate_warmstart": "_optimizer",
    "test_adaptive_learning_rate": "_optimizer",
    "test_n_iter_no_change": "_no_improvement_count",
    "test_n_iter_no_change_inf": "_no_improvement_count",
}
UPSTREAM_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
FASTPROP_IMPORT = "from fastprop.sklearn import MLPClassifier, MLPRegressor"

SOURCE = pathlib.Path(inspect.getfile(sklearn.neural_network)).parent / "tests" / "test_mlp.py"


def _upstream_source():
    text = SOURCE.read_text()
    assert text.count(UPSTREAM_IMPORT) == 1, f"{SOURCE} no longer imports the estimators " \
                                             f"as this module expects"
    return text.replace(UPSTREAM_IMPORT, FASTPROP_IMPORT)


exec(compile(_upstream_source(), str(SOURCE), "exec"), globals())
for _name in NEEDS_PRIVATE:
    del globals()[_name]     # a KeyError here: scikit-learn renamed or dropped the test
