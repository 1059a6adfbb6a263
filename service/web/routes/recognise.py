"""Recognising: a drawing's four answers and one, and the CNN's feature maps."""

from __future__ import annotations

from fastapi import Depends

from models.preprocess import preprocess_drawing

from .. import schemas
from ..deps import RuntimeDep, limit_predictions
from .base import ERRORS, Router

router = Router(tags=["recognise"], dependencies=[Depends(limit_predictions)])


@router.post("/api/predict", response_model=schemas.PredictOut, responses=ERRORS)
async def predict(body: schemas.ImageIn, runtime: RuntimeDep):
    """Top-3 of the four models and one answer for a drawing (with ``writer``, using that writer's memory)."""
    memory, box = await runtime.memory_of(body.writer), runtime.alphabet.box
    recognition = await runtime.infer(lambda: runtime.recognizer.recognize(preprocess_drawing(body.image, box), memory))
    return recognition.to_json()


@router.post("/api/activations", response_model=schemas.ActivationsOut, responses=ERRORS)
async def activations(body: schemas.ImageIn, runtime: RuntimeDep):
    """The online CNN's hidden feature maps (conv1, pool1, conv2, pool2) for one drawing."""
    box = runtime.alphabet.box
    layers = await runtime.infer(lambda: runtime.recognizer.activations(preprocess_drawing(body.image, box)))
    return {"layers": layers}
