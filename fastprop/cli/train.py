"""`fastprop train`: fit a model on a data set or file, report its metrics and
throughput, save it and plot its curves."""
import functools
import importlib.util
import os
import sys
import time

import numpy as np

import fastprop as fp
from fastprop import codes, config
from fastprop import io as fpio
from fastprop.compile_notice import CompileNotice

from .common import (
    CLASSIFICATION_LOSSES,
    DATASETS,
    DEFAULT_LR,
    DTYPES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    MAX_GUESSED_CLASSES,
    OPTIMIZERS,
    PROG,
    UsageError,
    check_network_fits,
    column_list,
    dropout_rates,
    fraction,
    layer_widths,
    non_negative_int,
    out_of_memory,
    positive_float,
    positive_int,
    user_errors,
)
from .data import (check_in_range, choose_task, column_stats, load_dataset, read_data,
                   scaled, split, standardise)
from .encode import Encoding, refuse_gaps

# A warm-up fit that takes longer than this is compiling (an empty Numba cache): the
# user is told, once, while it runs.
COMPILE_NOTICE_SECONDS = 2.0


# ---------------------------------------------------------------- results
def accuracy(model, X, labels):
    """(fraction correct, number correct) of the model's class predictions."""
    predicted = predicted_classes(model, X)
    correct = int((predicted == labels).sum())
    return correct / len(labels), correct


def predicted_classes(model, X, out=None):
    """Class indices: argmax of softmax outputs, or sigmoid > 0.5 for one output;
    `out` is model.predict(X) where the caller has it already."""
    out = model.predict(X) if out is None else out
    if model.loss_name == "binary_cross_entropy":
        return (out[:, 0] > 0.5).astype(np.int64)
    return out.argmax(axis=1)


def regression_scores(predicted, y):
    """(R^2, MSE) of predictions against targets (averaged over columns). Computed on
    values divided by the largest target magnitude, so that targets near the float64
    limit give a finite R^2 (and an MSE that is infinite only when it is too large)."""
    big = float(np.abs(y).max()) if y.size else 0.0
    big = big if 0 < big < float("inf") else 1.0
    unit = y / big
    with np.errstate(over="ignore", invalid="ignore"):
        residual = unit - predicted / big
        mse = float(np.mean(residual ** 2)) * big * big
    total = float(np.sum((unit - unit.mean(axis=0)) ** 2))
    r2 = 1.0 - float(np.sum(residual ** 2)) / total if total > 0 else float("nan")
    return r2, mse


def warm_up(make_model, make_optimizer, X, y, batch_size, dtype_name="float32",
            notice=True, n_threads=None):
    """Fit and predict once with a throwaway model of the same configuration on a few
    rows, so that loading the compiled kernels (a one-off cost per process, a fraction
    of a second) is not counted in the timed run's throughput. Where Numba's cache is
    empty this compiles them (a minute or more): when it is still running after
    COMPILE_NOTICE_SECONDS, a line on stderr says so (`notice`), and another how long it
    took. Returns the seconds it took."""
    rows = min(len(X), batch_size + 1)     # a full batch and a partial one
    start = time.perf_counter()
    watch = CompileNotice(dtype_name, seconds=COMPILE_NOTICE_SECONDS)
    if notice:
        watch.start()
    quiet, config.COMPILE_NOTICE = config.COMPILE_NOTICE, config.COMPILE_NOTICE and notice
    try:
        scratch = make_model()
        scratch.fit(X[:rows], y[:rows], epochs=1, batch_size=batch_size,
                    optimizer=make_optimizer(), verbose=0, n_threads=n_threads)
        scratch.predict(X[:rows])
    finally:
        watch.stop()
        config.COMPILE_NOTICE = quiet
    return time.perf_counter() - start


def throughput(history):
    """Training samples per second over the whole fit: epochs * n_train / fit seconds."""
    seconds = sum(history.seconds)
    return history.epochs * history.samples / seconds if seconds > 0 else float("inf")


def check_output_path(path, option, suffix=None):
    """Refuse before training an output whose folder does not exist (or, given a
    `suffix`, whose name does not end with it)."""
    if suffix is not None and not path.lower().endswith(suffix):
        raise UsageError(f"{option} {path}: the file name must end with {suffix} (the model "
                         f"is saved as a NumPy .npz archive)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a folder; give a file name")


