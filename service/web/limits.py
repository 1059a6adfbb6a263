"""Per-client rate limits: one shared by every web worker (drawings), one per process (predictions)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict

log = logging.getLogger(__name__)


class RateLimiter:
    """Per-client limit: at most ``burst`` drawings in any ``burst / per_minute`` minutes.

    A moving window (the ``limits`` library): a client may send ``burst`` at once
    and ``per_minute`` on average. With a ``redis://`` storage every web worker
    shares one count per client; with ``memory://`` (the embedded default) the
    count is this process's. If Redis cannot be reached the limiter lets requests
    through (the drawing is what matters) and says so in the log.

    >>> limiter = RateLimiter(per_minute=60, burst=1)
    >>> limiter.acquire("a"), limiter.acquire("a") > 0, limiter.acquire("b")
    (0.0, True, 0.0)
    """

    def __init__(self, per_minute: float, burst: int, storage_url: str = "memory://", prefix: str = "inkling"):
        from limits import RateLimitItemPerSecond
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        options = {"key_prefix": f"{prefix}:limits", "wrap_exceptions": True, "socket_timeout": 1,
                   "socket_connect_timeout": 1} if storage_url.startswith("redis") else {}
        self.item = RateLimitItemPerSecond(burst, max(1, round(burst * 60 / per_minute)))
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_url, **options))

    def acquire(self, client: str) -> float:
        """Take one; returns 0 when allowed, else the seconds to wait."""
        from limits.errors import StorageError

        try:
            if self.limiter.hit(self.item, client):
                return 0.0
            return max(0.0, self.limiter.get_window_stats(self.item, client).reset_time - time.time())
        except StorageError as exc:
            log.warning("rate limit not applied (its storage is unreachable): %s", exc)
            return 0.0

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
