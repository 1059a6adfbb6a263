"""Request and response shapes of the HTTP API (they are the OpenAPI schema at /docs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from ..core.writers import MEMORY_SIZE, WRITER_PATTERN

# A 2048x2048 PNG of a drawing compresses to well under this; the body limit (1 MB) applies anyway.
MAX_IMAGE_CHARS = 1_400_000


class ImageIn(BaseModel):
    image: str = Field(..., min_length=1, max_length=MAX_IMAGE_CHARS,
                       description="The canvas as a PNG data URL (data:image/png;base64,...) or plain base64.")
    writer: str | None = Field(None, pattern=WRITER_PATTERN,
                               description="The anonymous writer id the page keeps in localStorage: answers use "
                                           "this writer's own memory, and their labelled drawings fill it. "
                                           "Without one, nothing is personalised.")


class DrawingIn(ImageIn):
    label: StrictInt = Field(..., ge=0, description="What the person drew: a label of the deployment's alphabet "
                                                   "(GET /api/config), 0-9 for the digits.")
    train: StrictBool = Field(True, description="Consent to train the online models on this drawing.")
    wait: StrictBool = Field(True, description="Wait (up to ~2 s) for the version that learned it and answer "
                                               "with the models' answer after learning; false answers at once.")


class RollbackIn(BaseModel):
    version: StrictInt = Field(..., ge=0, description="Version to restore (0 = the original weights).")


class Guess(BaseModel):
    digit: int | None = Field(description="The digit (the label, for the digits alphabet; null for others).")
    label: int
    glyph: str
    p: float


class EnsembleAnswer(BaseModel):
    digit: int | None = Field(description="The digit (digits alphabet only); null when the ensemble is not "
                                          "confident.")
    label: int | None = Field(None, description="The class of the deployment's alphabet; null when not confident.")
    glyph: str | None = Field(None, description="How that class is written (\"7\", \"あ\").")
    p: float
    agree: int = Field(description="How many of the four models have this class first.")
    reason: str | None = None
    personalised_by: int = Field(0, description="Drawings in the writer's own memory that shaped this answer "
                                                "(0: the same answer as for anyone).")


class PredictOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "Top-3 of each model and one answer."})
    models: dict[str, list[Guess]]
    answer: EnsembleAnswer
    versions: dict[str, int]
    input28: list[list[float]] = Field(description="The 28x28 image the models saw, 0..1, white ink on black.")


class MeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "What the service remembers of your handwriting."})
    drawings: int = Field(description="Drawings in your memory (your newest, at most `capacity`).")
    counts: list[int] = Field(description="Drawings in your memory per label.")
    capacity: int = Field(MEMORY_SIZE, description="The most drawings a memory keeps; older ones drop out.")
    trust: float = Field(description="0..1: how much answers trust your memory, earned by how often it "
                                     "recognised your drawings before they joined it.")


class DrawingOut(BaseModel):
    id: str
    stored: bool
    trained: bool = Field(description="The online models serve a version that learned it.")
    queued: bool = Field(description="Waiting to be learned (learning is behind, or the queue is unreachable).")
    queue_position: int | None = Field(description="Drawings in the learn queue when it was enqueued.")
    learned: dict[str, int] | None = Field(description="Per online model, the version that first learned it.")
    versions: dict[str, int]
    after: PredictOut | None = Field(description="What the models answer for the same drawing after learning.")
    personalised_by: int = Field(0, description="Drawings in your memory now (0 without a writer id, or consent).")
    detail: str | None = None


class DrawingItem(BaseModel):
    id: str
    label: int
    created: str
    train: bool
    png_url: str


class DrawingInfo(DrawingItem):
    learned: dict[str, int | None] | None = Field(
        description="Per online model, the version that first learned it (null while queued); null without consent.")


class DrawingPage(BaseModel):
    items: list[DrawingItem]
    next_cursor: str | None


class Evaluation(BaseModel):
    version: int
    step: int
    holdout_accuracy: float
    time: str


class Rollback(BaseModel):
    from_version: int
    to_version: int
    new_version: int
    time: str


class OnlineStats(BaseModel):
    version: int
    steps: int
    original_accuracy: float
    history: list[Evaluation]
    rollbacks: list[Rollback]


class StatsOut(BaseModel):
    counts: list[int]
    total: int
    online: dict[str, OnlineStats]


class Layer(BaseModel):
    name: str
    shape: list[int] = Field(description="[channels, height, width]")
    max: float = Field(description="The activation that maps to 255.")
    data: str = Field(description="base64 of uint8 channel-major maps (map k = bytes k*H*W .. (k+1)*H*W).")


class ActivationsOut(BaseModel):
    layers: list[Layer]


class ModelInfo(BaseModel):
    name: str
    kind: str
    online: bool
    version: int
    steps: int
    holdout_accuracy: float | None
    updated: str | None


class ModelsOut(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str = Field(description="ok, or degraded: serving, with a shared part unreachable (see below).")
    versions: dict[str, int]
    rate_limits: str = Field(description="shared (Redis, every worker), per_process (no Redis configured) or "
                                         "per_process_fallback (Redis unreachable: each worker counts alone).")
    queue: str = Field(description="ok, or unreachable: drawings are stored and learned once it is back.")


class ErrorOut(BaseModel):
    detail: str
    code: str
