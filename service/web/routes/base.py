"""What every route module shares: a router whose ``read`` registers GET with HEAD, and the error responses
the OpenAPI schema lists."""

from __future__ import annotations

from fastapi import APIRouter

from .. import schemas

ERRORS = {status: {"model": schemas.ErrorOut} for status in (404, 413, 422, 429, 503)}


class Router(APIRouter):
    def read(self, path: str, **kwargs):
        """``GET path``, and ``HEAD path`` answering as GET does without the body (monitors, caches, link
        checkers); HEAD stays out of the OpenAPI schema, which would otherwise list every route twice."""
        def register(endpoint):
            self.head(path, include_in_schema=False, **kwargs)(endpoint)
            return self.get(path, **kwargs)(endpoint)
        return register
