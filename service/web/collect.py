"""feedback -> store -> queue: what happens to a labelled drawing in a web worker.

The drawing is stored durably before anything else happens to it; with
consent it then joins its writer's own memory (when it names a writer,
:mod:`service.core.writers`) and is enqueued for the learner. By default the request waits
(up to ``wait_seconds``) for the version that learned it, so the page can show
the online models before and after; when the learner is behind by more than
``max_backlog`` drawings, or the queue is unreachable, it answers at once
that the drawing is queued. It is never refused for being slow to learn.
"""

from __future__ import annotations

import logging

import numpy as np
from fastapi.concurrency import run_in_threadpool

from models.preprocess import read_drawing

from ..core.queue import Lesson, QueueFull, QueueUnavailable
from ..core.storage import DrawingRecord, StorageError, new_drawing_id
from ..core.storage.ids import utc_iso
from .runtime import WebRuntime

log = logging.getLogger(__name__)


async def collect_drawing(runtime: WebRuntime, png: bytes, label: int, train: bool, client: str,
                          wait: bool = True, writer: str | None = None) -> dict:
    """Store a labelled drawing, then (with consent) add it to its writer's memory, enqueue it and wait
    for the version that learns it.

    Returns the body of a ``POST /api/drawings`` response. Raises the
    preprocessing errors before storing anything, and ``StorageUnavailable``
    when the drawing could not be stored (nothing was accepted).
    """
    # What the models see (fitted into the alphabet's box); what is stored: pixels only.
    x28, png = await runtime.infer(read_drawing, png, runtime.alphabet.box, 2 * runtime.alphabet.canvas.size,
                                   runtime.settings.max_stored_drawing_bytes)
    memory = await runtime.memory_of(writer)
    before = await runtime.infer(runtime.recognizer.recognize, x28, memory)
    drawing_id = new_drawing_id()
    # A record names its writer (by a link only their memory can read) or its client's hashed address, never both.
    link = await run_in_threadpool(runtime.memories.link, writer) if writer and train else None
    record = DrawingRecord(
        id=drawing_id, label=label, created=utc_iso(), train=train, client="" if link else client,
        input28=np.round(x28 * 255).astype(np.uint8).tobytes(),
        prediction=before.to_json(include_input=False), versions=before.versions,
        writer=link.record_link(drawing_id) if link else None,
    )
    await run_in_threadpool(runtime.drawings.put, record, png)
    runtime.metrics.drawings.inc()
    runtime.stats.changed()

    result = {"id": record.id, "stored": True, "trained": False, "queued": False, "queue_position": None,
              "learned": None, "versions": before.versions, "after": None,
              "personalised_by": len(memory) if memory else 0, "detail": None}
    if not train:
        return result
    if link:
        try:
            memory = await run_in_threadpool(runtime.memories.add, writer, link, record.id, label, before.embedding)
            result["personalised_by"] = len(memory)
        except StorageError as exc:  # stored and learned by the shared models all the same
            log.warning("drawing %s stored; its writer's memory could not be updated: %s", record.id, exc)
    try:
        await run_in_threadpool(runtime.queue.add, Lesson(record.id, label, record.input28))
        depth = await run_in_threadpool(runtime.queue.depth)
    except QueueFull as exc:
        runtime.metrics.drawings_deferred.labels("queue_full").inc()
        log.info("drawing %s stored; enqueued later by reconciliation: %s", record.id, exc)
        result.update(queued=True, detail="Saved. Many drawings are waiting to be learned, so the models will "
                                          "learn from this one a little later; nothing more to do.")
        return result
    except QueueUnavailable as exc:
        runtime.metrics.drawings_deferred.labels("queue_unreachable").inc()
        log.warning("drawing %s stored; enqueued later by reconciliation: %s", record.id, exc)
        result.update(queued=True, detail="Saved. The models will learn from it once the learning queue is "
                                          "reachable again; nothing more to do.")
        return result
    learned = None
    if wait and depth <= runtime.settings.max_backlog:
        learned = await runtime.follower.wait(record.id, runtime.settings.wait_seconds)
    if learned is None:
        result.update(queued=True, queue_position=depth,
                      detail=f"Saved. The models are learning from it ({depth} drawings in the queue).")
        return result
    after = await runtime.infer(runtime.recognizer.recognize, x28, memory)
    result.update(trained=True, learned=learned, versions=after.versions, after=after.to_json())
    runtime.stats.changed()
    return result
