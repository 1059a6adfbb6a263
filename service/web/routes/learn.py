"""Collecting and learning: storing a labelled drawing, and reading back what was collected."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Response
from fastapi.concurrency import run_in_threadpool

from models.canvas import PadSpec
from models.preprocess import decode_image_payload

from ...core.storage import NotFound
from ...core.storage.base import MAX_LABELS
from .. import schemas
from ..collect import collect_drawing
from ..numbers import collect_number
from ..deps import AdminDep, ClientDep, RuntimeDep, limit_drawings, limit_listings, limit_number
from ..errors import ApiError
from ..gallery import visible_drawing, visible_page
from ..runtime import WebRuntime
from .base import ERRORS, Router

router = Router(tags=["learn"])


def check_label(label: int | None, runtime: WebRuntime) -> None:
    """Labels are the deployment's alphabet's: 0-9 for the digits, 0-70 for hiragana."""
    if label is None:
        return
    alphabet = runtime.alphabet
    try:
        alphabet.check_label(label)
    except ValueError:
        raise ApiError(422, "invalid_request", f"Invalid request: label must be an integer 0-{alphabet.n_classes - 1} "
                                               f"({alphabet.title}; GET /api/config lists them).") from None


@router.post("/api/drawings", status_code=201, response_model=schemas.DrawingOut, responses=ERRORS,
             dependencies=[Depends(limit_drawings)])
async def add_drawing(body: schemas.DrawingIn, runtime: RuntimeDep, client: ClientDep):
    """Store a labelled drawing (durably, first), then queue it for both online models to learn from.

    With ``wait`` (the default) the answer comes once the version that learned it is
    served (at most a couple of seconds), with the models' answer before and after;
    otherwise, or when the learner is behind, at once with ``queued: true``.
    """
    check_label(body.label, runtime)
    return await collect_drawing(runtime, decode_image_payload(body.image), body.label, body.train, client,
                                 wait=body.wait, writer=body.writer, strokes=body.strokes)


@router.post("/api/numbers", status_code=201, response_model=schemas.NumberOut, responses=ERRORS)
async def add_number(body: schemas.NumberIn, runtime: RuntimeDep, client: ClientDep):
    """Save a number as the person corrected it: the number whole, then each character of the alphabet as a
    labelled drawing of its own (its PNG cut from the pad, its strokes, the number's id), stored, judged and
    learned exactly as ``POST /api/drawings`` does. Each of those counts as one drawing against the rate limit.

    422 ``invalid_number`` (a character without label or symbol, strokes out of range or used twice, a box off
    the pad), ``blank_drawing``, ``invalid_strokes``, ``invalid_request`` (more than 12 characters)."""
    characters = [c.model_dump() for c in body.characters]
    await limit_number(client, runtime, sum(c["label"] is not None for c in characters))
    pad = PadSpec.for_canvas(runtime.alphabet.canvas)
    return await collect_number(runtime, decode_image_payload(body.image), body.strokes, characters, body.train,
                                client, body.writer, body.wait, pad)


@router.read("/api/drawings", response_model=schemas.DrawingPage, responses=ERRORS,
             dependencies=[Depends(limit_listings)])
async def list_drawings(runtime: RuntimeDep, admin: AdminDep,
                        label: Annotated[int | None, Query(ge=0, le=MAX_LABELS - 1)] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        cursor: Annotated[str | None, Query(max_length=200)] = None):
    """Stored drawings given with consent (to the admin, all of them), newest first, a page at a time (pass
    ``next_cursor`` back as ``cursor``)."""
    check_label(label, runtime)
    try:
        records, next_cursor = await run_in_threadpool(visible_page, runtime.drawings, runtime.reviews, label, limit,
                                                       cursor, admin is not None)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "That cursor is not one this service gave out; start without it.")
    items = [{"id": r.id, "label": r.label, "created": r.created, "train": r.train,
              "png_url": f"/api/drawings/{r.id}.png"} for r in records]
    return {"items": items, "next_cursor": next_cursor}


@router.read("/api/drawings/{drawing_id}.png", response_class=Response, responses={**ERRORS, 200: {
    "content": {"image/png": {}}, "description": "The drawing's pixels (re-encoded when it was stored)."}})
async def drawing_png(drawing_id: str, runtime: RuntimeDep, admin: AdminDep):
    record = await run_in_threadpool(visible_drawing, runtime.drawings, runtime.reviews, drawing_id, admin is not None)
    png = await run_in_threadpool(runtime.drawings.get_png, record.id)
    # Anyone's drawings may be cached for a day (a review may take one out of the collection), private ones never.
    cache = "public, max-age=86400" if record.train else "private, no-store"
    return Response(png, media_type="image/png", headers={"Cache-Control": cache})


@router.read("/api/drawings/{drawing_id}/strokes", responses={**ERRORS, 200: {
    "content": {"application/json": {}}, "description": "Its pen strokes, [[x...], [y...], [t...]] a stroke."}})
async def drawing_strokes(drawing_id: str, runtime: RuntimeDep, admin: AdminDep):
    """The pen strokes the drawing was made of, when they were sent with it (404 otherwise)."""
    record = await run_in_threadpool(visible_drawing, runtime.drawings, runtime.reviews, drawing_id, admin is not None)
    if not record.strokes:
        raise ApiError(404, "not_found", "This drawing was stored without its strokes.")
    strokes = await run_in_threadpool(runtime.drawings.get_strokes, record.id)
    return Response(strokes, media_type="application/json",
                    headers={"Cache-Control": "public, max-age=86400" if record.train else "private, no-store"})


@router.read("/api/drawings/{drawing_id}", response_model=schemas.DrawingInfo, responses=ERRORS)
async def drawing_info(drawing_id: str, runtime: RuntimeDep, admin: AdminDep):
    """One drawing, and per online model the version that first learned it (null while it is queued)."""
    # Any drawing given with consent, in the collection or not (its status says); a private one to the admin only.
    record = await run_in_threadpool(visible_drawing, runtime.drawings, runtime.reviews, drawing_id, True)
    if not admin and not record.train:
        raise NotFound(f"no drawing {drawing_id}")
    row = await run_in_threadpool(runtime.review_queue.get, record)
    learned = await run_in_threadpool(runtime.follower.learned, record.id) if record.train else None
    return {"id": record.id, "label": row.label, "created": record.created, "train": record.train,
            "png_url": f"/api/drawings/{record.id}.png", "learned": learned, "status": row.status,
            "suspicion": record.suspicion, "number": record.number}


@router.read("/api/stats", response_model=schemas.StatsOut)
async def stats(runtime: RuntimeDep):
    """Drawings per label, online steps, and the holdout-accuracy history of each online model."""
    return await run_in_threadpool(runtime.stats.get)
