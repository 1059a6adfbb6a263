"""Retrain runs and what became of their challengers: the promotion records, forcing what the gate refused,
and the log of what admins did to the models (an admin token each)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.concurrency import run_in_threadpool

from ...core.lineup import original
from ...core.promotions import Promotion, PromotionError
from ...core.storage import NotFound
from .. import schemas
from ..deps import ReviewerDep, RuntimeDep, require_admin
from ..errors import ApiError
from ..runtime import WebRuntime
from .base import ERRORS, Router

router = Router(tags=["models"], dependencies=[Depends(require_admin)],
                responses={code: {"model": schemas.ErrorOut} for code in (401, 403)})


def shown(runtime: WebRuntime, record: Promotion) -> dict:
    out = record.to_json()
    out["models"] = {kind: {**verdict, "promoted_as": None} for kind, verdict in record.models.items()}
    for kind in record.models:
        if (version := runtime.promotions.promoted_as(runtime.weights, record, kind)) is not None:
            out["models"][kind]["promoted_as"] = version.version
    out["forced"] = runtime.promotions.forced(record.id)
    return out


def one(runtime: WebRuntime, pid: str) -> Promotion:
    try:
        return runtime.promotions.get(pid)
    except NotFound:
        raise ApiError(404, "not_found", f"No promotion {pid!r}; GET /api/admin/promotions lists them.") from None


@router.read("/api/admin/promotions", response_model=schemas.PromotionPage, responses=ERRORS)
async def promotions(runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Retrain runs, newest first: each model's verdict with its figures and reason, promoted or not."""
    def read():
        return {"items": [shown(runtime, r) for r in runtime.promotions.list(limit)]}
    return await run_in_threadpool(read)


@router.read("/api/admin/promotions/{pid}", response_model=schemas.Promotion, responses=ERRORS)
async def promotion(pid: str, runtime: RuntimeDep):
    """One retrain run's record."""
    return await run_in_threadpool(lambda: shown(runtime, one(runtime, pid)))


def force(runtime: WebRuntime, pid: str, body: schemas.ForceIn, by: str) -> dict:
    record = one(runtime, pid)
    decision, versions = runtime.promotions.force(runtime.weights, pid, by=by, why=body.why, kinds=body.models)
    runtime.audit.record("force", by=by, promotion=pid, models=decision["kinds"], why=body.why)
    for kind, version in versions.items():
        runtime.queue.announce(original(kind), version.version)
    runtime.follower.refresh()
    runtime.stats.changed()
    return {"promotion": shown(runtime, record), "versions": {kind: v.version for kind, v in versions.items()}}


@router.post("/api/admin/promotions/{pid}/force", response_model=schemas.ForceOut,
             responses={**ERRORS, 409: {"model": schemas.ErrorOut}})
async def force_promotion(pid: str, body: schemas.ForceIn, runtime: RuntimeDep, by: ReviewerDep):
    """Promote challengers the gate refused (audited: who, when, why). The online twins rebase on them."""
    try:
        return await run_in_threadpool(force, runtime, pid, body, by)
    except PromotionError as exc:
        raise ApiError(409, "cannot_promote", f"Cannot promote: {exc}.")


@router.read("/api/admin/audit/models", response_model=schemas.ModelActionPage, responses=ERRORS)
async def model_actions(runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """Rollbacks and forced promotions, newest first: who did what to which model, when and why."""
    entries = await run_in_threadpool(runtime.audit.since, None)
    return {"items": list(reversed(entries))[:limit]}
