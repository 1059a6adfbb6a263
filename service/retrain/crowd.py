"""The crowd a retrain run learns from and is judged on, split at a cut-off time.

What holds:

- **Only what the learner may learn is used**: a drawing counts if its writer gave consent (``record.train``)
  and its reviews leave it learnable (:data:`service.core.curation.LEARNABLE`), with the label they leave
  (a relabel counts; quarantined and discarded drawings never do, in training or in judging).
- **Time splits it**: drawings stored up to the cut-off train the challenger, those stored after it judge
  it, so a challenger is never judged on a drawing it learned. A drawing's time is its id's (the clock of the
  worker that stored it, to the millisecond).
- **The cut-off is never before the champion's own**: the champion trained on everything up to its cut-off,
  so judging on anything earlier would favour it.

>>> d = lambda i, t: CrowdDrawing(f"20261201T1000{t:02d}000Z-{i:010x}", 3, False, None)
>>> crowd = [d(i, i) for i in range(10)]
>>> cutoff = default_cutoff(crowd, share=0.25, min_judged=2)
>>> cutoff, [len(part) for part in split(crowd, cutoff)]
('2026-12-01T10:00:06.000Z', [7, 3])
>>> default_cutoff(crowd, share=0.25, min_judged=2, not_before="2026-12-01T10:00:08.000Z")
'2026-12-01T10:00:08.000Z'
"""

from __future__ import annotations

import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from ..core.curation import ReviewStore, state_of
from ..core.storage import DrawingRecord, DrawingStore, NotFound
from ..core.storage.base import CorruptObject
from ..core.storage.ids import drawing_id_time, utc_iso

REVIEWED = ("accepted", "relabelled")  # a person looked at it and said what it is


@dataclass(frozen=True)
class CrowdDrawing:
    """One drawing the crowd gave to learn from: its label as reviews leave it, whether a reviewer confirmed or
    corrected it, and whose it is (its writer's link or pseudonym; None: nobody's known)."""

    id: str
    label: int
    reviewed: bool
    writer: str | None

    @property
    def time(self) -> datetime:
        return drawing_id_time(self.id)


@dataclass
class Census:
    """Every drawing in the store, sorted into the learnable crowd (oldest first) and the rest, by why."""

    crowd: list[CrowdDrawing]
    excluded: Counter  # no_consent, quarantined, discarded, unreadable
    records: dict[str, DrawingRecord]  # the crowd's records, for their images

    def images(self, ids: list[str]) -> np.ndarray:
        """float32[N,28,28] in [0,1] of the given crowd drawings, as the learner reads them."""
        return np.stack([np.frombuffer(self.records[i].input28, np.uint8).reshape(28, 28) for i in ids]
                        ).astype(np.float32) / 255 if ids else np.zeros((0, 28, 28), np.float32)


def read_records(drawings: DrawingStore, ids: list[str], workers: int = 16) -> tuple[list[DrawingRecord], int]:
    """The records of ``ids`` in order, read a few at a time, and how many could not be read (gone or corrupt:
    one bad record must not stop a retrain)."""
    def read(drawing_id: str) -> DrawingRecord | None:
        try:
            return drawings.get(drawing_id)
        except (NotFound, CorruptObject):
            return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        records = list(pool.map(read, ids))
    return [r for r in records if r is not None], sum(r is None for r in records)


def take_census(drawings: DrawingStore, reviews: ReviewStore) -> Census:
    """Read every drawing and review in the store and sort them (the learnable crowd, oldest first)."""
    reviews.refresh()
    records, unreadable = read_records(drawings, drawings.ids_since(None))
    excluded: Counter = Counter(unreadable=unreadable) if unreadable else Counter()
    crowd, kept = [], {}
    for record in records:
        if not record.train:
            excluded["no_consent"] += 1
            continue
        state = state_of(record, reviews.of(record.id))
        if not state.learnable:
            excluded[state.status] += 1
            continue
        crowd.append(CrowdDrawing(record.id, state.label, state.status in REVIEWED, record.writer or record.alias))
        kept[record.id] = record
    crowd.sort(key=lambda d: d.id)
    return Census(crowd, excluded, kept)


def parse_cutoff(text: str) -> str:
    """An ISO 8601 time (``2026-12-01``, ``2026-12-01T10:00``, ``...Z``, ``...+01:00``) as the store writes times
    (UTC, to the millisecond); ValueError saying what is expected otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--cutoff {text!r} is not an ISO 8601 time such as 2026-12-01T10:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return utc_iso(moment)


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def split(crowd: list[CrowdDrawing], cutoff: str) -> tuple[list[CrowdDrawing], list[CrowdDrawing]]:
    """(stored up to the cut-off: to train on, stored after it: to judge on)."""
    moment = _moment(cutoff)
    return [d for d in crowd if d.time <= moment], [d for d in crowd if d.time > moment]


def default_cutoff(crowd: list[CrowdDrawing], *, share: float, min_judged: int,
                   not_before: str | None = None) -> str | None:
    """The cut-off that holds out the newest ``share`` of the crowd (at least ``min_judged`` drawings, what the
    gate needs), moved later to ``not_before`` (the champion's cut-off) if it is earlier; None when that would
    leave nothing to train on."""
    held = max(math.ceil(share * len(crowd)), min_judged)
    if held >= len(crowd):
        return None
    cutoff = utc_iso(crowd[len(crowd) - held - 1].time)
    if not_before is not None and _moment(not_before) > _moment(cutoff):
        return not_before
    return cutoff
