"""Each anonymous writer's own memory, kept in the store beside the drawings and cached in each worker.

A writer is a random id the page keeps in ``localStorage`` and sends with
its requests; no account, no cookie. It is a bearer secret: whoever holds it
sees and forgets that memory. So the store never holds it: a memory is the
object ``writers/<key>.json``, ``key`` a hash of the id.

A memory holds the writer's newest labelled drawings with consent (id,
label, embedding, and what the memory guessed before it joined) and a random
``secret``. A drawing's record names its writer only as ``HMAC(secret,
drawing id)``: whoever holds the memory can tell which drawings are the
writer's, and nobody else can tell two of them belong together. Forgetting
deletes the one object, and with it the secret: every link from the writer's
id to their drawings is cut at once, on every worker, with no record rewritten.

A writer id is at least 22 characters of ``[A-Za-z0-9_-]`` (the page makes
128 random bits, 22 base64url characters): short ids could be guessed, and
whoever guesses one reads, poisons or forgets that memory.

A worker reads a memory only for writers it knows to have one: those listed
under ``writers/`` when it started (and every ``KNOWN_REFRESH_S``), those it
linked or added a drawing for, and those another worker announced. Asking with
an id nobody has stored a drawing with costs nothing (no read, no place in the
cache): made-up ids cannot push real writers' memories out of the cache.

A memory is created, with its secret, before the writer's first drawing is
stored, so two first drawings in flight at once are linked with the same
secret. Memories live until the writer forgets them, or, where the operator
sets ``INKLING_MEMORY_EXPIRE_DAYS``, until that long after their last drawing
(:func:`expire_memories`, run by the learner).

Updates are a compare-and-swap on the object (``ObjectStore.put_if_match``),
so workers adding to one writer's memory at once never lose a drawing. Each
worker caches the answering half (:class:`models.prototypes.PrototypeMemory`,
~6 KB) of the writers it has seen lately; a worker that changes a memory
announces it on the queue's channel and the others drop their copy (and
every copy is re-read after ``ttl_s`` in case an announcement was missed).

>>> import tempfile
>>> from service.core.storage import LocalObjects
>>> memories = WriterMemories(LocalObjects(tempfile.mkdtemp()), n_classes=10)
>>> writer = "Z3nQ9xK2vB7mL4pR8sT1wA"  # as the page makes them: 22 base64url characters
>>> link = memories.link(writer)
>>> e = np.eye(128, dtype=np.float32)
>>> memories.add(writer, link, "20261130T120000000Z-0123456789", 7, e[0]).counts()[7]
1
>>> len(memories.view(writer)), len(memories.view("someone-else-entirely-0"))
(1, 0)
>>> memories.forget(writer); len(memories.view(writer))
0
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from models.prototypes import EMBEDDING_SIZE, PrototypeMemory
from models.suspicion import TrackRecord

from .storage import CorruptObject, NotFound, ObjectStore, StorageError, VersionConflict
from .storage.base import ALIAS_RE, MAX_LABELS, dump_json, parse_json

log = logging.getLogger(__name__)

MIN_WRITER_CHARS = 22  # 132 bits of [A-Za-z0-9_-]; the page's ids are 22 characters of 128 random bits
WRITER_PATTERN = rf"^[A-Za-z0-9_-]{{{MIN_WRITER_CHARS},64}}$"
WRITER_RE = re.compile(WRITER_PATTERN)
MEMORY_SIZE = 200  # newest drawings a memory keeps
CAS_ATTEMPTS = 10
OUTAGE_RETRY_S = 5.0  # while the store is unreachable, answers go unpersonalised; look again this often
KNOWN_REFRESH_S = 300.0  # how often a worker lists the writers that have a memory (announcements may be missed)
FOLDER = "writers/"


def writer_key(writer: str) -> str:
    """The name a writer's memory is stored under: a hash of the id, never the id itself.

    >>> a, b = "Z3nQ9xK2vB7mL4pR8sT1wA", "Z3nQ9xK2vB7mL4pR8sT1wB"
    >>> writer_key(a) == writer_key(a) != writer_key(b)
    True
    """
    if not isinstance(writer, str) or not WRITER_RE.match(writer):
        raise ValueError(f"a writer id is {MIN_WRITER_CHARS}-64 characters of A-Z, a-z, 0-9, _ and -")
    return hashlib.sha256(b"inkling writer\0" + writer.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Entry:
    drawing_id: str
    label: int
    embedding: np.ndarray  # float16[E], unit length
    guess: int | None  # the memory's guess before this drawing joined (None: it did not know the digit)

    def to_json(self) -> dict:
        return {"id": self.drawing_id, "label": self.label, "guess": self.guess,
                "embedding": base64.b64encode(self.embedding.astype("<f2").tobytes()).decode("ascii")}

    @classmethod
    def from_json(cls, d: dict) -> "Entry":
        embedding = np.frombuffer(base64.b64decode(d["embedding"], validate=True), "<f2")
        if embedding.shape != (EMBEDDING_SIZE,) or isinstance(d["label"], bool) or d["label"] not in range(MAX_LABELS):
            raise ValueError("bad entry")
        return cls(str(d["id"]), d["label"], embedding, d.get("guess"))


def new_alias() -> str:
    """A writer's pseudonym: random, so nothing leads from a writer's id to it but their memory."""
    return "w" + secrets.token_hex(6)


@dataclass(frozen=True)
class StoredMemory:
    """One writer's memory as stored: the link secret, their pseudonym and track record, and the newest
    drawings, oldest first."""

    secret: bytes
    entries: tuple[Entry, ...] = ()
    alias: str | None = None  # in their drawings' records, so reviewers can group them (memories from before: None)
    counted: tuple[int, int, int] = (0, 0, 0)  # their labels: stored with consent, suspicious, quarantined
    verdicts: tuple[tuple[str, str], ...] = ()  # (drawing id, "confirmed" | "corrected"): reviewers' findings

    @property
    def track_record(self) -> TrackRecord:
        found = dict(self.verdicts)
        return TrackRecord(*self.counted, confirmed=sum(v == "confirmed" for v in found.values()),
                           corrected=sum(v == "corrected" for v in found.values()))

    def count(self, item: float, quarantined: bool) -> "StoredMemory":
        """With one more label of this item score (models.suspicion) counted in the track record."""
        after = self.track_record.after(item, quarantined)
        return replace(self, counted=(after.labelled, after.flagged, after.quarantined))

    def with_verdict(self, drawing_id: str, verdict: str | None) -> "StoredMemory":
        kept = tuple((d, v) for d, v in self.verdicts if d != drawing_id)
        return replace(self, verdicts=kept + (((drawing_id, verdict),) if verdict else ()))

    def without(self, drawing_id: str) -> "StoredMemory":
        return replace(self, entries=tuple(e for e in self.entries if e.drawing_id != drawing_id))

    def relabelled(self, drawing_id: str, label: int) -> "StoredMemory":
        return replace(self, entries=tuple(replace(e, label=label) if e.drawing_id == drawing_id else e
                                           for e in self.entries))

    def holds(self, drawing_id: str) -> bool:
        return any(e.drawing_id == drawing_id for e in self.entries)

    def link(self, drawing_id: str) -> str:
        """What a drawing's record holds for its writer: meaningless without ``secret``."""
        return hmac.new(self.secret, drawing_id.encode(), hashlib.sha256).hexdigest()[:32]

    def view(self, n_classes: int) -> PrototypeMemory:
        entries = [e for e in self.entries if e.label < n_classes]  # a store once used with a bigger alphabet
        if not entries:
            return PrototypeMemory.empty(n_classes)
        return PrototypeMemory.from_entries(np.stack([e.embedding for e in entries]).astype(np.float32),
                                            [e.label for e in entries], n_classes, [e.guess for e in entries])

    def with_entry(self, entry: Entry, size: int) -> "StoredMemory":
        kept = tuple(e for e in self.entries if e.drawing_id != entry.drawing_id)  # a retried request
        return replace(self, entries=(*kept, entry)[-size:])

    def to_bytes(self) -> bytes:
        d = {"format": 1, "secret": base64.b64encode(self.secret).decode("ascii"),
             "entries": [e.to_json() for e in self.entries]}
        if self.alias is not None:
            d.update(format=2, alias=self.alias, counted=list(self.counted), verdicts=[list(v) for v in self.verdicts])
        return dump_json(d)

    @classmethod
    def from_bytes(cls, data: bytes, what: str) -> "StoredMemory":
        d = parse_json(data, what)
        try:
            alias, counted = d.get("alias"), tuple(int(n) for n in d.get("counted", (0, 0, 0)))
            if (alias is not None and not ALIAS_RE.match(str(alias))) or len(counted) != 3:
                raise ValueError("bad alias or counts")
            return cls(base64.b64decode(d["secret"], validate=True), tuple(Entry.from_json(e) for e in d["entries"]),
                       alias, counted, tuple((str(i), str(v)) for i, v in d.get("verdicts", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptObject(f"{what} is not a valid writer memory: {exc!r}") from None


@dataclass(frozen=True)
class Link:
    """A writer's memory as read just before one of their drawings is stored (see :meth:`WriterMemories.add`)."""

    memory: StoredMemory
    tag: str | None  # None: there was no memory yet

    def record_link(self, drawing_id: str) -> str:
        return self.memory.link(drawing_id)


class KnownWriters:
    """The keys of the writers that have a memory, as far as this worker knows: 8 bytes a writer (a million take
    8 MB), so that asking for anyone else costs no read.

    >>> known = KnownWriters(); known.add("0123456789abcdef0123456789abcdef")
    >>> "0123456789abcdef0123456789abcdef" in known, "f" * 32 in known
    (True, False)
    """

    def __init__(self) -> None:
        self._listed = np.zeros(0, np.uint64)  # sorted: from the last listing
        self._added: set[int] = set()  # since then
        self._lock = threading.Lock()

    @staticmethod
    def _code(key: str) -> int:
        return int(key[:16], 16)

    def __contains__(self, key: str) -> bool:
        code = self._code(key)
        listed = self._listed
        i = int(np.searchsorted(listed, np.uint64(code)))
        return (i < len(listed) and int(listed[i]) == code) or code in self._added

    def add(self, key: str) -> None:
        with self._lock:
            self._added.add(self._code(key))

    def replace(self, keys: list[str]) -> None:
        """A fresh listing; keys added meanwhile are kept."""
        listed = np.unique(np.array([self._code(k) for k in keys], np.uint64))
        with self._lock:
            added = np.array(sorted(self._added), np.uint64)
            self._listed, self._added = listed, {int(c) for c in added[~np.isin(added, listed)]}


def memory_keys(objects: ObjectStore) -> list[tuple[str, float]]:
    """``(key, modified)`` of every writer memory in the store."""
    return [(name[len(FOLDER):-len(".json")], modified) for name, modified in objects.list(FOLDER)
            if name.endswith(".json") and re.fullmatch(r"[0-9a-f]{32}", name[len(FOLDER):-len(".json")])]


def expire_memories(objects: ObjectStore, older_than_s: float, now: float | None = None) -> list[str]:
    """Delete the memories whose last drawing was added more than ``older_than_s`` ago; returns their keys (the
    caller announces them, so every worker drops its copy)."""
    cutoff = (time.time() if now is None else now) - older_than_s
    old = [key for key, modified in memory_keys(objects) if modified < cutoff]
    if old:
        pointers = []
        for key in old:  # each pseudonym's pointer goes with its memory
            try:
                alias = StoredMemory.from_bytes(objects.get(f"{FOLDER}{key}.json"), key).alias
            except (NotFound, CorruptObject):
                continue
            if alias is not None:
                pointers.append(WriterMemories._pointer(alias))
        objects.delete([f"{FOLDER}{key}.json" for key in old] + pointers)
        log.info("forgot %d writers' memories unused for %.0f days", len(old), older_than_s / 86400)
    return old


class WriterMemories:
    """Writers' memories in an :class:`~service.core.storage.base.ObjectStore`, and a bounded cache of their views."""

    def __init__(self, objects: ObjectStore, *, n_classes: int, size: int = MEMORY_SIZE, cache_writers: int = 2000,
                 ttl_s: float = 60.0) -> None:
        self.objects, self.size, self.n_classes = objects, size, n_classes
        self.cache_writers, self.ttl_s = cache_writers, ttl_s
        self._cache: OrderedDict[str, tuple[float, PrototypeMemory]] = OrderedDict()
        self._lock = threading.Lock()
        self.origin = secrets.token_hex(8)  # this worker, in its own announcements
        self.on_change: Callable[[str, str], None] = lambda key, origin: None  # announce to the other workers
        self.known = KnownWriters()

    @staticmethod
    def _name(key: str) -> str:
        return f"{FOLDER}{key}.json"

    def refresh_known(self) -> int:
        """List the writers that have a memory (at start, then every ``KNOWN_REFRESH_S``); returns how many."""
        keys = [key for key, _ in memory_keys(self.objects)]
        self.known.replace(keys)
        return len(keys)

    def keep_known_fresh(self, every_s: float = KNOWN_REFRESH_S) -> threading.Event:
        """List them now, then every ``every_s`` on a thread; returns its stop switch."""
        stop = threading.Event()

        def refresh() -> None:
            try:
                self.refresh_known()
            except StorageError as exc:  # meanwhile, writers announced or linked here are known
                log.warning("could not list writers' memories (trying again in %.0f s): %s", every_s, exc)

        def run() -> None:
            while not stop.wait(every_s):
                refresh()

        refresh()

        threading.Thread(target=run, name="known-writers", daemon=True).start()
        return stop

    @staticmethod
    def _pointer(alias: str) -> str:
        """Where a pseudonym leads to its writer's memory (for reviews): deleted with the memory."""
        return f"{FOLDER}aliases/{alias}.json"

    def _read(self, key: str) -> tuple[StoredMemory | None, str | None]:
        """The stored memory and its tag; a memory that cannot be read counts as none (the next add replaces it)."""
        try:
            data, tag = self.objects.get_versioned(self._name(key))
        except NotFound:
            return None, None
        try:
            return StoredMemory.from_bytes(data, self._name(key)), tag
        except CorruptObject as exc:
            log.warning("%s; starting that writer's memory afresh", exc)
            return None, tag

    def _remember(self, key: str, view: PrototypeMemory, ttl_s: float | None = None) -> None:
        with self._lock:
            self._cache[key] = (time.monotonic() + (self.ttl_s if ttl_s is None else ttl_s), view)
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_writers:
                self._cache.popitem(last=False)

    # --- answering -----------------------------------------------------------------

    def cached_view(self, writer: str) -> PrototypeMemory | None:
        """The writer's memory from this worker's cache, or None if it must be read (:meth:`view`)."""
        key = writer_key(writer)
        with self._lock:
            cached = self._cache.get(key)
            if cached and cached[0] > time.monotonic():
                self._cache.move_to_end(key)
                return cached[1]
        return None

    def view(self, writer: str) -> PrototypeMemory:
        """The writer's memory as answering needs it (empty if they have none): cached, else one read, and none
        for a writer this worker does not know to have a memory.

        Never fails: while the store is unreachable the answer is simply not personalised.
        """
        if (cached := self.cached_view(writer)) is not None:
            return cached
        if writer_key(writer) not in self.known:
            return PrototypeMemory.empty(self.n_classes)
        try:
            return self.read(writer)
        except StorageError as exc:
            log.warning("writer memory unreadable, answering without it: %s", exc)
            self._remember(writer_key(writer), PrototypeMemory.empty(self.n_classes), OUTAGE_RETRY_S)
            return PrototypeMemory.empty(self.n_classes)

    def read(self, writer: str) -> PrototypeMemory:
        """The writer's memory as stored now (raises StorageError); refreshes this worker's copy of a memory that
        exists (one that does not is not cached)."""
        key = writer_key(writer)
        stored, _ = self._read(key)
        if stored is None and key not in self.known:
            return PrototypeMemory.empty(self.n_classes)
        view = stored.view(self.n_classes) if stored else PrototypeMemory.empty(self.n_classes)
        self.known.add(key)
        self._remember(key, view)
        return view

    def changed(self, key: str, origin: str | None = None) -> None:
        """A worker (not this one, whose cache is fresh) changed this memory: read it afresh next time."""
        if origin == self.origin or not re.fullmatch(r"[0-9a-f]{32}", key):
            return
        self.known.add(key)
        with self._lock:
            self._cache.pop(key, None)

    # --- learning and forgetting -------------------------------------------------------

    def link(self, writer: str) -> Link:
        """The writer's memory as it is before one of their drawings is stored: its record is linked with the
        memory's secret and carries its pseudonym. A writer's first drawing makes the memory first (empty,
        compare-and-swap), so the secret and pseudonym of every record are ones the store holds: of two first
        drawings in flight at once, the one that loses the creation takes the winner's."""
        key = writer_key(writer)
        for _ in range(CAS_ATTEMPTS):
            stored, tag = self._read(key)
            if stored is not None and stored.alias is not None:
                self.known.add(key)
                return Link(stored, tag)
            fresh = replace(stored, alias=new_alias()) if stored else StoredMemory(secrets.token_bytes(16),
                                                                                     alias=new_alias())
            self.objects.put(self._pointer(fresh.alias), dump_json({"key": key}))  # before anything names it
            try:
                stored, tag = fresh, self.objects.put_if_match(self._name(key), fresh.to_bytes(), tag)
            except VersionConflict:
                continue  # another drawing of theirs made it first: take theirs
            self.known.add(key)
            return Link(stored, tag)
        raise VersionConflict(f"writer memory {key}: too many concurrent changes")

    def add(self, writer: str, link: Link, drawing_id: str, label: int, embedding: np.ndarray, *, item: float = 0.0,
            quarantined: bool = False) -> PrototypeMemory:
        """Count a stored drawing in the writer's track record and, unless it is ``quarantined``, add it to their
        memory (compare-and-swap; never loses a concurrent add). ``item``: its suspicion by itself.

        A memory forgotten since ``link`` was read stays forgotten: the drawing
        is not added, and its record's link, made with the old secret, leads nowhere.
        """
        key = writer_key(writer)
        stored, tag = link.memory, link.tag
        for _ in range(CAS_ATTEMPTS):
            view = stored.view(self.n_classes)
            guess = view.guess(embedding) if view.counts_[label] else None
            updated = stored.count(item, quarantined)
            if not quarantined:
                updated = updated.with_entry(Entry(drawing_id, label, np.asarray(embedding, np.float16), guess),
                                             self.size)
            try:
                self.objects.put_if_match(self._name(key), updated.to_bytes(), tag)
                break
            except VersionConflict:
                current, tag = self._read(key)
                if current is None and link.tag is not None:  # forgotten meanwhile
                    self.changed(key)
                    return PrototypeMemory.empty(self.n_classes)
                if current is not None and link.tag is not None and current.secret != link.memory.secret:
                    self.changed(key)  # forgotten and begun again meanwhile: this drawing was before that
                    return current.view(self.n_classes)
                stored = current or link.memory
        else:
            raise VersionConflict(f"writer memory {key}: too many concurrent changes")
        view = updated.view(self.n_classes)
        self.known.add(key)
        self._remember(key, view)
        self.on_change(key, self.origin)
        return view

    def forget(self, writer: str) -> None:
        """Delete the writer's memory (and with its secret and its pseudonym's pointer, every way from their id
        to their drawings), everywhere. Their drawings stay, under a pseudonym nothing leads to any more."""
        key = writer_key(writer)
        stored, _ = self._read(key)
        self.objects.delete([self._name(key)])
        if stored is not None and stored.alias is not None:
            self.objects.delete([self._pointer(stored.alias)])
        self._remember(key, PrototypeMemory.empty(self.n_classes))
        self.on_change(key, self.origin)

    def track_record(self, alias: str) -> TrackRecord | None:
        """The track record of the writer with this pseudonym (None: forgotten, or never had one)."""
        key = self._key_of(alias)
        stored = self._read(key)[0] if key else None
        return stored.track_record if stored else None

    def _key_of(self, alias: str) -> str | None:
        try:
            key = parse_json(self.objects.get(self._pointer(alias)), self._pointer(alias)).get("key")
        except (NotFound, CorruptObject):
            return None
        return key if isinstance(key, str) and re.fullmatch(r"[0-9a-f]{32}", key) else None

    def apply_review(self, alias: str, drawing_id: str, label: int | None, embedding: np.ndarray | None,
                     verdict: str | None) -> bool:
        """Make the memory of the writer with this pseudonym follow a review of one of their drawings: hold it
        with ``label`` (adding it, from ``embedding``, if it was held out), or not at all (``label`` None:
        quarantined, discarded), and keep the reviewer's ``verdict`` in their track record. Idempotent: a
        learner that applies a review twice changes nothing more. False when no memory follows the alias."""
        key = self._key_of(alias)
        if key is None:
            return False
        for _ in range(CAS_ATTEMPTS):
            stored, tag = self._read(key)
            if stored is None or stored.alias != alias:
                return False  # forgotten (and perhaps begun again under another pseudonym)
            updated = stored.with_verdict(drawing_id, verdict)
            if label is None:
                updated = updated.without(drawing_id)
            elif stored.holds(drawing_id):
                updated = updated.relabelled(drawing_id, label)
            elif embedding is not None:
                updated = updated.with_entry(Entry(drawing_id, label, np.asarray(embedding, np.float16), None),
                                             self.size)
            if updated.to_bytes() == stored.to_bytes():
                return True
            try:
                self.objects.put_if_match(self._name(key), updated.to_bytes(), tag)
            except VersionConflict:
                continue
            self.changed(key)
            self.on_change(key, self.origin)
            return True
        raise VersionConflict(f"writer memory {key}: too many concurrent changes")
