"""Request size limit (an ASGI middleware) and a per-client token-bucket rate limiter."""

from __future__ import annotations

import json
import math
import threading
import time


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
    """Token bucket per client: ``burst`` at once, then ``per_minute`` on average.

    >>> limiter = RateLimiter(per_minute=60, burst=1)
    >>> limiter.acquire("a", now=0.0), limiter.acquire("a", now=0.5) > 0
    (0.0, True)
    """

    def __init__(self, per_minute: float, burst: int, max_clients: int = 100_000):
        self.rate, self.burst, self.max_clients = per_minute / 60.0, burst, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take a token; returns 0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_clients:  # forget the stalest half rather than grow forever
                    for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[: self.max_clients // 2]:
                        del self._buckets[key]
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
