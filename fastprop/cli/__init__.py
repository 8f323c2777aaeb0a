"""The `fastprop` command line.

    fastprop train [DATA.csv|DATA.npz --target NAME | --dataset digits] [--layers 128,64]
                   [--optimizer adam] [--epochs 30] [--out model.npz] [--plot curves.png] ...
    fastprop predict model.npz DATA.csv|DATA.npz [--out predictions.csv] [--proba]
    fastprop bench [--workload W2] [--threads 1]
    fastprop warmup [--dtype both]

Each subcommand is a function `cmd_<name>(args) -> exit code` registered by an
`add_<name>_parser(subparsers)` function; `main` builds the parser and dispatches.
User mistakes (bad option values, missing or unreadable files, unknown columns, data
that does not fit the model) are reported as one line `fastprop: error: ...` on stderr
with exit code 2, never as a traceback.

`train --out` saves the model with fastprop.io and, beside it, what `predict` needs to
take raw data: the column encoding (see encode.py: fill values, x_mean and x_scale,
categories), the class labels, the regression target's scaling, and the feature and
target names.
"""
import sys

import fastprop as fp

from .bench import add_bench_parser
from .common import EXIT_INTERRUPTED, EXIT_USAGE, PROG, UsageError, _Parser
from .predict import add_predict_parser
from .train import add_train_parser
from .warmup import add_warmup_parser


# ---------------------------------------------------------------- entry point
def build_parser():
    """The top-level parser with one subparser per command."""
    parser = _Parser(prog=PROG, description="Multi-layer perceptrons trained by "
                                            "backpropagation in Numba-compiled kernels.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {fp.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_train_parser(subparsers)
    add_predict_parser(subparsers)
    add_bench_parser(subparsers)
    add_warmup_parser(subparsers)
    return parser


def main(argv=None):
    """Parse `argv` (default sys.argv[1:]), run the command, return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exit_:     # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
