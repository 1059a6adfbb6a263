"""The four models as a web worker serves them: each at the newest version published, followed.

A web worker never learns. It follows each model's HEAD in the weight store:
the online models' versions come from the learner, the originals' from
promotions (:mod:`service.core.promotions`) and rollbacks; version 0 of
either is the shipped weights. When a version is announced (Redis pub/sub, or
in-process), or at the latest every ``refresh_seconds``, a worker loads the
newest weights once into a new predictor and swaps it in (a single reference
assignment, atomic for readers). Versions it skipped are not loaded; the
online models' small records are read, since they say which drawings each
version learned.

:class:`VersionFollower` also answers "which version first learned drawing
X?" and lets a request wait for that version to be served.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone

import numpy as np

from models.base import Predictor

from ..core.storage import CorruptObject, NotFound, StorageError, WeightStore, WeightVersion
from ..core.storage.ids import drawing_id_time

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)
LEDGER_WALK_LIMIT = 5000  # records read back from HEAD to find an old drawing's version


class FollowedModel:
    """One model as served: the newest version of it published in the store (none yet: ``shipped``, v0)."""

    def __init__(self, name: str, shipped: Predictor, store: WeightStore):
        self.name, self.store = name, store
        self._shipped_bytes = shipped.to_bytes()
        self._cls = type(shipped)
        # What is served: one immutable pair, replaced by one assignment, so a reader that takes it
        # once predicts with the weights of exactly the version it reports. None: the shipped weights (v0).
        self.served: tuple[Predictor, WeightVersion | None] = (self._cls.from_bytes(self._shipped_bytes), None)
        self.unreadable = 0  # the newest version whose weights could not be read
        self._lock = threading.Lock()

    @property
    def serving(self) -> Predictor:
        return self.served[0]

    @property
    def record(self) -> WeightVersion | None:
        return self.served[1]

    @property
    def version(self) -> int:
        return self.record.version if self.record else 0

    @property
    def steps(self) -> int:
        return self.record.steps if self.record else 0

    @property
    def updated(self) -> str | None:
        return self.record.created if self.record else None

    def read(self, version: int) -> Predictor:
        """A predictor with the weights of ``version``, run once; CorruptObject if they cannot be read."""
        try:
            data = self.store.load(self.name, version)
        except CorruptObject:
            self.unreadable = max(self.unreadable, version)
            raise
        try:  # bytes that match their hash but are not this network's weights (tampering, a bug)
            predictor = self._cls.from_bytes(data)
            predictor.predict_proba(np.zeros((1, 28, 28), np.float32))
        except Exception as exc:
            self.unreadable = max(self.unreadable, version)
            raise CorruptObject(f"{self.name} v{version}: its weights cannot be read: {exc!r}") from None
        return predictor

    def weights_at(self, version: int) -> bytes:
        """The weights archive of ``version`` (0 = the shipped weights)."""
        return self._shipped_bytes if version == 0 else self.store.load(self.name, version)

    def refresh(self) -> list[WeightVersion]:
        """Serve the newest published version; returns the records passed since the last call, oldest first.

        A version whose weights cannot be read (CorruptObject) is skipped for good:
        the last good one stays served until a newer one is published.
        """
        with self._lock:
            head = self.store.current(self.name)
            if head is None or head.version <= max(self.version, self.unreadable):
                return []
            # A fresh predictor, run once, then swapped in by one assignment: requests in flight
            # finish on the old one, and none pays for the new one's first run.
            predictor = self.read(head.version)
            passed_from = max(self.version + 1, head.version - LEDGER_WALK_LIMIT)
            self.served = (predictor, head)
        return [self.store.version(self.name, v) for v in range(passed_from, head.version)] + [head]


class VersionFollower:
    """Keeps the served models at their newest versions, and knows which online version learned what.

    ``poke()`` (an announcement) or ``refresh_seconds`` passing triggers a refresh
    on the follower's thread; requests waiting for a drawing's version are woken
    once every online model serves a version that learned it.
    """

    def __init__(self, models: dict[str, FollowedModel], learning: tuple[str, ...], refresh_seconds: float = 2.0,
                 remember: int = 100_000):
        self.models, self.refresh_seconds = models, refresh_seconds
        self.online = {name: models[name] for name in learning}  # the models whose versions learn drawings
        self._learned: OrderedDict[str, dict[str, int]] = OrderedDict()  # drawing -> model -> first version
        self._remember = remember
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future]]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.on_version = None  # callback(model, version) after a version is served
        self.on_corrupt = None  # callback(model) when the newest version cannot be served

    def poke(self, *_) -> None:
        self._wake.set()

    def refresh(self) -> None:
        for name, model in self.models.items():
            try:
                passed = model.refresh()
            except (CorruptObject, NotFound) as exc:
                log.error("%s: cannot serve the newest version, still serving v%d: %s", name, model.version, exc)
                if self.on_corrupt:
                    self.on_corrupt(name)
                continue
            except StorageError as exc:
                log.debug("could not refresh %s: %s", name, exc)
                continue
            if name in self.online:
                for record in passed:
                    self._note(name, record)
            if passed and self.on_version:
                self.on_version(name, model.version)

    def _note(self, model: str, record: WeightVersion) -> None:
        with self._lock:
            for drawing_id in record.drawings:
                learned = self._learned.setdefault(drawing_id, {})
                learned.setdefault(model, record.version)
                if len(learned) == len(self.online):
                    for loop, future in self._waiters.pop(drawing_id, ()):
                        loop.call_soon_threadsafe(_resolve, future, dict(learned))
            while len(self._learned) > self._remember:
                self._learned.popitem(last=False)

    async def wait(self, drawing_id: str, timeout: float) -> dict[str, int] | None:
        """The versions that learned ``drawing_id``, once every online model serves them; None on timeout."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            learned = self._learned.get(drawing_id, {})
            if len(learned) == len(self.online):
                return dict(learned)
            self._waiters.setdefault(drawing_id, []).append((loop, future))
        self.poke()
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            with self._lock:
                waiting = self._waiters.get(drawing_id, [])
                if (loop, future) in waiting:
                    waiting.remove((loop, future))
                if not waiting:
                    self._waiters.pop(drawing_id, None)

    def learned(self, drawing_id: str) -> dict[str, int | None]:
        """Per online model, the first version that learned ``drawing_id`` (None: not yet)."""
        with self._lock:
            known = dict(self._learned.get(drawing_id, {}))
        return {name: known.get(name) or self._search(model, drawing_id) for name, model in self.online.items()}

    @staticmethod
    def _search(model: FollowedModel, drawing_id: str) -> int | None:
        """Walk the served model's records back from its version to before the drawing was made."""
        made = drawing_id_time(drawing_id) - CLOCK_SKEW
        found = None
        for version in range(model.version, max(0, model.version - LEDGER_WALK_LIMIT), -1):
            record = model.store.version(model.name, version)
            if drawing_id in record.drawings:
                found = version
            if datetime.strptime(record.created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc) < made:
                break
        return found

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.refresh_seconds)
            self._wake.clear()
            if not self._stop.is_set():
                try:
                    self.refresh()
                except Exception:  # the follower must outlive anything one refresh meets
                    log.exception("refreshing the served versions failed; trying again")

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="version-follower", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)
