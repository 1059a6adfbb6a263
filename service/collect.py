"""feedback -> store -> augment -> learn -> persist: what happens to a labelled drawing.

The drawing is stored durably before anything else happens to it; learning
comes after, so a failure there never loses a drawing a person gave us.
"""

from __future__ import annotations

import logging

import numpy as np
from fastapi.concurrency import run_in_threadpool

from models.preprocess import preprocess_drawing

from .runtime import Runtime
from .storage import DrawingRecord, StorageUnavailable, new_drawing_id
from .storage.ids import utc_iso

log = logging.getLogger(__name__)

# A label the original CNN gives under 1% is a vandal's or a rare honest correction:
# either way the guard checks right after learning from it.
SUSPICIOUS_BELOW = 0.01


async def collect_drawing(runtime: Runtime, png: bytes, label: int, train: bool, client: str) -> dict:
    """Store a labelled drawing, then (with consent) let both online models learn from it.

    Returns the body of a ``POST /api/drawings`` response. Raises the
    preprocessing errors before storing anything, and ``StorageUnavailable``
    when the drawing could not be stored (nothing was accepted).
    """
    x28 = await run_in_threadpool(preprocess_drawing, png)
    before = await run_in_threadpool(runtime.recognizer.recognize, x28)
    record = DrawingRecord(
        id=new_drawing_id(), label=label, created=utc_iso(), train=train, client=client,
        input28=np.round(x28 * 255).astype(np.uint8).tobytes(),
        prediction=before.to_json(include_input=False), versions=before.versions,
    )
    await run_in_threadpool(runtime.drawings.put, record, png)
    runtime.metrics.drawings.inc()
    runtime.stats_changed()

    result = {"id": record.id, "stored": True, "trained": False, "versions": before.versions, "after": None,
              "detail": None}
    if not train:
        return result
    suspicious = float(before.probs["cnn_original"][label]) < SUSPICIOUS_BELOW
    try:
        result["versions"] = await runtime.learner.learn(x28, label, {"drawing": record.id}, suspicious)
        result["trained"] = True
    except StorageUnavailable as exc:
        log.warning("drawing %s stored but not learned from: %s", record.id, exc)
        result["versions"] = runtime.recognizer.versions()  # one model may have learned all the same
        result["detail"] = "Saved, but the models could not learn from it right now (storage unavailable)."
    result["after"] = (await run_in_threadpool(runtime.recognizer.recognize, x28)).to_json()
    runtime.stats_changed()
    return result
