"""The guard against forgetting and vandalism.

Before the learner publishes a batch, every ``every`` learning steps (but at
most once per ``min_seconds``, since one pass over the holdout costs the CPU of
about seven learning steps), and always when a batch holds a label the
original CNN finds implausible, the result is scored on a fixed holdout (the
alphabet's sample: 1,000 MNIST test digits for the digits). If it has fallen
more than ``tolerance`` below its original on the
same holdout, the batch is published as a rollback instead: the weights of
the newest version that scored within *half* the tolerance (the original,
version 0, always has). Crowds mislabel: the seed project's collected data
ended up ~10% wrong, and one person can label every 1 a 7. A bounded drop is
the price of learning people's hands; an unbounded one is an attack or a bug.

Why half the tolerance: rolling back to any version that merely passed would
ratchet. A vandal's batches that each cost a little less than the tolerance
would pass one by one, and every rollback would land at the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.base import accuracy


@dataclass
class HoldoutGuard:
    X: np.ndarray
    y: np.ndarray
    every: int = 10
    tolerance: float = 0.01
    min_seconds: float = 1.0

    def accuracy(self, model) -> float:
        """Share of the holdout ``model`` gets right."""
        return accuracy(model, self.X, self.y)

    def due(self, steps_since: int, seconds_since: float, suspicious: bool) -> bool:
        """Whether to check a batch, given the steps and seconds since the model's last check.

        >>> guard = HoldoutGuard(np.zeros((1, 28, 28)), np.zeros(1), every=10, min_seconds=1.0)
        >>> guard.due(12, 5.0, False), guard.due(12, 0.2, False), guard.due(3, 0.2, True)
        (True, False, True)
        """
        return suspicious or (steps_since >= self.every and seconds_since >= self.min_seconds)
