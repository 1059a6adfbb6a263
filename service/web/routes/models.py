"""The four models: their versions and holdout accuracy, and restoring an online model to an earlier version."""

from __future__ import annotations

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool

from ...core.lineup import KINDS, kind_of, online, original
from ...core.storage import CorruptObject, NotFound, WeightVersion
from .. import schemas
from ..deps import RuntimeDep, require_admin
from ..errors import ApiError
from ..runtime import WebRuntime
from .base import ERRORS, Router

router = Router(tags=["models"])


def describe_models(runtime: WebRuntime) -> list[dict]:
    """Each original (fixed, its holdout accuracy) and its online twin (its newest checked accuracy)."""
    history = runtime.stats.get()["online"]
    models = []
    for kind in KINDS:
        models.append({"name": original(kind), "kind": kind, "online": False, "version": 0, "steps": 0,
                       "holdout_accuracy": round(runtime.original_accuracy[original(kind)], 4), "updated": None})
        model, checked = runtime.online[online(kind)], history[online(kind)]["history"]
        models.append({"name": online(kind), "kind": kind, "online": True, "version": model.version,
                       "steps": model.steps, "updated": model.updated,
                       "holdout_accuracy": checked[-1]["holdout_accuracy"] if checked
                       else runtime.original_accuracy[original(kind)]})
    return models


def restore(runtime: WebRuntime, name: str, version: int, why: str) -> WeightVersion:
    """Publish an online model's ``version`` again as its newest, and serve it here at once (every worker
    follows within moments); NotFound or CorruptObject for a version nobody could serve."""
    model = runtime.online[name]
    if version:
        model.read(version)  # never publish weights nobody can serve
    record = runtime.weights.restore(name, version, model.weights_at(0), why)
    runtime.queue.announce(name, record.version)
    runtime.follower.refresh()
    return record


@router.read("/api/models", response_model=schemas.ModelsOut)
async def list_models(runtime: RuntimeDep):
    """Versions, steps and holdout accuracy of the four models."""
    return {"models": await run_in_threadpool(describe_models, runtime)}


@router.post("/api/models/{name}/rollback", response_model=schemas.ModelInfo,
             responses={**ERRORS, **{code: {"model": schemas.ErrorOut} for code in (401, 403, 409)}},
             dependencies=[Depends(require_admin)])
async def rollback(name: str, body: schemas.RollbackIn, runtime: RuntimeDep):
    """Restore an online model to a named version (admin token required)."""
    if name not in runtime.online:
        raise ApiError(404, "not_found", f"No online model {name!r}; choose one of {sorted(runtime.online)}.")
    try:
        record = await run_in_threadpool(restore, runtime, name, body.version, "admin request")
    except NotFound:
        raise ApiError(404, "not_found", f"{name} has no version {body.version} to restore (or it was pruned).")
    except CorruptObject:
        raise ApiError(409, "unreadable_version", f"{name} v{body.version}'s weights cannot be read; choose "
                                                  "another version (0 is the original).")
    runtime.metrics.rollbacks.labels(name).inc()
    runtime.stats.changed()
    return {"name": name, "kind": kind_of(name), "online": True, "version": record.version,
            "steps": record.steps, "holdout_accuracy": None, "updated": record.created}
