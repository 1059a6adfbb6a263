"""feedback -> store -> queue: what happens to a labelled drawing in a web worker.

The drawing is stored durably before anything else happens to it, with what
curation needs (:mod:`service.core.curation`): the models' probabilities
before they learn it, its suspicion (:mod:`models.suspicion`) and its status.
A drawing whose suspicion passes ``quarantine_above``, or whose writer's labels
are mostly held already, is *quarantined*: stored, and nothing more until a
reviewer decides; the person is thanked as anyone is. Otherwise, with consent,
it joins its writer's own memory (:mod:`service.core.writers`) and is enqueued
for the learner. By default the request waits (up to ``wait_seconds``) for the
version that learned it, so the page can show the online models before and
after; when the learner is behind by more than ``max_backlog`` drawings, or the
queue is unreachable, it answers at once that the drawing is queued. It is
never refused for being slow to learn.
"""

from __future__ import annotations

import logging

import numpy as np
from fastapi.concurrency import run_in_threadpool

from models.preprocess import read_drawing
from models.strokes import check_strokes, strokes_bytes
from models.suspicion import Suspicion, TrackRecord, suspicion

from ..core.curation import decide, lesson_for, state_of
from ..core.queue import Lesson, QueueFull, QueueUnavailable
from ..core.storage import DrawingRecord, NotFound, StorageError, new_drawing_id
from ..core.storage.ids import utc_iso
from ..core.writers import Link
from .recognizer import Recognition
from .runtime import WebRuntime

log = logging.getLogger(__name__)
THANKS = "Thanks, saved."


def judge(before: Recognition, label: int, record: TrackRecord | None) -> Suspicion:
    """The label's suspicion, from what the writer's answer was before any model learned the drawing."""
    verdict = before.verdict
    outside = verdict.outlier + verdict.several if verdict else 0.0
    return suspicion(before.answer.probs, label, not_a_character=outside, record=record,
                     memory_vote=before.answer.memory_vote)


async def collect_drawing(runtime: WebRuntime, png: bytes, label: int, train: bool, client: str,
                          wait: bool = True, writer: str | None = None, strokes: list | None = None,
                          number: str | None = None) -> dict:
    """Store a labelled drawing, then (with consent, unless quarantined) add it to its writer's memory,
    enqueue it and wait for the version that learns it.

    ``number``: the id of the number it was cut from (``POST /api/numbers``), kept in its record.
    Returns the body of a ``POST /api/drawings`` response. Raises the
    preprocessing (and strokes) errors before storing anything, and ``StorageUnavailable``
    when the drawing could not be stored (nothing was accepted).
    """
    pen = strokes_bytes(check_strokes(strokes)) if strokes is not None else None
    # What the models see (fitted into the alphabet's box); what is stored: pixels only.
    x28, png = await runtime.infer(read_drawing, png, runtime.alphabet.box, 2 * runtime.alphabet.canvas.size,
                                   runtime.settings.max_stored_drawing_bytes)
    memory = await runtime.memory_of(writer)
    before = await runtime.infer(runtime.recognizer.recognize, x28, memory)
    drawing_id = new_drawing_id()
    # A record names its writer (by a link only their memory can read, and their pseudonym) or its client's
    # hashed address, never both. A writer's first drawing makes their (empty) memory first.
    link = await run_in_threadpool(runtime.memories.link, writer) if writer and train else None
    track = link.memory.track_record if link else None
    judged = judge(before, label, track)
    holding = runtime.settings.quarantine_above < 1  # INKLING_QUARANTINE_ABOVE=1: nothing is ever held
    writer_held = holding and bool(track and track.mostly_quarantined)
    turns_held = holding and bool(track) and not writer_held and track.after(judged.item, False).mostly_quarantined
    quarantined = train and (judged.score > runtime.settings.quarantine_above or writer_held or turns_held)
    record = DrawingRecord(
        id=drawing_id, label=label, created=utc_iso(), train=train, client="" if link else client,
        input28=np.round(x28 * 255).astype(np.uint8).tobytes(),
        prediction=before.to_json(include_input=False), versions=before.versions,
        writer=link.record_link(drawing_id) if link else None,
        probs={name: [round(float(v), 5) for v in p] for name, p in before.probs.items()},
        suspicion=judged.score, reasons=judged.reasons + (("writer_quarantined",) if writer_held or turns_held else ()),
        status="quarantined" if quarantined else "pending", alias=link.memory.alias if link else None,
        strokes=pen is not None, number=number,
    )
    await run_in_threadpool(runtime.drawings.put, record, png, pen)
    runtime.metrics.drawings.inc()
    if quarantined:
        runtime.metrics.quarantined.inc()
    runtime.stats.changed()

    result = {"id": record.id, "stored": True, "trained": False, "queued": False, "queue_position": None,
              "learned": None, "versions": before.versions, "after": None,
              "personalised_by": len(memory) if memory else 0, "detail": None}
    if not train:
        return result
    if link:
        try:
            memory = await run_in_threadpool(runtime.memories.add, writer, link, record.id, label, before.embedding,
                                             item=judged.item, quarantined=quarantined)
            result["personalised_by"] = len(memory)
        except StorageError as exc:  # stored and learned by the shared models all the same
            log.warning("drawing %s stored; its writer's memory could not be updated: %s", record.id, exc)
        if turns_held:
            await run_in_threadpool(hold_the_rest, runtime, link)
    if quarantined:
        return {**result, "detail": THANKS}  # nothing accusing: it waits for a reviewer
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


def hold_the_rest(runtime: WebRuntime, link: Link) -> int:
    """A writer whose labels are now mostly quarantined: hold their other drawings (those in their memory)
    too, each by a review of the service's own, carried out by the learner like any review."""
    held = 0
    runtime.reviews.refresh()
    for entry in link.memory.entries:
        try:
            record = runtime.drawings.get(entry.drawing_id)
            if state_of(record, runtime.reviews.of(record.id)).status != "pending":
                continue  # a reviewer has decided it already
            review = decide(record, runtime.reviews.of(record.id), "quarantine", by="inkling")
            runtime.reviews.put(review)
            runtime.queue.add(lesson_for(record, review))
            held += 1
        except NotFound:
            continue
        except (StorageError, QueueUnavailable) as exc:  # stored reviews are found by reconciliation
            log.warning("holding the rest of writer %s's drawings stopped: %s", link.memory.alias, exc)
            break
    log.info("writer %s: most labels quarantined; held %d more of their drawings", link.memory.alias, held)
    return held
