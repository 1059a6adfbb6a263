"""Drawing and weight stores in a local folder, safe for several processes sharing it.

Layout under ``root``::

    drawings/<id>.png            the drawing as the user saw it
    drawings/<id>.json           DrawingRecord; written last = the commit marker
    drawings/index.log           append-only "<id> <label>" lines, see below
    weights/<model>/<v:08d>.npz  immutable weights of version v
    weights/<model>/<v:08d>.json immutable WeightPointer of version v (for history)
    weights/<model>/current.json the newest WeightPointer, replaced atomically
    weights/<model>/events/<event id>.json
    weights/<model>/.lock        flock'd by publishers (and prune)

Every file is written to a temp file in the same directory, fsync'd, then
linked (create-only: ``os.link`` fails if the name exists) or renamed
(``os.replace``) into place, and the directory is fsync'd, so ``kill -9`` or a
power cut leaves either no file or a complete one. Stray ``.tmp-*`` files from
killed writers are harmless and ignored.

Why ``index.log``: listing a directory of 100k drawings costs ~0.2 s, too much
for every ``list``/``counts`` call. Instead ``put`` appends its id and label to
the log *before* committing the JSON, and each process tails the log from
where it stopped: an entry counts once its JSON exists (a put that died before
its JSON stays invisible). Each process also scans the folder once when it
first lists, which picks up drawings whose log line was lost (the log is not
fsync'd: it is an index, the JSON files are the truth).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Iterator

from .base import (AlreadyExists, CorruptObject, DrawingIndex, DrawingRecord, NotFound, StorageError,
                   StorageUnavailable, VersionConflict, WeightPointer, check_drawing_id, check_model, check_page,
                   dump_json, parse_json, parse_pointer, parse_record, prune_candidates, sha256_hex)
from .ids import DRAWING_ID_RE, EVENT_ID_RE, EventIds, utc_iso

# Not anchored: a line torn by a crash and glued to the next one still yields the next entry.
_JOURNAL_ENTRY_RE = re.compile(rb"(\d{8}T\d{9}Z-[0-9a-f]{10}) ([0-9])\n")
_VERSION_FILE_RE = re.compile(r"\A(\d{8})\.(npz|json)\Z")


# --------------------------------------------------------------------------- file primitives

@contextlib.contextmanager
def _os_errors(what: str):
    """Disk trouble (full, read-only, I/O error) is an outage for the caller, not a bug."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        raise StorageUnavailable(f"local storage: {what}: {exc}") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes, *, create_only: bool) -> bool:
    """Atomically make ``path`` hold ``data`` (fsync'd; the caller fsyncs the directory).

    create_only: never replace an existing file; returns False if there was one.
    """
    tmp = path.with_name(f".tmp-{path.name}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if not create_only:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"no {what}") from None


# --------------------------------------------------------------------------- drawings

class LocalDrawingStore:
    """Drawings as files under ``root/drawings``.

    >>> import tempfile
    >>> from service.storage import DrawingRecord, new_drawing_id
    >>> store = LocalDrawingStore(Path(tempfile.mkdtemp()))
    >>> record = DrawingRecord(new_drawing_id(), 4, "2026-11-27T15:04:05.123Z", True, "c0ffee", bytes(784))
    >>> store.put(record, b"png bytes")
    >>> store.get(record.id) == record, store.counts()[4]
    (True, 1)
    """

    def __init__(self, root: Path) -> None:
        self._dir = Path(root) / "drawings"
        self._journal = self._dir / "index.log"
        with _os_errors("create folder"):
            self._dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # guards everything below
        self._index = DrawingIndex()
        self._journal_offset = 0
        self._pending: dict[str, int] = {}  # logged, JSON not seen yet (in flight, or died)
        self._scanned = False

    # -- writing

    def put(self, record: DrawingRecord, png: bytes) -> None:
        body = dump_json(record.to_json())
        with _os_errors(f"put {record.id}"):
            self._create(f"{record.id}.png", bytes(png))
            self._append_journal(record.id, record.label)
            _fsync_dir(self._dir)  # the PNG is durable before the JSON can be
            self._create(f"{record.id}.json", body)
            _fsync_dir(self._dir)
        with self._lock:
            self._index.add(record.id, record.label)

    def _create(self, name: str, data: bytes) -> None:
        """Create-only write; the same bytes already there is fine (a retried put)."""
        path = self._dir / name
        if not _write_file(path, data, create_only=True) and path.read_bytes() != data:
            raise AlreadyExists(f"{name} exists with different content")

    def _append_journal(self, drawing_id: str, label: int) -> None:
        # One small O_APPEND write: concurrent appenders from other processes never interleave.
        fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{drawing_id} {label}\n".encode("ascii"))
        finally:
            os.close(fd)

    # -- reading one

    def get(self, drawing_id: str) -> DrawingRecord:
        check_drawing_id(drawing_id)
        with _os_errors(f"read {drawing_id}"):
            record = parse_record(_read_file(self._dir / f"{drawing_id}.json", f"drawing {drawing_id}"),
                                  f"drawing {drawing_id}")
        if record.id != drawing_id:
            raise CorruptObject(f"drawings/{drawing_id}.json holds drawing {record.id}")
        return record

    def get_png(self, drawing_id: str) -> bytes:
        check_drawing_id(drawing_id)
        with _os_errors(f"read {drawing_id}"):
            if not (self._dir / f"{drawing_id}.json").exists():  # uncommitted PNGs do not exist
                raise NotFound(f"no drawing {drawing_id}")
            return _read_file(self._dir / f"{drawing_id}.png", f"PNG of drawing {drawing_id}")

    # -- reading many

    def list(self, label: int | None = None, limit: int = 50,
             cursor: str | None = None) -> tuple[list[DrawingRecord], str | None]:
        check_page(label, limit, cursor)
        with self._lock:
            self._refresh()
            ids, next_cursor = self._index.page(label, limit, cursor)
        return [self.get(i) for i in ids], next_cursor

    def counts(self) -> list[int]:
        with self._lock:
            self._refresh()
            return self._index.counts()

    def iter_records(self) -> Iterator[DrawingRecord]:
        """Oldest first, straight from the folder (not the index): exact, for export and replay."""
        with _os_errors("list drawings"):
            names = sorted(n for n in os.listdir(self._dir) if n.endswith(".json") and DRAWING_ID_RE.match(n[:-5]))
        for name in names:
            yield self.get(name[:-5])

    def _refresh(self) -> None:
        """Catch up with drawings other processes committed (caller holds the lock)."""
        with _os_errors("read drawings index"):
            self._tail_journal()
            for drawing_id, label in list(self._pending.items()):
                if (self._dir / f"{drawing_id}.json").exists():
                    self._index.add(drawing_id, label)
                    del self._pending[drawing_id]
            if not self._scanned:
                self._scan_folder()
                self._scanned = True

    def _tail_journal(self) -> None:
        try:
            with open(self._journal, "rb") as f:
                f.seek(self._journal_offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being appended right now waits for next time
        self._journal_offset += len(complete)
        for m in _JOURNAL_ENTRY_RE.finditer(complete):
            drawing_id = m.group(1).decode("ascii")
            if drawing_id not in self._index:
                self._pending.setdefault(drawing_id, int(m.group(2)))  # the first line for an id wins

    def _scan_folder(self) -> None:
        """Once per process: committed drawings the journal does not know (lost log lines)."""
        for name in os.listdir(self._dir):
            drawing_id = name[:-5]
            if name.endswith(".json") and DRAWING_ID_RE.match(drawing_id) and drawing_id not in self._index:
                label = self._pending.pop(drawing_id, None)
                if label is None:
                    try:
                        label = self.get(drawing_id).label
                    except (NotFound, CorruptObject):
                        continue
                self._index.add(drawing_id, label)


# --------------------------------------------------------------------------- weights

class LocalWeightStore:
    """Versioned weights under ``root/weights/<model>``; publishers serialise on an flock.

    >>> import tempfile
    >>> store = LocalWeightStore(Path(tempfile.mkdtemp()))
    >>> store.publish("fnn_online", b"weights", expected_version=0, meta={"reason": "learn"}).version
    1
    >>> store.current("fnn_online").version, store.load("fnn_online", 1)
    (1, b'weights')
    """

    def __init__(self, root: Path) -> None:
        self._dir = Path(root) / "weights"
        self._event_ids = EventIds()

    def _model_dir(self, model: str) -> Path:
        return self._dir / check_model(model)

    @contextlib.contextmanager
    def _locked(self, model: str):
        """Exclusive per-model lock, shared by threads and processes (flock is per open file)."""
        mdir = self._model_dir(model)
        with _os_errors(f"lock {model}"):
            mdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(mdir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield mdir
        finally:
            os.close(fd)  # releases the flock

    def current(self, model: str) -> WeightPointer | None:
        path = self._model_dir(model) / "current.json"
        with _os_errors(f"read {model} pointer"):
            try:
                return parse_pointer(path.read_bytes(), f"{model} pointer")
            except (FileNotFoundError, NotADirectoryError):
                return None

    def publish(self, model: str, data: bytes, expected_version: int, meta: dict) -> WeightPointer:
        if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
            raise ValueError(f"expected_version must be an int >= 0, got {expected_version!r}")
        data = bytes(data)
        with self._locked(model) as mdir, _os_errors(f"publish {model}"):
            current = self.current(model)
            at = current.version if current else 0
            if at != expected_version:
                raise VersionConflict(f"{model} is at version {at}, not {expected_version}")
            pointer = WeightPointer(model, at + 1, sha256_hex(data), utc_iso(), dict(meta))
            pointer_json = dump_json(pointer.to_json())  # fails on non-JSON meta before anything is written
            # Files numbered at+1 can only be leftovers of a publisher that died before moving the
            # pointer (we hold the lock and the pointer is still at `at`): overwriting them is safe.
            _write_file(mdir / f"{pointer.version:08d}.npz", data, create_only=False)
            _write_file(mdir / f"{pointer.version:08d}.json", pointer_json, create_only=False)
            _fsync_dir(mdir)  # weights and metadata durable before the pointer names them
            _write_file(mdir / "current.json", pointer_json, create_only=False)
            _fsync_dir(mdir)
        return pointer

    def load(self, model: str, version: int) -> bytes:
        mdir = self._model_dir(model)
        current = self.current(model)
        if current is None or not isinstance(version, int) or not 1 <= version <= current.version:
            raise NotFound(f"{model} has no published version {version!r}")
        with _os_errors(f"load {model} v{version}"):
            pointer = current if version == current.version else self._version_pointer(mdir, version)
            data = _read_file(mdir / f"{version:08d}.npz", f"weights for {model} v{version} (pruned?)")
        if sha256_hex(data) != pointer.sha256:
            raise CorruptObject(f"{model} v{version}: sha256 mismatch")
        return data

    def _version_pointer(self, mdir: Path, version: int) -> WeightPointer:
        data = _read_file(mdir / f"{version:08d}.json", f"metadata for {mdir.name} v{version}")
        return parse_pointer(data, f"{mdir.name} v{version} metadata")

    def history(self, model: str) -> list[WeightPointer]:
        mdir = self._model_dir(model)
        current = self.current(model)
        if current is None:
            return []
        with _os_errors(f"history of {model}"):
            try:
                return [self._version_pointer(mdir, v) for v in range(1, current.version)] + [current]
            except NotFound as exc:  # written before the pointer moved and never deleted: cannot happen
                raise CorruptObject(f"{model} history has a gap: {exc}") from None

    def append_event(self, model: str, event: dict) -> None:
        body = dump_json(event)
        events_dir = self._model_dir(model) / "events"
        with _os_errors(f"append {model} event"):
            events_dir.mkdir(parents=True, exist_ok=True)
            if not _write_file(events_dir / f"{self._event_ids.new()}.json", body, create_only=True):
                raise StorageError("event id collision")  # 40 random bits in the same microsecond
            _fsync_dir(events_dir)

    def events(self, model: str) -> list[dict]:
        events_dir = self._model_dir(model) / "events"
        with _os_errors(f"read {model} events"):
            try:
                names = sorted(n for n in os.listdir(events_dir) if n.endswith(".json") and EVENT_ID_RE.match(n[:-5]))
            except FileNotFoundError:
                return []
            return [parse_json((events_dir / n).read_bytes(), f"{model} event {n}") for n in names]

    def prune(self, model: str, keep_last: int, keep: set[int]) -> int:
        with self._locked(model) as mdir, _os_errors(f"prune {model}"):
            current = self.current(model)
            if current is None:
                return 0
            stored = [int(m.group(1)) for m in map(_VERSION_FILE_RE.match, os.listdir(mdir))
                      if m and m.group(2) == "npz"]
            deleted = 0
            for version in prune_candidates(stored, current.version, keep_last, set(keep)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(mdir / f"{version:08d}.npz")
                    deleted += 1
            if deleted:
                _fsync_dir(mdir)
            return deleted
