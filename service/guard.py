"""The guard against forgetting and vandalism.

Every ``every`` learning steps, an online model is scored on a fixed holdout
(1,000 MNIST test digits shipped with the weights). If it has fallen more than
``tolerance`` below its original on the same holdout, it is rolled back to
the newest version that passed a check (the original, version 0, always
has). Crowds mislabel: the seed project's collected data ended up ~10% wrong,
and one person can label every 1 a 7. A bounded drop is the price of learning
people's hands; an unbounded one is an attack or a bug.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .online import OnlineModel
from .storage.ids import utc_iso

log = logging.getLogger(__name__)


@dataclass
class HoldoutGuard:
    X: np.ndarray
    y: np.ndarray
    every: int = 10
    tolerance: float = 0.01
    original_accuracy: dict[str, float] = field(default_factory=dict)

    def accuracy(self, model) -> float:
        return float(np.mean(model.predict_proba(self.X).argmax(axis=1) == self.y))

    def due(self, steps: int) -> bool:
        return steps > 0 and steps % self.every == 0

    def check(self, online: OnlineModel, on_rollback=None) -> dict:
        """Score ``online``'s serving copy; roll back if it fell too far. Returns the events written."""
        version, steps = online.version, online.steps
        accuracy = self.accuracy(online.serving)
        floor = self.original_accuracy[online.name] - self.tolerance
        evaluation = {"kind": "evaluation", "version": version, "steps": steps, "time": utc_iso(),
                      "holdout_accuracy": round(accuracy, 4), "ok": accuracy >= floor}
        online.store.append_event(online.name, evaluation)
        if evaluation["ok"]:
            return {"evaluation": evaluation}
        good = self.last_good_version(online)
        log.warning("%s v%d scored %.4f on the holdout (floor %.4f): rolling back to v%d",
                    online.name, version, accuracy, floor, good)
        published = online.rollback(good, reason=f"holdout accuracy {accuracy:.4f} < {floor:.4f}")
        rollback = {"kind": "rollback", "from_version": version, "to_version": good,
                    "new_version": published.version, "holdout_accuracy": round(accuracy, 4), "time": utc_iso()}
        online.store.append_event(online.name, rollback)
        if on_rollback:
            on_rollback(online.name)
        return {"evaluation": evaluation, "rollback": rollback}

    def good_versions(self, online: OnlineModel) -> set[int]:
        """Every checked version a rollback could land on (see :meth:`last_good_version`)."""
        target = self.original_accuracy[online.name] - self.tolerance / 2
        return {e["version"] for e in online.store.events(online.name)
                if e.get("kind") == "evaluation" and e["holdout_accuracy"] >= target}

    def last_good_version(self, online: OnlineModel) -> int:
        """Newest checked version within *half* the tolerance of the original; 0 = the original.

        Rolling back to any version that merely passed would ratchet: a vandal's
        steps that each cost a little less than the tolerance would pass one by
        one, and every rollback would land at the floor. Half the tolerance is
        the hysteresis that stops that.
        """
        return max((v for v in self.good_versions(online) if v <= online.version), default=0)
