"""What ``GET /api/stats`` and ``GET /api/models`` report: drawings given with consent per label, and each
online model's versions, steps, holdout history and rollbacks, read from the stores and cached for a moment."""

from __future__ import annotations

import time

from ..core.lineup import kind_of, original
from ..core.storage import DrawingStore, WeightStore
from .versions import FollowedModel

STATS_HISTORY = 500  # newest evaluations and rollbacks per model in /api/stats
STATS_VERSIONS = 1000  # versions read back for them (records are cached: read once)


class Stats:
    """:meth:`compute`, reused for ``ttl_s`` (each call lists the store and reads records).

    This worker's own writes clear the cache (:meth:`changed`), so a person sees
    their drawing counted at once; other workers' within ``ttl_s``.
    """

    def __init__(self, drawings: DrawingStore, weights: WeightStore, online: dict[str, FollowedModel],
                 original_accuracy: dict[str, float], n_classes: int, ttl_s: float = 2.0) -> None:
        self.drawings, self.weights, self.online = drawings, weights, online
        self.original_accuracy, self.n_classes, self.ttl_s = original_accuracy, n_classes, ttl_s
        self._cache: tuple[float, dict] | None = None

    def get(self) -> dict:
        now = time.monotonic()
        if self._cache is None or self._cache[0] <= now:
            self._cache = (now + self.ttl_s, self.compute())
        return self._cache[1]

    def changed(self) -> None:
        self._cache = None

    def compute(self) -> dict:
        counts = self.drawings.counts(self.n_classes, public=True)  # with consent
        online = {}
        for name, model in self.online.items():
            records = self.weights.history(name, since=model.version - STATS_VERSIONS) if model.version else []
            online[name] = {
                "version": model.version, "steps": model.steps,
                "original_accuracy": round(self.original_accuracy[original(kind_of(name))], 4),
                "history": [{"version": r.version, "step": r.steps, "holdout_accuracy": r.meta["holdout_accuracy"],
                             "time": r.created} for r in records
                            if r.meta.get("holdout_accuracy") is not None][-STATS_HISTORY:],
                "rollbacks": [{"from_version": r.version - 1, "to_version": r.meta.get("to", 0),
                               "new_version": r.version, "time": r.created}
                              for r in records if r.meta.get("reason") == "rollback"][-STATS_HISTORY:],
            }
        return {"counts": counts, "total": sum(counts), "online": online}
