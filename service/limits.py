"""Request size limit (an ASGI middleware), a per-client rate limiter shared by every web worker, and a
per-process one for predictions."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Answer 413 to bodies over ``max_bytes``, whether declared by Content-Length or streamed."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(send)
        received = 0
        responded = rejected = False

        async def limited_receive():
            # Past the limit we answer 413 ourselves and tell the app the client left:
            # raising here instead would reach FastAPI's body reader, which turns any
            # error into a 400.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    rejected = True
                    if not responded:
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal responded
            if rejected:
                return  # the app's own answer to a body it never fully got is dropped
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _reject(self, send):
        body = json.dumps({
            "detail": f"The request is too large; at most {self.max_bytes // 1000} kB is accepted. "
                      "A 280x280 canvas PNG is far smaller.",
            "code": "too_large",
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


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
