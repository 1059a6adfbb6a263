"""What routes are handed (FastAPI dependencies): the worker's runtime, whether the caller is the admin,
who the client is, and the per-client rate limits."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .clients import client_address, network_of
from .errors import ApiError
from .runtime import WebRuntime

bearer = HTTPBearer(auto_error=False, description="INKLING_ADMIN_TOKEN")


async def get_runtime(request: Request) -> WebRuntime:
    return request.app.state.runtime


RuntimeDep = Annotated[WebRuntime, Depends(get_runtime)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def admin_name(runtime: RuntimeDep, credentials: Credentials) -> str | None:
    """The name of the admin whose token the request carries (``Authorization: Bearer <token>``), or None.
    Every token is compared, in constant time, whichever matches."""
    if credentials is None:
        return None
    given, found = credentials.credentials.encode(), None
    for name, token in runtime.admins.items():
        if hmac.compare_digest(given, token.encode()):
            found = name
    return found


AdminDep = Annotated[str | None, Depends(admin_name)]


async def require_admin(runtime: RuntimeDep, admin: AdminDep) -> str:
    """The admin routes' guard: 403 when admin is disabled, 401 without a token; the admin's name."""
    if not runtime.admins:
        raise ApiError(403, "admin_disabled", "Admin routes are disabled: the operator has not set "
                                              "INKLING_ADMIN_TOKEN or INKLING_ADMIN_TOKENS.")
    if admin is None:
        raise ApiError(401, "unauthorized", "Send the admin token as 'Authorization: Bearer <token>'.")
    return admin


ReviewerDep = Annotated[str, Depends(require_admin)]


async def client_id(request: Request, runtime: RuntimeDep) -> str:
    """The sender as the service keeps it: a salted hash of their address, or of their IPv6 /64
    (:mod:`service.web.clients`)."""
    return runtime.clients.of(network_of(client_address(request, runtime.settings.trusted_proxies)))


ClientDep = Annotated[str, Depends(client_id)]


async def limit_predictions(client: ClientDep, runtime: RuntimeDep) -> None:
    """A client asking for predictions faster than anyone draws gets 429."""
    if wait := runtime.prediction_limiter.acquire(client):
        retry = runtime.prediction_limiter.retry_after(wait)
        raise ApiError(429, "rate_limited", f"Too many predictions at once; please wait {retry} s.",
                       {"Retry-After": retry})


async def limit_listings(client: ClientDep, runtime: RuntimeDep) -> None:
    """A client paging through the gallery faster than anyone looks gets 429 (per worker process)."""
    if wait := runtime.listing_limiter.acquire(client):
        retry = runtime.listing_limiter.retry_after(wait)
        raise ApiError(429, "rate_limited", f"Too many pages of drawings at once; please wait {retry} s.",
                       {"Retry-After": retry})


async def limit_drawings(client: ClientDep, runtime: RuntimeDep) -> None:
    """A client sending drawings faster than the limit gets 429 (counted across web workers through Redis, on a
    thread: a Redis that hangs must not hold the event loop)."""
    if wait := await run_in_threadpool(runtime.drawing_limiter.acquire, client):
        retry = runtime.drawing_limiter.retry_after(wait)
        raise ApiError(429, "rate_limited", f"You are sending drawings quickly; please wait {retry} s and send again.",
                       {"Retry-After": retry})


async def limit_number(client: str, runtime: WebRuntime, drawings: int) -> None:
    """A number counts as its drawings: one of the drawing limit each, all or none (429 if the client has fewer
    left; those taken before the refusal stay taken, as a burst of single drawings would)."""
    for _ in range(max(1, drawings)):
        if wait := await run_in_threadpool(runtime.drawing_limiter.acquire, client):
            retry = runtime.drawing_limiter.retry_after(wait)
            raise ApiError(429, "rate_limited", f"You are sending drawings quickly (a number counts as each of its "
                                                f"characters); please wait {retry} s and send again.",
                           {"Retry-After": retry})
