"""The HTTP API and the page. Routes stay thin: the work is in plain modules.

Run it with ``uvicorn service.app:app``; configure it with ``INKLING_*``
environment variables (:class:`service.settings.Settings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from models.preprocess import decode_image_payload, preprocess_drawing
from models.prototypes import PrototypeMemory

from . import schemas
from .collect import collect_drawing
from .errors import ApiError, install_error_handlers
from .limits import BodySizeLimit
from .metrics import Metrics, MetricsMiddleware
from .recognizer import MODEL_ORDER
from .runtime import Runtime, build_runtime, tune_malloc_for_serving
from .security import HashedClients, SecurityHeaders, is_admin, require_admin
from .settings import Settings
from .storage import CorruptObject, NotFound, StorageError
from .storage.base import MAX_LABELS
from .writers import WRITER_PATTERN

log = logging.getLogger("inkling")
FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
TITLES = {"fnn_original": "FNN · original", "fnn_online": "FNN · online",
          "cnn_original": "CNN · original", "cnn_online": "CNN · online"}
ERRORS = {status: {"model": schemas.ErrorOut} for status in (404, 413, 422, 429, 503)}

router = APIRouter()


def read_route(path: str, **kwargs):
    """``GET path``, and ``HEAD path`` answering as GET does without the body (monitors, caches, link
    checkers); HEAD stays out of the OpenAPI schema, which would otherwise list every route twice."""
    def register(endpoint):
        router.head(path, include_in_schema=False, **kwargs)(endpoint)
        return router.get(path, **kwargs)(endpoint)
    return register


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
AdminDep = Annotated[bool, Depends(is_admin)]


def client_address(request: Request, runtime: Runtime) -> str:
    """Who sent this, for rate limits: the connection's address, or behind ``trusted_proxies`` proxies the
    entry they appended to X-Forwarded-For (the entries to its left are the client's to write)."""
    hops = runtime.settings.trusted_proxies
    forwarded = [a.strip() for a in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.client.host if request.client else "unknown"


# --- recognising ---------------------------------------------------------------


async def limit_predictions(request: Request, runtime: RuntimeDep) -> None:
    """Dependency: a client asking for predictions faster than anyone draws gets 429."""
    if wait := runtime.predict_limiter.acquire(runtime.client_id(client_address(request, runtime))):
        retry = runtime.predict_limiter.retry_after(wait)
        raise ApiError(429, "rate_limited", f"Too many predictions at once; please wait {retry} s.",
                       {"Retry-After": retry})


@router.post("/api/predict", response_model=schemas.PredictOut, responses=ERRORS, tags=["recognise"],
             dependencies=[Depends(limit_predictions)])
async def predict(body: schemas.ImageIn, runtime: RuntimeDep):
    """Top-3 of the four models and one answer for a drawing (with ``writer``, using that writer's memory)."""
    memory, box = await runtime.memory_of(body.writer), runtime.alphabet.box
    recognition = await runtime.infer(lambda: runtime.recognizer.recognize(preprocess_drawing(body.image, box), memory))
    return recognition.to_json()


@router.post("/api/activations", response_model=schemas.ActivationsOut, responses=ERRORS, tags=["recognise"],
             dependencies=[Depends(limit_predictions)])
async def activations(body: schemas.ImageIn, runtime: RuntimeDep):
    """The online CNN's hidden feature maps (conv1, pool1, conv2, pool2) for one drawing."""
    box = runtime.alphabet.box
    layers = await runtime.infer(lambda: runtime.recognizer.activations(preprocess_drawing(body.image, box)))
    return {"layers": layers}


# --- collecting and learning ------------------------------------------------------


def check_label(label: int | None, runtime: Runtime) -> None:
    """Labels are the deployment's alphabet's: 0-9 for the digits, 0-70 for hiragana."""
    if label is not None and not 0 <= label < runtime.alphabet.n_classes:
        raise ApiError(422, "invalid_request", f"Invalid request: label must be an integer 0-"
                                             f"{runtime.alphabet.n_classes - 1} ({runtime.alphabet.title}; "
                                             "GET /api/config lists them).")


@router.post("/api/drawings", status_code=201, response_model=schemas.DrawingOut, responses=ERRORS,
             tags=["learn"])
async def add_drawing(body: schemas.DrawingIn, request: Request, runtime: RuntimeDep):
    """Store a labelled drawing (durably, first), then queue it for both online models to learn from.

    With ``wait`` (the default) the answer comes once the version that learned it is
    served (at most a couple of seconds), with the models' answer before and after;
    otherwise, or when the learner is behind, at once with ``queued: true``.
    """
    check_label(body.label, runtime)
    client = runtime.client_id(client_address(request, runtime))
    if wait := runtime.limiter.acquire(client):
        retry = runtime.limiter.retry_after(wait)
        raise ApiError(429, "rate_limited", f"You are sending drawings quickly; please wait {retry} s and send again.",
                       {"Retry-After": retry})
    result = await collect_drawing(runtime, decode_image_payload(body.image), body.label, body.train, client,
                                   wait=body.wait, writer=body.writer)
    return result


@read_route("/api/drawings", response_model=schemas.DrawingPage, responses=ERRORS, tags=["learn"])
async def list_drawings(runtime: RuntimeDep, admin: AdminDep,
                        label: Annotated[int | None, Query(ge=0, le=MAX_LABELS - 1)] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        cursor: Annotated[str | None, Query(max_length=200)] = None):
    """Stored drawings given with consent (to the admin, all of them), newest first, a page at a time."""
    check_label(label, runtime)
    try:
        records, next_cursor = await run_in_threadpool(runtime.list_drawings, label, limit, cursor, admin)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "That cursor is not one this service gave out; start without it.")
    items = [{"id": r.id, "label": r.label, "created": r.created, "train": r.train,
              "png_url": f"/api/drawings/{r.id}.png"} for r in records]
    return {"items": items, "next_cursor": next_cursor}


@read_route("/api/drawings/{drawing_id}.png", response_class=Response, responses={**ERRORS, 200: {
    "content": {"image/png": {}}, "description": "The drawing's pixels (re-encoded when it was stored)."}},
    tags=["learn"])
async def drawing_png(drawing_id: str, runtime: RuntimeDep, admin: AdminDep):
    record = await run_in_threadpool(runtime.visible_drawing, drawing_id, admin)
    png = await run_in_threadpool(runtime.drawings.get_png, record.id)
    cache = "public, max-age=31536000, immutable" if record.train else "private, no-store"
    return Response(png, media_type="image/png", headers={"Cache-Control": cache})


@read_route("/api/drawings/{drawing_id}", response_model=schemas.DrawingInfo, responses=ERRORS, tags=["learn"])
async def drawing_info(drawing_id: str, runtime: RuntimeDep, admin: AdminDep):
    """One drawing, and per online model the version that first learned it (null while it is queued)."""
    record = await run_in_threadpool(runtime.visible_drawing, drawing_id, admin)
    learned = await run_in_threadpool(runtime.follower.learned, record.id) if record.train else None
    return {"id": record.id, "label": record.label, "created": record.created, "train": record.train,
            "png_url": f"/api/drawings/{record.id}.png", "learned": learned}


@read_route("/api/stats", response_model=schemas.StatsOut, tags=["learn"])
async def stats(runtime: RuntimeDep):
    """Drawings per label, online steps, and the holdout-accuracy history of each online model."""
    return await run_in_threadpool(runtime.stats)


# --- your handwriting ------------------------------------------------------------------

WriterDep = Annotated[str, Header(alias="Inkling-Writer", pattern=WRITER_PATTERN,
                                  description="Your anonymous writer id (the page keeps it in localStorage).")]
MEMORY_DOWN = "Storage is unavailable right now; please try again in a few seconds."


def describe_memory(memory, runtime: Runtime) -> dict:
    return {"drawings": len(memory), "counts": memory.counts(), "capacity": runtime.settings.memory_size,
            "trust": round(memory.trust if len(memory) else 0.0, 3)}


@read_route("/api/me", response_model=schemas.MeOut, responses=ERRORS, tags=["you"],
            dependencies=[Depends(limit_predictions)])
async def my_memory(writer: WriterDep, runtime: RuntimeDep):
    """What the service remembers of your handwriting: your drawings in your memory, per label."""
    try:
        memory = await run_in_threadpool(runtime.memories.read, writer)
    except StorageError:
        raise ApiError(503, "storage_unavailable", MEMORY_DOWN, {"Retry-After": "5"})
    return describe_memory(memory, runtime)


@router.delete("/api/me", response_model=schemas.MeOut, responses=ERRORS, tags=["you"],
               dependencies=[Depends(limit_predictions)])
async def forget_me(writer: WriterDep, runtime: RuntimeDep):
    """Forget your handwriting: your memory is deleted and your drawings can no longer be linked to you."""
    try:
        await run_in_threadpool(runtime.memories.forget, writer)
    except StorageError:
        raise ApiError(503, "storage_unavailable", MEMORY_DOWN + " Nothing was forgotten yet.", {"Retry-After": "5"})
    return describe_memory(PrototypeMemory.empty(runtime.alphabet.n_classes), runtime)


# --- models -----------------------------------------------------------------------


@read_route("/api/models", response_model=schemas.ModelsOut, tags=["models"])
async def list_models(runtime: RuntimeDep):
    """Versions, steps and holdout accuracy of the four models."""
    stats_now = await run_in_threadpool(runtime.stats)
    models = []
    for name in MODEL_ORDER:
        kind, _, flavour = name.partition("_")
        if flavour == "online":
            model, history = runtime.online[name], stats_now["online"][name]["history"]
            last = history[-1]["holdout_accuracy"] if history else runtime.guard.original_accuracy[name]
            models.append({"name": name, "kind": kind, "online": True, "version": model.version,
                           "steps": model.steps, "holdout_accuracy": last, "updated": model.updated})
        else:
            models.append({"name": name, "kind": kind, "online": False, "version": 0, "steps": 0,
                           "holdout_accuracy": round(runtime.guard.original_accuracy[f"{kind}_online"], 4),
                           "updated": None})
    return {"models": models}


@router.post("/api/models/{name}/rollback", response_model=schemas.ModelInfo,
             responses={**ERRORS, **{code: {"model": schemas.ErrorOut} for code in (401, 403, 409)}},
             tags=["models"], dependencies=[Depends(require_admin)])
async def rollback(name: str, body: schemas.RollbackIn, runtime: RuntimeDep):
    """Restore an online model to a named version (admin token required)."""
    if name not in runtime.online:
        raise ApiError(404, "not_found", f"No online model {name!r}; choose one of {sorted(runtime.online)}.")
    try:
        record = await run_in_threadpool(runtime.rollback, name, body.version, "admin request")
    except NotFound:
        raise ApiError(404, "not_found", f"{name} has no version {body.version} to restore (or it was pruned).")
    except CorruptObject:
        raise ApiError(409, "unreadable_version", f"{name} v{body.version}'s weights cannot be read; choose "
                                                  "another version (0 is the original).")
    runtime.metrics.rollbacks.labels(name).inc()
    runtime.stats_changed()
    return {"name": name, "kind": name.split("_")[0], "online": True, "version": record.version,
            "steps": record.steps, "holdout_accuracy": None, "updated": record.created}


# --- operations -------------------------------------------------------------------


@read_route("/api/config", tags=["operations"])
async def config(runtime: RuntimeDep):
    """The alphabet (its labels and glyphs, the picker's rows), the canvas spec the page must draw with (the
    stroke renderer uses the same) and the model names."""
    alphabet = runtime.alphabet.as_dict()
    return {"canvas": runtime.alphabet.canvas.as_dict(), "models": list(MODEL_ORDER), "titles": TITLES,
            "labels": alphabet.pop("labels"), "alphabet": alphabet}


@read_route("/healthz", response_model=schemas.Health, responses={503: {"model": schemas.ErrorOut}},
            tags=["operations"])
async def healthz(request: Request):
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None or not runtime.ready:
        raise ApiError(503, "starting", "The models are still loading.", {"Retry-After": "2"})
    return {"status": "ok", "versions": runtime.recognizer.versions()}


@read_route("/metrics", response_class=Response, tags=["operations"],
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def metrics(runtime: RuntimeDep):
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


# --- the app ------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    try:
        settings = settings or Settings()
    except ValidationError as exc:  # a clear line, not a traceback, for an operator's configuration slip
        raise SystemExit("inkling will not start: " + "; ".join(e["msg"].removeprefix("Value error, ")
                                                                for e in exc.errors())) from None
    if settings.on_paas and not settings.trusted_proxies:
        log.warning("running on a PaaS (PORT/DYNO set) without INKLING_TRUSTED_PROXIES: every client is seen as "
                    "the platform's router, so all of them share one rate-limit bucket; set it to 1 on Heroku")
    metrics = Metrics()
    if settings.role == "web":
        tune_malloc_for_serving()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime = await asyncio.to_thread(build_runtime, settings, metrics)
        app.state.runtime = runtime
        access_log, hashed = logging.getLogger("uvicorn.access"), HashedClients(runtime.client_id)
        access_log.addFilter(hashed)
        runtime.follower.start_thread()
        if runtime.learner:
            runtime.learner.start_thread()
        log.info("ready (%s): versions %s", settings.role, runtime.recognizer.versions())
        try:
            yield
        finally:
            access_log.removeFilter(hashed)
            runtime.follower.stop()
            if runtime.learner:
                runtime.learner.stop(wait_s=10)  # finish and publish the batch under way

    app = FastAPI(title="Inkling", version="0.1.0", lifespan=lifespan,
                  description="Recognise what people draw by hand in a browser (digits, or another alphabet), and learn "
                              "from them while running.")
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts 413s too
    if FRONTEND_DIR.is_dir():
        app.mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="frontend")
    return app


app = create_app()
