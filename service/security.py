"""What every response says to the browser about itself, who counts as the admin, and what the logs say
about a person."""

from __future__ import annotations

import hmac
import logging
from typing import Callable

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ApiError

bearer = HTTPBearer(auto_error=False, description="INKLING_ADMIN_TOKEN")

# The page makes no request outside its own origin (a browser test checks it), so the policy can say
# exactly that. Drawings and feature maps are painted from data: and blob: URLs; styles set from
# scripts go through the CSSOM, which the policy does not block. Nobody may frame the page.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# FastAPI's /docs and /redoc load Swagger UI and ReDoc from jsDelivr, inline.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
               "https://fastapi.tiangolo.com https://cdn.redoc.ly; worker-src blob:; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Pure ASGI middleware: ``nosniff``, a content security policy, no framing, no referrer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = DOCS_POLICY if scope["path"].startswith(DOCS_PATHS) else PAGE_POLICY

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-content-type-options", b"nosniff"),
                                      (b"content-security-policy", policy.encode()),
                                      (b"x-frame-options", b"DENY"),
                                      (b"referrer-policy", b"no-referrer")]
            await send(message)

        await self.app(scope, receive, with_headers)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def is_admin(request: Request, credentials: Credentials) -> bool:
    """Dependency: whether the request carries ``Authorization: Bearer <INKLING_ADMIN_TOKEN>`` (never when unset)."""
    token = request.app.state.runtime.settings.admin_token
    if token is None or credentials is None:
        return False
    return hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode())


async def require_admin(request: Request, admin: Annotated[bool, Depends(is_admin)]) -> None:
    """Dependency of the admin routes: 403 when admin is disabled, 401 without the token."""
    if request.app.state.runtime.settings.admin_token is None:
        raise ApiError(403, "admin_disabled", "Admin routes are disabled: the operator has not set "
                                              "INKLING_ADMIN_TOKEN.")
    if not admin:
        raise ApiError(401, "unauthorized", "Send the admin token as 'Authorization: Bearer <token>'.")


class HashedClients(logging.Filter):
    """Names the client in uvicorn's access log by the salted hash the drawing records use, not its address.

    Records keep a salted hash of the sender so one person's drawings can be
    grouped; a log line with the raw address beside it would undo that.
    """

    def __init__(self, client_id: Callable[[str], str]):
        super().__init__()
        self.client_id = client_id

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:  # uvicorn: (client_addr, method, path, http, status)
            host = str(record.args[0]).rsplit(":", 1)[0]
            record.args = (f"client {self.client_id(host)}", *record.args[1:])
        return True
