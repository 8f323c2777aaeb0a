"""The one documented hook into fastprop's internals, for tests and for investigating
a run: which compiled walk a fit would take, and the size from which products use BLAS.
Nothing here trains or changes results but `set_blas_min`, which changes which path
(explicit loops or BLAS) computes each product, as a Net's blas_min does."""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
from numpy.typing import ArrayLike

from .threads import resolve_threads
from .tiles import Tiles
from .model import Model
from .training import choose_walk


class Walk(NamedTuple):
    """Which compiled walk a fit takes, as `walk` reports it.

    Parameters
    ----------
    trainer : str
        The compiled trainer's name (in fastprop/kernels/).
    tiles : Tiles or None
        The tile plan it walks (batch trainers), else None.
    threads : int
        The threads it runs on.
    """
    trainer: str               # the compiled trainer's name (fastprop/kernels/)
    tiles: Optional[Tiles]     # the tile plan it walks (batch trainers), else None
    threads: int               # threads it runs on


def walk(model: Model, n: int, batch_size: int, n_threads: int | None = None) -> Walk:
    """The walk ``model.fit`` would take.

    Parameters
    ----------
    model : Model
        The model.
    n : int
        The number of training samples.
    batch_size : int
        The batch size.
    n_threads : int or None, default None
        The threads; None means every available core.

    Returns
    -------
    Walk
        The trainer's name, its tile plan and its thread count.
    """
    trainer, tiles, threads = choose_walk(model._fit_state, model._net,
                                          min(batch_size, n), n,
                                          resolve_threads(n_threads))
    return Walk(trainer.py_func.__name__, tiles, threads)


def set_blas_min(model: Model, blas_min: int) -> None:
    """Choose from which size products use BLAS.

    Products of rows * n_in * n_out >= blas_min use BLAS, smaller ones explicit loops.
    Take ``model.net`` again afterwards.

    Parameters
    ----------
    model : Model
        The model.
    blas_min : int
        The smallest product size that uses BLAS.
    """
    model._net = model._net._replace(blas_min=int(blas_min))


def plans(model: Model, batch_size: int) -> tuple[Optional[Tiles], Tiles]:
    """The tile plans fit makes for batches of `batch_size` rows.

    Parameters
    ----------
    model : Model
        The model.
    batch_size : int
        The batch size.

    Returns
    -------
    cut : Tiles or None
        The plan fit uses; None where it cuts nothing.
    whole : Tiles
        The same plan with every product whole.
    """
    return model._fit_state.tiles(model._net, batch_size)


def set_chunk(model: Model, batch_size: int, batches: int) -> None:
    """Set how many batches the first compiled call of the next fit runs.

    The model's next fit with this batch size starts with compiled calls of
    `batches` batches each; fit then sizes them by time (about 0.2 s of work each).

    Parameters
    ----------
    model : Model
        The model.
    batch_size : int
        The batch size the setting applies to.
    batches : int
        Batches per compiled call.
    """
    model._fit_state.chunk_batches[int(batch_size)] = int(batches)


def arrays(model: Model, X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The data as fit hands it to the kernels.

    Parameters
    ----------
    model : Model
        The model.
    X : array_like, shape (n_samples, n_in)
        Inputs.
    y : array_like
        Targets, as `Model.fit` takes them.

    Returns
    -------
    X : numpy.ndarray, shape (n_samples, n_in)
        Checked, in the model's dtype.
    Y : numpy.ndarray, shape (n_samples, n_out)
        Checked, in the model's dtype, 2-D (one-hot rows for cross_entropy's class
        indices).

    Raises
    ------
    ValueError
        If X or y is refused.
    """
    return model._data(X, y)