def short_title(model, optimizer_name, lr):
    """The plot's title: layer sizes, activation, optimizer and rate, dtype, e.g.
    "64-256-128-10 relu · adam lr 1e-3 · float32"."""
    hidden = model.activations[:-1]
    activation = ",".join(dict.fromkeys(hidden)) if hidden else model.activations[-1]
    rate = f"{lr:.0e}".replace("e-0", "e-").replace("e+0", "e") if lr < 0.01 else f"{lr:g}"
    return (f"{'-'.join(map(str, model.sizes))} {activation} \u00b7 {optimizer_name} lr "
            f"{rate} \u00b7 {np.dtype(model.dtype).name}")


def metric_series(history, loss, y_scale):
    """(name, training, validation) of the second panel: accuracy for classifiers; for
    one regression target trained with mse or mae, the RMSE or MAE in the target's
    units, derived from the loss (0.5 * squared error, or the absolute error, on the
    standardised target; the training figure includes dropout and any L2 penalty, as
    the loss does); None otherwise."""
    if history.accuracy:
        return "accuracy", history.accuracy, history.val_accuracy
    if y_scale is None or len(y_scale) != 1 or loss not in ("mse", "mae"):
        return None
    scale = float(y_scale[0])
    if loss == "mse":
        def convert(values):
            return [np.sqrt(2.0 * max(v, 0.0)) * scale for v in values]
        return "RMSE (target units)", convert(history.loss), convert(history.val_loss)
    return ("MAE (target units)", [v * scale for v in history.loss],
            [v * scale for v in history.val_loss])


