"""Drawings and objects in an S3 bucket (AWS, SeaweedFS, MinIO...), via boto3.

Keys under ``<prefix>/`` (the prefix may be empty) mirror the local layout::

    drawings/<id>.png             the drawing as the user saw it
    drawings/<id>.strokes.json    its pen strokes, when the page sent them (models.strokes)
    drawings/<id>.label<d>        empty label marker, so listings carry labels
    drawings/<id>.private         empty marker of a drawing sent without consent, so listings carry that too
    drawings/<id>.json            DrawingRecord; written last = the commit marker
    weights/...                   the weight store's objects (``weights.py``)

Consistency comes from S3 conditional writes alone (no lock server):
``IfNoneMatch="*"`` for create-only objects, ``IfMatch=<etag>`` to move a
weight store's HEAD.

Every botocore error is translated: connection trouble, timeouts, 5xx and
throttling -> StorageUnavailable; 404 -> NotFound; 412/409 on a conditional
write -> VersionConflict.
"""

from __future__ import annotations

import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Callable, Iterable, Iterator, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .base import (AlreadyExists, CorruptObject, IndexedDrawings, DrawingIndex, DrawingRecord, NotFound, StorageError,
                   StorageUnavailable, VersionConflict, check_drawing_id, check_page, dump_json, parse_record,
                   read_existing)
from .ids import drawing_id_time, drawing_id_time_prefix

T = TypeVar("T")
R = TypeVar("R")

_DRAWING_KEY_RE = re.compile(r"\A([0-9]{8}T[0-9]{9}Z-[0-9a-f]{10})\.(json|png|label[0-9]{1,3}|private)\Z")
_UNAVAILABLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
                      "RequestTimeout", "ServiceUnavailable", "InternalError", "NoSuchBucket"}
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}


def make_s3_client(endpoint_url: str | None, region: str | None, timeout_s: float = 3.0):
    """A boto3 S3 client that fails fast: an unreachable endpoint costs seconds, not minutes.

    Credentials come from boto3's standard chain (env, profile, instance role) and
    are never taken as arguments. With an ``endpoint_url`` (SeaweedFS, MinIO)
    path-style addressing is used, since those rarely serve bucket subdomains.

    >>> client = make_s3_client("http://127.0.0.1:8333", "us-east-1", timeout_s=2)
    >>> client.meta.config.connect_timeout, client.meta.config.s3["addressing_style"]
    (2, 'path')
    """
    config = Config(
        region_name=region,
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"mode": "standard", "total_max_attempts": 2},
        max_pool_connections=20,
        s3={"addressing_style": "path"} if endpoint_url else None,
        # Only send checksums S3 requires: S3-compatible servers lag behind AWS on the newer ones.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, config=config)


@contextlib.contextmanager
def _s3_errors(what: str):
    """Translate botocore's exceptions into the storage errors callers act on."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        detail = f"{what}: {code or status} {error.get('Message', '')}".rstrip()
        if code in _UNAVAILABLE_CODES or status >= 500 or status == 429:
            raise StorageUnavailable(detail) from exc
        if code in ("NoSuchKey", "NotFound", "404") or status == 404:
            raise NotFound(detail) from exc
        if code in _CONFLICT_CODES or status in (409, 412):
            raise VersionConflict(detail) from exc
        raise StorageError(detail) from exc  # 403, bad request...: configuration, not an outage
    except (BotoConnectionError, HTTPClientError, IncompleteReadError, OSError) as exc:
        raise StorageUnavailable(f"{what}: {exc}") from exc  # refused, reset, timed out, cut off mid-body
    except BotoCoreError as exc:  # no credentials, invalid parameters...: configuration, not an outage
        raise StorageError(f"{what}: {exc}") from exc


def _fetch_all(fn: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]`` with a few requests in flight (S3 latency, not CPU, is the cost)."""
    if len(items) <= 1 or workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


