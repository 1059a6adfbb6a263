"""Drawing and weight stores in an S3 bucket (AWS, SeaweedFS, MinIO...), via boto3.

Keys under ``<prefix>/`` (the prefix may be empty) mirror the local layout::

    drawings/<id>.png             the drawing as the user saw it
    drawings/<id>.label<d>        empty label marker, so listings carry labels
    drawings/<id>.json            DrawingRecord; written last = the commit marker
    weights/<model>/<v:08d>.npz   immutable weights of version v
    weights/<model>/<v:08d>.json  immutable WeightPointer of version v (for history)
    weights/<model>/current.json  the newest WeightPointer, moved by compare-and-swap
    weights/<model>/events/<event id>.json

Consistency comes from S3 conditional writes alone (no lock server):
``IfNoneMatch="*"`` for create-only objects, ``IfMatch=<etag>`` to move the
pointer. See ``S3WeightStore.publish`` for how a publisher that died half way
is recovered from without ever letting two publishers own one version.

Every botocore error is translated: connection trouble, timeouts, 5xx and
throttling -> StorageUnavailable; 404 -> NotFound; 412/409 on a conditional
write -> VersionConflict.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Iterable, Iterator, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .base import (AlreadyExists, CorruptObject, DrawingIndex, DrawingRecord, NotFound, StorageError,
                   StorageUnavailable, VersionConflict, WeightPointer, check_drawing_id, check_model, check_page,
                   dump_json, parse_json, parse_pointer, parse_record, prune_candidates, sha256_hex)
from .ids import EVENT_ID_RE, EventIds, drawing_id_time, drawing_id_time_prefix, utc_iso

T = TypeVar("T")
R = TypeVar("R")

_DRAWING_KEY_RE = re.compile(r"\A(\d{8}T\d{9}Z-[0-9a-f]{10})\.(json|png|label[0-9])\Z")
_VERSION_KEY_RE = re.compile(r"\A(\d{8})\.npz\Z")
_UNAVAILABLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
                      "RequestTimeout", "ServiceUnavailable", "InternalError", "NoSuchBucket"}
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
_TAG_KEY = "inkling-publish"  # user metadata on weights objects: which publish attempt wrote them
_MAX_UNFINISHED = 16  # per model: cut-off publishes remembered for completing them later


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


@dataclass(frozen=True)
class _Stat:
    etag: str
    age_s: float  # since last modified, by the server's clock (its Date header)
    tag: str | None = None  # the publish attempt that wrote a weights object (user metadata), if any


class _Bucket:
    """One bucket and key prefix; every call raises storage errors, never botocore ones."""

    def __init__(self, client, bucket: str, prefix: str) -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def key(self, name: str) -> str:
        return self.prefix + name

    def get(self, name: str) -> bytes:
        return self.get_with_stat(name)[0]

    def get_with_stat(self, name: str) -> tuple[bytes, _Stat]:
        with _s3_errors(f"get {name}"):
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
            return response["Body"].read(), self._stat(response)

    def stat(self, name: str) -> _Stat:
        with _s3_errors(f"head {name}"):
            return self._stat(self.client.head_object(Bucket=self.bucket, Key=self.key(name)))

    @staticmethod
    def _stat(response: dict) -> _Stat:
        date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        now = parsedate_to_datetime(date) if date else datetime.now(timezone.utc)
        return _Stat(etag=response["ETag"], age_s=(now - response["LastModified"]).total_seconds(),
                     tag=(response.get("Metadata") or {}).get(_TAG_KEY))

    def put(self, name: str, body: bytes, *, if_match: str | None = None, if_none_match: bool = False,
            tag: str | None = None) -> str:
        """Write ``body``; conditionally if asked (a lost condition raises VersionConflict). Returns the ETag.

        ``tag`` goes into the object's user metadata (see ``_Stat.tag``)."""
        conditions = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"} if if_none_match else {}
        if tag is not None:
            conditions["Metadata"] = {_TAG_KEY: tag}
        try:
            with _s3_errors(f"put {name}"):
                return self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=body, **conditions)["ETag"]
        except NotFound as exc:  # AWS answers IfMatch on a missing key with 404: the condition failed
            raise VersionConflict(str(exc)) from exc

    def names(self, under: str, start_after: str | None = None) -> Iterator[str]:
        """Names (keys without the prefix) below ``under``, in key order, after ``start_after``."""
        kwargs = {"Bucket": self.bucket, "Prefix": self.key(under)}
        if start_after:
            kwargs["StartAfter"] = self.key(start_after)
        with _s3_errors(f"list {under}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", ()):
                    yield obj["Key"][len(self.prefix):]

    def delete(self, names: list[str]) -> int:
        deleted = 0
        for start in range(0, len(names), 1000):  # DeleteObjects takes at most 1000 keys
            chunk = [{"Key": self.key(n)} for n in names[start:start + 1000]]
            with _s3_errors("delete objects"):
                response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": False})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise StorageError(f"delete {first.get('Key')}: {first.get('Code')} {first.get('Message')}")
            deleted += len(response.get("Deleted", ()))
        return deleted


