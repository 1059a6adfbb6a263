"""A drawing's life after it is stored: reviews, and the status they give it.

A drawing's record never changes. Its status starts as the record says (``pending``: it is learned; or
``quarantined``: held for review, :mod:`models.suspicion`), and every later decision is a **review**, an
immutable object ``reviews/<review id>.json`` in the deployment's object store, named by a time-ordered
id, never overwritten. Why it is correct, in two sentences: the status of a drawing is its record's
followed by its reviews in order (each numbers itself after the reviews it saw), so any worker that
reads the same reviews computes the same status, and two reviewers at once both leave their review (the
later id wins, both are in the audit log).
Each review says, when it is made, what the models must learn because of it (``learn``: one step with
that label, or none), and the learner learns each review exactly once, as it learns each drawing: the
review's id is its entry in the ledger of published versions, and reviews the queue lost are found in
the store by reconciliation.

Statuses: ``pending`` (stored, learned, not reviewed), ``quarantined`` (stored, not learned, not
replayed, not in its writer's memory, not exported), ``accepted``, ``relabelled`` (learned with the
reviewer's label; if the models had learned the old one, with one corrective step) and ``discarded``
(out of replay, memories and exports for good). A review's ``after`` is the status it leaves.

>>> record = _example_record(label=7, status="quarantined")
>>> accept = decide(record, [], "accept", by="ana", at="2026-12-06T10:00:00.000Z")
>>> accept.after_status, accept.learn
('accepted', 7)
>>> relabel = decide(record, [accept], "relabel", label=1, by="ana", at="2026-12-06T10:00:01.000Z")
>>> relabel.after_status, relabel.after_label, relabel.learn
('relabelled', 1, 1)
>>> undo = decide(record, [accept, relabel], "undo", by="ana", at="2026-12-06T10:00:02.000Z")
>>> (undo.after_status, undo.after_label, undo.learn), state_of(record, [accept, relabel, undo]).status
(('accepted', 7, 7), 'accepted')
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass

from .queue import Lesson
from .storage import DrawingRecord, NotFound, ObjectStore
from .storage.base import dump_json, parse_json
from .storage.ids import new_drawing_id, utc_iso

ACTIONS = ("accept", "relabel", "discard", "undo", "quarantine")  # "quarantine": the service's own, for a writer
STATUSES = ("pending", "accepted", "relabelled", "discarded", "quarantined")
LEARNABLE = ("pending", "accepted", "relabelled")  # in replay, memories and exports; the others are not
REVIEW_ID_RE = re.compile(r"\Ar[0-9]{8}T[0-9]{9}Z-[0-9a-f]{10}\Z")


class ReviewError(ValueError):
    """The action cannot be taken on this drawing now; the message says why."""


def new_review_id() -> str:
    return "r" + new_drawing_id()


@dataclass(frozen=True)
class State:
    status: str
    label: int
    learned: int | None  # the label the models were last taught for it (None: never)

    @property
    def learnable(self) -> bool:
        return self.status in LEARNABLE


@dataclass(frozen=True)
class Review:
    id: str
    drawing: str
    action: str
    before_status: str
    before_label: int
    after_status: str
    after_label: int
    learn: int | None  # one step with this label, for every online model (None: no step)
    by: str  # the reviewer's name (the admin token's), or "inkling" for the service's own
    at: str
    seq: int  # 1 + the number of the drawing's reviews it was decided on: its place in the drawing's history
    undoes: str | None = None

    @property
    def order(self) -> tuple[int, str]:
        return self.seq, self.id

    def to_json(self) -> dict:
        return {"id": self.id, "drawing": self.drawing, "action": self.action, "before_status": self.before_status,
                "before_label": self.before_label, "after_status": self.after_status, "after_label": self.after_label,
                "learn": self.learn, "by": self.by, "at": self.at, "seq": self.seq, "undoes": self.undoes}

    @classmethod
    def from_json(cls, d: dict) -> "Review":
        review = cls(**{k: d.get(k) for k in ("id", "drawing", "action", "before_status", "before_label",
                                              "after_status", "after_label", "learn", "by", "at", "seq",
                                              "undoes")})
        if (not REVIEW_ID_RE.match(str(review.id)) or review.action not in ACTIONS or not isinstance(review.seq, int)
                or review.after_status not in STATUSES or review.before_status not in STATUSES):
            raise ValueError(f"not a review: {str(d)[:120]}")
        return review


def initial_state(record: DrawingRecord) -> State:
    """As the record was stored (``record``: anything with its ``label``, ``train`` and ``status``)."""
    learned = record.label if record.train and record.status == "pending" else None
    return State(record.status, record.label, learned)


def state_of(record: DrawingRecord, reviews: list[Review]) -> State:
    """The drawing's status now: its record's, then each of its reviews in id order."""
    state = initial_state(record)
    for review in sorted(reviews, key=lambda r: r.order):
        state = State(review.after_status, review.after_label,
                      review.learn if review.learn is not None else state.learned)
    return state


def decide(record: DrawingRecord, reviews: list[Review], action: str, *, label: int | None = None, by: str,
           at: str | None = None, may_undo: Collection[str] | None = None) -> Review:
    """The review that ``action`` makes of the drawing now (ReviewError if it cannot be taken).

    ``undo`` reverts the drawing's newest review that is not itself undone, and only if it is one of
    ``may_undo`` when given (the reviews the reviewer has seen: a colleague's made since is never taken
    back unseen); a step is taken whenever the label the review leaves, in a status that is learned, is
    not the label the models last learned.
    """
    if action not in ACTIONS:
        raise ReviewError(f"action must be one of {', '.join(ACTIONS[:4])}")
    reviews = sorted(reviews, key=lambda r: r.order)
    state = state_of(record, reviews)
    undoes = None
    if action == "undo":
        undone = {r.undoes for r in reviews if r.undoes}
        target = next((r for r in reversed(reviews) if r.action != "undo" and r.id not in undone), None)
        if target is None:
            raise ReviewError("there is nothing to undo on this drawing")
        if may_undo is not None and target.id not in may_undo:
            raise ReviewError(f"{target.by} reviewed it since you saw it ({target.action}, {target.at}): "
                              "refresh to see their decision, then make yours")
        after_status, after_label, undoes = target.before_status, target.before_label, target.id
    elif action == "relabel":
        if label is None:
            raise ReviewError("relabel needs the new label")
        after_status, after_label = "relabelled", int(label)
    else:
        after_status = {"accept": "accepted", "discard": "discarded", "quarantine": "quarantined"}[action]
        after_label = state.label
    learnable = record.train and after_status in LEARNABLE
    learn = after_label if learnable and state.learned != after_label else None
    return Review(new_review_id(), record.id, action, state.status, state.label, after_status, after_label, learn,
                  by, at or utc_iso(), len(reviews) + 1, undoes)


def verdict_of(record: DrawingRecord, review: Review) -> str | None:
    """What the review says of the writer's label, for their track record: ``confirmed`` (it stands),
    ``corrected`` (relabelled or discarded), or None (no reviewer's decision stands: undone, or the
    service's own quarantine)."""
    if review.after_status in ("pending", "quarantined"):
        return None
    if review.after_status == "discarded" or review.after_label != record.label:
        return "corrected"
    return "confirmed"


def lesson_for(record: DrawingRecord, review: Review) -> Lesson:
    """What the learner must do for ``review`` (:class:`~service.core.queue.Lesson`)."""
    holds = review.after_label if record.train and review.after_status in LEARNABLE else None
    return Lesson(record.id, review.learn, record.input28, review=review.id, holds=holds, alias=record.alias,
                  verdict=verdict_of(record, review))


class ReviewStore:
    """Reviews in an :class:`~service.core.storage.base.ObjectStore`, read once each and kept (they never
    change), with an index from each drawing to its reviews. Thread-safe."""

    FOLDER = "reviews/"

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self._reviews: dict[str, Review] = {}
        self._by_drawing: dict[str, list[Review]] = {}
        self._lock = threading.Lock()
        self._refreshed = float("-inf")

    def put(self, review: Review) -> None:
        """Store it (create-only; the same review again is fine), then know it here."""
        name = f"{self.FOLDER}{review.id}.json"
        body = dump_json(review.to_json())
        if not self.objects.put_if_absent(name, body) and self.objects.get(name) != body:
            raise ValueError(f"{name} exists with other content")
        self._know(review)

    def _know(self, review: Review) -> None:
        with self._lock:
            if review.id not in self._reviews:
                self._reviews[review.id] = review
                self._by_drawing.setdefault(review.drawing, []).append(review)

    def refresh(self, max_age_s: float = 0.0) -> list[Review]:
        """Read the reviews other workers stored since the last call (unless that was less than ``max_age_s``
        ago); returns every review, oldest first."""
        if time.monotonic() - self._refreshed < max_age_s:
            return self.all()
        self._refreshed = time.monotonic()
        names = [name for name, _ in self.objects.list(self.FOLDER)]
        with self._lock:
            new = [n for n in names if REVIEW_ID_RE.match(n.rsplit("/", 1)[-1][:-5]) and
                   n.rsplit("/", 1)[-1][:-5] not in self._reviews]
        for name in new:
            try:
                self._know(Review.from_json(parse_json(self.objects.get(name), name)))
            except (NotFound, ValueError, KeyError, TypeError):
                continue  # deleted meanwhile, or not a review: nothing to learn from it
        return self.all()

    def all(self) -> list[Review]:
        with self._lock:
            return sorted(self._reviews.values(), key=lambda r: r.id)

    def of(self, drawing_id: str) -> list[Review]:
        with self._lock:
            return sorted(self._by_drawing.get(drawing_id, ()), key=lambda r: r.order)

    def since(self, review_id: str | None) -> list[Review]:
        """Reviews after ``review_id`` (all if None), oldest first (reconciliation)."""
        return [r for r in self.refresh() if review_id is None or r.id > review_id]


def _example_record(label: int, status: str) -> DrawingRecord:
    return DrawingRecord(new_drawing_id(), label, utc_iso(), True, "c0ffee", bytes(784), suspicion=0.9,
                         status=status)
