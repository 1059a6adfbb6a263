"""Operations: what the page is told at start (the alphabet, the canvas, the models), health and metrics."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from models.canvas import PadSpec

from ...core.lineup import MODEL_ORDER
from .. import schemas
from ..deps import RuntimeDep
from ..errors import ApiError
from .base import Router

router = Router(tags=["operations"])

TITLES = {"fnn_original": "FNN · original", "fnn_online": "FNN · online",
          "cnn_original": "CNN · original", "cnn_online": "CNN · online"}


@router.read("/api/config")
async def config(runtime: RuntimeDep):
    """The alphabet (its labels and glyphs, the picker's rows), the canvas spec the page must draw with (the
    stroke renderer uses the same), the number pad's (``pad``: width, height, the same pen, the most characters a
    number may have; POST /api/read and /api/numbers take strokes in its pixels) and the model names."""
    alphabet = runtime.alphabet.as_dict()
    return {"canvas": runtime.alphabet.canvas.as_dict(), "pad": PadSpec.for_canvas(runtime.alphabet.canvas).as_dict(),
            "models": list(MODEL_ORDER), "titles": TITLES, "labels": alphabet.pop("labels"), "alphabet": alphabet}


@router.read("/healthz", response_model=schemas.Health, responses={503: {"model": schemas.ErrorOut}})
async def healthz(request: Request):
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None or not runtime.ready:
        raise ApiError(503, "starting", "The models are still loading.", {"Retry-After": "2"})
    return health(runtime)


def health(runtime) -> dict:
    """Serving (200) either way; ``degraded`` when a shared part is unreachable, from what the last calls met
    (it makes none): the rate limit then counts per process, and drawings wait in the store for the queue."""
    limits, queue = runtime.drawing_limiter.state, "ok" if runtime.queue.reachable else "unreachable"
    status = "degraded" if limits == "per_process_fallback" or queue != "ok" else "ok"
    return {"status": status, "versions": runtime.recognizer.versions(), "rate_limits": limits, "queue": queue}


@router.read("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def metrics(runtime: RuntimeDep):
    return Response(await run_in_threadpool(runtime.metrics.render),
                    media_type="text/plain; version=0.0.4; charset=utf-8")
