"""What wraps every request: a size limit on its body, the security headers of every response, and its
metrics. Pure ASGI middleware (no per-request framework overhead)."""

from __future__ import annotations

import json
import logging
import time

from ..core.metrics import Metrics

log = logging.getLogger(__name__)

# The page makes no request outside its own origin (a browser test checks it), so the policy can say
# exactly that. Drawings and feature maps are painted from data: and blob: URLs; styles set from
# scripts go through the CSSOM, which the policy does not block. Nobody may frame the page.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """``nosniff``, a content security policy, no framing, no referrer: on every response, errors included.

    ``docs_policy`` (with the API docs on, :mod:`.docs`) is the policy of the paths under ``docs_paths``.
    """

    def __init__(self, app, docs_policy: str | None = None, docs_paths: tuple[str, ...] = ()):
        self.app, self.docs_policy, self.docs_paths = app, docs_policy, docs_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        docs = self.docs_policy and scope["path"].startswith(self.docs_paths)
        policy = self.docs_policy if docs else PAGE_POLICY

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-content-type-options", b"nosniff"),
                                      (b"content-security-policy", policy.encode()),
                                      (b"x-frame-options", b"DENY"),
                                      (b"referrer-policy", b"no-referrer")]
            await send(message)

        await self.app(scope, receive, with_headers)


class UnexpectedErrors:
    """An unexpected error's 500, answered inside the other middleware, so that it too carries the security
    headers and is counted (Starlette's own answer comes from outside all of them)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:  # half an answer is out: the connection must end
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            body = json.dumps({"detail": "Something went wrong on our side; it has been logged.",
                               "code": "internal_error"}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


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


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not its raw path: ids would explode labels)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                # Server-Timing lets a client (and scripts/bench.py) tell server time from network time.
                elapsed_ms = (time.perf_counter() - started) * 1000
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", f"app;dur={elapsed_ms:.2f}".encode())]}
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            # The router records the route it matched in the scope: its template, not the raw path.
            route = getattr(scope.get("route"), "path", "other")
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)