# --------------------------------------------------------------------------- drawings

class S3DrawingStore:
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
        self._bucket = _Bucket(client, bucket, prefix)
        self._settle = timedelta(seconds=settle_s)
        self._workers = workers
        self._lock = threading.Lock()  # guards the index
        self._index = DrawingIndex()

    def put(self, record: DrawingRecord, png: bytes) -> None:
        body = dump_json(record.to_json())
        self._create(f"drawings/{record.id}.png", bytes(png))
        self._create(f"drawings/{record.id}.label{record.label}", b"")
        self._create(f"drawings/{record.id}.json", body)  # the commit marker, last
        with self._lock:
            self._index.add(record.id, record.label)

    def _create(self, name: str, body: bytes) -> None:
        """Create-only write; the same bytes already there is fine (a retried put)."""
        try:
            self._bucket.put(name, body, if_none_match=True)
        except VersionConflict:
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
        self._bucket.stat(f"drawings/{drawing_id}.json")  # uncommitted PNGs do not exist
        return self._bucket.get(f"drawings/{drawing_id}.png")

    def list(self, label: int | None = None, limit: int = 50,
             cursor: str | None = None) -> tuple[list[DrawingRecord], str | None]:
        check_page(label, limit, cursor)
        with self._lock:
            self._refresh()
            ids, next_cursor = self._index.page(label, limit, cursor)
        return _fetch_all(self.get, ids, self._workers), next_cursor

    def counts(self) -> list[int]:
        with self._lock:
            self._refresh()
            return self._index.counts()

    def iter_records(self) -> Iterator[DrawingRecord]:
        """Oldest first, straight from a full listing (not the index): exact, for export and replay."""
        ids = (m.group(1) for m in map(_DRAWING_KEY_RE.match, self._committed_names()) if m)
        for chunk in _chunks(ids, 64):
            yield from _fetch_all(self.get, chunk, self._workers)

    def _committed_names(self) -> Iterator[str]:
        for name in self._bucket.names("drawings/"):
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
        for name in self._bucket.names("drawings/", start_after):
            m = _DRAWING_KEY_RE.match(name[len("drawings/"):])
            if not m or m.group(1) in self._index:
                continue
            if m.group(2) == "json":
                committed.append(m.group(1))
            elif m.group(2).startswith("label"):
                label = int(m.group(2)[-1])
                # Two different markers only if a put under a taken id died at its JSON: the JSON decides.
                labels[m.group(1)] = label if labels.get(m.group(1), label) == label else None
        unlabelled = [i for i in committed if labels.get(i) is None]  # no (clear) marker: read the record
        for drawing_id, label in zip(unlabelled, _fetch_all(self._label_of, unlabelled, self._workers)):
            labels[drawing_id] = label
        for drawing_id in committed:
            if labels[drawing_id] is not None:
                self._index.add(drawing_id, labels[drawing_id])

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


# --------------------------------------------------------------------------- weights

@dataclass(frozen=True)
class _PointerState:
    """``current.json`` as read: the pointer (None before version 1), its ETag for the CAS, fencing."""

    pointer: WeightPointer | None
    version: int
    etag: str | None  # None: no current.json yet -> create it with IfNoneMatch
    fence_age_s: float | None  # set if a takeover fenced the pointer (see publish)


