"""The HTTP server's edge: how long a client may take to send its request.

uvicorn closes an idle keep-alive connection after ``--timeout-keep-alive``, but
has no timeout while a request is being read: a client that trickles its
headers, trickles its body, or connects and says nothing holds a connection
(and its memory) for as long as it likes, and a few hundred such clients hold
a worker. :class:`GuardedHttpToolsProtocol` is uvicorn's own ``httptools``
protocol with the two timeouts it lacks; select it, with a bound on
connections, on the command line (the ``Procfile`` and ``Dockerfile`` do)::

    uvicorn service.app:app --http service.edge:GuardedHttpToolsProtocol --limit-concurrency 500

The headers of a request must arrive within ``INKLING_HEADER_TIMEOUT_SECONDS``
of its first byte (or of the connection, for the first request), and its body
within ``INKLING_BODY_TIMEOUT_SECONDS`` of its headers; otherwise the client
gets 408 and the connection is closed.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..core.settings import Settings

SERVER_ARGS = ("--http", "service.edge:GuardedHttpToolsProtocol", "--limit-concurrency", "500")
_TIMEOUT_BODY = b'{"detail": "The request took too long to arrive; send it again.", "code": "request_timeout"}'
_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with header and body read timeouts."""

    header_timeout_s = body_timeout_s = None  # read from Settings when the first connection comes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if GuardedHttpToolsProtocol.header_timeout_s is None:
            settings = Settings()
            GuardedHttpToolsProtocol.header_timeout_s = settings.header_timeout_seconds
            GuardedHttpToolsProtocol.body_timeout_s = settings.body_timeout_seconds
        self._reading = None
        self._arm(self.header_timeout_s)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout_s)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout_s)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()  # the request is in: the app takes its time, not the client

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._reading = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if getattr(self, "_reading", None) is not None:
            self._reading.cancel()
            self._reading = None

    def _too_slow(self) -> None:
        self._reading = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        if self.cycle is not None:
            self.cycle.disconnected = True  # the app, if it is reading the body, gets http.disconnect
        self.transport.close()
