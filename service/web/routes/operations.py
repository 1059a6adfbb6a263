"""Operations: what the page is told at start (the alphabet, the canvas, the models), health and metrics."""

from __future__ import annotations

from fastapi import Request, Response

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
    stroke renderer uses the same) and the model names."""
    alphabet = runtime.alphabet.as_dict()
    return {"canvas": runtime.alphabet.canvas.as_dict(), "models": list(MODEL_ORDER), "titles": TITLES,
            "labels": alphabet.pop("labels"), "alphabet": alphabet}


@router.read("/healthz", response_model=schemas.Health, responses={503: {"model": schemas.ErrorOut}})
async def healthz(request: Request):
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None or not runtime.ready:
        raise ApiError(503, "starting", "The models are still loading.", {"Retry-After": "2"})
    return {"status": "ok", "versions": runtime.recognizer.versions()}


@router.read("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def metrics(runtime: RuntimeDep):
    return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
