"""Drawings and objects in a local folder, safe for several processes sharing it.

Layout under ``root``::

    drawings/<id>.png            the drawing as the user saw it
    drawings/<id>.strokes.json   its pen strokes, when the page sent them (models.strokes)
    drawings/<id>.json           DrawingRecord; written last = the commit marker
    drawings/index.log           append-only "<id> <label>" lines, see below
    weights/...                  the weight store's objects (``weights.py``), as files

Every file is written to a temp file in the same directory, fsync'd, then
linked (create-only: ``os.link`` fails if the name exists) or renamed
(``os.replace``) into place, and the directory is fsync'd, so ``kill -9`` or a
power cut leaves either no file or a complete one. Stray ``.tmp-*`` files from
killed writers are harmless and ignored.

A drawing sent without consent gets a line ``<id> p`` just before its own, in
the same append (a reader that does not know it skips it), so listings of
public drawings never read a private record.

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

from .base import (AlreadyExists, CorruptObject, IndexedDrawings, DrawingIndex, DrawingRecord, NotFound,
                   StorageError, StorageUnavailable, VersionConflict, check_drawing_id, check_page, dump_json,
                   parse_record, read_existing, sha256_hex)
from .ids import DRAWING_ID_RE

# Not anchored: a line torn by a crash and glued to the next one still yields the next entry.
_JOURNAL_ENTRY_RE = re.compile(rb"([0-9]{8}T[0-9]{9}Z-[0-9a-f]{10}) ([0-9]{1,3}|p)\n")


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

class LocalDrawingStore(IndexedDrawings):
    """Drawings as files under ``root/drawings``.

    >>> import tempfile
    >>> from service.core.storage import DrawingRecord, new_drawing_id
    >>> store = LocalDrawingStore(Path(tempfile.mkdtemp()))
    >>> record = DrawingRecord(new_drawing_id(), 4, "2026-11-27T15:04:05.123Z", True, "c0ffee", bytes(784))
    >>> store.put(record, b"png bytes")
    >>> store.get(record.id) == record, store.counts(10)[4]
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
        self._private: set[str] = set()  # logged as private, not indexed yet
        self._scanned = False

    # -- writing

    def put(self, record: DrawingRecord, png: bytes, strokes: bytes | None = None) -> None:
        body = dump_json(record.to_json())
        with _os_errors(f"put {record.id}"):
            self._create(f"{record.id}.png", bytes(png))
            if strokes is not None:
                self._create(f"{record.id}.strokes.json", bytes(strokes))
            self._append_journal(record.id, record.label, record.train)
            _fsync_dir(self._dir)  # the PNG is durable before the JSON can be
            self._create(f"{record.id}.json", body)
            _fsync_dir(self._dir)
        with self._lock:
            self._index.add(record.id, record.label, public=record.train)

    def _create(self, name: str, data: bytes) -> None:
        """Create-only write; the same bytes already there is fine (a retried put)."""
        path = self._dir / name
        if not _write_file(path, data, create_only=True) and path.read_bytes() != data:
            raise AlreadyExists(f"{name} exists with different content")

    def _append_journal(self, drawing_id: str, label: int, public: bool) -> None:
        # One small O_APPEND write: concurrent appenders from other processes never interleave.
        fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            lines = f"{drawing_id} {label}\n" if public else f"{drawing_id} p\n{drawing_id} {label}\n"
            os.write(fd, lines.encode("ascii"))
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

    def get_strokes(self, drawing_id: str) -> bytes:
        check_drawing_id(drawing_id)
        with _os_errors(f"read {drawing_id}"):
            if not (self._dir / f"{drawing_id}.json").exists():
                raise NotFound(f"no drawing {drawing_id}")
            return _read_file(self._dir / f"{drawing_id}.strokes.json", f"strokes of drawing {drawing_id}")

    # -- reading many

    def list(self, label: int | None = None, limit: int = 50, cursor: str | None = None,
             public: bool = False) -> tuple[list[DrawingRecord], str | None]:
        check_page(label, limit, cursor)
        with self._lock:
            self._refresh()
            ids, next_cursor = self._index.page(label, limit, cursor, public)
        records = read_existing(self.get, ids, self.skip_corrupt)
        return (self._public_only(records) if public else records), next_cursor

    def _public_only(self, records: list[DrawingRecord]) -> list[DrawingRecord]:
        with self._lock:
            for record in records:
                if not record.train:  # stored before the journal said so
                    self._index.mark_private(record.id)
        return [r for r in records if r.train]

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
                    self._index.add(drawing_id, label, public=drawing_id not in self._private)
                    del self._pending[drawing_id]
                    self._private.discard(drawing_id)
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
            if drawing_id in self._index:
                continue
            if m.group(2) == b"p":
                self._private.add(drawing_id)
            else:
                self._pending.setdefault(drawing_id, int(m.group(2)))  # the first line for an id wins

    def _scan_folder(self) -> None:
        """Once per process: committed drawings the journal does not know (lost log lines)."""
        for name in os.listdir(self._dir):
            drawing_id = name[:-5]
            if name.endswith(".json") and DRAWING_ID_RE.match(drawing_id) and drawing_id not in self._index:
                label, public = self._pending.pop(drawing_id, None), drawing_id not in self._private
                self._private.discard(drawing_id)
                if label is None:
                    try:
                        record = self.get(drawing_id)
                    except (NotFound, CorruptObject):
                        continue
                    label, public = record.label, record.train
                self._index.add(drawing_id, label, public)


