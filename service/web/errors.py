"""Every error is JSON ``{"detail": <message a person can act on>, "code": <short code>}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.errors import BlankDrawingError, InvalidImageError, TooManyCharactersError
from models.strokes import InvalidStrokesError

from ..core.storage import NotFound, StorageUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_STORAGE_S = 5


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def error_response(status: int, code: str, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _describe(errors: list[dict]) -> str:
    """One readable sentence from pydantic's error list."""
    parts = []
    for e in errors[:3]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + "."


def unreadable_input(code: str):
    async def handler(request: Request, exc: Exception):
        return error_response(422, code, str(exc))
    return handler


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    # What a person sent cannot be read: a 422 with the error's own words and its code.
    for error, code in ((BlankDrawingError, "blank_drawing"), (TooManyCharactersError, "too_many_characters"),
                        (InvalidImageError, "invalid_image"), (InvalidStrokesError, "invalid_strokes")):
        app.add_exception_handler(error, unreadable_input(code))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return error_response(404, "not_found", "No drawing with that id.")

    @app.exception_handler(StorageUnavailable)
    async def _storage_down(request: Request, exc: StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        return error_response(503, "storage_unavailable",
                              "Storage is unavailable right now, so your drawing was not saved. "
                              f"Please send it again in {RETRY_AFTER_STORAGE_S} seconds.",
                              {"Retry-After": str(RETRY_AFTER_STORAGE_S)})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(422, "invalid_json", "The request body is not valid JSON.")
        return error_response(422, "invalid_request", _describe(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and str(exc.detail).startswith("There was an error parsing the body"):
            # FastAPI's body reader says 400 for bytes that are not UTF-8 JSON; to a person
            # that is the same mistake as malformed JSON, which is documented as 422.
            return error_response(422, "invalid_json", "The request body is not valid JSON (UTF-8 text).")
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this address."
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
