"""The web wing as an ASGI app: the API routes, the page, and what wraps every request.

``create_web_app`` is handed the settings and a ``start`` function that builds
this worker's runtime (and anything that runs beside it, such as the embedded
learner); it runs once, off the event loop, before the first request.
``service.app`` puts the wings together; routes stay thin (:mod:`.routes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Callable, Protocol

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..core.metrics import Metrics
from ..core.settings import Settings
from ..core.tuning import tune_malloc_for_serving
from .clients import HashedClients
from .docs import DOCS_PATHS, install_docs
from .errors import install_error_handlers
from .middleware import BodySizeLimit, MetricsMiddleware, SecurityHeaders, UnexpectedErrors
from .routes import ROUTERS
from .runtime import WebRuntime

log = logging.getLogger("inkling")
FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"


class Companion(Protocol):
    """Something that runs on a thread beside the web wing in the same process (the embedded learner)."""

    def start_thread(self) -> threading.Thread: ...

    def stop(self, wait_s: float = 0.0) -> None: ...


Start = Callable[[], tuple[WebRuntime, list[Companion]]]


def create_web_app(settings: Settings, metrics: Metrics, start: Start) -> FastAPI:
    if settings.on_paas and not settings.trusted_proxies:
        log.warning("running on a PaaS (PORT/DYNO set) without INKLING_TRUSTED_PROXIES: every client is seen as "
                    "the platform's router, so all of them share one rate-limit bucket; set it to 1 on Heroku")
    if settings.role == "web":
        tune_malloc_for_serving()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime, companions = await asyncio.to_thread(start)
        app.state.runtime, app.state.companions = runtime, companions
        access_log, hashed = logging.getLogger("uvicorn.access"), HashedClients(runtime.clients)
        access_log.addFilter(hashed)
        runtime.follower.start_thread()
        for companion in companions:
            companion.start_thread()
        runtime.ready = True
        log.info("ready (%s): versions %s", settings.role, runtime.recognizer.versions())
        try:
            yield
        finally:
            access_log.removeFilter(hashed)
            runtime.follower.stop()
            for companion in companions:
                companion.stop(wait_s=10)  # the learner finishes and publishes the batch under way

    app = FastAPI(title="Inkling", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Recognise what people draw by hand in a browser (digits, or another alphabet), and learn "
                              "from them while running.")
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    docs_policy = install_docs(app, app.title) if settings.api_docs else None
    app.add_middleware(UnexpectedErrors)  # innermost: its 500 passes through everything below
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, docs_policy=docs_policy, docs_paths=DOCS_PATHS)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts 413s too
    if FRONTEND_DIR.is_dir():
        app.mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="frontend")
    return app