class S3Objects:
    """The :class:`~service.core.storage.base.ObjectStore` adapter for one bucket and key prefix.

    Every call raises storage errors, never botocore ones; an object's tag is its ETag.
    """

    def __init__(self, client, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def key(self, name: str) -> str:
        return self.prefix + name

    def get(self, name: str) -> bytes:
        return self.get_versioned(name)[0]

    def get_versioned(self, name: str) -> tuple[bytes, str]:
        with _s3_errors(f"get {name}"):
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
            return response["Body"].read(), response["ETag"]

    def exists(self, name: str) -> None:
        """NotFound unless ``name`` exists (one HEAD request)."""
        with _s3_errors(f"head {name}"):
            self.client.head_object(Bucket=self.bucket, Key=self.key(name))

    def _put(self, name: str, body: bytes, **conditions) -> str:
        try:
            with _s3_errors(f"put {name}"):
                return self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=body, **conditions)["ETag"]
        except NotFound as exc:  # AWS answers IfMatch on a missing key with 404: the condition failed
            raise VersionConflict(str(exc)) from exc

    def put(self, name: str, data: bytes) -> None:
        self._put(name, bytes(data))

    def put_if_absent(self, name: str, data: bytes) -> bool:
        try:
            self._put(name, bytes(data), IfNoneMatch="*")
            return True
        except VersionConflict:
            return False

    def put_if_match(self, name: str, data: bytes, tag: str | None) -> str:
        return self._put(name, bytes(data), **({"IfMatch": tag} if tag else {"IfNoneMatch": "*"}))

    def names(self, under: str, start_after: str | None = None) -> Iterator[tuple[str, float]]:
        """``(name, modified)`` of every key below ``under`` (names without the prefix), in key order."""
        kwargs = {"Bucket": self.bucket, "Prefix": self.key(under)}
        if start_after:
            kwargs["StartAfter"] = self.key(start_after)
        with _s3_errors(f"list {under}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", ()):
                    yield obj["Key"][len(self.prefix):], obj["LastModified"].timestamp()

    def list(self, folder: str) -> list[tuple[str, float]]:
        prefix = folder if folder.endswith("/") else folder + "/"
        return [(n, t) for n, t in self.names(prefix) if "/" not in n[len(prefix):]]

    def delete(self, names: list[str]) -> None:
        for start in range(0, len(names), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = [{"Key": self.key(n)} for n in names[start:start + 1000]]
            with _s3_errors("delete objects"):
                response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise StorageError(f"delete {first.get('Key')}: {first.get('Code')} {first.get('Message')}")


# --------------------------------------------------------------------------- drawings

class S3DrawingStore(IndexedDrawings):
    """Drawings as objects under ``<prefix>/drawings/``.

    ``list``/``counts`` answer from an in-memory index refreshed on every call
    by one ListObjectsV2 that starts ``settle_s`` before the newest id already
    known (the label markers make the listing enough, no object is read). So a
    drawing another worker committed shows up on the very next call.

    Clock caveat: ids carry their writer's clock. A drawing whose id is more
    than ``settle_s`` older than the newest one known when it gets committed
    (writer clock behind by that much, or a put that stalled that long between
    minting the id and writing the JSON) is missed by workers that were
    already running, until they restart. ``get``/``iter_records`` still see it.
    """

    def __init__(self, client, bucket: str, prefix: str = "", *, settle_s: float = 60.0, workers: int = 8) -> None:
        self._bucket = S3Objects(client, bucket, prefix)
        self._settle = timedelta(seconds=settle_s)
        self._workers = workers
        self._lock = threading.Lock()  # guards the index
        self._index = DrawingIndex()

    def put(self, record: DrawingRecord, png: bytes, strokes: bytes | None = None) -> None:
        body = dump_json(record.to_json())
        self._create(f"drawings/{record.id}.png", bytes(png))
        if strokes is not None:
            self._create(f"drawings/{record.id}.strokes.json", bytes(strokes))
        if not record.train:
            self._create(f"drawings/{record.id}.private", b"")
        self._create(f"drawings/{record.id}.label{record.label}", b"")
        self._create(f"drawings/{record.id}.json", body)  # the commit marker, last
        with self._lock:
            self._index.add(record.id, record.label, public=record.train)

    def _create(self, name: str, body: bytes) -> None:
        """Create-only write; the same bytes already there is fine (a retried put)."""
        if not self._bucket.put_if_absent(name, body):
            try:
                existing = self._bucket.get(name)
            except NotFound:  # 409: a concurrent conditional write still in flight
                raise VersionConflict(f"{name} is being written concurrently") from None
            if existing != body:
                raise AlreadyExists(f"{name} exists with different content") from None

    def get(self, drawing_id: str) -> DrawingRecord:
        check_drawing_id(drawing_id)
        record = parse_record(self._bucket.get(f"drawings/{drawing_id}.json"), f"drawing {drawing_id}")
        if record.id != drawing_id:
            raise CorruptObject(f"drawings/{drawing_id}.json holds drawing {record.id}")
        return record

    def get_png(self, drawing_id: str) -> bytes:
        check_drawing_id(drawing_id)
        self._bucket.exists(f"drawings/{drawing_id}.json")  # uncommitted PNGs do not exist
        return self._bucket.get(f"drawings/{drawing_id}.png")

    def get_strokes(self, drawing_id: str) -> bytes:
        check_drawing_id(drawing_id)
        self._bucket.exists(f"drawings/{drawing_id}.json")
        return self._bucket.get(f"drawings/{drawing_id}.strokes.json")

    def list(self, label: int | None = None, limit: int = 50, cursor: str | None = None,
             public: bool = False) -> tuple[list[DrawingRecord], str | None]:
        check_page(label, limit, cursor)
        with self._lock:
            self._refresh()
            ids, next_cursor = self._index.page(label, limit, cursor, public)
        records = [r for chunk in _fetch_all(lambda i: read_existing(self.get, [i], self.skip_corrupt), ids,
                                             self._workers) for r in chunk]
        if public:
            with self._lock:
                for record in records:
                    if not record.train:  # stored before its marker said so
                        self._index.mark_private(record.id)
            records = [r for r in records if r.train]
        return records, next_cursor

    def iter_records(self) -> Iterator[DrawingRecord]:
        """Oldest first, straight from a full listing (not the index): exact, for export and replay."""
        ids = (m.group(1) for m in map(_DRAWING_KEY_RE.match, self._committed_names()) if m)
        for chunk in _chunks(ids, 64):
            yield from _fetch_all(self.get, chunk, self._workers)

    def _committed_names(self) -> Iterator[str]:
        for name, _ in self._bucket.names("drawings/"):
            if name.endswith(".json"):
                yield name[len("drawings/"):]

    def _refresh(self) -> None:
        """Add drawings committed since the last call (caller holds the lock)."""
        newest = self._index.newest()
        start_after = None
        if newest is not None:
            start_after = "drawings/" + drawing_id_time_prefix(drawing_id_time(newest) - self._settle)
        committed: list[str] = []
        labels: dict[str, int | None] = {}
        private: set[str] = set()
        for name, _ in self._bucket.names("drawings/", start_after):
            m = _DRAWING_KEY_RE.match(name[len("drawings/"):])
            if not m or m.group(1) in self._index:
                continue
            if m.group(2) == "json":
                committed.append(m.group(1))
            elif m.group(2) == "private":
                private.add(m.group(1))
            elif m.group(2).startswith("label"):
                label = int(m.group(2).removeprefix("label"))
                # Two different markers only if a put under a taken id died at its JSON: the JSON decides.
                labels[m.group(1)] = label if labels.get(m.group(1), label) == label else None
        unlabelled = [i for i in committed if labels.get(i) is None]  # no (clear) marker: read the record
        for drawing_id, label in zip(unlabelled, _fetch_all(self._label_of, unlabelled, self._workers)):
            labels[drawing_id] = label
        for drawing_id in committed:
            if labels[drawing_id] is not None:
                self._index.add(drawing_id, labels[drawing_id], public=drawing_id not in private)

    def _label_of(self, drawing_id: str) -> int | None:
        try:
            return self.get(drawing_id).label
        except (NotFound, CorruptObject):
            return None


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
