"""The review queue: every labelled drawing as a reviewer sees it, most suspicious first, and reviewing one.

Each record is read once (it never changes) and a worker keeps the little the queue sorts and filters
by (:class:`Fact`, ~200 bytes a drawing); reviews are folded in on every call, so a review made on another
worker shows on the next page, and the records of the drawings shown are read again for their details. A
writer's track record here is counted from their rows (drawings, held, and reviewers' verdicts), by
their pseudonym; drawings sent without a writer id are grouped by their client's hashed address.

A review is stored before it is enqueued, and carried out by the learner exactly once
(:mod:`service.core.curation`); if the queue is unreachable, the learner finds it by reconciliation.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from models.suspicion import FLAGGED_ABOVE

from ..core.curation import Review, ReviewStore, decide, lesson_for, state_of
from ..core.queue import LearnQueue, QueueUnavailable
from ..core.storage import CorruptObject, DrawingRecord, DrawingStore, NotFound
from ..core.storage.base import check_drawing_id

READERS = 8  # records read at once when a worker first builds its rows


@dataclass(frozen=True, slots=True)
class Fact:
    """What the queue keeps of a drawing's record: what it sorts, filters and folds reviews in by."""

    id: str
    label: int
    train: bool
    status: str
    suspicion: float
    writer: str  # the pseudonym, or client-<hashed address> without a writer id
    created: str

    @classmethod
    def of(cls, record: DrawingRecord) -> "Fact":
        return cls(record.id, record.label, record.train, record.status, record.suspicion or 0.0,
                   record.alias or f"client-{record.client or 'unknown'}", record.created)


@dataclass(frozen=True)
class Row:
    fact: Fact
    status: str  # now, reviews folded in
    label: int

    @property
    def writer(self) -> str:
        return self.fact.writer

    @property
    def suspicion(self) -> float:
        return self.fact.suspicion


class ReviewQueue:
    """The rows of every labelled drawing with curation facts (stored since curation began), kept fresh."""

    def __init__(self, drawings: DrawingStore, reviews: ReviewStore) -> None:
        self.drawings, self.reviews = drawings, reviews
        self._facts: dict[str, Fact] = {}
        self._seen: str | None = None  # the newest drawing id read
        self._lock = threading.Lock()

    def refresh(self) -> list[Row]:
        """Every row, with the drawings and reviews other workers stored since the last call."""
        ids = self.drawings.ids_since(self._seen)
        with ThreadPoolExecutor(READERS) as pool:
            records = list(pool.map(self._read, ids))
        with self._lock:
            for record in records:
                if record is not None and record.suspicion is not None:
                    self._facts[record.id] = Fact.of(record)
            if ids:
                self._seen = max(ids[-1], self._seen or ids[-1])
            facts = list(self._facts.values())
        self.reviews.refresh()
        return [self.row(fact) for fact in facts]

    def records(self, rows: list[Row]) -> list[DrawingRecord | None]:
        """The records of the rows shown (their details: the models' top-3 and answer, the reasons)."""
        with ThreadPoolExecutor(READERS) as pool:
            return list(pool.map(self._read, [row.fact.id for row in rows]))

    def _read(self, drawing_id: str) -> DrawingRecord | None:
        try:
            return self.drawings.get(drawing_id)
        except (NotFound, CorruptObject):
            return None

    def row(self, drawing: DrawingRecord | Fact) -> Row:
        fact = drawing if isinstance(drawing, Fact) else Fact.of(drawing)
        state = state_of(fact, self.reviews.of(fact.id))
        return Row(fact, state.status, state.label)

    def get(self, record: DrawingRecord, max_age_s: float = 5.0) -> Row:
        """A drawing's row, with the reviews known at most ``max_age_s`` ago."""
        self.reviews.refresh(max_age_s)
        return self.row(record)

    def review(self, drawing_id: str, action: str, label: int | None, by: str, queue: LearnQueue,
               may_undo: Collection[str] | None = None) -> tuple[Review, Row, DrawingRecord]:
        """Decide, store and enqueue one review (ReviewError if it cannot be taken; ``may_undo``: see
        :func:`decide`); the drawing's row after it, and its record."""
        record = self.drawings.get(check_drawing_id(drawing_id))
        self.reviews.refresh()
        review = decide(record, self.reviews.of(record.id), action, label=label, by=by, may_undo=may_undo)
        self.reviews.put(review)
        try:
            queue.add(lesson_for(record, review))
        except QueueUnavailable:
            pass  # stored: the learner's reconciliation finds it
        return review, self.row(record), record


def track_records(rows: list[Row]) -> dict[str, dict]:
    """Each writer's record, counted from their rows: how many, how many suspicious and held, and what
    reviewers found of their labels (a label that stands: confirmed; relabelled or discarded: corrected)."""
    out: dict[str, dict] = {}
    for row in rows:
        r = out.setdefault(row.writer, {"drawings": 0, "suspicious": 0, "quarantined": 0, "confirmed": 0,
                                        "corrected": 0})
        r["drawings"] += 1
        r["suspicious"] += row.suspicion > FLAGGED_ABOVE
        r["quarantined"] += row.status == "quarantined"
        if row.status in ("accepted", "relabelled", "discarded"):
            r["corrected" if row.status == "discarded" or row.label != row.fact.label else "confirmed"] += 1
    return out


def page(rows: list[Row], *, status: str | None, label: int | None, writer: str | None, since: str | None,
         until: str | None, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    """The rows that pass every filter given, most suspicious first (then newest), from ``cursor`` on."""
    chosen = [r for r in rows if (not status or r.status == status) and (label is None or r.label == label)
              and (not writer or r.writer == writer) and (not since or r.fact.created >= since)
              and (not until or r.fact.created < until)]
    chosen.sort(key=_order)
    if cursor:
        after = _order_of(*_decode(cursor))
        chosen = [r for r in chosen if _order(r) > after]
    shown = chosen[:limit]
    more = len(chosen) > limit
    return shown, _encode(shown[-1].suspicion, shown[-1].fact.id) if more and shown else None


def _order_of(suspicion: float, drawing_id: str) -> tuple:
    """Most suspicious first, then newest first (an id's characters negated sort it backwards)."""
    return -suspicion, tuple(-ord(c) for c in drawing_id)


def _order(row: Row) -> tuple:
    return _order_of(row.suspicion, row.fact.id)


def _encode(suspicion: float, drawing_id: str) -> str:
    """The opaque cursor after a row: where the next page starts."""
    return base64.urlsafe_b64encode(json.dumps([suspicion, drawing_id]).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[float, str]:
    """What a cursor stands for; ValueError for anything this service did not give out."""
    try:
        suspicion, drawing_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(suspicion), check_drawing_id(drawing_id)
    except (ValueError, TypeError, NotFound) as exc:
        raise ValueError("not a cursor of this service") from exc
