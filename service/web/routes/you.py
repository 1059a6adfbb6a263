"""Your handwriting: what the service remembers of one anonymous writer, and forgetting it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from fastapi.concurrency import run_in_threadpool

from models.prototypes import PrototypeMemory

from ...core.storage import StorageError
from ...core.writers import WRITER_PATTERN
from .. import schemas
from ..deps import RuntimeDep, limit_predictions
from ..errors import ApiError
from ..runtime import WebRuntime
from .base import ERRORS, Router

router = Router(tags=["you"], dependencies=[Depends(limit_predictions)])

WriterDep = Annotated[str, Header(alias="Inkling-Writer", pattern=WRITER_PATTERN,
                                  description="Your anonymous writer id (the page keeps it in localStorage).")]
MEMORY_DOWN = "Storage is unavailable right now; please try again in a few seconds."


def describe_memory(memory: PrototypeMemory, runtime: WebRuntime) -> dict:
    return {"drawings": len(memory), "counts": memory.counts(), "capacity": runtime.settings.memory_size,
            "trust": round(memory.trust if len(memory) else 0.0, 3)}


@router.read("/api/me", response_model=schemas.MeOut, responses=ERRORS)
async def my_memory(writer: WriterDep, runtime: RuntimeDep):
    """What the service remembers of your handwriting: your drawings in your memory, per label."""
    try:
        memory = await run_in_threadpool(runtime.memories.read, writer)
    except StorageError:
        raise ApiError(503, "storage_unavailable", MEMORY_DOWN, {"Retry-After": "5"})
    return describe_memory(memory, runtime)


@router.delete("/api/me", response_model=schemas.MeOut, responses=ERRORS)
async def forget_me(writer: WriterDep, runtime: RuntimeDep):
    """Forget your handwriting: your memory is deleted and your drawings can no longer be linked to you."""
    try:
        await run_in_threadpool(runtime.memories.forget, writer)
    except StorageError:
        raise ApiError(503, "storage_unavailable", MEMORY_DOWN + " Nothing was forgotten yet.", {"Retry-After": "5"})
    return describe_memory(PrototypeMemory.empty(runtime.alphabet.n_classes), runtime)
