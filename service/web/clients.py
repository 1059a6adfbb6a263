"""Who sent a request, as the service may know it: the client's address (behind trusted proxies, the one they
saw), kept only as a salted hash, in records, rate limits and access logs alike."""

from __future__ import annotations

import hashlib
import ipaddress
import logging

from starlette.requests import Request


def client_address(request: Request, trusted_proxies: int) -> str:
    """The connection's address, or behind ``trusted_proxies`` proxies the entry they appended to
    X-Forwarded-For (the entries to its left are the client's to write)."""
    forwarded = [a.strip() for a in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if a.strip()]
    if trusted_proxies and len(forwarded) >= trusted_proxies:
        return forwarded[-trusted_proxies]
    return request.client.host if request.client else "unknown"


def network_of(address: str) -> str:
    """What one client is counted as: an IPv4 address, or the /64 an IPv6 address is in.

    An ISP gives each subscriber a /64 or more, so one person can send from 2**64
    addresses: counted one by one, each would have a budget of its own.

    >>> network_of("2001:db8:1:2:a:b:c:d"), network_of("2001:db8:1:2::1"), network_of("192.0.2.1")
    ('2001:db8:1:2::/64', '2001:db8:1:2::/64', '192.0.2.1')
    >>> network_of("::ffff:192.0.2.1"), network_of("unknown")
    ('192.0.2.1', 'unknown')
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class ClientIds:
    """A salted hash of an address: lets us group one person's drawings without storing their address.

    >>> ids = ClientIds(b"salt")
    >>> ids.of("192.0.2.1") == ids.of("192.0.2.1") != ids.of("192.0.2.2"), len(ids.of("192.0.2.1"))
    (True, 16)
    """

    def __init__(self, salt: bytes) -> None:
        self._salt = salt

    def of(self, address: str) -> str:
        return hashlib.sha256(self._salt + address.encode()).hexdigest()[:16]


class HashedClients(logging.Filter):
    """Names the client in uvicorn's access log by the salted hash the drawing records use, not its address.

    Records keep a salted hash of the sender so one person's drawings can be
    grouped; a log line with the raw address beside it would undo that.
    """

    def __init__(self, ids: ClientIds):
        super().__init__()
        self.ids = ids

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:  # uvicorn: (client_addr, method, path, http, status)
            host = str(record.args[0]).rsplit(":", 1)[0]
            record.args = (f"client {self.ids.of(host)}", *record.args[1:])
        return True
