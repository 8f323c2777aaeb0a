"""The one documented hook into fastprop's internals, for tests and for investigating
a run: which compiled walk a fit would take, and the size from which products use BLAS.
Nothing here trains or changes results but `set_blas_min`, which changes which path
(explicit loops or BLAS) computes each product, as a Net's blas_min does."""
from typing import NamedTuple, Optional

from .threads import resolve_threads
from .tiles import Tiles
from .training import choose_walk


class Walk(NamedTuple):
    trainer: str               # the compiled trainer's name (fastprop/kernels/)
    tiles: Optional[Tiles]     # the tile plan it walks (batch trainers), else None
    threads: int               # threads it runs on


def walk(model, n, batch_size, n_threads=None):
    """The walk model.fit would take on n samples in batches of batch_size with
    n_threads threads (None: every available core)."""
    trainer, tiles, threads = choose_walk(model._fit_state, model._net,
                                          min(batch_size, n), n,
                                          resolve_threads(n_threads))
    return Walk(trainer.py_func.__name__, tiles, threads)


def set_blas_min(model, blas_min):
    """Products of rows * n_in * n_out >= blas_min use BLAS, smaller explicit loops."""
    model._net = model._net._replace(blas_min=int(blas_min))


def plans(model, batch_size):
    """(cut, whole): the tile plan fit makes for batches of batch_size rows, and the
    same with every product whole; cut is None where the plan cuts nothing."""
    return model._fit_state.tiles(model._net, batch_size)


def set_chunk(model, batch_size, batches):
    """Make the model's next fit with this batch size start with compiled calls of
    `batches` batches each (fit then sizes them by time, config.CHUNK_SECONDS)."""
    model._fit_state.chunk_batches[int(batch_size)] = int(batches)


def arrays(model, X, y):
    """(X, Y) as fit hands them to the kernels: checked, in the model's dtype, Y 2-D
    (one-hot rows for cross_entropy's class indices)."""
    return model._data(X, y)
