"""The guard against forgetting and vandalism.

Before the learner publishes a batch, every ``every`` learning steps (and at
once when a batch holds a label the original CNN finds implausible), the
result is scored on a fixed holdout (1,000 MNIST test digits shipped with the
weights). If it has fallen more than ``tolerance`` below its original on the
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

from dataclasses import dataclass, field

import numpy as np


@dataclass
class HoldoutGuard:
    X: np.ndarray
    y: np.ndarray
    every: int = 10
    tolerance: float = 0.01
    original_accuracy: dict[str, float] = field(default_factory=dict)

    def accuracy(self, model) -> float:
        return float(np.mean(model.predict_proba(self.X).argmax(axis=1) == self.y))
