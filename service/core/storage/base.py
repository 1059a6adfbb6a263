"""What the service stores, the errors it can get, and the store protocols.

Two things are stored:

* drawings (``DrawingStore``): immutable, one PNG plus one JSON metadata object
  each. The JSON is written last and is the commit marker: a drawing exists iff
  its JSON exists.
* online model weights (``weights.WeightStore``): content-addressed objects,
  one immutable record per version and a ``HEAD`` moved by compare-and-swap,
  one algorithm over an ``ObjectStore``, the thin adapter each backend provides.

Both have a local-folder and an S3 implementation (``local.py``, ``s3.py``)
that pass the same contract tests.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, runtime_checkable

from .ids import DRAWING_ID_RE, MODEL_NAME_RE, new_drawing_id, utc_iso

__all__ = [
    "StorageError", "StorageUnavailable", "NotFound", "VersionConflict", "AlreadyExists", "CorruptObject",
    "DrawingRecord", "WeightVersion", "DrawingStore", "ObjectStore",
    "DRAWING_ID_RE", "new_drawing_id", "utc_iso",
]

log = logging.getLogger(__name__)

INPUT28_BYTES = 28 * 28
MAX_LABELS = 1000  # labels are class indices of the deployment's alphabet (models.alphabets); the store takes any below this
WRITER_LINK_RE = re.compile(r"^[0-9a-f]{32}$")
ALIAS_RE = re.compile(r"\Aw[0-9a-f]{12}\Z")  # a writer's pseudonym (service.core.writers), never their id
STATUSES = ("pending", "quarantined")  # a drawing's status when it is stored; reviews move it (service.core.curation)
MAX_PAGE = 1000


# --------------------------------------------------------------------------- errors

class StorageError(Exception):
    """Anything the store could not do."""


class StorageUnavailable(StorageError):
    """Backend unreachable, timed out, 5xx or throttling: caller answers 503 + Retry-After."""


class NotFound(StorageError):
    """No such drawing / version (also: an id that could not possibly exist, like ``../x``)."""


class VersionConflict(StorageError):
    """A conditional write lost: someone else published first (read HEAD again, retry)."""


class AlreadyExists(VersionConflict):
    """``put`` of an id that already holds a *different* drawing (ids are never overwritten)."""


class CorruptObject(StorageError):
    """Stored bytes do not match their recorded sha256, or metadata is not valid."""


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class DrawingRecord:
    """One labelled drawing, as stored next to its PNG.

    >>> r = DrawingRecord(new_drawing_id(), 7, utc_iso(), True, "c0ffee", bytes(784))
    >>> DrawingRecord.from_json(r.to_json()) == r
    True
    """

    id: str
    label: int
    created: str
    train: bool
    client: str
    input28: bytes
    prediction: dict | None = None
    versions: dict | None = None
    writer: str | None = None  # HMAC of the id under the writer's memory's secret (service.core.writers); never the id
    # What curation needs (service.core.curation), on drawings stored since it began; older ones have none.
    probs: dict | None = None  # each model's probabilities before it learned the drawing, rounded
    suspicion: float | None = None  # 0..1, when it was stored (models.suspicion)
    reasons: tuple[str, ...] = ()  # why it is suspicious
    status: str = "pending"  # when it was stored: "pending" (learned) or "quarantined" (held for review)
    alias: str | None = None  # its writer's pseudonym, grouping their drawings for review
    strokes: bool = False  # its pen strokes are stored beside it (get_strokes)
    number: str | None = None  # the id of the number it was cut from (service.core.numbers), or None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not DRAWING_ID_RE.match(self.id):
            raise ValueError(f"invalid drawing id {str(self.id)[:64]!r}")
        if isinstance(self.label, bool) or not isinstance(self.label, int) or not 0 <= self.label < MAX_LABELS:
            raise ValueError(f"label must be an int 0-{MAX_LABELS - 1}, got {self.label!r}")
        if not isinstance(self.input28, (bytes, bytearray, memoryview)) or len(self.input28) != INPUT28_BYTES:
            raise ValueError(f"input28 must be {INPUT28_BYTES} bytes")
        object.__setattr__(self, "input28", bytes(self.input28))
        for name in ("prediction", "versions"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict or None")
        if self.writer is not None and not (isinstance(self.writer, str) and WRITER_LINK_RE.match(self.writer)):
            raise ValueError("writer must be a link of 32 hex digits or None")
        if self.probs is not None and not isinstance(self.probs, dict):
            raise ValueError("probs must be a dict or None")
        if self.suspicion is not None and not (isinstance(self.suspicion, (int, float)) and 0 <= self.suspicion <= 1):
            raise ValueError("suspicion must be a number 0-1 or None")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        if self.alias is not None and not (isinstance(self.alias, str) and ALIAS_RE.match(self.alias)):
            raise ValueError("alias must be a writer's pseudonym or None")
        object.__setattr__(self, "reasons", tuple(str(r) for r in self.reasons))
        if self.number is not None and not (isinstance(self.number, str) and DRAWING_ID_RE.match(self.number)):
            raise ValueError("number must be a number's id or None")

    def to_json(self) -> dict:
        d = {"id": self.id, "label": self.label, "created": self.created, "train": self.train,
             "client": self.client, "input28": base64.b64encode(self.input28).decode("ascii"),
             "prediction": self.prediction, "versions": self.versions}
        if self.writer is not None:  # records without a writer keep their exact bytes from before writers existed
            d["writer"] = self.writer
        if self.suspicion is not None:  # ... and records from before curation theirs
            d.update(probs=self.probs, suspicion=self.suspicion, reasons=list(self.reasons), status=self.status,
                     alias=self.alias, strokes=self.strokes)
        if self.number is not None:  # ... and records of single drawings theirs
            d["number"] = self.number
        return d

    @classmethod
    def from_json(cls, d: dict) -> "DrawingRecord":
        return cls(id=d["id"], label=d["label"], created=d["created"], train=bool(d["train"]),
                   client=d["client"], input28=base64.b64decode(d["input28"], validate=True),
                   prediction=d.get("prediction"), versions=d.get("versions"), writer=d.get("writer"),
                   probs=d.get("probs"), suspicion=d.get("suspicion"), reasons=tuple(d.get("reasons") or ()),
                   status=d.get("status", "pending"), alias=d.get("alias"), strokes=bool(d.get("strokes", False)),
                   number=d.get("number"))


@dataclass(frozen=True)
class WeightVersion:
    """The record of one published weight version: its weights' sha256 and what it learned (``meta``).

    ``meta`` holds ``steps`` (learning steps since the original), ``reason``
    (``learn`` or ``rollback``), ``drawings`` (the ids whose step it contains),
    ``position`` (the learn queue's position it has consumed through) and, when
    the guard checked it, ``holdout_accuracy``.
    """

    model: str
    version: int
    sha256: str
    created: str
    meta: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.meta.get("steps", 0))

    @property
    def drawings(self) -> list[str]:
        """Lessons whose learning step this version contains: drawing ids, and the ids of reviews that
        took a step (service.core.curation); old records name one drawing as ``drawing``."""
        if "drawings" in self.meta:
            return list(self.meta["drawings"])
        return [self.meta["drawing"]] if self.meta.get("drawing") else []

    @property
    def applied(self) -> list[str]:
        """Reviews this version carried out without a step (a discard, an accept of what was learned)."""
        return list(self.meta.get("applied", ()))

    def to_json(self) -> dict:
        return {"model": self.model, "version": self.version, "sha256": self.sha256,
                "created": self.created, "meta": self.meta}

    @classmethod
    def from_json(cls, d: dict) -> "WeightVersion":
        return cls(model=d["model"], version=int(d["version"]), sha256=d["sha256"],
                   created=d["created"], meta=d.get("meta") or {})


# --------------------------------------------------------------------------- protocols

@runtime_checkable
class DrawingStore(Protocol):
    def put(self, record: DrawingRecord, png: bytes, strokes: bytes | None = None) -> None:
        """Store durably; PNG (and strokes) first, JSON (the commit marker) last; never overwrite an id.

        Re-putting the identical drawing (a retry after a timeout) succeeds;
        a different drawing under an existing id raises AlreadyExists.
        """

    def get(self, drawing_id: str) -> DrawingRecord:
        """The record, or NotFound."""

    def get_png(self, drawing_id: str) -> bytes:
        """The PNG of a committed drawing, or NotFound."""

    def get_strokes(self, drawing_id: str) -> bytes:
        """The pen strokes (JSON, :mod:`models.strokes`) of a committed drawing stored with them, or NotFound."""

    def skip_corrupt(self, drawing_id: str, exc: CorruptObject) -> None:
        """A record that cannot be read: logged, hidden from public pages, counted (``on_corrupt``)."""

    def list(self, label: int | None = None, limit: int = 50, cursor: str | None = None,
             public: bool = False) -> tuple[list[DrawingRecord], str | None]:
        """Newest first; pass the returned cursor back for the next page (None = no more).

        ``public``: only drawings given with consent (``train``), chosen from the index
        without reading a private record (but for records stored before the index knew
        consent: each is read once per process, and a page may then come short).
        """

    def counts(self, n_labels: int, public: bool = False) -> list[int]:
        """Number of drawings of each label 0 .. ``n_labels - 1`` (the alphabet's; ``public``: with consent only)."""

    def iter_records(self) -> Iterator[DrawingRecord]:
        """Every drawing, oldest first (export, replay)."""

    def ids_since(self, drawing_id: str | None) -> list[str]:
        """Ids of committed drawings after ``drawing_id`` (all if None), oldest first, without reading them."""


@runtime_checkable
class ObjectStore(Protocol):
    """The few operations the weight store needs from a backend (a folder, a bucket).

    Names are ``/``-separated paths; ``list`` gives the names directly below a
    folder name ending in ``/``. Conditional writes are the backend's job:
    ``put_if_absent`` never replaces, ``put_if_match`` replaces only the version
    whose tag it is given (None: only if absent), raising VersionConflict otherwise.
    """

    def get(self, name: str) -> bytes: ...

    def get_versioned(self, name: str) -> tuple[bytes, str]:
        """The bytes and a tag that changes whenever they do (an S3 ETag)."""

    def put(self, name: str, data: bytes) -> None: ...

    def put_if_absent(self, name: str, data: bytes) -> bool:
        """True if written, False if the name already existed (nothing is changed)."""

    def put_if_match(self, name: str, data: bytes, tag: str | None) -> str:
        """Replace the version tagged ``tag`` (None: create); returns the new tag."""

    def list(self, folder: str) -> list[tuple[str, float]]:
        """``(name, modified as epoch seconds)`` of every object directly below ``folder``, by name."""

    def delete(self, names: list[str]) -> None: ...


# --------------------------------------------------------------------------- shared helpers

def check_drawing_id(drawing_id: object) -> str:
    """The id, if it could be a drawing id; otherwise NotFound, before any I/O."""
    if not isinstance(drawing_id, str) or not DRAWING_ID_RE.match(drawing_id):
        raise NotFound(f"no drawing {str(drawing_id)[:64]!r}")
    return drawing_id


def check_model(model: object) -> str:
    if not isinstance(model, str) or not MODEL_NAME_RE.match(model):
        raise ValueError(f"invalid model name {str(model)[:64]!r} (want [a-z0-9_]{{1,40}})")
    return model


def check_page(label: int | None, limit: int, cursor: str | None) -> None:
    if label is not None and (isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < MAX_LABELS):
        raise ValueError(f"label must be 0-{MAX_LABELS - 1} or None, got {label!r}")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1-{MAX_PAGE}, got {limit!r}")
    if cursor is not None and (not isinstance(cursor, str) or not DRAWING_ID_RE.match(cursor)):
        raise ValueError("invalid cursor")


def read_existing(get: Callable[[str], DrawingRecord], ids: list[str],
                  on_corrupt: Callable[[str, CorruptObject], None]) -> list[DrawingRecord]:
    """The records of ``ids``, in order, without those gone since they were indexed or that cannot be read as a
    drawing (``on_corrupt`` is told of each): one bad record must not break a listing for everyone."""
    records = []
    for drawing_id in ids:
        try:
            records.append(get(drawing_id))
        except NotFound:
            continue
        except CorruptObject as exc:
            on_corrupt(drawing_id, exc)
    return records


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dump_json(obj: dict) -> bytes:
    """Deterministic bytes: the same record always serialises the same (idempotent retries compare bytes)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def parse_json(data: bytes, what: str) -> dict:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptObject(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CorruptObject(f"{what} is not a JSON object")
    return obj


def parse_record(data: bytes, what: str) -> DrawingRecord:
    try:
        return DrawingRecord.from_json(parse_json(data, what))
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptObject(f"{what} is not a valid drawing record: {exc!r}") from None


def parse_version(data: bytes, what: str) -> WeightVersion:
    try:
        return WeightVersion.from_json(parse_json(data, what))
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptObject(f"{what} is not a valid weight version record: {exc!r}") from None


class IndexedDrawings:
    """What both drawing stores answer from their :class:`DrawingIndex` (``self._index`` under ``self._lock``,
    brought up to date by ``self._refresh()``), and what they do with a record that cannot be read."""

    on_corrupt: Callable[[str], None] = staticmethod(lambda drawing_id: None)  # e.g. a metric

    def skip_corrupt(self, drawing_id: str, exc: CorruptObject) -> None:
        log.warning("skipping drawing %s: %s", drawing_id, exc)
        with self._lock:
            self._index.mark_private(drawing_id)
        self.on_corrupt(drawing_id)

    def counts(self, n_labels: int, public: bool = False) -> list[int]:
        with self._lock:
            self._refresh()
            return self._index.counts(n_labels, public)

    def ids_since(self, drawing_id: str | None) -> list[str]:
        with self._lock:
            self._refresh()
            return self._index.since(drawing_id)


class DrawingIndex:
    """Which drawings exist and their labels, in memory, sorted by id (= by time).

    Both stores feed it incrementally from what they discover (a listing, a
    journal) and answer ``list``/``counts`` from it, so a page costs a bisect
    plus reading the ``limit`` records on it, whatever the store's size.
    It also keeps which drawings may be public: every one but those known to be
    private (their journal line or marker says so, or their record was read),
    so a public page reads no private record twice, and new ones never.
    Not thread-safe by itself: the stores call it under their own lock.

    >>> index = DrawingIndex()
    >>> for i, label in enumerate([3, 5, 3, 3]):
    ...     _ = index.add(f"20261127T15040500{i}Z-000000000{i}", label)
    >>> ids, cursor = index.page(3, 2, None)
    >>> [i[-1] for i in ids], cursor[-1]
    (['3', '2'], '2')
    >>> [i[-1] for i in index.page(3, 2, cursor)[0]], index.page(3, 2, cursor)[1]
    (['0'], None)
    """

    def __init__(self) -> None:
        self._all: list[str] = []
        self._by_label: dict[int, list[str]] = {}
        self._labels: dict[str, int] = {}
        self._shown: list[str] = []  # ids not known to be private
        self._shown_by_label: dict[int, list[str]] = {}

    def __contains__(self, drawing_id: str) -> bool:
        return drawing_id in self._labels

    def __len__(self) -> int:
        return len(self._all)

    def add(self, drawing_id: str, label: int, public: bool = True) -> bool:
        """Record a committed drawing (``public``: not known to be private); False if it was known already."""
        if drawing_id in self._labels:
            return False
        self._labels[drawing_id] = label
        bisect.insort(self._all, drawing_id)  # ids arrive nearly sorted: insertion near the end
        bisect.insort(self._by_label.setdefault(label, []), drawing_id)
        if public:
            bisect.insort(self._shown, drawing_id)
            bisect.insort(self._shown_by_label.setdefault(label, []), drawing_id)
        return True

    def mark_private(self, drawing_id: str) -> None:
        """A drawing read and found to be private: public pages and counts skip it from now on."""
        for ids in (self._shown, self._shown_by_label.get(self._labels.get(drawing_id), [])):
            i = bisect.bisect_left(ids, drawing_id)
            if i < len(ids) and ids[i] == drawing_id:
                del ids[i]

    def newest(self) -> str | None:
        return self._all[-1] if self._all else None

    def since(self, drawing_id: str | None) -> list[str]:
        """Ids after ``drawing_id`` (all if None), oldest first."""
        return list(self._all if drawing_id is None else self._all[bisect.bisect_right(self._all, drawing_id):])

    def counts(self, n_labels: int, public: bool = False) -> list[int]:
        by_label = self._shown_by_label if public else self._by_label
        return [len(by_label.get(label, ())) for label in range(n_labels)]

    def page(self, label: int | None, limit: int, cursor: str | None,
             public: bool = False) -> tuple[list[str], str | None]:
        """Up to ``limit`` ids older than ``cursor`` (all if None), newest first, and the next cursor
        (``public``: of those not known to be private)."""
        everything, by_label = (self._shown, self._shown_by_label) if public else (self._all, self._by_label)
        ids = everything if label is None else by_label.get(label, [])
        end = len(ids) if cursor is None else bisect.bisect_left(ids, cursor)
        start = max(0, end - limit)
        page = ids[start:end][::-1]
        return page, (page[-1] if start > 0 and page else None)
