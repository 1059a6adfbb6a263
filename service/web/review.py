"""The review queue: every labelled drawing as a reviewer sees it, most suspicious first, and reviewing one.

Rows are read from the immutable records once each (a worker keeps them: they never change) and have
their reviews folded in on every call, so a review made on another worker shows on the next page. A
writer's track record here is counted from their rows (drawings, held, and reviewers' verdicts), by
their pseudonym; drawings sent without a writer id are grouped by their client's hashed address.

A review is stored before it is enqueued, and carried out by the learner exactly once
(:mod:`service.core.curation`); if the queue is unreachable, the learner finds it by reconciliation.
"""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from models.suspicion import FLAGGED_ABOVE

from ..core.curation import Review, ReviewStore, decide, lesson_for, state_of
from ..core.queue import LearnQueue, QueueUnavailable
from ..core.storage import CorruptObject, DrawingRecord, DrawingStore, NotFound
from ..core.storage.base import check_drawing_id

READERS = 8  # records read at once when a worker first builds its rows


@dataclass(frozen=True)
class Row:
    record: DrawingRecord
    status: str
    label: int

    @property
    def writer(self) -> str:
        return self.record.alias or f"client-{self.record.client or 'unknown'}"

    @property
    def suspicion(self) -> float:
        return self.record.suspicion if self.record.suspicion is not None else 0.0


class ReviewQueue:
    """The rows of every labelled drawing with curation facts (stored since curation began), kept fresh."""

    def __init__(self, drawings: DrawingStore, reviews: ReviewStore) -> None:
        self.drawings, self.reviews = drawings, reviews
        self._records: dict[str, DrawingRecord] = {}
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
                    self._records[record.id] = record
            if ids:
                self._seen = max(ids[-1], self._seen or ids[-1])
            records = list(self._records.values())
        self.reviews.refresh()
        return [self.row(record) for record in records]

    def _read(self, drawing_id: str) -> DrawingRecord | None:
        try:
            return self.drawings.get(drawing_id)
        except (NotFound, CorruptObject):
            return None

    def row(self, record: DrawingRecord) -> Row:
        state = state_of(record, self.reviews.of(record.id))
        return Row(record, state.status, state.label)

    def get(self, record: DrawingRecord, max_age_s: float = 5.0) -> Row:
        """A drawing's row, with the reviews known at most ``max_age_s`` ago."""
        self.reviews.refresh(max_age_s)
        return self.row(record)

    def review(self, drawing_id: str, action: str, label: int | None, by: str, queue: LearnQueue) -> tuple[Review, Row]:
        """Decide, store and enqueue one review (ReviewError if it cannot be taken); the drawing's row after it."""
        record = self.drawings.get(check_drawing_id(drawing_id))
        self.reviews.refresh()
        review = decide(record, self.reviews.of(record.id), action, label=label, by=by)
        self.reviews.put(review)
        try:
            queue.add(lesson_for(record, review))
        except QueueUnavailable:
            pass  # stored: the learner's reconciliation finds it
        return review, self.row(record)


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
            r["corrected" if row.status == "discarded" or row.label != row.record.label else "confirmed"] += 1
    return out


def page(rows: list[Row], *, status: str | None, label: int | None, writer: str | None, since: str | None,
         until: str | None, limit: int, cursor: str | None) -> tuple[list[Row], str | None]:
    """The rows that pass every filter given, most suspicious first (then newest), from ``cursor`` on."""
    chosen = [r for r in rows if (not status or r.status == status) and (label is None or r.label == label)
              and (not writer or r.writer == writer) and (not since or r.record.created >= since)
              and (not until or r.record.created < until)]
    chosen.sort(key=_order)
    if cursor:
        after = _order_of(*_decode(cursor))
        chosen = [r for r in chosen if _order(r) > after]
    shown = chosen[:limit]
    more = len(chosen) > limit
    return shown, _encode(shown[-1].suspicion, shown[-1].record.id) if more and shown else None


def _order_of(suspicion: float, drawing_id: str) -> tuple:
    """Most suspicious first, then newest first (an id's characters negated sort it backwards)."""
    return -suspicion, tuple(-ord(c) for c in drawing_id)


def _order(row: Row) -> tuple:
    return _order_of(row.suspicion, row.record.id)


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
