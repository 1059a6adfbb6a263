"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``: off unless the operator turns them on.

They run on the page's own origin, where ``localStorage`` holds each person's
writer id, so a script they load can read it. FastAPI's own pages load Swagger
UI and ReDoc from a CDN, unpinned, and need ``'unsafe-inline'`` scripts. Here
they are off by default (``INKLING_API_DOCS``; the schema stays at
``/openapi.json``), and when on, their scripts come from this worker (the
``fastapi-offline`` package ships them) and the one inline script each page has
is allowed by its hash alone: no CDN, no ``'unsafe-inline'`` script.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = "/docs/assets"
SWAGGER_REDIRECT = "/docs/oauth2-redirect"
DOCS_PATHS = ("/docs", "/redoc")  # the pages and their assets: what the docs policy covers
# Swagger UI's validator badge is an image from validator.swagger.io: not wanted.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def _inline_script_hashes(*pages: HTMLResponse) -> list[str]:
    scripts = [m for page in pages for m in re.findall(rb"<script>(.*?)</script>", page.body, re.S)]
    return [f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts]


def install_docs(app: FastAPI, title: str) -> str:
    """Serve ``/docs`` and ``/redoc`` with their assets from this worker; returns their content security policy."""
    assets = importlib.resources.files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    swagger = get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{title} - Swagger UI",
                                  oauth2_redirect_url=SWAGGER_REDIRECT,
                                  swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                  swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                  swagger_favicon_url=f"{ASSETS}/favicon.png",
                                  swagger_ui_parameters=SWAGGER_PARAMETERS)
    redoc = get_redoc_html(openapi_url=app.openapi_url, title=f"{title} - ReDoc",
                           redoc_js_url=f"{ASSETS}/redoc.standalone.js", redoc_favicon_url=f"{ASSETS}/favicon.png",
                           with_google_fonts=False)
    redirect = get_swagger_ui_oauth2_redirect_html()

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger.body)

    @app.get(SWAGGER_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return HTMLResponse(redirect.body)

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc.body)

    # ReDoc renders its styles inline and runs a worker from a blob: URL; neither can run a script of its own.
    return ("default-src 'self'; script-src 'self' " + " ".join(_inline_script_hashes(swagger, redoc, redirect))
            + "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
              "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
