"""What `Model.fit` returns: per-epoch records of the run."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch training record, one entry per completed epoch.

    `Model.fit` returns one; you do not make it yourself.

    Parameters
    ----------
    loss : list of float
        loss[e]: the mean training cost of epoch e (each batch measured before its
        update; with the L2 penalty; with dropout active).
    val_loss : list of float
        val_loss[e]: the mean cost on the validation data after epoch e (empty
        without validation data).
    accuracy : list of float
        accuracy[e]: the share of training samples classified correctly in epoch e
        (classifiers only).
    val_accuracy : list of float
        val_accuracy[e]: the validation accuracy after epoch e (classifiers with
        validation data only).
    lr : list of float
        lr[e]: the learning rate epoch e trained with.
    seconds : list of float
        seconds[e]: the wall time of epoch e's training.
    samples : int
        The number of training samples per epoch.
    best_epoch : int or None
        The epoch whose weights early stopping kept (None without early stopping).
    stopped_epoch : int or None
        The epoch after which early stopping or a callback stopped the run (None
        when it ran all its epochs).
    interrupted : bool
        True when Ctrl-C stopped the run early.

    Examples
    --------
    >>> from fastprop import History
    >>> h = History(loss=[0.9, 0.5], lr=[0.1, 0.1], samples=32)
    >>> h.epochs
    2
    >>> sorted(h.logs())
    ['loss', 'lr']
    """
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    samples: int = 0               # training samples per epoch
    best_epoch: int | None = None        # the epoch whose weights early stopping kept
    stopped_epoch: int | None = None     # the epoch after which early stopping or a callback stopped
    interrupted: bool = False      # True when Ctrl-C stopped the run early

    @property
    def epochs(self) -> int:
        """int: The number of completed epochs."""
        return len(self.loss)

    def logs(self) -> dict[str, list]:
        """The non-empty series by name, as callbacks and schedules see them.

        Returns
        -------
        dict
            {name: list of per-epoch values} for those of loss, val_loss, accuracy,
            val_accuracy, lr and seconds that hold any.

        Examples
        --------
        >>> from fastprop import History
        >>> History(loss=[1.0], val_loss=[1.2]).logs()
        {'loss': [1.0], 'val_loss': [1.2]}
        """
        names = ("loss", "val_loss", "accuracy", "val_accuracy", "lr", "seconds")
        return {k: getattr(self, k) for k in names if getattr(self, k)}
