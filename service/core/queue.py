"""The learn queue: an ordered log of drawings waiting to be learned, and news of published versions.

drawing -> store -> **queue** -> learner -> version -> every worker. Two
backends with one small interface, like the stores:

* :class:`MemoryQueue`, in-process, for the embedded default (one process
  that serves and learns). Lost with the process: the learner's reconciliation
  against the drawing store finds what it held.
* :class:`RedisQueue`, a Redis Stream (``XADD``/``XREAD``/``XTRIM``) plus a
  pub/sub channel, for web workers and one learner in separate processes.

Both hold at most ``max_depth`` lessons (a hard bound, sized to Redis's memory:
~1 KB a lesson); past it ``add`` raises :class:`QueueFull` and adds nothing.
The drawing is stored all the same, and the learner's reconciliation enqueues
it once there is room: a bound never drops a lesson (trimming one that no
version holds would lose it for good).

Delivery is at-least-once and the learner makes it exactly-once: every
published weight version records the queue position it has consumed through
and the drawings it learned, so a learner reads on from the position in HEAD
and skips drawings already learned. Entries are trimmed only once a
published version contains them (that is the acknowledgement).

>>> queue = MemoryQueue()
>>> first = queue.add(Lesson("20261130T120000000Z-0123456789", 7, bytes(784)))
>>> [lesson.label for lesson in queue.read(after=None, count=10, block_s=0)]
[7]
>>> queue.read(after=first, count=10, block_s=0), queue.depth()
([], 1)
>>> queue.trim(through=first); queue.depth()
0
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Protocol

log = logging.getLogger(__name__)

Announcement = Callable[[str, int], None]  # (model, version)
MemoryNews = Callable[[str, str], None]  # (writer key, the announcing worker)


DEFAULT_MAX_DEPTH = 20_000  # lessons; ~20 MB of Redis (1,022 bytes a lesson, by MEMORY USAGE)


class QueueUnavailable(Exception):
    """The queue could not be reached; the drawing is stored and reconciliation will enqueue it."""


class QueueFull(QueueUnavailable):
    """The queue holds ``max_depth`` lessons; the drawing is stored and reconciliation will enqueue it."""


@dataclass(frozen=True)
class Lesson:
    """What the learner must do for one stored drawing, with everything it needs (it never reads the store
    for it): learn it (a drawing with consent), or carry out a review of it (:mod:`service.core.curation`).

    A drawing's first lesson steps with its ``label``. A review's lesson steps with ``label`` when the
    review says so (None: no step), and makes replay and the writer's memory (``alias``) hold the drawing
    with ``holds`` (None: not at all), keeping the reviewer's ``verdict`` in the writer's track record.
    """

    drawing_id: str
    label: int | None
    input28: bytes
    position: str | None = None  # set by the queue that delivers it
    review: str | None = None  # the review it carries out; None: the drawing's first lesson
    holds: int | None = None
    alias: str | None = None
    verdict: str | None = None

    @property
    def lesson_id(self) -> str:
        """Its entry in the ledger of published versions: the review's id, or the drawing's."""
        return self.review or self.drawing_id

    def to_fields(self) -> dict:
        fields = {"id": self.drawing_id, "label": "" if self.label is None else str(self.label), "input28": self.input28}
        if self.review:
            fields.update(review=self.review, holds="" if self.holds is None else str(self.holds),
                          alias=self.alias or "", verdict=self.verdict or "")
        return fields

    @classmethod
    def from_fields(cls, fields: dict, position: str) -> "Lesson":
        def get(key: str) -> str | bytes | None:
            value = fields.get(key) if key in fields else fields.get(key.encode())
            return value.decode() if isinstance(value, bytes) and key != "input28" else value

        number = lambda key: None if get(key) in (None, "") else int(get(key))  # noqa: E731
        return cls(get("id"), number("label"), bytes(get("input28")), position, get("review") or None,
                   number("holds"), get("alias") or None, get("verdict") or None)


class LearnQueue(Protocol):
    def add(self, lesson: Lesson) -> str:
        """Append; returns the lesson's position. Raises QueueFull at ``max_depth`` lessons, QueueUnavailable."""

    def read(self, after: str | None, count: int, block_s: float) -> list[Lesson]:
        """Up to ``count`` lessons after position ``after`` (None: from the start), oldest first;
        waits up to ``block_s`` for the first one."""

    def trim(self, through: str) -> None:
        """Forget lessons up to and including ``through`` (a published version contains them)."""

    def depth(self) -> int:
        """Lessons not yet trimmed."""

    def oldest_age_s(self) -> float | None:
        """Age of the oldest lesson not yet trimmed (the learn lag), None when empty."""

    def order(self, position: str | None) -> tuple:
        """A sort key for positions (None sorts first)."""

    @property
    def reachable(self) -> bool:
        """Whether the last call to the queue succeeded (no call is made to find out)."""

    def announce(self, model: str, version: int) -> None:
        """Tell every web worker that ``model`` has a new ``version``."""

    def subscribe(self, callback: Announcement) -> Callable[[], None]:
        """Call ``callback(model, version)`` on each announcement; returns a function that stops it."""

    def announce_memory(self, key: str, origin: str) -> None:
        """Tell every web worker that writer ``key``'s memory changed (``origin``: the worker that changed it)."""

    def subscribe_memories(self, callback: MemoryNews) -> Callable[[], None]:
        """Call ``callback(key, origin)`` on each change of a writer's memory; returns a function that stops it."""