@dataclass(frozen=True)
class _Unfinished:
    """A publish of this store instance that raised after sending its weights object (which may have
    landed, or may still land): everything needed to recognise that object and complete the publish."""

    pointer: WeightPointer  # what the pointer was to become
    pointer_json: bytes  # its exact bytes: also the version's metadata object
    size: int  # of the weights
    tag: str  # random, in the weights object's user metadata: proves which attempt wrote it
    cas_etag: str | None  # the pointer's ETag the attempt read (None: no current.json yet)


class S3WeightStore:
    """Versioned weights under ``<prefix>/weights/<model>/``.

    ``stale_after_s``: how old a leftover of a publisher that died half way must be
    before another publisher takes its version number over (see ``publish``).
    """

    def __init__(self, client, bucket: str, prefix: str = "", *, stale_after_s: float = 60.0,
                 workers: int = 8) -> None:
        self._bucket = _Bucket(client, bucket, prefix)
        self._stale_after_s = stale_after_s
        self._lease_s = stale_after_s / 3
        self._workers = workers
        self._event_ids = EventIds()
        self._lock = threading.Lock()  # guards the caches of immutable objects below
        self._version_cache: dict[tuple[str, int], WeightPointer] = {}
        self._event_cache: dict[str, bytes] = {}
        self._unfinished: dict[str, dict[str, _Unfinished]] = {}  # model -> tag -> our cut-off publishes

    @staticmethod
    def _name(model: str, leaf: str) -> str:
        return f"weights/{check_model(model)}/{leaf}"

    def _read_pointer(self, model: str) -> _PointerState:
        try:
            body, stat = self._bucket.get_with_stat(self._name(model, "current.json"))
        except NotFound:
            return _PointerState(None, 0, None, None)
        d = parse_json(body, f"{model} pointer")
        fence_age = stat.age_s if "fence" in d else None
        if d.get("version") == 0:  # a takeover fenced the very first version
            return _PointerState(None, 0, stat.etag, fence_age)
        pointer = parse_pointer(body, f"{model} pointer")
        return _PointerState(pointer, pointer.version, stat.etag, fence_age)

    def current(self, model: str) -> WeightPointer | None:
        return self._read_pointer(model).pointer

    def publish(self, model: str, data: bytes, expected_version: int, meta: dict) -> WeightPointer:
        """Publish ``expected_version + 1``: weights, then metadata, then the pointer (CAS).

        The weights object is created with ``IfNoneMatch="*"``; whoever creates it
        owns that version number. If it already exists while the pointer still says
        ``expected_version``, either another publisher is between its writes right
        now, or one died there. They cannot be told apart, so:

        * publishers give up (StorageUnavailable) rather than write anything more than
          ``stale_after_s / 3`` after they started: a lease;
        * an existing weights object younger than ``stale_after_s`` (by the server's
          clock) is someone's live attempt -> VersionConflict, retry later;
        * an older one was abandoned: we first *fence* the pointer (rewrite it,
          same version, new ETag, by CAS), which makes any other publisher's final
          CAS fail, then overwrite the leftover and move the pointer by CAS from
          the fence's ETag. A fence younger than ``stale_after_s`` means another
          takeover is under way -> VersionConflict.

        So at any moment at most one publisher writes a given version's objects,
        and the pointer only ever names objects its mover wrote. (Outside a takeover
        the metadata is created with ``IfNoneMatch`` too: a publisher whose pointer
        read went stale while the version it targets got published *and pruned*
        must not rewrite that version's history.) The one residual
        assumption: ``stale_after_s`` exceeds the lease plus the longest single S3
        call (timeouts x attempts); the 60 s default leaves room for
        ``make_s3_client``'s 3 s timeouts. ``load`` verifies sha256 regardless.

        **Our own leftovers are rolled forward, not waited out.** An outage that cuts
        one of *our* publishes after its weights object (metadata or pointer write
        failed, or the weights PUT itself timed out but reached the server) must not
        block this process for ``stale_after_s``. Each weights object carries a random
        per-attempt tag in its user metadata, and this instance remembers its failed
        attempts (version, tag, sha256, size, pointer bytes, the pointer ETag it read).
        The next publish of that model first checks: pointer still at that version - 1
        *with the very ETag the attempt read* (untouched: nobody moved or fenced it
        since), and the weights object there carries that attempt's tag, size and
        sha256 (read back). Then it completes the earlier publish - metadata created
        with ``IfNoneMatch`` (or already there byte for byte), pointer moved by CAS
        from that ETag, with the failed call's meta - and raises VersionConflict, so
        the caller reloads and redoes its step on top (OnlineModel does exactly that).
        Otherwise (someone else's leftover, a takeover under way) the rules above
        apply unchanged. Why this is safe without any waiting:

        * it writes nothing unconditionally: the CAS succeeds only if no fence came
          first (takers overwrite only after fencing), and once it succeeds no fence
          from an older read can; so other workers' rules and fences stay intact;
        * a failed call is over, so the only writes of it that may still land are its
          last, timed-out request (with botocore's retry) - conditional, carrying the
          same bytes: it lands as what we complete, or fails on its condition. The
          takeover path (unconditional writes) is therefore never rolled forward; a
          takeover cut off by an outage still waits out its own fence. So is a
          leftover this instance no longer remembers (restart, or more than
          ``_MAX_UNFINISHED`` cut-off attempts).

        Assumption: within one process, publishes of one model are serialised by the
        caller (OnlineModel holds a per-model lock) and the service uses one store
        instance, so the completion runs before any further step of that model.
        (Safety does not depend on it: two callers completing the same leftover race
        on the metadata/CAS conditions and one gets VersionConflict.) The same
        roll-forward finishes a publish whose PUT was retried by botocore after the
        first try landed (412 on our own object), instead of treating it as a
        stranger's leftover; and a CAS or metadata write answered 412 although it was
        ours (byte-identical object found) counts as done.

        A drawing whose learning step was reported as failed may thus be learned after
        all (its version's meta names it): the step reached the store, completing it
        loses nothing and skips no version.
        """
        if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
            raise ValueError(f"expected_version must be an int >= 0, got {expected_version!r}")
        started = time.monotonic()
        data = bytes(data)
        state = self._read_pointer(model)
        if state.version != expected_version:
            self._forget_passed(model, state)
            raise VersionConflict(f"{model} is at version {state.version}, not {expected_version}")
        completed = self._complete_own_leftover(model, state)
        if completed is not None:
            raise VersionConflict(f"{model}: completed our own publish of version {completed.version} that was "
                                  "cut off earlier; redo on top of it")
        pointer = WeightPointer(model, expected_version + 1, sha256_hex(data), utc_iso(), dict(meta))
        pointer_json = dump_json(pointer.to_json())  # fails on non-JSON meta before anything is written
        weights_name = self._name(model, f"{pointer.version:08d}.npz")
        metadata_name = self._name(model, f"{pointer.version:08d}.json")
        attempt = _Unfinished(pointer, pointer_json, len(data), secrets.token_hex(8), state.etag)
        try:
            self._bucket.put(weights_name, data, if_none_match=True, tag=attempt.tag)
        except VersionConflict:
            # Ours after all? (botocore retried a PUT whose first try landed, or a timed-out PUT of an
            # earlier attempt landed since the check above.)
            completed = self._complete_own_leftover(model, state, attempt)
            if completed is pointer:
                return pointer
            if completed is not None:
                raise VersionConflict(f"{model}: completed our own publish of version {completed.version} that "
                                      "was cut off earlier; redo on top of it") from None
            started = time.monotonic()
            cas_etag = self._take_over(model, state, weights_name)
            self._forget(model)  # we fenced the pointer: none of our older attempts can complete now
            self._check_lease(started, model)
            self._bucket.put(weights_name, data, tag=attempt.tag)
            self._check_lease(started, model)
            self._bucket.put(metadata_name, pointer_json)
            self._check_lease(started, model)
            self._move_pointer(model, pointer, pointer_json, cas_etag)
            self._forget(model)
            return pointer
        except BaseException:
            self._remember(model, attempt)  # the PUT may have landed, or may still land
            raise
        try:
            self._check_lease(started, model)
            self._create_metadata(model, pointer.version, weights_name, metadata_name, pointer_json)
            self._check_lease(started, model)
            self._move_pointer(model, pointer, pointer_json, state.etag)
        except BaseException:
            self._remember(model, attempt)
            raise
        self._forget(model)
        return pointer

    def _move_pointer(self, model: str, pointer: WeightPointer, pointer_json: bytes, cas_etag: str | None) -> None:
        """CAS ``current.json`` from ``cas_etag`` to ``pointer``. A lost condition is VersionConflict, unless
        the pointer already is ``pointer`` byte for byte (a retried request whose first try landed)."""
        try:
            self._bucket.put(self._name(model, "current.json"), pointer_json,
                             if_match=cas_etag, if_none_match=cas_etag is None)
        except VersionConflict:
            try:
                if self._bucket.get(self._name(model, "current.json")) == pointer_json:
                    return
            except (NotFound, StorageUnavailable):
                pass
            raise

    def _create_metadata(self, model: str, version: int, weights_name: str, metadata_name: str,
                         body: bytes) -> None:
        """Create-only: existing metadata means ``version`` was published and its weights since pruned,
        so our pointer read is stale and the weights object we just created must go again. (Unless it
        is our own, byte for byte: botocore retried a request whose first try landed.)"""
        try:
            self._bucket.put(metadata_name, body, if_none_match=True)
        except VersionConflict:
            if self._existing_equals(metadata_name, body):
                return
            self._bucket.delete([weights_name])
            raise VersionConflict(f"{model}: version {version} was published meanwhile") from None

    def _existing_equals(self, name: str, body: bytes) -> bool:
        try:
            return self._bucket.get(name) == body
        except NotFound:  # 409: a concurrent conditional write still in flight
            return False

    # -- our own cut-off publishes (see publish)

    def _remember(self, model: str, attempt: _Unfinished) -> None:
        with self._lock:
            attempts = self._unfinished.setdefault(model, {})
            attempts[attempt.tag] = attempt
            while len(attempts) > _MAX_UNFINISHED:
                del attempts[next(iter(attempts))]  # the oldest

    def _forget(self, model: str, tags: Iterable[str] | None = None) -> None:
        with self._lock:
            if tags is None:
                self._unfinished.pop(model, None)
                return
            attempts = self._unfinished.get(model, {})
            for tag in tags:
                attempts.pop(tag, None)

    def _forget_passed(self, model: str, state: _PointerState) -> None:
        """Drop attempts that can no longer complete: the pointer passed them, or moved or got fenced since."""
        with self._lock:
            attempts = self._unfinished.get(model, {})
            dead = [t for t, a in attempts.items()
                    if a.pointer.version != state.version + 1 or a.cas_etag != state.etag]
            for tag in dead:
                del attempts[tag]

    def _complete_own_leftover(self, model: str, state: _PointerState,
                               current: _Unfinished | None = None) -> WeightPointer | None:
        """If the weights object of ``state.version + 1`` is one of our cut-off attempts (or ``current``'s),
        and the pointer is untouched since that attempt read it: finish that publish and return its pointer.
        None if there is nothing of ours to finish (the caller goes on as if we had never looked)."""
        self._forget_passed(model, state)
        with self._lock:
            candidates = dict(self._unfinished.get(model, {}))
        if current is not None:
            candidates[current.tag] = current
        candidates = {t: a for t, a in candidates.items()
                      if a.pointer.version == state.version + 1 and a.cas_etag == state.etag}
        if not candidates:
            return None
        version = state.version + 1
        try:
            data, stat = self._bucket.get_with_stat(self._name(model, f"{version:08d}.npz"))
        except NotFound:  # never landed (or not yet: then its conditional PUT fails, or it is found next time)
            return None
        attempt = candidates.get(stat.tag) if stat.tag else None
        if attempt is None or len(data) != attempt.size or sha256_hex(data) != attempt.pointer.sha256:
            return None  # someone else's
        metadata_name = self._name(model, f"{version:08d}.json")
        try:
            self._bucket.put(metadata_name, attempt.pointer_json, if_none_match=True)
        except VersionConflict:
            if not self._existing_equals(metadata_name, attempt.pointer_json):
                # Not ours: a takeover has begun since we read the pointer (it fenced it first).
                self._forget(model, [attempt.tag])
                raise VersionConflict(f"{model}: version {version} is being taken over") from None
        try:
            self._move_pointer(model, attempt.pointer, attempt.pointer_json, attempt.cas_etag)
        except VersionConflict:
            self._forget(model, [attempt.tag])  # moved or fenced since: it can never complete
            raise
        self._forget(model)  # the pointer is at `version` now: every attempt we remember is passed
        return attempt.pointer

    def _take_over(self, model: str, state: _PointerState, weights_name: str) -> str:
        """Fence the pointer so the leftover at ``weights_name`` is ours to overwrite; returns the fence's ETag."""
        try:
            leftover_age = self._bucket.stat(weights_name).age_s
        except NotFound:  # it went away (409 from a concurrent conditional write on AWS): just retry
            raise VersionConflict(f"{model}: version {state.version + 1} is being written concurrently") from None
        # HTTP dates have whole seconds: an age measured as n s may be up to 1 s less.
        stale = self._stale_after_s + 1.0
        if leftover_age < stale or (state.fence_age_s is not None and state.fence_age_s < stale):
            raise VersionConflict(
                f"{model}: version {state.version + 1} is being published by another worker (or one that died "
                f"{leftover_age:.0f}s ago; it is taken over after {self._stale_after_s:.0f}s)")
        base = state.pointer.to_json() if state.pointer else {"model": model, "version": 0}
        fence = dump_json({**base, "fence": secrets.token_hex(8)})
        return self._bucket.put(self._name(model, "current.json"), fence,
                                if_match=state.etag, if_none_match=state.etag is None)

    def _check_lease(self, started: float, model: str) -> None:
        if time.monotonic() - started > self._lease_s:
            raise StorageUnavailable(f"publishing {model} took over {self._lease_s:.0f}s; "
                                     "stopped so that a takeover cannot race with it")

    def _version_pointer(self, model: str, version: int) -> WeightPointer:
        """Metadata of a published version (immutable once the pointer passed it: cached)."""
        with self._lock:
            cached = self._version_cache.get((model, version))
        if cached is None:
            cached = parse_pointer(self._bucket.get(self._name(model, f"{version:08d}.json")),
                                   f"{model} v{version} metadata")
            with self._lock:
                self._version_cache[(model, version)] = cached
        return cached

    def load(self, model: str, version: int) -> bytes:
        current = self.current(model)
        if current is None or not isinstance(version, int) or not 1 <= version <= current.version:
            raise NotFound(f"{model} has no published version {version!r}")
        pointer = current if version == current.version else self._version_pointer(model, version)
        data = self._bucket.get(self._name(model, f"{version:08d}.npz"))
        if sha256_hex(data) != pointer.sha256:
            raise CorruptObject(f"{model} v{version}: sha256 mismatch")
        return data

    def history(self, model: str) -> list[WeightPointer]:
        current = self.current(model)
        if current is None:
            return []
        try:
            older = _fetch_all(lambda v: self._version_pointer(model, v), list(range(1, current.version)),
                               self._workers)
        except NotFound as exc:  # written before the pointer moved and never deleted: cannot happen
            raise CorruptObject(f"{model} history has a gap: {exc}") from None
        return older + [current]

    def append_event(self, model: str, event: dict) -> None:
        body = dump_json(event)
        try:
            self._bucket.put(self._name(model, f"events/{self._event_ids.new()}.json"), body, if_none_match=True)
        except VersionConflict:  # 40 random bits in the same microsecond
            raise StorageError("event id collision") from None

    def events(self, model: str) -> list[dict]:
        prefix = self._name(model, "events/")
        names = sorted(n for n in self._bucket.names(prefix)
                       if n.endswith(".json") and EVENT_ID_RE.match(n[len(prefix):-len(".json")]))
        with self._lock:
            missing = [n for n in names if n not in self._event_cache]
        fetched = _fetch_all(self._bucket.get, missing, self._workers)
        with self._lock:
            self._event_cache.update(zip(missing, fetched))
            bodies = [self._event_cache[n] for n in names]
        return [parse_json(b, f"{model} event") for b in bodies]  # fresh dicts: callers may mutate them

    def prune(self, model: str, keep_last: int, keep: set[int]) -> int:
        current = self.current(model)
        if current is None:
            return 0
        prefix = self._name(model, "")
        stored = [int(m.group(1)) for m in (_VERSION_KEY_RE.match(n[len(prefix):]) for n in self._bucket.names(prefix))
                  if m]
        doomed = prune_candidates(stored, current.version, keep_last, set(keep))
        return self._bucket.delete([self._name(model, f"{v:08d}.npz") for v in doomed])
