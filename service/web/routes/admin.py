"""Curating the crowd: the review queue, a reviewer's decisions and the audit log (an admin token each).

The console at ``/console`` is this API's page; ``curl`` with ``Authorization: Bearer <token>`` works
as well. Every decision is a review (:mod:`service.core.curation`), named after the token's holder.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.concurrency import run_in_threadpool

from ...core.curation import ReviewError
from ...core.storage import DrawingRecord, NotFound
from ...core.storage.base import MAX_LABELS
from .. import schemas
from ..deps import ReviewerDep, RuntimeDep, require_admin
from ..errors import ApiError
from ..review import Row, page, track_records
from ..runtime import WebRuntime
from .base import ERRORS, Router
from .learn import check_label

router = Router(tags=["curate"], dependencies=[Depends(require_admin)],
                responses={code: {"model": schemas.ErrorOut} for code in (401, 403)})


def item(row: Row, record: DrawingRecord, runtime: WebRuntime) -> dict:
    answer = (record.prediction or {}).get("answer") or {}
    best = answer.get("best") or {}
    return {"id": record.id, "label": row.label, "given": record.label, "glyph": runtime.alphabet.glyph(row.label),
            "suspicion": row.suspicion, "status": row.status, "writer": row.writer,
            "guess": answer.get("label", best.get("label")), "reasons": list(record.reasons),
            "created": record.created, "train": record.train, "png_url": f"/api/drawings/{record.id}.png",
            "models": (record.prediction or {}).get("models"),
            "reviews": [r.to_json() for r in runtime.reviews.of(record.id)]}


@router.read("/api/admin/review", response_model=schemas.ReviewPage, responses=ERRORS)
async def review_queue(runtime: RuntimeDep,
                       status: Annotated[str | None, Query(max_length=20)] = None,
                       label: Annotated[int | None, Query(ge=0, le=MAX_LABELS - 1)] = None,
                       writer: Annotated[str | None, Query(max_length=80)] = None,
                       since: Annotated[str | None, Query(max_length=40, description="ISO time, inclusive")] = None,
                       until: Annotated[str | None, Query(max_length=40, description="ISO time, exclusive")] = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       cursor: Annotated[str | None, Query(max_length=400)] = None):
    """Labelled drawings, most suspicious first; every filter optional (absent or empty: all)."""
    if status and status not in ("pending", "accepted", "relabelled", "discarded", "quarantined"):
        raise ApiError(422, "invalid_request", "status must be pending, accepted, relabelled, discarded or "
                                               "quarantined (or left out for all).")
    check_label(label, runtime)
    rows = await run_in_threadpool(runtime.review_queue.refresh)
    try:
        shown, next_cursor = page(rows, status=status or None, label=label, writer=writer or None,
                                  since=since or None, until=until or None, limit=limit, cursor=cursor or None)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "That cursor is not one this service gave out; start without it.")
    records = track_records(rows)
    details = await run_in_threadpool(runtime.review_queue.records, shown)
    return {"items": [item(row, record, runtime) for row, record in zip(shown, details) if record is not None],
            "next": next_cursor, "writers": {row.writer: records[row.writer] for row in shown}}


def review_one(runtime: WebRuntime, drawing_id: str, body: schemas.ReviewIn, by: str) -> dict:
    if body.action == "relabel":
        if body.label is None:
            raise ReviewError("relabel needs the new label")
        check_label(body.label, runtime)
    review, row, record = runtime.review_queue.review(drawing_id, body.action, body.label, by, runtime.queue,
                                                      body.undoes)
    runtime.metrics.reviews.labels(body.action).inc()
    runtime.stats.changed()
    return {"review": review.to_json(), "drawing": item(row, record, runtime)}


@router.post("/api/admin/review/{drawing_id}", response_model=schemas.ReviewOut, responses=ERRORS)
async def review(drawing_id: str, body: schemas.ReviewIn, runtime: RuntimeDep, by: ReviewerDep):
    """Accept, relabel, discard a drawing, or undo its last review; the drawing as it is now."""
    try:
        return await run_in_threadpool(review_one, runtime, drawing_id, body, by)
    except ReviewError as exc:
        raise ApiError(409, "cannot_review", f"Cannot {body.action} this drawing: {exc}.")


@router.post("/api/admin/review", response_model=schemas.BulkReviewOut, responses=ERRORS)
async def review_many(body: schemas.BulkReviewIn, runtime: RuntimeDep, by: ReviewerDep):
    """The same action on several drawings (a bulk selection in the console); each is its own review."""
    done, refused = [], {}
    for drawing_id in dict.fromkeys(body.ids):
        try:
            done.append(await run_in_threadpool(review_one, runtime, drawing_id, body, by))
        except NotFound:
            refused[drawing_id] = "no such drawing"
        except (ReviewError, ApiError) as exc:
            refused[drawing_id] = str(exc.detail if isinstance(exc, ApiError) else exc)
    return {"done": done, "refused": refused}


@router.read("/api/admin/audit", response_model=schemas.AuditPage, responses=ERRORS)
async def audit(runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                cursor: Annotated[str | None, Query(max_length=40)] = None):
    """Every review, newest first: who did what to which drawing, and when."""
    reviews = await run_in_threadpool(runtime.reviews.refresh)
    newest = [r for r in reversed(reviews) if cursor is None or r.id < cursor]
    shown = newest[:limit]
    return {"items": [r.to_json() for r in shown], "next": shown[-1].id if len(newest) > limit else None}
