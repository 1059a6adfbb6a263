"""Per-client rate limits: one shared by every web worker (drawings), one per process (predictions, listings)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Callable

log = logging.getLogger(__name__)

SHARED_COOL_OFF_S = 2.0  # after a failed call to the shared count, count in this process for this long


class RateLimiter:
    """Per-client limit: at most ``burst`` drawings in any ``burst / per_minute`` minutes.

    A moving window (the ``limits`` library): a client may send ``burst`` at once
    and ``per_minute`` on average. With a ``redis://`` storage every web worker
    shares one count per client; with ``memory://`` (the embedded default) the
    count is this process's.

    Invariant: a limit always applies. When the shared count cannot be reached
    (Redis stopped, paused, full, or the password wrong) the same limit is
    counted in this process instead, never none, and Redis is not asked again for
    ``SHARED_COOL_OFF_S`` (an outage costs one request a socket timeout, not every
    request). The first failure of an outage is logged once, and so is the end;
    :attr:`shared` says which count applies now (``/healthz``, ``/metrics``).
    Blocking: call it off the event loop.

    >>> limiter = RateLimiter(per_minute=60, burst=1)
    >>> limiter.acquire("a"), limiter.acquire("a") > 0, limiter.acquire("b")
    (0.0, True, 0.0)
    """

    def __init__(self, per_minute: float, burst: int, storage_url: str = "memory://", prefix: str = "inkling",
                 *, cool_off_s: float = SHARED_COOL_OFF_S, timeout_s: float = 1.0):
        from limits import RateLimitItemPerSecond
        from limits.storage import MemoryStorage, storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.item = RateLimitItemPerSecond(burst, max(1, round(burst * 60 / per_minute)))
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.remote = None
        if storage_url.startswith("redis"):
            options = {"key_prefix": f"{prefix}:limits", "wrap_exceptions": True, "socket_timeout": timeout_s,
                       "socket_connect_timeout": timeout_s}
            self.remote = MovingWindowRateLimiter(storage_from_string(storage_url, **options))
        self.cool_off_s = cool_off_s
        self._down_until = 0.0
        self._outage: str | None = None  # why the shared count is not used now (None: it is, or there is none)
        self._lock = threading.Lock()
        self.on_change: Callable[[bool], None] = lambda shared: None  # told when the shared count is lost or back

    @property
    def shared(self) -> bool:
        """Whether the count in force is the one every worker shares (False: this process's)."""
        return self.remote is not None and self._outage is None

    @property
    def state(self) -> str:
        """``shared``, ``per_process`` (there is no shared count) or ``per_process_fallback`` (it is unreachable)."""
        if self.remote is None:
            return "per_process"
        return "shared" if self._outage is None else "per_process_fallback"

    def acquire(self, client: str) -> float:
        """Take one; returns 0 when allowed, else the seconds to wait."""
        from limits.errors import StorageError

        if self.remote is not None and time.monotonic() >= self._down_until:
            try:
                wait = self._take(self.remote, client)
            except StorageError as exc:
                self._lost(exc)
            else:
                self._back()
                return wait
        return self._take(self.local, client)

    def _take(self, limiter, client: str) -> float:
        if limiter.hit(self.item, client):
            return 0.0
        return max(0.0, limiter.get_window_stats(self.item, client).reset_time - time.time())

    def _lost(self, exc: Exception) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.cool_off_s
            first, self._outage = self._outage is None, str(exc) or type(exc).__name__
        if first:
            log.warning("drawing rate limit: the shared count (Redis) is unreachable, so each worker counts on its "
                        "own until it is back (a client may send up to one burst per worker): %s", exc)
            self.on_change(False)

    def _back(self) -> None:
        if self._outage is None:
            return
        with self._lock:
            was, self._outage = self._outage, None
        if was is not None:
            log.warning("drawing rate limit: the shared count (Redis) is reachable again")
            self.on_change(True)

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))


class TokenBucket:
    """Per-client limit in this process: ``burst`` requests at once, refilled at ``per_minute``.

    For predictions, which are many and cheap: O(1) a request under one lock, no
    threads, the newest ``clients`` clients remembered. (``limits``' in-memory
    moving window keeps a timestamp per request and starts a timer thread to
    expire them: measured ~0.1-0.4 ms a prediction under load, a tenth of one.)

    >>> bucket = TokenBucket(per_minute=60, burst=2)
    >>> bucket.acquire("a"), bucket.acquire("a"), bucket.acquire("a") > 0, bucket.acquire("b")
    (0.0, 0.0, True, 0.0)
    """

    retry_after = staticmethod(RateLimiter.retry_after)

    def __init__(self, per_minute: float, burst: int, clients: int = 100_000):
        self.rate, self.burst, self.clients = per_minute / 60, float(burst), clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """Take one; returns 0 when allowed, else the seconds until one is there."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if not wait else tokens, now)
            if len(self._buckets) > self.clients:
                self._buckets.popitem(last=False)
        return wait