def plot_curves(history, path, title, kept_epoch=None, metric=None, results=(),
                loss_label="loss"):
    """Write the loss and a metric (see metric_series) per epoch, training and
    validation, as an image: the kept epoch marked, the `results` lines (validation and
    test scores) written below the panels. Returns the figure's title. Uses
    matplotlib's object API with the Agg canvas: no display, no global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = [(loss_label, history.loss, history.val_loss)]
    if metric is not None:
        panels.append(metric)
    fig = Figure(figsize=(5.2 * len(panels), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    epochs = np.arange(1, history.epochs + 1)
    for i, (name, train, val) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.plot(epochs, train, marker=".", label="training")
        if val:
            ax.plot(epochs, val, marker=".", label="validation")
        if kept_epoch is not None and val:
            ax.plot([kept_epoch + 1], [val[kept_epoch]], "o", color="C1", markersize=8,
                    markerfacecolor="none")
        if kept_epoch is not None:
            ax.axvline(kept_epoch + 1, color="0.4", linestyle="--", linewidth=1,
                       label=f"kept: epoch {kept_epoch + 1}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    if results:
        fig.supxlabel("   ".join(results), fontsize="small")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig.get_suptitle() if hasattr(fig, "get_suptitle") else title


def prepare(table, task, loss, args):
    """Split and encode the table for training: (X_train, X_test, y_train, y_test,
    training targets, extra arrays to save with the model, summary line or None).
    CSV columns are encoded by encode.Encoding (fitted on the training part), arrays
    from .npz files and bundled data sets standardised. Class labels become indices
    0..k-1 (y_train/y_test); regression targets are standardised for training
    (y_train/y_test stay in the data's units)."""
    extra = {}
    y = table.y
    if task == "classification":
        classes, y = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise UsageError(f"the target of {table.source} has a single class "
                             f"({classes[0]!r}); nothing to learn")
        if loss == "binary_cross_entropy" and len(classes) != 2:
            raise UsageError(f"--loss binary_cross_entropy needs two classes; the target "
                             f"has {len(classes)}")
        extra["classes"] = classes
    else:
        y = y.astype(np.float64)

    summary = None
    frame = getattr(table, "frame", None)
    if frame is not None:
        if args.no_impute:
            refuse_gaps(frame, table.source, table.header)
        rows_train, rows_test, y_train, y_test = split(np.arange(len(frame)), y, task,
                                                       args.seed, args.test_split)
        encoding, transformer = Encoding.fit(frame, rows_train)
        X = Encoding.transformed(transformer, frame)
        X_train, X_test = X[rows_train], X[rows_test]
        p = len(encoding.numeric)
        check_in_range(X_test[:, :p], frame[encoding.numeric].to_numpy(np.float64)[rows_test],
                       DTYPES[args.dtype], table.source,
                       encoding.numeric if table.header else None,
                       (encoding.mean[:p], encoding.scale[:p]))
        extra.update(encoding.extra())
        extra["feature_names"] = np.array(encoding.input_names())
        summary = encoding.summary(frame)
    else:
        X_train, X_test, y_train, y_test = split(table.X, y, task, args.seed,
                                                 args.test_split)
        X_train, X_test, x_mean, x_scale = standardise(X_train, X_test, DTYPES[args.dtype],
                                                       table.source, table.feature_names)
        extra.update(x_mean=x_mean, x_scale=x_scale)
        if table.feature_names is not None:
            extra["feature_names"] = np.array(table.feature_names)
    if task == "classification":
        targets = y_train.astype(np.float64) if loss == "binary_cross_entropy" else y_train
    else:
        # Targets are standardised too so that default learning rates behave; the
        # scores are reported in the data's own units.
        y_mean, y_scale = column_stats(y_train)
        targets = scaled(y_train, y_mean, y_scale)
        extra.update(y_mean=np.atleast_1d(y_mean), y_scale=np.atleast_1d(y_scale))
    if table.target_name is not None:
        extra["target_name"] = np.array(table.target_name)
    return X_train, X_test, y_train, y_test, targets, extra, summary


def kept_epoch(history, early_stopping):
    """The epoch (from 0) whose weights the model holds after the fit: the best one
    under early stopping (its weights are restored), else the last."""
    if early_stopping and history.best_epoch is not None:
        return history.best_epoch
    return history.epochs - 1


def report(model, history, X_test, y_test, extra, epochs, early_stopping=False):
    """Print the kept epoch's training metrics, the test scores and the throughput;
    return the result lines for the plot. The loss of a regression model is on the
    standardised target (as trained); the test MSE is in the target's own units."""
    lines = []
    if history.interrupted:
        print(f"{PROG}: interrupted after {history.epochs} of {epochs} epochs",
              file=sys.stderr)
    if history.stopped_epoch is not None and early_stopping:
        print(f"early stopping after epoch {history.stopped_epoch + 1}; kept the weights "
              f"of epoch {history.best_epoch + 1}")
    regression = "classes" not in extra
    if history.epochs:
        e = kept_epoch(history, early_stopping)
        scale = " (on the standardised target)" if regression else ""
        which = f"epoch {e + 1}" + (" (kept)" if e != history.epochs - 1 else "")
        line = f"{which} training loss{scale}: {history.loss[e]:.4g}"
        if history.accuracy:
            line += f"  accuracy: {history.accuracy[e]:.4f}"
        if history.val_loss:
            line += f"  validation loss: {history.val_loss[e]:.4g}"
            lines.append(f"validation loss {history.val_loss[e]:.4g} (epoch {e + 1})")
        if history.val_accuracy:
            line += f"  validation accuracy: {history.val_accuracy[e]:.4f}"
            lines[-1] = (f"validation accuracy {history.val_accuracy[e]:.4f} (epoch "
                         f"{e + 1})")
        print(line)
    if len(X_test) and not regression:
        acc, correct = accuracy(model, X_test, y_test)
        print(f"test accuracy: {acc:.4f} ({correct}/{len(y_test)})")
        lines.append(f"test accuracy {acc:.4f} ({correct}/{len(y_test)})")
    elif len(X_test):
        with np.errstate(over="ignore", invalid="ignore"):
            out = model.predict(X_test).astype(np.float64) * extra["y_scale"] + extra["y_mean"]
        r2, mse = regression_scores(out[:, 0] if y_test.ndim == 1 else out, y_test)
        print(f"test R^2: {r2:.4f}  MSE: {mse:.4g} (in the target's units, squared; RMSE "
              f"{np.sqrt(mse):.4g})")
        lines.append(f"test R\u00b2 {r2:.4f}, RMSE {np.sqrt(mse):.4g}")
    if history.epochs:
        print(f"throughput: {throughput(history):,.0f} samples/s ({history.epochs} epochs "
              f"x {history.samples} samples in {sum(history.seconds):.3g} s)")
    return lines


# ---------------------------------------------------------------- train
def add_train_parser(subparsers):
    """Register `fastprop train` and its options."""
    p = subparsers.add_parser(
        "train", help="train an MLP on a CSV/.npz file or a bundled scikit-learn data set",
        description="Train a multi-layer perceptron on a CSV or .npz file or on a data set "
                    "bundled with scikit-learn: a stratified train/test split, inputs "
                    "encoded on the training part (numeric columns: gaps filled with the "
                    "median, then standardised; text columns: gaps filled with the most "
                    "frequent value, then one-hot encoded), then the test accuracy (R^2 and "
                    "MSE for regression) and the training throughput. --out saves the model, "
                    "with that encoding, for `fastprop predict`.")
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="a CSV file (header row optional; delimiter , ; tab or | "
                        "detected; UTF-8 or Latin-1; empty cells and NA markers such as NA, "
                        "N/A, null are gaps) or an .npz file of arrays; default: the "
                        "bundled data set named by --dataset")
    p.add_argument("--target", metavar="NAME",
                   help="CSV: the target column's name or index (default: the last column); "
                        ".npz: the target array (default: y; the features are X or the "
                        "only other array)")
    p.add_argument("--drop", type=column_list, default=[], metavar="COL[,COL...]",
                   help="CSV: leave these columns out of the features (default: none)")
    p.add_argument("--no-impute", action="store_true",
                   help="CSV: refuse missing feature values instead of filling them "
                        "(default: fill them, numbers with the median, text with the most "
                        "frequent value of the training part)")
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="bundled data set (default: digits); diabetes is regression, the "
                        "others classification")
    p.add_argument("--layers", type=layer_widths, default=[128], metavar="W[,W...]",
                   help="hidden layer widths, comma-separated, or none for a network "
                        "without hidden layers (default: 128)")
    p.add_argument("--activation", choices=codes.HIDDEN_ACTIVATIONS, default="relu",
                   help="hidden activation (default: relu)")
    p.add_argument("--loss", choices=codes.LOSSES, default=None,
                   help="default: cross_entropy for classes (text, boolean, or integer "
                        f"targets with at most {MAX_GUESSED_CLASSES} values), mse otherwise")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="default: sgd")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: for sgd 0.1, or 0.01 for regression; 1e-3 "
                        "for adam, adamw and rmsprop; 1e-2 for adagrad; 1.0 for adadelta)")
    p.add_argument("--epochs", type=positive_int, default=30, help="default: 30")
    p.add_argument("--batch-size", type=positive_int, default=32, help="default: 32")
    p.add_argument("--dropout", type=dropout_rates, default=0.0, metavar="RATE[,RATE...]",
                   help="dropout rate of the hidden layers, one or one per layer (default: 0)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="default: float32")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the split, initialisation and shuffling (default: 0)")
    p.add_argument("--test-split", type=fraction, default=0.25, metavar="FRACTION",
                   help="share held out for the final test (default: 0.25; 0: none)")
    p.add_argument("--val-split", type=fraction, default=None, metavar="FRACTION",
                   help="share of the training part held out for validation each epoch "
                        "(default: none, or 0.1 with --early-stopping)")
    p.add_argument("--early-stopping", action="store_true",
                   help="stop when the validation loss has not improved for --patience "
                        "epochs and keep the best epoch's weights")
    p.add_argument("--patience", type=positive_int, default=10,
                   help="epochs without improvement before early stopping (default: 10)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="training threads (default: every core this process may use)")
    p.add_argument("--out", metavar="MODEL.npz",
                   help="save the trained model (and its input encoding) here; the name "
                        "must end with .npz (default: not saved)")
    p.add_argument("--plot", metavar="CURVES.png",
                   help="draw the loss and accuracy (regression: RMSE or MAE) curves into "
                        "this image (needs matplotlib; default: no plot)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or header; print only the results")
    p.set_defaults(run=cmd_train)


def cmd_train(args):
    """Run `fastprop train`: load, split, standardise, fit, evaluate, report, save."""
    if args.plot is not None:
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("--plot needs matplotlib, which is not installed: pip install "
                             "matplotlib (or pip install 'fastprop[plot]')")
        check_output_path(args.plot, "--plot")
    if args.out is not None:
        check_output_path(args.out, "--out", suffix=".npz")
    if args.data is not None and args.dataset is not None:
        raise UsageError("give a data file or --dataset, not both")
    if args.data is None and args.target is not None:
        raise UsageError("--target names a column of a data file; give the file too")
    if args.data is None and (args.drop or args.no_impute):
        raise UsageError(f"{'--drop' if args.drop else '--no-impute'} applies to a CSV "
                         f"file; give the file too")

    if args.data is not None:
        table = read_data(args.data, args.target, drop=args.drop)
        task = choose_task(table.y, args.loss, table.source, table.target_name)
    else:
        table, task = load_dataset(args.dataset or "digits")
        if args.loss is not None and (args.loss in CLASSIFICATION_LOSSES) != (
                task == "classification"):
            raise UsageError(f"{table.source} is a {task} data set; --loss {args.loss} does "
                             f"not fit it")
    loss = args.loss or ("cross_entropy" if task == "classification" else "mse")

    X_train, X_test, y_train, y_test, targets, extra, summary = prepare(table, task, loss,
                                                                        args)
    n_in = X_train.shape[1]
    if task == "classification":
        n_out = 1 if loss == "binary_cross_entropy" else len(extra["classes"])
    else:
        n_out = 1 if y_train.ndim == 1 else y_train.shape[1]
    val_split = args.val_split
    if args.early_stopping and not val_split:
        val_split = 0.1
    lr = args.lr
    if lr is None:
        lr = DEFAULT_LR["sgd_regression" if args.optimizer == "sgd" and task == "regression"
                        else args.optimizer]

    def make_model():
        return fp.Model([n_in, *args.layers, n_out], activation=args.activation,
                        loss=loss, dtype=DTYPES[args.dtype], seed=args.seed,
                        dropout=args.dropout)

    def make_optimizer():
        return OPTIMIZERS[args.optimizer](lr)

    sizes = [n_in, *args.layers, n_out]
    layers = f"--layers {','.join(map(str, args.layers)) or 'none'}"
    check_network_fits(sizes, DTYPES[args.dtype], args.batch_size, layers)
    memory = functools.partial(out_of_memory, sizes, DTYPES[args.dtype], args.batch_size,
                               layers)
    with user_errors(), memory():
        model = make_model()
        optimizer = make_optimizer()
    if not args.quiet:
        if task == "classification":
            what = f"{len(extra['classes'])} classes"
        else:
            what = f"{n_out} target{'s' if n_out > 1 else ''}"
        target = f" (target {table.target_name!r})" if args.data is not None else ""
        columns = len(table.feature_names or ())
        features = (f"{columns} feature columns ({n_in} inputs)"
                    if summary is not None and columns != n_in else f"{n_in} features")
        print(f"{table.source}: {len(X_train)} train / {len(X_test)} test samples, "
              f"{features} -> {what}{target}")
        if summary is not None:
            print(summary)
        print(f"{model!r}\n{optimizer!r}, {args.epochs} epochs, batch size "
              f"{args.batch_size}" + (f", validation split {val_split}" if val_split else ""))

    try:
        with user_errors(), memory():
            warm_up(make_model, make_optimizer, X_train, targets, args.batch_size,
                    args.dtype, notice=not args.quiet, n_threads=args.threads)
            history = model.fit(X_train, targets, epochs=args.epochs,
                                batch_size=args.batch_size, optimizer=optimizer,
                                verbose=0 if args.quiet else 1,
                                validation_split=val_split or 0.0,
                                early_stopping=args.early_stopping, patience=args.patience,
                                n_threads=args.threads)
    except FloatingPointError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    results = report(model, history, X_test, y_test, extra, args.epochs,
                     args.early_stopping)

    outputs = []
    if args.out is not None:
        outputs.append((args.out, "the model", lambda: fpio.save(model, args.out, extra=extra)))
    if args.plot is not None and history.epochs:
        metric = metric_series(history, loss, extra.get("y_scale"))
        title = short_title(model, args.optimizer, lr)
        kept = kept_epoch(history, args.early_stopping) if args.early_stopping else None
        outputs.append((args.plot, "the training curves",
                        lambda: plot_curves(history, args.plot, title, kept, metric,
                                            results, f"{loss} loss" + (
                                                " (standardised target)"
                                                if task == "regression" else ""))))
    for path, what, write in outputs:
        try:
            write()
        except OSError as err:
            print(f"{PROG}: error: cannot write {path}: {err.strerror or err}",
                  file=sys.stderr)
            return EXIT_ERROR
        print(f"wrote {what} to {path}")
    return EXIT_INTERRUPTED if history.interrupted else 0