# --------------------------------------------------------------------------- objects

class LocalObjects:
    """The :class:`~service.core.storage.base.ObjectStore` adapter for a folder.

    A file's tag is the sha256 of its bytes; ``put_if_match`` compares and
    replaces under an ``flock`` on a lock file beside it, which serialises
    threads and processes alike (flock is per open file). ``delete`` removes
    the lock file too (a writer's memory's names the hash of its id).

    >>> import tempfile
    >>> objects = LocalObjects(tempfile.mkdtemp())
    >>> objects.put_if_absent("a/b", b"1"), objects.put_if_absent("a/b", b"2"), objects.get("a/b")
    (True, False, b'1')
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"invalid object name {name!r}")
        return self.root / name

    def get(self, name: str) -> bytes:
        with _os_errors(f"read {name}"):
            return _read_file(self._path(name), name)

    def get_versioned(self, name: str) -> tuple[bytes, str]:
        data = self.get(name)
        return data, sha256_hex(data)

    def _write(self, name: str, data: bytes, create_only: bool) -> bool:
        path = self._path(name)
        with _os_errors(f"write {name}"):
            path.parent.mkdir(parents=True, exist_ok=True)
            written = _write_file(path, bytes(data), create_only=create_only)
            _fsync_dir(path.parent)
        return written

    def put(self, name: str, data: bytes) -> None:
        self._write(name, data, create_only=False)

    def put_if_absent(self, name: str, data: bytes) -> bool:
        return self._write(name, data, create_only=True)

    def _lock(self, path: Path, create: bool) -> int | None:
        """An exclusive flock on ``path``'s lock file (None: there is none and ``create`` is false).

        A lock file is deleted with its object (:meth:`delete`, under the lock), so a
        lock taken on a file that has since been unlinked is taken again on the new one:
        whoever holds a lock holds the one file everyone else will lock.
        """
        lock_path = path.with_name(f".lock-{path.name}")
        while True:
            with _os_errors(f"lock {path.name}"):
                try:
                    fd = os.open(lock_path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
                except FileNotFoundError:
                    return None
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # unlinked while we waited for it

    def put_if_match(self, name: str, data: bytes, tag: str | None) -> str:
        path = self._path(name)
        with _os_errors(f"lock {name}"):
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._lock(path, create=True)
        try:
            try:
                now = sha256_hex(path.read_bytes())
            except FileNotFoundError:
                now = None
            if now != tag:
                raise VersionConflict(f"{name} changed (expected {tag}, found {now})")
            self._write(name, data, create_only=False)
            return sha256_hex(data)
        finally:
            os.close(fd)  # releases the flock

    def list(self, folder: str) -> list[tuple[str, float]]:
        prefix = folder if folder.endswith("/") else folder + "/"
        with _os_errors(f"list {folder}"):
            try:
                entries = list(os.scandir(self._path(prefix.rstrip("/"))))
            except FileNotFoundError:
                return []
            return sorted((prefix + e.name, e.stat().st_mtime) for e in entries
                          if e.is_file() and not e.name.startswith("."))

    def delete(self, names: list[str]) -> None:
        """Delete each object, and its lock file if it has one (under that lock: it names the object)."""
        with _os_errors("delete"):
            for name in names:
                path = self._path(name)
                fd = self._lock(path, create=False)
                try:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    if fd is not None:
                        os.unlink(path.with_name(f".lock-{path.name}"))
                finally:
                    if fd is not None:
                        os.close(fd)
