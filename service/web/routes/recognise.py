"""Recognising: a drawing's four answers and one, and the CNN's feature maps."""

from __future__ import annotations

from fastapi import Depends

from models.canvas import PadSpec
from models.preprocess import preprocess_drawing

from .. import schemas
from ..deps import RuntimeDep, limit_predictions
from ..reader import read_number
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


@router.post("/api/read", response_model=schemas.ReadOut, responses=ERRORS)
async def read(body: schemas.ReadIn, runtime: RuntimeDep):
    """Read a number written on the pad (``GET /api/config``'s ``pad``): each character found (from the strokes
    when sent, else from the image), read as a single drawing is, with its own answer, top-3 and models.

    422 ``blank_drawing`` for an empty pad, ``invalid_strokes``, ``too_many_characters`` past ``pad.max_characters``.
    Counts as one prediction against the rate limit."""
    memory, alphabet = await runtime.memory_of(body.writer), runtime.alphabet
    pad = PadSpec.for_canvas(alphabet.canvas)
    reading = await runtime.infer(read_number, runtime.recognizer.recognize_batch, body.image, body.strokes, pad,
                                  alphabet.box, memory)
    return reading.to_json()
