"""What `Model.fit` returns: per-epoch records of the run."""
from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch training record, one entry per completed epoch.

    loss[e]      mean training cost of epoch e (each batch measured before its update;
                 with the L2 penalty; with dropout active)
    val_loss[e]  mean cost on the validation data after epoch e (when there is any)
    accuracy[e], val_accuracy[e]   for classifiers (cross-entropy losses)
    lr[e]        the learning rate epoch e trained with
    seconds[e]   wall time of epoch e's training
    """
    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    samples: int = 0               # training samples per epoch
    best_epoch: int = None         # the epoch whose weights early stopping kept
    stopped_epoch: int = None      # the epoch after which early stopping or a callback stopped
    interrupted: bool = False      # True when Ctrl-C stopped the run early

    @property
    def epochs(self):
        return len(self.loss)

    def logs(self):
        """The non-empty series by name (what callbacks and schedules see)."""
        names = ("loss", "val_loss", "accuracy", "val_accuracy", "lr", "seconds")
        return {k: getattr(self, k) for k in names if getattr(self, k)}
