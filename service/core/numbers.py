"""Numbers people wrote on the pad, kept whole for a future sequence model.

A saved number is stored as ``numbers/<id>.png`` (the pad's pixels), ``numbers/<id>.strokes.json`` (its pen
strokes, when sent) and ``numbers/<id>.json`` (its record), in the deployment's object store beside reviews and
writers' memories, each create-only; the record is written last and is the commit marker: a number exists iff
its record does. Each of its characters of the alphabet is also stored as a labelled drawing of its own
(:mod:`service.web.numbers`), whose record names the number; the number's record names them back. A number
whose record could not be written (the store failed midway) leaves its drawings as single drawings.

>>> record = NumberRecord("20261127T150405123Z-3f9a1c2b7d", "2026-11-27T15:04:05.123Z", "3.5", True,
...                       [{"glyph": "3", "label": 3, "drawing": "20261127T150405123Z-00000000aa",
...                         "box": [10, 20, 90, 200], "strokes": [0]}], strokes=True)
>>> NumberRecord.from_json(record.to_json()) == record
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .storage import DRAWING_ID_RE, NotFound, ObjectStore

FOLDER = "numbers/"


@dataclass(frozen=True)
class NumberRecord:
    id: str
    created: str
    text: str  # what the person confirmed, character by character
    train: bool  # consent, as for a drawing
    characters: list[dict]  # each: glyph, label (null for a symbol), drawing (its drawing's id, or null), box, strokes
    strokes: bool = False  # the pen strokes are stored beside it
    pad: dict = field(default_factory=dict)  # the pad it was written on (width, height, line_width)

    def __post_init__(self) -> None:
        if not DRAWING_ID_RE.match(self.id):
            raise ValueError(f"invalid number id {self.id[:64]!r}")

    def to_json(self) -> dict:
        return {"id": self.id, "created": self.created, "text": self.text, "train": self.train,
                "characters": self.characters, "strokes": self.strokes, "pad": self.pad}

    @classmethod
    def from_json(cls, d: dict) -> "NumberRecord":
        return cls(d["id"], d["created"], d["text"], bool(d["train"]), list(d["characters"]), bool(d.get("strokes")),
                   dict(d.get("pad") or {}))


class NumberStore:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def put_pixels(self, number_id: str, png: bytes, strokes: bytes | None) -> None:
        """The pad's PNG and strokes, first (create-only: a retry of the same bytes is fine)."""
        self._create(f"{FOLDER}{number_id}.png", png)
        if strokes is not None:
            self._create(f"{FOLDER}{number_id}.strokes.json", strokes)

    def put(self, record: NumberRecord) -> None:
        """The record, last: from now on the number exists."""
        self._create(f"{FOLDER}{record.id}.json", json.dumps(record.to_json(), separators=(",", ":")).encode())

    def get(self, number_id: str) -> NumberRecord:
        if not DRAWING_ID_RE.match(number_id):
            raise NotFound(f"no number {number_id[:64]!r}")
        return NumberRecord.from_json(json.loads(self.objects.get(f"{FOLDER}{number_id}.json")))

    def get_png(self, number_id: str) -> bytes:
        return self.objects.get(f"{FOLDER}{number_id}.png")

    def _create(self, name: str, data: bytes) -> None:
        if not self.objects.put_if_absent(name, data) and self.objects.get(name) != data:
            raise ValueError(f"{name} exists with other content")