def _stream_order(position: str | None) -> tuple[int, int]:
    if not position:
        return (-1, -1)
    ms, _, seq = position.partition("-")
    return int(ms), int(seq or 0)


class MemoryQueue:
    """In-process queue. Positions are ``<ms>-<n>`` like a Redis stream's, and carry this
    instance's epoch, so a position from an earlier process reads as "from the start"."""

    def __init__(self, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.max_depth = max_depth
        self._epoch = secrets.token_hex(4)
        self._entries: list[tuple[int, Lesson, float]] = []  # (n, lesson, added at)
        self._next = 1
        self._cond = threading.Condition()
        self._subscribers: list[Announcement] = []
        self._memory_subscribers: list[MemoryNews] = []

    def _n(self, position: str | None) -> int:
        if not position or not position.startswith(self._epoch + ":"):
            return 0
        return int(position.split(":", 1)[1])

    def add(self, lesson: Lesson) -> str:
        with self._cond:
            if len(self._entries) >= self.max_depth:
                raise QueueFull(f"the learn queue holds {self.max_depth} drawings")
            n, self._next = self._next, self._next + 1
            position = f"{self._epoch}:{n}"
            self._entries.append((n, replace(lesson, position=position), time.time()))
            self._cond.notify_all()
        return position

    def read(self, after: str | None, count: int, block_s: float) -> list[Lesson]:
        start = self._n(after)
        deadline = time.monotonic() + block_s
        with self._cond:
            while True:
                found = [lesson for n, lesson, _ in self._entries if n > start][:count]
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._cond.wait(remaining)

    def trim(self, through: str) -> None:
        end = self._n(through)
        with self._cond:
            self._entries = [e for e in self._entries if e[0] > end]

    def depth(self) -> int:
        with self._cond:
            return len(self._entries)

    def oldest_age_s(self) -> float | None:
        with self._cond:
            return time.time() - self._entries[0][2] if self._entries else None

    def order(self, position: str | None) -> tuple:
        return (self._n(position),)

    reachable = True

    def announce(self, model: str, version: int) -> None:
        for callback in list(self._subscribers):
            callback(model, version)

    def subscribe(self, callback: Announcement) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def announce_memory(self, key: str, origin: str) -> None:
        for callback in list(self._memory_subscribers):
            callback(key, origin)

    def subscribe_memories(self, callback: MemoryNews) -> Callable[[], None]:
        self._memory_subscribers.append(callback)
        return lambda: self._memory_subscribers.remove(callback)


class RedisQueue:
    """A Redis Stream ``<name>:lessons`` and pub/sub channels ``<name>:versions`` and ``<name>:memories``.

    After a failed call the queue answers QueueUnavailable at once for ``cool_off_s``
    rather than make every request wait out a connect timeout during an outage.
    ``add`` checks the bound and appends in one script, so workers adding at once
    never take the stream past ``max_depth``.
    """

    # Atomic: XLEN and XADD with nothing between them. No MAXLEN: trimming drops the oldest lessons,
    # which no version may hold yet.
    _ADD = """
    if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
    return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
    """

    def __init__(self, url: str, name: str = "inkling", *, timeout_s: float = 2.0, cool_off_s: float = 1.0,
                 max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        import redis  # only the scale-out set-up needs the client

        self._redis_errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           health_check_interval=30)
        self._url, self._timeout_s = url, timeout_s
        self.stream, self.channel, self.memory_channel = f"{name}:lessons", f"{name}:versions", f"{name}:memories"
        self._cool_off_s, self._down_until = cool_off_s, 0.0
        self.max_depth = max_depth
        self._add = self.client.register_script(self._ADD)
        self.reachable = True

    def _call(self, what: str, fn, *args, **kwargs):
        if time.monotonic() < self._down_until:
            raise QueueUnavailable(f"queue unreachable ({what}); retrying shortly")
        try:
            result = fn(*args, **kwargs)
        except self._redis_errors as exc:
            self._down_until = time.monotonic() + self._cool_off_s
            self.reachable = False
            raise QueueUnavailable(f"queue {what}: {exc}") from exc
        self.reachable = True
        return result

    def add(self, lesson: Lesson) -> str:
        pairs = [item for field in lesson.to_fields().items() for item in field]  # field, value, field, value...
        position = self._call("add", self._add, keys=[self.stream], args=[self.max_depth, *pairs])
        if position is None:
            raise QueueFull(f"the learn queue holds {self.max_depth} drawings")
        return position.decode()

    def read(self, after: str | None, count: int, block_s: float) -> list[Lesson]:
        block_ms = int(block_s * 1000) if block_s > 0 else None
        # A blocking read may take block_s plus a round trip; the socket timeout must not cut it.
        client = self.client if not block_ms else self._blocking_client(block_s)
        reply = self._call("read", client.xread, {self.stream: after or "0-0"}, count=count, block=block_ms)
        return [Lesson.from_fields(fields, position.decode()) for _, entries in reply or ()
                for position, fields in entries]

    def _blocking_client(self, block_s: float):
        if getattr(self, "_blocking", None) is None:
            import redis

            self._blocking = redis.Redis.from_url(self._url, socket_timeout=self._timeout_s + block_s + 1,
                                                  socket_connect_timeout=self._timeout_s)
        return self._blocking

    def trim(self, through: str) -> None:
        ms, seq = _stream_order(through)
        self._call("trim", self.client.xtrim, self.stream, minid=f"{ms}-{seq + 1}", approximate=False)

    def depth(self) -> int:
        return int(self._call("depth", self.client.xlen, self.stream))

    def oldest_age_s(self) -> float | None:
        first = self._call("peek", self.client.xrange, self.stream, count=1)
        if not first:
            return None
        return max(0.0, time.time() - _stream_order(first[0][0].decode())[0] / 1000)

    def order(self, position: str | None) -> tuple:
        return _stream_order(position)

    def _publish(self, channel: str, news: dict) -> None:
        try:
            self._call("announce", self.client.publish, channel, json.dumps(news))
        except QueueUnavailable as exc:  # workers poll as well: they hear of it a little later
            log.warning("%s", exc)

    def _listen(self, channel: str, deliver: Callable[[dict], None], shape: dict[str, type]) -> Callable[[], None]:
        """Hand each message on ``channel`` that is a JSON object with ``shape``'s fields and types to ``deliver``.

        Anyone who can publish on the channel can send anything: a message of another
        shape is logged and dropped, and so is one that ``deliver`` fails on; the
        listener goes on either way (it is every worker's only news of the others).
        """
        stop = threading.Event()

        def handle(data) -> None:
            try:
                news = json.loads(data)
                if not isinstance(news, dict) or any(not isinstance(news.get(k), t) or isinstance(news.get(k), bool)
                                                     for k, t in shape.items()):
                    raise ValueError(f"not an object with {', '.join(shape)}")
                deliver(news)
            except Exception as exc:  # noqa: BLE001 - one bad message must not end the listener
                log.warning("ignored a malformed message on %s: %s", channel, str(exc)[:200])

        def listen() -> None:
            while not stop.is_set():
                try:
                    pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(channel)
                    while not stop.is_set():
                        message = pubsub.get_message(timeout=1.0)
                        if message and message.get("type") == "message":
                            handle(message["data"])
                except self._redis_errors as exc:
                    log.debug("announcements on %s interrupted: %s", channel, exc)
                    stop.wait(1.0)

        threading.Thread(target=listen, name=f"announcements-{channel}", daemon=True).start()
        return stop.set

    def announce(self, model: str, version: int) -> None:
        self._publish(self.channel, {"model": model, "version": version})

    def subscribe(self, callback: Announcement) -> Callable[[], None]:
        return self._listen(self.channel, lambda news: callback(news["model"], news["version"]),
                            {"model": str, "version": int})

    def announce_memory(self, key: str, origin: str) -> None:
        self._publish(self.memory_channel, {"writer": key, "origin": origin})

    def subscribe_memories(self, callback: MemoryNews) -> Callable[[], None]:
        return self._listen(self.memory_channel, lambda news: callback(news["writer"], news["origin"]),
                            {"writer": str, "origin": str})


def make_queue(url: str | None, name: str = "inkling", max_depth: int = DEFAULT_MAX_DEPTH) -> LearnQueue:
    """The queue a deployment's settings select: Redis when ``url`` is set, else in-process."""
    return RedisQueue(url, name, max_depth=max_depth) if url else MemoryQueue(max_depth)
