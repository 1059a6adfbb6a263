"""The learner: the one process of a deployment that learns.

queue -> augment + replay -> one step per drawing -> one version per batch -> every worker.

It reads lessons in queue order, takes exactly one SGD step per drawing for
each online model, and when drawings are waiting publishes one weight version
per batch (group commit: a batch ends at ``batch_max`` drawings or after
``batch_seconds`` of stepping), so throughput is bound by the steps, not by
storage round trips. The guard checks a batch's result on the holdout before
it is published, so a backlog can never starve it.

Exactly once: each version records the drawings it learned and the queue
position it consumed through. A learner starts from the position in HEAD and
skips drawings a version already holds; if its publish loses the
compare-and-swap (a second learner started by mistake, an admin rollback) it
drops its unpublished steps, reloads HEAD and reads on from there. The queue
is trimmed only through positions a published version holds.

Reconciliation: drawings stored while the queue was unreachable (or held by
an in-process queue that died) are found in the drawing store, on start and
every ``reconcile_seconds``, and enqueued again; duplicates are skipped.

Reviews (:mod:`service.core.curation`) are lessons too, named by the review's
id: one step when the review says so (a quarantined drawing accepted, a
relabelled one), recorded like a drawing's; a review without a step (a
discard) is recorded in the version's ``applied``. Either way the learner
makes replay and the writer's memory follow it (both idempotent), and finds
reviews the queue lost by reconciliation, as it finds drawings. Quarantined
drawings are never enqueued, and reconciliation leaves them alone.

Rebase: each online model learns on top of its original as served. When an
original gets a new version (a promotion, :mod:`service.core.promotions`, or a
rollback), the learner restarts the online twin from it and steps again, once
each, through the drawings its lineage learned that were stored after the new
original's crowd cut-off (the original was trained on those before it): one
version, ``reason: rebase``, naming its ``base`` and listing them as
``replayed`` (not as ``drawings``: each drawing is in exactly one version's
``drawings``, the one that first learned it from the queue). The guard's
baseline moves to the new original. Until that version is published, every
worker serves the previous one.

Run it as ``python -m service.learner`` (scale-out), or let the embedded
default run it on a thread beside the web role (:mod:`service.learn.build` builds it either way).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from models.alphabets import Alphabet
from models.augment import augment
from models.base import DigitClassifier, Predictor

from ..core.curation import ReviewStore, lesson_for, state_of
from ..core.lineup import online, original
from ..core.queue import LearnQueue, Lesson, QueueUnavailable
from ..core.storage import (CorruptObject, DrawingStore, NotFound, StorageError, VersionConflict, WeightStore,
                            WeightVersion)
from ..core.storage.ids import drawing_id_time, drawing_id_time_prefix
from ..core.writers import WriterMemories
from .guard import HoldoutGuard
from .replay import ReplayBuffer

log = logging.getLogger(__name__)

# A label the original CNN gives under 1% is a vandal's or a rare honest correction:
# either way the guard checks the batch that learned it before it is published.
SUSPICIOUS_BELOW = 0.01
# How far apart two hosts' clocks may be (drawing ids carry the web worker's, records the learner's).
CLOCK_SKEW = timedelta(minutes=5)
GOOD_VERSIONS_KEPT = 5  # rollback targets kept besides the newest versions
REBASE_REPLAY_MAX = 5000  # newest drawings a rebase steps through again (each is a learning step)
REBASE_VERSIONS_MAX = 10_000  # versions of the ledger read back for them


@dataclass
class Track:
    """One online model as the learner holds it: the training copy and what it has consumed."""

    name: str
    kind: str
    model: DigitClassifier
    original_bytes: bytes  # the weights of the original version it learns on top of (``base``)
    baseline: float  # their accuracy on the guard's holdout
    base: int = 0  # the version of its original it learns on top of (0: the shipped weights)
    head: WeightVersion | None = None
    through: str | None = None  # queue position consumed through, published or not
    learned: set[str] = field(default_factory=set)  # lessons in recent versions (and in `pending`, `applied`)
    pending: list[str] = field(default_factory=list)  # stepped, not yet published
    applied: list[str] = field(default_factory=list)  # reviews carried out without a step, not yet published
    steps: int = 0
    suspicious: bool = False
    good: list[int] = field(default_factory=list)  # versions that passed within half the tolerance
    checked_steps: int = 0  # steps at the guard's last check
    checked_at: float = float("-inf")  # time.monotonic() of it
    stale: bool = False  # a publish failed: reload HEAD before stepping again

    @property
    def version(self) -> int:
        return self.head.version if self.head else 0


class Learner:
    def __init__(self, originals: dict[str, DigitClassifier], store: WeightStore, drawings: DrawingStore,
                 queue: LearnQueue, replay: ReplayBuffer, guard: HoldoutGuard, *, alphabet: Alphabet,
                 tuning: dict[str, dict], batch_max: int = 32, batch_seconds: float = 1.0, keep_versions: int = 50,
                 prune_every: int = 10, reconcile_seconds: float = 60.0, metrics=None,
                 reviews: ReviewStore | None = None, memories: WriterMemories | None = None,
                 embedder: Predictor | None = None) -> None:
        self.store, self.drawings, self.queue, self.replay, self.guard = store, drawings, queue, replay, guard
        self.batch_max, self.batch_seconds = batch_max, batch_seconds
        self.keep_versions, self.prune_every, self.reconcile_seconds = keep_versions, prune_every, reconcile_seconds
        self.box = alphabet.box  # a drawing's variants are fitted as the alphabet's drawings are
        self.metrics = metrics
        # Reviews: found by reconciliation in ``reviews``; writers' memories follow them, and a drawing that
        # joins one gets its embedding from ``embedder`` (the original CNN's serving twin).
        self.reviews, self.memories, self.embedder = reviews, memories, embedder
        self.review_watermark: str | None = None
        self._judge = originals["cnn"]  # finds implausible labels (the shipped CNN, fixed)
        self._shipped = {kind: model.to_bytes() for kind, model in originals.items()}
        self._bases: dict[tuple[str, int], tuple[bytes, float]] = {}  # (kind, version) -> weights, holdout accuracy
        self.tracks = {}
        for kind, shipped in originals.items():
            data = self._shipped[kind]
            model = type(shipped).from_bytes(data)
            for knob, value in tuning[kind].items():  # online_lr, and the CNN's step_dtype
                setattr(model, knob, value)
            self._bases[(kind, 0)] = (data, guard.accuracy(shipped))
            self.tracks[online(kind)] = Track(online(kind), kind, model, data, self._bases[(kind, 0)][1])
        self.originals_every_s = 2.0  # how often the originals' HEADs are read (a promotion rebases)
        self._next_originals = 0.0
        self.watermark: str | None = None  # drawings up to here were reconciled
        self._examined: set[str] = set()  # reconciled drawings that needed nothing (or were enqueued)
        self._next_reconcile = 0.0
        self._stop = threading.Event()
        self._augmenting = ThreadPoolExecutor(1, "augment")
        self._thread: threading.Thread | None = None

    # --- state ----------------------------------------------------------------

    def start(self) -> None:
        """Migrate an old store, load every model's HEAD and recent ledger, rebase on the originals served,
        and reconcile once."""
        for name in self.tracks:
            self.store.migrate(name)
        # The reconciliation mark first: it bounds how far back _load reads the ledger.
        heads = [self.store.current(name) for name in self.tracks]
        marks = [head.meta.get("reconciled_to") if head else None for head in heads]
        self.watermark = None if None in marks else min(marks)
        marks = [head.meta.get("reviews_reconciled_to") if head else None for head in heads]
        self.review_watermark = None if None in marks else min(marks)
        for track in self.tracks.values():
            self._load(track)
        self.follow_originals()  # an original promoted while no learner ran: rebase before learning on
        self.reconcile()

    def warm_up(self, X: np.ndarray, y: np.ndarray) -> None:
        """Trace each training copy's compiled step and predict functions, changing nothing."""
        for track in self.tracks.values():
            saved = track.model.get_weights()
            track.model.partial_fit(X, y)
            track.model.set_weights(saved)
            track.model.predict_proba(X)
        self._judge.predict_proba(X[:1])

    def _load(self, track: Track) -> None:
        """Reset ``track`` to its model's HEAD: weights, position, steps and the drawings recent versions hold."""
        head = self.store.current(track.name)
        known = track.version
        track.pending, track.applied, track.suspicious, track.stale = [], [], False, False
        self._set_base(track, head.meta.get("base", 0) if head else 0)
        if head is None:
            track.head, track.through, track.steps = None, None, 0
            track.model.set_weights(type(track.model).read_weights(track.original_bytes))
            return
        track.model.set_weights(self._readable_weights(track, head.version))
        horizon = self._ledger_horizon()
        records = [head]
        v = head.version - 1
        while v > known and v >= 1:  # newest first, until before the horizon (at least the last 200)
            record = self.store.version(track.name, v)
            if (horizon and record.created < horizon and head.version - v > 200) or head.version - v > 10_000:
                break
            records.append(record)
            v -= 1
        for record in records:
            track.learned.update(record.drawings)
            track.learned.update(record.applied)
        target = track.baseline - self.guard.tolerance / 2
        on_base = [r for r in records if r.meta.get("base", 0) == track.base]  # rollback targets: on this base only
        track.good = sorted(set(track.good) | {r.version for r in on_base
                                               if r.meta.get("holdout_accuracy", -1) >= target})[-GOOD_VERSIONS_KEPT:]
        track.head, track.through, track.steps = head, head.meta.get("position"), head.steps
        track.checked_steps = max((r.steps for r in records if "holdout_accuracy" in r.meta), default=0)

    def _set_base(self, track: Track, version: int) -> None:
        """Make ``version`` of the track's original what it learns on top of: the weights a guard's rollback
        may fall back to, and the baseline it is held to. Rollback targets on another base are forgotten."""
        if version == track.base and (track.kind, version) in self._bases:
            return
        if (track.kind, version) not in self._bases:
            data = self._shipped[track.kind] if version == 0 else self.store.load(original(track.kind), version)
            probe = type(track.model).from_bytes(data)
            self._bases[(track.kind, version)] = (data, self.guard.accuracy(probe))
        track.original_bytes, track.baseline = self._bases[(track.kind, version)]
        track.base, track.good = version, []

    def _readable_weights(self, track: Track, version: int) -> list[np.ndarray]:
        """The weights of ``version``, or of the newest older version that can be read (the original last).

        A HEAD whose weights match their hash but are not this network's (tampering,
        a bug) must not stop learning: the learner steps on from the last readable
        weights and publishes on top of it; the ledger stays as the records say.
        """
        for v in range(version, max(0, version - 50), -1):
            try:
                data = self.store.load(track.name, v)
            except NotFound:  # pruned
                continue
            except CorruptObject as exc:
                why = exc
            else:
                saved = track.model.get_weights()
                try:
                    weights = type(track.model).read_weights(data)
                    track.model.set_weights(weights)  # checks the shapes
                    return weights
                except Exception as exc:  # any failure to read stored bytes means the same
                    why = exc
                finally:
                    track.model.set_weights(saved)
            log.error("%s v%d: weights cannot be read (%r); trying the version before", track.name, v, why)
            if self.metrics:
                self.metrics.corrupt_versions.labels(track.name).inc()
        return type(track.model).read_weights(track.original_bytes)

    def _ledger_horizon(self) -> str | None:
        """Records older than this hold no drawing or review reconciliation could still ask about (ISO time)."""
        if self.watermark is None or (self.reviews is not None and self.review_watermark is None):
            return None
        marks = [self.watermark] + ([self.review_watermark[1:]] if self.reviews is not None else [])
        since = drawing_id_time(min(marks)) - timedelta(seconds=self.reconcile_seconds) - CLOCK_SKEW
        return since.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # --- the loop ---------------------------------------------------------------

    def run_once(self, block_s: float = 0.5) -> int:
        """Learn one batch (waiting up to ``block_s`` for the first drawing); returns the drawings consumed."""
        for track in self.tracks.values():
            if track.stale:
                self._load(track)
        if time.monotonic() >= self._next_originals:
            self.follow_originals()
        if time.monotonic() >= self._next_reconcile:
            self.reconcile()
        after = min((t.through for t in self.tracks.values()), key=self.queue.order)
        lessons = self.queue.read(after, self.batch_max, block_s)
        if not lessons:
            return 0
        started = time.monotonic()
        images = np.stack([np.frombuffer(lesson.input28, np.uint8).reshape(28, 28) for lesson in lessons])
        images = images.astype(np.float32) / 255
        labels = [0 if lesson.label is None else lesson.label for lesson in lessons]
        plausibility = self._judge.predict_proba(images)[np.arange(len(lessons)), labels]
        # The next drawings' variants are made on a thread while this one's step runs: a third of
        # a drawing's time was augmentation, and the step leaves the interpreter free.
        variants = self._augmenting.map(functools.partial(augment, box=self.box), images)
        consumed = 0
        for lesson, x28, x24, p in zip(lessons, images, variants, plausibility):  # (p of a step-less review: unused)
            self._learn(lesson, x28, x24, suspicious=float(p) < SUSPICIOUS_BELOW)
            consumed += 1
            if time.monotonic() - started >= self.batch_seconds:
                break
        variants.close()  # the rest are not made
        for track in self.tracks.values():
            self._commit(track)
        self._trim()
        if self.metrics:
            self.metrics.batch_size.observe(consumed)
        return consumed

    def _learn(self, lesson: Lesson, x28: np.ndarray, variants: np.ndarray, suspicious: bool) -> None:
        """Carry out ``lesson`` for each model that has not yet: one step (``variants``: its 24 augmentations)
        unless it is a review without one; then replay and the writer's memory follow a review."""
        order = self.queue.order(lesson.position)
        fresh = [t for t in self.tracks.values()
                 if order > self.queue.order(t.through) and lesson.lesson_id not in t.learned]
        if fresh and lesson.label is not None:
            X, y = self.replay.batch(variants, lesson.label)
            for track in fresh:
                track.model.partial_fit(X, y)
                track.pending.append(lesson.lesson_id)
                track.learned.add(lesson.lesson_id)
                track.steps += 1
                track.suspicious |= suspicious
                if self.metrics:
                    self.metrics.learn_steps.labels(track.name).inc()
        elif fresh:
            for track in fresh:
                track.applied.append(lesson.lesson_id)
                track.learned.add(lesson.lesson_id)
        if fresh:
            if lesson.review is None:
                self.replay.add(x28, lesson.label, lesson.drawing_id)
            else:
                self._follow(lesson, x28)
        for track in self.tracks.values():
            if order > self.queue.order(track.through):
                track.through = lesson.position

    # --- rebase ---------------------------------------------------------------------

    def follow_originals(self) -> None:
        """Rebase each online model whose original has a version other than the one it learns on top of."""
        self._next_originals = time.monotonic() + self.originals_every_s
        for track in self.tracks.values():
            head = self.store.current(original(track.kind))
            if (head.version if head else 0) != track.base:
                self._rebase(track, head)

    def _rebase(self, track: Track, base: WeightVersion | None) -> None:
        """Restart ``track`` from ``base`` (None: the shipped weights), step again through what its lineage
        learned from the crowd after the base's cut-off, and publish that as one version."""
        version, cutoff = (base.version, base.meta.get("cutoff")) if base else (0, None)
        parent = track.version
        replayed, skipped = self._drawings_to_replay(track, cutoff)
        log.info("%s: rebasing v%d on %s v%d, stepping again through %d drawings learned since its cut-off %s",
                 track.name, parent, original(track.kind), version, len(replayed), cutoff)
        self._set_base(track, version)
        track.model.set_weights(type(track.model).read_weights(track.original_bytes))
        for drawing_id, x28, label in replayed:
            X, y = self.replay.batch(augment(x28, box=self.box), label)
            track.model.partial_fit(X, y)
            track.steps += 1
        accuracy = self.guard.accuracy(track.model)
        meta = {"reason": "rebase", "base": version, "parent": parent, "cutoff": cutoff, "steps": track.steps,
                "drawings": [], "replayed": [d for d, _, _ in replayed], "not_replayed": skipped,
                "position": track.through, "reconciled_to": self.watermark}
        if self.reviews is not None:
            meta["reviews_reconciled_to"] = self.review_watermark
        if accuracy < track.baseline - self.guard.tolerance:  # what it learned again does not hold on this base
            log.warning("%s: stepping again through the crowd scored %.4f on the holdout; publishing %s v%d alone",
                        track.name, accuracy, original(track.kind), version)
            track.model.set_weights(type(track.model).read_weights(track.original_bytes))
            meta.update(replayed=[], rejected_accuracy=round(accuracy, 4), not_replayed=skipped + len(replayed))
            accuracy = track.baseline
        meta["holdout_accuracy"] = round(accuracy, 4)
        try:
            record = self.store.publish(track.name, track.model.to_bytes(), parent, meta)
        except VersionConflict:  # a rollback of the online model meanwhile: read it, and look again next time
            self._load(track)
            return
        except StorageError as exc:
            log.warning("%s: could not publish the rebase (%s); trying again", track.name, exc)
            track.stale = True
            return
        track.head, track.good, track.checked_steps, track.checked_at = record, [record.version], track.steps, \
            time.monotonic()
        track.learned.update(record.meta["replayed"])
        self.queue.announce(track.name, record.version)
        if self.metrics:
            self.metrics.version.labels(track.name).set(record.version)

    def _drawings_to_replay(self, track: Track, cutoff: str | None) -> tuple[list[tuple[str, np.ndarray, int]], int]:
        """The drawings the lineage of ``track`` learned (or stepped through again) that were stored after
        ``cutoff`` (None: all), as their reviews leave them, oldest first, at most REBASE_REPLAY_MAX of the
        newest; and how many were left out for that bound."""
        since = None if cutoff is None else datetime.strptime(cutoff, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc)
        ids: set[str] = set()
        head = track.version
        for v in range(head, max(0, head - REBASE_VERSIONS_MAX), -1):
            record = self.store.version(track.name, v)
            ids.update(record.drawings)
            ids.update(record.meta.get("replayed", ()))
            if since is not None and datetime.strptime(record.created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=timezone.utc) < since - CLOCK_SKEW:
                break
        wanted = sorted(i for i in ids if not i.startswith("r") and (since is None or drawing_id_time(i) > since))
        skipped = max(0, len(wanted) - REBASE_REPLAY_MAX)
        if self.reviews is not None:
            self.reviews.refresh()
        out = []
        for drawing_id in wanted[skipped:]:
            try:
                record = self.drawings.get(drawing_id)
            except (NotFound, CorruptObject):
                continue
            state = state_of(record, self.reviews.of(drawing_id)) if self.reviews is not None else None
            if record.train and (state is None or state.learnable):
                label = state.label if state is not None else record.label
                out.append((drawing_id, np.frombuffer(record.input28, np.uint8).reshape(28, 28) / np.float32(255),
                            label))
        return out, skipped

    def _follow(self, review: Lesson, x28: np.ndarray) -> None:
        """Replay and the writer's memory hold the drawing as the review leaves it (idempotent, so a batch
        learned again after a failed publish changes nothing more)."""
        self.replay.hold(review.drawing_id, x28, review.holds)
        if self.memories is not None and review.alias:
            embedding = None
            if review.holds is not None and self.embedder is not None:
                embedding = self.embedder.predict_and_embed(x28[None])[1][0]
            try:
                self.memories.apply_review(review.alias, review.drawing_id, review.holds, embedding, review.verdict)
            except StorageError as exc:  # the next review of theirs, or reconciliation, puts it right
                log.warning("review %s: the writer's memory could not follow it: %s", review.review, exc)

    def _commit(self, track: Track) -> None:
        """Publish what ``track`` learned since its HEAD as one version, checked by the guard first."""
        if not track.pending and not track.applied:
            return
        meta = {"reason": "learn", "steps": track.steps, "drawings": track.pending, "position": track.through,
                "reconciled_to": self.watermark, "base": track.base}
        if self.reviews is not None:
            meta["reviews_reconciled_to"] = self.review_watermark
        if track.applied:
            meta["applied"] = track.applied
        if self.guard.due(track.steps - track.checked_steps, time.monotonic() - track.checked_at, track.suspicious):
            meta.update(self._check(track))
            track.checked_steps, track.checked_at = track.steps, time.monotonic()
        try:
            record = self.store.publish(track.name, track.model.to_bytes(), track.version, meta)
        except VersionConflict:
            log.warning("%s: v%d was published by someone else (a second learner, or an admin rollback); "
                        "dropping %d unpublished steps and reading on from it", track.name, track.version + 1,
                        len(track.pending))
            track.learned.difference_update(track.pending + track.applied)
            self._load(track)
            return
        except StorageError as exc:
            log.warning("%s: could not publish (%s); the drawings stay queued and are learned again", track.name, exc)
            track.learned.difference_update(track.pending + track.applied)
            track.stale = True
            return
        track.head, track.pending, track.applied, track.suspicious = record, [], [], False
        target = track.baseline - self.guard.tolerance / 2
        if record.meta.get("holdout_accuracy", -1) >= target:
            track.good = (track.good + [record.version])[-GOOD_VERSIONS_KEPT:]
        self.queue.announce(track.name, record.version)
        if self.metrics:
            self.metrics.version.labels(track.name).set(record.version)
        if record.version % self.prune_every == 0:
            try:
                self.store.prune(track.name, keep_last=self.keep_versions, keep=set(track.good))
            except StorageError as exc:
                log.warning("pruning %s failed: %s", track.name, exc)

    def _check(self, track: Track) -> dict:
        """The guard's verdict on the batch about to be published: its accuracy, or a rollback."""
        accuracy = self.guard.accuracy(track.model)
        floor = track.baseline - self.guard.tolerance
        if accuracy >= floor:
            return {"holdout_accuracy": round(accuracy, 4)}
        good = track.good[-1] if track.good else 0
        log.warning("%s: the batch scored %.4f on the holdout (floor %.4f): publishing v%d's weights instead",
                    track.name, accuracy, floor, good)
        weights = track.original_bytes if good == 0 else self.store.load(track.name, good)
        track.model.set_weights(type(track.model).read_weights(weights))
        if self.metrics:
            self.metrics.rollbacks.labels(track.name).inc()
        restored = (track.baseline if good == 0
                    else self.store.version(track.name, good).meta.get("holdout_accuracy"))
        return {"reason": "rollback", "to": good, "rejected_accuracy": round(accuracy, 4),
                "holdout_accuracy": round(restored, 4) if restored is not None else None}

    def _trim(self) -> None:
        published = [t.head.meta.get("position") if t.head else None for t in self.tracks.values()]
        if None in published:
            return
        try:
            self.queue.trim(min(published, key=self.queue.order))
        except QueueUnavailable as exc:
            log.debug("trim deferred: %s", exc)

    # --- reconciliation -----------------------------------------------------------

    def reconcile(self) -> int:
        """Enqueue stored drawings with consent that no version holds and no queue delivered; returns how many.

        Only drawings older than ``reconcile_seconds`` are considered: younger ones
        are still on their way through the queue.
        """
        self._next_reconcile = time.monotonic() + self.reconcile_seconds
        now = drawing_id_time_prefix(datetime.now(timezone.utc) - timedelta(seconds=self.reconcile_seconds))
        since = None
        if self.watermark is not None:
            since = drawing_id_time_prefix(drawing_id_time(self.watermark) - timedelta(seconds=self.reconcile_seconds))
        try:
            ids = [i for i in self.drawings.ids_since(since) if i < now]
        except StorageError as exc:
            log.warning("reconciliation skipped: %s", exc)
            return 0
        enqueued = 0
        for drawing_id in ids:
            if drawing_id in self._examined or all(drawing_id in t.learned for t in self.tracks.values()):
                continue
            try:
                record = self.drawings.get(drawing_id)
                if record.train and record.status == "pending":  # quarantined ones wait for a review
                    self.queue.add(Lesson(record.id, record.label, record.input28))
                    enqueued += 1
            except NotFound:
                continue
            except (StorageError, QueueUnavailable) as exc:
                log.warning("reconciliation stopped at %s: %s", drawing_id, exc)
                return enqueued
            self._examined.add(drawing_id)
        if ids:
            self.watermark = max(ids[-1], self.watermark or ids[-1])
            self._forget_before(since)
        if enqueued:
            log.info("reconciliation: %d stored drawings were not learned yet; enqueued them", enqueued)
        return enqueued + self._reconcile_reviews()

    def _reconcile_reviews(self) -> int:
        """Enqueue stored reviews that no version holds (learned or applied) and no queue delivered."""
        if self.reviews is None:
            return 0
        now = "r" + drawing_id_time_prefix(datetime.now(timezone.utc) - timedelta(seconds=self.reconcile_seconds))
        since = None
        if self.review_watermark is not None:
            since = "r" + drawing_id_time_prefix(drawing_id_time(self.review_watermark[1:])
                                                 - timedelta(seconds=self.reconcile_seconds))
        try:
            reviews = [r for r in self.reviews.since(since) if r.id < now]
        except StorageError as exc:
            log.warning("reconciliation of reviews skipped: %s", exc)
            return 0
        enqueued = 0
        for review in reviews:
            if review.id in self._examined or all(review.id in t.learned for t in self.tracks.values()):
                continue
            try:
                self.queue.add(lesson_for(self.drawings.get(review.drawing), review))
                enqueued += 1
            except NotFound:
                pass
            except (StorageError, QueueUnavailable) as exc:
                log.warning("reconciliation of reviews stopped at %s: %s", review.id, exc)
                return enqueued
            self._examined.add(review.id)
        if reviews:
            self.review_watermark = max(reviews[-1].id, self.review_watermark or reviews[-1].id)
        elif self.review_watermark is None:
            self.review_watermark = now  # none before this: the ledger need not be read back for any
        if enqueued:
            log.info("reconciliation: %d reviews were not carried out yet; enqueued them", enqueued)
        return enqueued

    def _forget_before(self, since: str | None) -> None:
        """Keep the in-memory ledger bounded: ids older than the reconciliation window are never asked about."""
        if since is None:
            return
        oldest = drawing_id_time_prefix(drawing_id_time(since) - CLOCK_SKEW)
        self._examined = {i for i in self._examined if i >= oldest}
        for track in self.tracks.values():
            if len(track.learned) > 10_000:
                track.learned = {i for i in track.learned if i >= oldest} | set(track.pending)

    # --- running ------------------------------------------------------------------

    def run_forever(self) -> None:
        log.info("learning: versions %s", {n: t.version for n, t in self.tracks.items()})
        while not self._stop.is_set():
            try:
                self.run_once()
            except QueueUnavailable as exc:
                log.warning("%s", exc)
                self._stop.wait(1.0)
            except StorageError as exc:
                log.warning("storage: %s", exc)
                self._stop.wait(1.0)
            except Exception:  # a bug must not stop learning for good; the lessons stay queued
                log.exception("learner step failed")
                for track in self.tracks.values():
                    track.learned.difference_update(track.pending + track.applied)
                    track.stale = True
                self._stop.wait(1.0)

    def stop(self, wait_s: float = 0.0) -> None:
        """Stop after the batch under way (waiting up to ``wait_s`` for it when running on a thread)."""
        self._stop.set()
        if self._thread is not None and wait_s:
            self._thread.join(wait_s)

    def start_thread(self) -> threading.Thread:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="learner", daemon=True)
        self._thread.start()
        return self._thread
