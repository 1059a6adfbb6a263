"""The HTTP server's edge: how long a client may take to send its request, how large its head may be, and how
many connections one client may hold open.

uvicorn closes an idle keep-alive connection after ``--timeout-keep-alive``, but
has no timeout while a request is being read, no bound on the size of its
headers, and counts every open connection against ``--limit-concurrency``: a
client that trickles its headers, sends a 40 MB header value, or opens hundreds
of connections and says nothing holds a worker's memory or its connection
budget for as long as it likes. :class:`GuardedHttpToolsProtocol` is uvicorn's
own ``httptools`` protocol with what it lacks; select it, with a bound on
connections, on the command line (the ``Procfile`` and ``Dockerfile`` do)::

    uvicorn service.app:app --http service.edge:GuardedHttpToolsProtocol --limit-concurrency 500

Invariants, per connection:

* its first byte arrives within ``INKLING_FIRST_BYTE_TIMEOUT_SECONDS`` of the
  connection; a request's head (request line and headers) within
  ``INKLING_HEADER_TIMEOUT_SECONDS`` of its first byte, and its body within
  ``INKLING_BODY_TIMEOUT_SECONDS`` of its head: otherwise 408, and closed;
* a request's head is at most ``INKLING_MAX_HEADER_BYTES``, URL included: the
  parser is never handed more of it (431, and closed), so a worker holds at
  most that much of any head;
* one client (an IPv4 address, an IPv6 /64) holds at most
  ``INKLING_MAX_CONNECTIONS_PER_CLIENT`` connections to this worker: the next is
  answered 429 and closed. Behind trusted proxies (``INKLING_TRUSTED_PROXIES``)
  every connection comes from a proxy, so the cap is off, and bounding idle
  clients is the proxy's job.

Every answer given here is closed with a lingering close: the answer is sent,
the connection's writing side shut, and whatever the client still sends is
read and dropped for a moment, so the client reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..core.settings import Settings
from .clients import network_of

SERVER_ARGS = ("--http", "service.edge:GuardedHttpToolsProtocol", "--limit-concurrency", "500")
LINGER_S = 2.0  # after an answer given here, what the client still sends is dropped for this long
_HEADERS = (b"content-type: application/json\r\nconnection: close\r\nx-content-type-options: nosniff\r\n"
            b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\nx-frame-options: DENY\r\n"
            b"referrer-policy: no-referrer\r\n")


def edge_response(status: str, code: str, detail: str) -> bytes:
    """A complete HTTP/1.1 answer with the ``{"detail", "code"}`` body every error has."""
    body = json.dumps({"detail": detail, "code": code}).encode()
    return b"HTTP/1.1 %s\r\n%scontent-length: %d\r\n\r\n%s" % (status.encode(), _HEADERS, len(body), body)


@dataclass(frozen=True)
class EdgeLimits:
    first_byte_timeout_s: float
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int
    max_connections_per_client: int  # 0: no cap

    @classmethod
    def from_settings(cls, settings: Settings) -> "EdgeLimits":
        return cls(settings.first_byte_timeout_seconds, settings.header_timeout_seconds,
                   settings.body_timeout_seconds, settings.max_header_bytes,
                   0 if settings.trusted_proxies else settings.max_connections_per_client)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with read timeouts, a bound on a request's head, and a per-client cap on
    connections."""

    limits: EdgeLimits | None = None  # read from Settings when the first connection comes
    open_connections: Counter[str] = Counter()  # this worker's connections per client network

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if GuardedHttpToolsProtocol.limits is None:
            GuardedHttpToolsProtocol.limits = EdgeLimits.from_settings(Settings())
        self._reading = self._network = None
        self._head_bytes: int | None = 0  # of the request being read; None while its body is
        self._lingering = False
        cap = self.limits.max_connections_per_client
        if cap and self.client:
            network = network_of(self.client[0])
            if self.open_connections[network] >= cap:
                self._answer_and_close("429 Too Many Requests", "too_many_connections",
                                       f"Too many connections from your address at once (at most {cap}); "
                                       "close some and try again.", linger=False)  # it has sent nothing
                return
            self._network = network
            self.open_connections[network] += 1
        self._arm(self.limits.first_byte_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # an answer was given: the rest is dropped
        # The parser is handed a request's head only up to the limit, so no more of it is ever held.
        while data and self._head_bytes is not None:
            room = self.limits.max_header_bytes - self._head_bytes
            if room <= 0:
                limit_kb = self.limits.max_header_bytes // 1024
                self._answer_and_close("431 Request Header Fields Too Large", "headers_too_large",
                                       f"The request's headers (with its URL) are larger than {limit_kb} KiB; "
                                       "send fewer or shorter ones.")
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing() or self._lingering:
                return
        if data:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.limits.header_timeout_s)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._head_bytes = None
        self._arm(self.limits.body_timeout_s)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0  # the next request on this connection starts its own count
        self._disarm()  # the request is in: the app takes its time, not the client

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._network is not None:
            self.open_connections[self._network] -= 1
            if self.open_connections[self._network] <= 0:
                del self.open_connections[self._network]
            self._network = None
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
        if self.cycle is not None:
            self.cycle.disconnected = True  # the app, if it is reading the body, gets http.disconnect
        self._answer_and_close("408 Request Timeout", "request_timeout",
                               "The request took too long to arrive; send it again.")

    def _answer_and_close(self, status: str, code: str, detail: str, linger: bool = True) -> None:
        """Answer (unless the app has begun answering this request), then a lingering close. The connection
        stops counting against --limit-concurrency at once."""
        self._disarm()
        self.connections.discard(self)
        if self.cycle is not None:
            self.cycle.disconnected = True
            if self.cycle.response_started:  # the app's answer is under way: it cannot be replaced
                self.transport.close()
                return
        self.transport.write(edge_response(status, code, detail))
        if not linger:
            self.transport.close()
            return
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
