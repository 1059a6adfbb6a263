"""Versioned online-model weights, stored the way git stores commits: one algorithm, any backend.

Layout under ``weights/<model>/`` of an :class:`~service.core.storage.base.ObjectStore`::

    objects/<sha256>.npz      weights, named by their content: immutable, written by anyone, any number of times
    versions/<v:08d>.json     the record of version v (a copy of what HEAD said), create-only
    HEAD                      the newest record; moved only by compare-and-swap

Why it is correct, in two sentences: a version exists once HEAD names it, and
HEAD moves only by a compare-and-swap from the record the publisher read, so two
publishers can never both make version v+1, and a publisher that dies at any
point leaves at most an unreferenced object or a spare copy of a record. Every
record names its weights by sha256 and they are written before the swap, so a
version HEAD names always has its weights (until pruning, which spares HEAD).

The record of version v is copied to ``versions/`` before any publish of v+1
swaps HEAD, so history is ``versions/1..v-1`` plus HEAD, with no gaps.

>>> import tempfile
>>> from service.core.storage.local import LocalObjects
>>> store = WeightStore(LocalObjects(tempfile.mkdtemp()))
>>> store.publish("fnn_online", b"weights", expected_version=0, meta={"reason": "learn"}).version
1
>>> store.current("fnn_online").version, store.load("fnn_online", 1)
(1, b'weights')
>>> [v.version for v in store.history("fnn_online")]
[1]
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from .base import (CorruptObject, NotFound, ObjectStore, StorageError, VersionConflict, WeightVersion, check_model,
                   dump_json, parse_json, parse_version, sha256_hex)
from .ids import utc_iso

log = logging.getLogger(__name__)

_OBJECT_RE = re.compile(r"\A([0-9a-f]{64})\.npz\Z")
_LEGACY_WEIGHTS_RE = re.compile(r"\A([0-9]{8})\.npz\Z")
GRACE_S = 3600.0  # an unreferenced object younger than this may belong to a publish under way


class WeightStore:
    """Publish, read and prune weight versions over any :class:`ObjectStore`.

    ``grace_s``: how old an object that no kept version names must be before
    pruning deletes it (a publisher writes its object before it swaps HEAD).
    """

    def __init__(self, objects: ObjectStore, *, grace_s: float = GRACE_S, cache_records: int = 20_000) -> None:
        self.objects = objects
        self.grace_s = grace_s
        self._records: OrderedDict[tuple[str, int], WeightVersion] = OrderedDict()  # immutable: cached
        self._cache_size = cache_records
        self._lock = threading.Lock()
        # HEAD as this instance last read or wrote it, and the newest record it copied to history: a
        # publisher that publishes again skips a GET of HEAD and a redundant copy (the swap still checks).
        self._heads: dict[str, tuple[WeightVersion, str]] = {}
        self._copied: dict[str, int] = {}

    @staticmethod
    def _name(model: str, leaf: str) -> str:
        return f"weights/{check_model(model)}/{leaf}"

    # --- reading --------------------------------------------------------------

    def _head(self, model: str) -> tuple[WeightVersion | None, str | None]:
        try:
            data, etag = self.objects.get_versioned(self._name(model, "HEAD"))
        except NotFound:
            return None, None
        head = parse_version(data, f"{model} HEAD")
        self._heads[model] = (head, etag)
        return head, etag

    def current(self, model: str) -> WeightVersion | None:
        """The newest version, or None before the first publish. One small read."""
        return self._head(model)[0]

    def version(self, model: str, version: int) -> WeightVersion:
        """The record of one published version (NotFound if there is none)."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise NotFound(f"{model} has no version {version!r}")
        with self._lock:
            cached = self._records.get((model, version))
        if cached is not None:
            return cached
        try:
            record = parse_version(self.objects.get(self._name(model, f"versions/{version:08d}.json")),
                                   f"{model} v{version}")
        except NotFound:
            head = self.current(model)
            if head is None or version > head.version:
                raise NotFound(f"{model} has no version {version} (newest is {head.version if head else 0})") \
                    from None
            if version != head.version:
                raise CorruptObject(f"{model} v{version}: record missing below HEAD v{head.version}") from None
            record = head
        self._remember(record)
        return record

    def _remember(self, record: WeightVersion) -> None:
        with self._lock:
            self._records[(record.model, record.version)] = record
            while len(self._records) > self._cache_size:
                self._records.popitem(last=False)

    def load(self, model: str, version: int) -> bytes:
        """The weights of a published version, checked against their sha256 (NotFound once pruned)."""
        record = self.version(model, version)
        data = self.objects.get(self._name(model, f"objects/{record.sha256}.npz"))
        if sha256_hex(data) != record.sha256:
            raise CorruptObject(f"{model} v{version}: sha256 mismatch")
        return data

    def history(self, model: str, since: int = 1) -> list[WeightVersion]:
        """Every version from ``since`` to the newest, oldest first, without gaps.

        Records not cached yet are read a few at a time (on S3, latency is the cost)."""
        head = self.current(model)
        if head is None:
            return []
        versions = range(max(since, 1), head.version)
        with self._lock:
            missing = [v for v in versions if (model, v) not in self._records]
        if len(missing) > 1:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda v: self.version(model, v), missing))
        return [self.version(model, v) for v in versions] + [head]

    # --- writing --------------------------------------------------------------

    def publish(self, model: str, data: bytes, expected_version: int, meta: dict) -> WeightVersion:
        """Make ``data`` version ``expected_version + 1``; VersionConflict if another publish came first."""
        if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
            raise ValueError(f"expected_version must be an int >= 0, got {expected_version!r}")
        data = bytes(data)
        sha = sha256_hex(data)
        # Always written (not put-if-absent): it refreshes the object's age, so pruning's grace
        # period protects an old object that a rollback names again.
        self.objects.put(self._name(model, f"objects/{sha}.npz"), data)
        head, etag = self._heads.get(model, (None, None))
        if head is None or head.version != expected_version:
            head, etag = self._head(model)
        at = head.version if head else 0
        if at != expected_version:
            raise VersionConflict(f"{model} is at version {at}, not {expected_version}")
        if head is not None and self._copied.get(model) != head.version:
            self._copy_to_history(head)
        record = WeightVersion(model, at + 1, sha, utc_iso(), dict(meta))
        body = dump_json(record.to_json())  # fails on non-JSON meta before anything is swapped
        try:
            self._heads[model] = (record, self.objects.put_if_match(self._name(model, "HEAD"), body, etag))
        except VersionConflict:
            self._heads.pop(model, None)
            raise
        self._copy_to_history(record)  # best effort: the next publish does it if we die here
        self._remember(record)
        return record

    def restore(self, model: str, version: int, original: bytes, why: str, *, by: str | None = None,
                meta: dict | None = None, attempts: int = 10) -> WeightVersion:
        """Publish the weights of ``version`` (0: ``original``) as the next version of ``model``: versions never
        go backwards, and a rollback is a version like any other.

        The new version carries the queue position and reconciliation mark of the
        HEAD it replaces, so the learner, whose next publish now conflicts, reloads
        it and reads on from there: nothing is skipped or learned twice. From the
        version restored it carries what the weights descend from (``base``: an
        online model's original; ``cutoff``: an original's crowd), ``meta`` adds
        to that. A swap lost to the learner publishing at the same moment is tried again.
        """
        data = original if version == 0 else self.load(model, version)
        descent = {} if version == 0 else {k: v for k, v in self.version(model, version).meta.items()
                                           if k in ("base", "cutoff")}
        for _ in range(attempts):
            head = self.current(model)
            at = head.version if head else 0
            if not 0 <= version <= at:
                raise NotFound(f"{model} has no version {version} (newest is {at})")
            carried = {k: head.meta.get(k) for k in ("position", "reconciled_to", "reviews_reconciled_to")} if head else {}
            record_meta = {"reason": "rollback", "to": version, "why": why, "steps": head.steps if head else 0,
                           "drawings": [], **carried, **descent, **(meta or {})}
            if by is not None:
                record_meta["by"] = by
            try:
                return self.publish(model, data, at, record_meta)
            except VersionConflict:
                continue
        raise StorageError(f"{model}: the learner kept publishing; try the rollback again")

    def _copy_to_history(self, record: WeightVersion) -> None:
        name = self._name(record.model, f"versions/{record.version:08d}.json")
        body = dump_json(record.to_json())
        if not self.objects.put_if_absent(name, body) and self.objects.get(name) != body:
            raise CorruptObject(f"{name} differs from the HEAD that named version {record.version}")
        self._copied[record.model] = record.version

    def prune(self, model: str, keep_last: int, keep: set[int] = frozenset()) -> int:
        """Delete weight objects no kept version names; returns how many.

        Kept: the newest ``keep_last`` versions (HEAD always), the versions in
        ``keep`` (rollback targets), and any object younger than the grace period.
        Records stay: they are small, and they are the ledger of what was learned.
        """
        head = self.current(model)
        if head is None:
            return 0
        wanted = {v for v in keep if 1 <= v <= head.version}
        wanted.update(range(max(1, head.version - max(keep_last, 1) + 1), head.version + 1))
        named = {self.version(model, v).sha256 for v in wanted}
        now = time.time()
        doomed = [name for name, modified in self.objects.list(self._name(model, "objects/"))
                  if (m := _OBJECT_RE.match(name.rsplit("/", 1)[-1])) and m.group(1) not in named
                  and now - modified > self.grace_s]
        self.objects.delete(doomed)
        return len(doomed)

    # --- migration ------------------------------------------------------------

    def migrate(self, model: str) -> int:
        """Bring a store written by Inkling before 2026-12 into this layout; returns the versions moved.

        The old layout numbered files (``<v:08d>.npz`` + ``.json``) beside a
        ``current.json`` pointer. Each version keeps its number, its sha256 and its
        meta; weights that were pruned stay pruned. Idempotent, and safe to run
        from several processes at once (the last step is HEAD's create-only swap).
        """
        if self.current(model) is not None:
            return 0
        try:
            pointer = parse_version(self.objects.get(self._name(model, "current.json")), f"{model} current.json")
        except NotFound:
            return 0
        checked = self._legacy_evaluations(model)
        for v in range(1, pointer.version + 1):
            record = pointer if v == pointer.version else parse_version(
                self.objects.get(self._name(model, f"{v:08d}.json")), f"{model} v{v} (old layout)")
            if v in checked:  # the guard's verdict now lives in the record it judged
                record = WeightVersion(model, v, record.sha256, record.created,
                                       {**record.meta, "holdout_accuracy": checked[v]})
            if v == pointer.version:
                pointer = record
            try:
                data = self.objects.get(self._name(model, f"{v:08d}.npz"))
            except NotFound:
                pass  # pruned in the old store: its record still belongs to the history
            else:
                if sha256_hex(data) == record.sha256:
                    self.objects.put(self._name(model, f"objects/{record.sha256}.npz"), data)
            self._copy_to_history(record)
        try:
            self.objects.put_if_match(self._name(model, "HEAD"), dump_json(pointer.to_json()), None)
        except VersionConflict:
            return 0  # another process migrated it meanwhile
        old = [name for name, _ in self.objects.list(self._name(model, ""))
               if _LEGACY_WEIGHTS_RE.match(name.rsplit("/", 1)[-1])]
        self.objects.delete(old)  # the weights now live under objects/; old records stay as they were
        log.info("%s: migrated %d versions to the content-addressed layout", model, pointer.version)
        return pointer.version

    def _legacy_evaluations(self, model: str) -> dict[int, float]:
        """Holdout accuracy by version, from the old layout's guard events."""
        checked = {}
        for name, _ in self.objects.list(self._name(model, "events/")):
            try:
                event = parse_json(self.objects.get(name), name)
            except (NotFound, CorruptObject):
                continue
            if event.get("kind") == "evaluation" and isinstance(event.get("version"), int):
                checked[event["version"]] = event.get("holdout_accuracy")
        return checked
