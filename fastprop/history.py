"""What `Model.fit` returns: per-epoch records of the run."""
from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch training record. `loss[e]` is epoch e's mean training cost, measured
    on each batch before its update; `seconds[e]` its wall time."""
    loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    samples: int = 0            # training samples per epoch
    interrupted: bool = False   # True when Ctrl-C stopped the run early

    @property
    def epochs(self):
        return len(self.loss)
