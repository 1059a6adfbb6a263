"""The four models: their versions and holdout accuracy, where each original came from, and restoring any of
them to an earlier version (an audited admin action)."""

from __future__ import annotations

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool

from ...core.lineup import KINDS, ONLINE_MODELS, kind_of, online, original
from ...core.storage import CorruptObject, NotFound, WeightVersion
from .. import schemas
from ..deps import ReviewerDep, RuntimeDep
from ..errors import ApiError
from ..runtime import WebRuntime
from .base import ERRORS, Router

router = Router(tags=["models"])


def origin(record: WeightVersion | None) -> dict | None:
    """Where an original's served version came from: a promotion (when, why, which run) or a rollback."""
    if record is None:
        return None
    meta = record.meta
    return {"reason": meta.get("reason"), "why": meta.get("why"), "by": meta.get("by"), "at": record.created,
            "promotion": meta.get("promotion"), "forced": bool(meta.get("forced")), "to": meta.get("to"),
            "cutoff": meta.get("cutoff")}


def describe_models(runtime: WebRuntime) -> list[dict]:
    """Each original (its served version, holdout accuracy and origin) and its online twin (its newest
    checked accuracy, and the original's version it learns on top of)."""
    history = runtime.stats.get()["online"]
    models = []
    for kind in KINDS:
        first = runtime.models[original(kind)]
        models.append({"name": original(kind), "kind": kind, "online": False, "version": first.version, "steps": 0,
                       "holdout_accuracy": round(runtime.original_accuracy[original(kind)], 4),
                       "updated": first.updated, "origin": origin(first.record), "base": None})
        model, checked = runtime.online[online(kind)], history[online(kind)]["history"]
        models.append({"name": online(kind), "kind": kind, "online": True, "version": model.version,
                       "steps": model.steps, "updated": model.updated, "origin": None,
                       "base": model.record.meta.get("base", 0) if model.record else 0,
                       "holdout_accuracy": checked[-1]["holdout_accuracy"] if checked
                       else round(runtime.original_accuracy[original(kind)], 4)})
    return models


def restore(runtime: WebRuntime, name: str, version: int, why: str, by: str) -> WeightVersion:
    """Publish a model's ``version`` again as its newest, and serve it here at once (every worker follows
    within moments). NotFound or CorruptObject for a version nobody could serve; ValueError for an online
    version learned on top of another original than the one served (roll the original back first).

    An online model's version 0 is its original as served now; an original's is the shipped weights.
    """
    model = runtime.models[name]
    if name in ONLINE_MODELS:
        base = runtime.models[original(kind_of(name))]
        learned_on = runtime.weights.version(name, version).meta.get("base", 0) if version else base.version
        if learned_on != base.version:
            raise ValueError(f"{name} v{version} learned on top of {base.name} v{learned_on}, but v{base.version} "
                             f"is served now; roll {base.name} back to v{learned_on} first, or choose a version "
                             f"learned on v{base.version}")
        shipped, meta = base.weights_at(base.version), {"base": base.version}
    else:
        shipped, meta = model.weights_at(0), None
    if version:
        model.read(version)  # never publish weights nobody can serve
    record = runtime.weights.restore(name, version, shipped, why, by=by, meta=meta)
    runtime.audit.record("rollback", by=by, model=name, version=record.version, to=version,
                                             why=why)
    runtime.queue.announce(name, record.version)
    runtime.follower.refresh()
    return record


@router.read("/api/models", response_model=schemas.ModelsOut)
async def list_models(runtime: RuntimeDep):
    """Versions, steps and holdout accuracy of the four models, and where each original's version came from."""
    return {"models": await run_in_threadpool(describe_models, runtime)}


@router.post("/api/models/{name}/rollback", response_model=schemas.ModelInfo,
             responses={**ERRORS, **{code: {"model": schemas.ErrorOut} for code in (401, 403, 409)}})
async def rollback(name: str, body: schemas.RollbackIn, runtime: RuntimeDep, by: ReviewerDep):
    """Restore a model to a named version (admin token required; audited). Rolling an original back
    rebases its online twin on it, as a promotion does."""
    if name not in runtime.models:
        raise ApiError(404, "not_found", f"No model {name!r}; choose one of {sorted(runtime.models)}.")
    try:
        record = await run_in_threadpool(restore, runtime, name, body.version, body.why or "admin request", by)
    except NotFound:
        raise ApiError(404, "not_found", f"{name} has no version {body.version} to restore (or it was pruned).")
    except CorruptObject:
        raise ApiError(409, "unreadable_version", f"{name} v{body.version}'s weights cannot be read; choose "
                                                  "another version (0 is the original).")
    except ValueError as exc:
        raise ApiError(409, "other_original", f"{exc}.")
    runtime.metrics.rollbacks.labels(name).inc()
    runtime.stats.changed()
    return {"name": name, "kind": kind_of(name), "online": name in ONLINE_MODELS, "version": record.version,
            "steps": record.steps, "holdout_accuracy": None, "updated": record.created,
            "origin": None if name in ONLINE_MODELS else origin(record),
            "base": record.meta.get("base", 0) if name in ONLINE_MODELS else None}
