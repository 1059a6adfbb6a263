"""An online model: serves from one copy, learns on a twin, persists every step.

Two copies of the network keep predictions consistent while a step runs:
the *serving* copy answers requests, the *training* copy takes the step and
is published; then the two swap (a single reference assignment, atomic for
readers) and the new training copy catches up. One lock per model makes
each model a single writer inside this process; across processes, the
weight store's compare-and-swap on the version pointer does the same job.
When another worker published first, we load its version and redo our step
on top of it, so no drawing's update is ever lost.

>>> from models import load_original                       # doctest: +SKIP
>>> online = OnlineModel("fnn_online", load_original("fnn"), store)  # doctest: +SKIP
>>> online.learn_one(X, y, meta={"drawing": "..."}).version  # doctest: +SKIP
1
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

import numpy as np

from models.base import DigitClassifier

from .storage import StorageUnavailable, VersionConflict, WeightPointer, WeightStore

log = logging.getLogger(__name__)

# How long one step keeps retrying when its version is taken. Rivals in a race resolve in
# milliseconds; what lasts longer is a dead publisher's leftover, which the store only
# takes over after a minute. A step gives up after this, and while the model stays stuck
# later steps try once rather than make every queued drawing wait out the same seconds.
PUBLISH_PATIENCE_S = 5.0


@dataclass(frozen=True)
class Published:
    version: int
    steps: int


class OnlineModel:
    """A versioned, persisted copy of an original model that learns one batch at a time."""

    def __init__(self, name: str, original: DigitClassifier, store: WeightStore, online_lr: float | None = None):
        self.name = name
        self.store = store
        self._original_bytes = original.to_bytes()
        self._cls = type(original)
        self.serving = self._cls.from_bytes(self._original_bytes)
        self._training = self._cls.from_bytes(self._original_bytes)
        if online_lr is not None:  # the service's setting, else the rate the weights file carries
            self.serving.online_lr = self._training.online_lr = online_lr
        self.version = 0  # 0 is the original itself; published versions start at 1
        self.steps = 0
        self.updated: str | None = None
        self._lock = threading.Lock()
        self._stuck_until = 0.0  # monotonic time until which steps try to publish only once

    # --- reading ------------------------------------------------------------

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.serving.predict_proba(X)

    def weights_at(self, version: int) -> bytes:
        """The weights archive of ``version`` (0 = the original)."""
        return self._original_bytes if version == 0 else self.store.load(self.name, version)

    # --- moving between versions ----------------------------------------------

    def sync(self) -> bool:
        """Adopt a newer version published by another worker; True if one was adopted."""
        with self._lock:
            return self._sync_locked(self.store.current(self.name))

    def _sync_locked(self, pointer: WeightPointer | None) -> bool:
        if pointer is None or pointer.version <= self.version:
            return False
        self._training.set_weights(self._cls.read_weights(self.store.load(self.name, pointer.version)))
        self._adopt(pointer)
        return True

    def _adopt(self, pointer: WeightPointer) -> None:
        """Make the training copy the serving one and bring the new training copy level."""
        self.serving, self._training = self._training, self.serving
        self._training.set_weights(self.serving.get_weights())
        self.version = pointer.version
        self.steps = int(pointer.meta.get("steps", self.steps))
        self.updated = pointer.created

    def _publish_locked(self, data_for, meta: dict, counts_as_step: bool) -> Published:
        """Publish what ``data_for()`` produces on top of the newest version, retrying on conflicts.

        ``data_for()`` is called after the training copy is level with the
        store's newest version and must return the bytes to publish.
        """
        patience = 0.0 if time.monotonic() < self._stuck_until else PUBLISH_PATIENCE_S
        deadline = time.monotonic() + patience
        attempt = 0
        while True:
            self._sync_locked(self.store.current(self.name))
            steps = self.steps + int(counts_as_step)
            data = data_for()
            try:
                pointer = self.store.publish(self.name, data, self.version, {**meta, "steps": steps})
            except VersionConflict:
                self._training.set_weights(self.serving.get_weights())
                if time.monotonic() >= deadline:
                    self._stuck_until = time.monotonic() + PUBLISH_PATIENCE_S
                    raise StorageUnavailable(f"{self.name}: version {self.version + 1} stayed taken for "
                                             f"{patience:.0f} s (a publisher died midway?)") from None
                log.info("%s: version %d was taken by another worker; redoing the step", self.name, self.version + 1)
                attempt += 1
                # Random back-off breaks the tie between workers that keep colliding.
                time.sleep(random.uniform(0, min(0.01 * attempt, 0.2)))
                continue
            except Exception:
                self._training.set_weights(self.serving.get_weights())  # nothing changed after all
                raise
            self._stuck_until = 0.0
            self._adopt(pointer)
            return Published(pointer.version, steps)

    def learn_one(self, X: np.ndarray, y: np.ndarray, meta: dict | None = None) -> Published:
        """One ``partial_fit`` step on ``X, y``, published as the next version."""

        def stepped() -> bytes:
            self._training.partial_fit(X, y)
            return self._training.to_bytes()

        with self._lock:
            return self._publish_locked(stepped, {"reason": "learn", **(meta or {})}, counts_as_step=True)

    def rollback(self, to_version: int, reason: str) -> Published:
        """Publish the weights of ``to_version`` as a new version (versions never go backwards)."""
        if not 0 <= to_version <= max(self.version, self._newest_published()):
            raise ValueError(f"{self.name} has no version {to_version} (newest is {self.version})")
        weights = self._cls.read_weights(self.weights_at(to_version))

        def restored() -> bytes:
            self._training.set_weights(weights)
            return self._training.to_bytes()

        with self._lock:
            return self._publish_locked(restored, {"reason": "rollback", "to": to_version, "why": reason},
                                        counts_as_step=False)

    def _newest_published(self) -> int:
        pointer = self.store.current(self.name)
        return pointer.version if pointer else 0

    def warm_up(self, X: np.ndarray, y: np.ndarray) -> None:
        """Trace the compiled predict and step functions of both copies, changing nothing."""
        with self._lock:
            for model in (self.serving, self._training):
                model.predict_proba(X)
                saved = model.get_weights()
                model.partial_fit(X, y)
                model.set_weights(saved)
