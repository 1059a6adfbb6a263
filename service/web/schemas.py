"""Request and response shapes of the HTTP API (they are the OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, model_validator

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
    strokes: list[list[list[float]]] | None = Field(
        None, description="The pen strokes the drawing was made of, Quick, Draw!'s raw format: per "
                                         "stroke [[x...], [y...], [t...]], canvas pixels and milliseconds since the "
                                         "first point (at most 64 strokes and 4,096 points). Kept beside the PNG.")
    train: StrictBool = Field(True, description="Consent to train the online models on this drawing.")
    wait: StrictBool = Field(True, description="Wait (up to ~2 s) for the version that learned it and answer "
                                               "with the models' answer after learning; false answers at once.")


class RollbackIn(BaseModel):
    version: StrictInt = Field(..., ge=0, description="Version to restore (0: for an online model, its original "
                                                      "as served now; for an original, the shipped weights).")
    why: str | None = Field(None, max_length=500, description="Why, for the audit log.")


class Guess(BaseModel):
    digit: int | None = Field(description="The digit (the label, for the digits alphabet; null for others).")
    label: int
    glyph: str
    p: float


class Named(BaseModel):
    digit: int | None = Field(description="The digit (the label, for the digits alphabet; null for others).")
    label: int
    glyph: str


class EnsembleAnswer(BaseModel):
    digit: int | None = Field(description="The digit (digits alphabet only); null when it cannot tell.")
    label: int | None = Field(None, description="The class of the deployment's alphabet; null when it cannot tell "
                                                "(see `why`).")
    glyph: str | None = Field(None, description="How that class is written (\"7\", \"あ\").")
    p: float = Field(description="How sure, calibrated on held-out writers: the probability of `best`.")
    agree: int = Field(description="How many of the four models have `best` first.")
    why: Literal["not_a_character", "several", "unsure"] | None = Field(
        None, description="Why it cannot tell: not one character of the alphabet, several side by side, or "
                          "no label sure enough; null when it answers.")
    reason: str | None = Field(None, description="`why`, in a sentence (English).")
    best: Guess | None = Field(None, description="The likeliest label all the same (the answer, when there is one).")
    personalised_by: int = Field(0, description="Drawings in the writer's own memory that shaped this answer "
                                                "(0: the same answer as for anyone).")
    memory: Named | None = Field(None, description="What the writer's own memory votes: the label of their own "
                                                   "drawings nearest this one (null without a memory).")


class GateOut(BaseModel):
    character: float = Field(description="Probability that the drawing is one character of the alphabet.")
    outlier: float = Field(description="... that it is not a character of it (a letter, a scribble, ...).")
    several: float = Field(description="... that it is several characters side by side.")


class PredictOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "Top-3 of each model and one answer."})
    models: dict[str, list[Guess]]
    answer: EnsembleAnswer
    versions: dict[str, int]
    gate: GateOut | None = Field(None, description="The gate's verdict (models/gate.py); null where the alphabet "
                                                   "has none.")
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
    status: Literal["pending", "accepted", "relabelled", "discarded", "quarantined"] = Field(
        "pending", description="pending: learned, not reviewed; quarantined: held for review (not learned); "
                               "accepted, relabelled, discarded: a reviewer's decision.")
    suspicion: float | None = Field(None, description="0-1: how likely its label is wrong, judged when it was stored "
                                                      "(null for drawings from before curation).")
    number: str | None = Field(None, description="The id of the number it was written in (POST /api/numbers); null "
                                                 "for a drawing saved by itself.")


class Review(BaseModel):
    id: str
    at: str
    by: str = Field(description="Who: the admin token's name, or 'inkling' for the service's own decisions.")
    action: Literal["accept", "relabel", "discard", "undo", "quarantine"]
    drawing: str
    before_status: str
    before_label: int
    after_status: str
    after_label: int
    learn: int | None = Field(description="The label the models take one step with because of it (null: none).")
    undoes: str | None = None


class TrackRecordOut(BaseModel):
    drawings: int
    suspicious: int = Field(description="Their labels that were suspicious by themselves.")
    quarantined: int = Field(description="Held for review now.")
    confirmed: int = Field(description="Labels a reviewer let stand.")
    corrected: int = Field(description="Labels a reviewer relabelled or discarded.")


class ReviewItem(BaseModel):
    id: str
    label: int = Field(description="The label now (a reviewer's, if relabelled).")
    given: int = Field(description="The label its writer gave.")
    glyph: str
    suspicion: float
    status: str
    writer: str = Field(description="The writer's pseudonym (or client-<hashed address> without a writer id).")
    guess: int | None = Field(description="What the models answered before learning it (null: can't tell).")
    reasons: list[str]
    created: str
    train: bool
    png_url: str
    models: dict[str, list[Guess]] | None = Field(description="Each model's top-3 before learning it.")
    reviews: list[Review] = Field(default_factory=list, description="Its reviews, oldest first.")


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    next: str | None = Field(description="The cursor of the next page (null: no more).")
    writers: dict[str, TrackRecordOut] = Field(description="The track record of each writer on this page.")


class ReviewIn(BaseModel):
    action: Literal["accept", "relabel", "discard", "undo"]
    label: StrictInt | None = Field(None, ge=0, description="The new label (relabel only).")
    undoes: list[Annotated[str, StringConstraints(max_length=40)]] | None = Field(
        None, max_length=2000,
        description="Undo only: the reviews it may take back (the ids of those you have seen). A drawing whose "
                    "newest review standing is not among them (a colleague reviewed it since) is refused with "
                    "409, and their decision stands.")

    @model_validator(mode="after")
    def _undoes_only_with_undo(self):
        if self.undoes is not None and self.action != "undo":
            raise ValueError("undoes goes with the action undo only")
        return self


class BulkReviewIn(ReviewIn):
    ids: list[str] = Field(..., min_length=1, max_length=200, description="The drawings to review alike.")


class ReviewOut(BaseModel):
    review: Review
    drawing: ReviewItem


class BulkReviewOut(BaseModel):
    done: list[ReviewOut]
    refused: dict[str, str] = Field(description="Drawings not reviewed, with why.")


class AuditPage(BaseModel):
    items: list[Review] = Field(description="Reviews, newest first.")
    next: str | None


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


class ModelOrigin(BaseModel):
    reason: str | None = Field(description="promotion (a retrained challenger passed the gate, or was forced) or "
                                           "rollback.")
    why: str | None = Field(description="The gate's reason in one line, or the rollback's.")
    by: str | None = Field(description="retrain, or the admin token's name.")
    at: str
    promotion: str | None = Field(description="The promotion record (GET /api/admin/promotions/{id}).")
    forced: bool
    to: int | None = Field(description="For a rollback: the version restored.")
    cutoff: str | None = Field(description="The crowd's drawings stored up to here trained it.")


class ModelInfo(BaseModel):
    name: str
    kind: str
    online: bool
    version: int = Field(description="0: the shipped weights (an original) or its original's (an online model).")
    steps: int
    holdout_accuracy: float | None
    updated: str | None
    origin: ModelOrigin | None = Field(None, description="An original's: where its served version came from "
                                                         "(null: shipped).")
    base: int | None = Field(None, description="An online model's: the version of its original it learns on "
                                               "top of (a promotion rebases it).")


class ModelsOut(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str = Field(description="ok, or degraded: serving, with a shared part unreachable (see below).")
    versions: dict[str, int]
    rate_limits: str = Field(description="shared (Redis, every worker), per_process (no Redis configured) or "
                                         "per_process_fallback (Redis unreachable: each worker counts alone).")
    queue: str = Field(description="ok, or unreachable: drawings are stored and learned once it is back.")


class PromotionModel(BaseModel):
    promote: bool = Field(description="Whether the gate passed this model's challenger.")
    reason: str = Field(description="The gate's reason, in one line.")
    figures: dict = Field(description="crowd (n, champion, challenger, p...), holdout, writers, rules.")
    promoted_as: int | None = Field(None, description="The original's version it became (null: not promoted).")


class Promotion(BaseModel):
    id: str
    created: str
    alphabet: str
    status: Literal["judged", "skipped"]
    reason: str = Field(description="The run's outcome in one line.")
    cutoff: str | None
    champion: dict[str, int] = Field(description="The original's version each challenger was judged against.")
    card: dict = Field(description="The recipe: command, seed, epochs, data counts, crowd share, training time.")
    models: dict[str, PromotionModel]
    forced: dict | None = Field(None, description="An admin's decision to promote what the gate refused.")


class PromotionPage(BaseModel):
    items: list[Promotion] = Field(description="Retrain runs, newest first.")


class ForceIn(BaseModel):
    why: str = Field(..., min_length=1, max_length=500, description="Why the gate's refusal is overruled.")
    models: list[Literal["fnn", "cnn"]] | None = Field(None, description="Which challengers (default: every one "
                                                                         "the gate refused).")


class ForceOut(BaseModel):
    promotion: Promotion
    versions: dict[str, int] = Field(description="The originals' new versions, by kind.")


class ModelAction(BaseModel):
    id: str
    action: Literal["rollback", "force"]
    by: str
    at: str
    why: str | None = None
    model: str | None = None
    version: int | None = Field(None, description="The version the rollback published.")
    to: int | None = Field(None, description="The version it restored.")
    promotion: str | None = None
    models: list[str] | None = None


class ModelActionPage(BaseModel):
    items: list[ModelAction] = Field(description="Rollbacks and forced promotions, newest first.")


class ErrorOut(BaseModel):
    detail: str
    code: str


# --- numbers: reading the pad (POST /api/read) and saving a corrected number (POST /api/numbers) -------------

PAD_STROKES = Field(
    None, description="The pen strokes on the pad, in the order drawn: per stroke [[x...], [y...], [t...]], pad "
                      "pixels (GET /api/config's `pad`, origin top left) and milliseconds since the first point (at "
                      "most 64 strokes and 4,096 points). With them the characters are found by their strokes (a "
                      "two-stroke 4 stays one digit); without, by the image's connected ink.")


class ReadIn(ImageIn):
    image: str = Field(..., min_length=1, max_length=MAX_IMAGE_CHARS,
                       description="The pad as a PNG data URL (data:image/png;base64,...) or plain base64, at the "
                                   "pad's size (GET /api/config's `pad`: 840x280 for the digits; a larger PNG is "
                                   "shrunk to about it).")
    strokes: list[list[list[float]]] | None = PAD_STROKES


class CharacterOut(BaseModel):
    kind: Literal["character", "point", "minus"] = Field(
        description="character: read by the models (see `answer`); point (a decimal point) and minus: told by their "
                    "shape, not by the models (`answer`, `top3`, `models` and `gate` are null).")
    glyph: str = Field(description="What `text` holds for it: the answer's glyph, \".\", \"-\", or \"?\" when the "
                                   "models cannot tell (see `answer.why`; `answer.best` is the likeliest all the same).")
    box: list[int] = Field(min_length=4, max_length=4,
                           description="Where it is on the pad: [x0, y0, x1, y1], pad pixels, its ink with the pen.")
    strokes: list[int] = Field(description="The indices of the strokes it is made of (empty when read without "
                                           "strokes). Send them back to POST /api/numbers.")
    answer: EnsembleAnswer | None = Field(description="Its answer, exactly as POST /api/predict gives for a single "
                                                      "drawing (null for a point or a minus).")
    top3: list[Guess] | None = Field(description="The three likeliest labels of the combined answer, likeliest first "
                                                 "(what the page offers on tap to correct it).")
    models: dict[str, list[Guess]] | None = Field(description="Top-3 of each of the four models.")
    gate: GateOut | None = Field(description="The gate's verdict on it (null where the alphabet has none).")


class AlternativeOut(BaseModel):
    text: str = Field(description="Another reading of the whole pad.")
    p: float = Field(description="Its probability: the product of its characters' (comparable with the reading's `p`).")
    kind: Literal["second_choice", "segmentation"] = Field(
        description="second_choice: one character (see `characters`) read as its second choice; segmentation: the "
                    "characters found another way (two joined into one, or one split into two).")
    characters: list[int] = Field(description="second_choice: the index of the character that changed.")


class ReadOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "A number read from the pad, character by character."})
    text: str = Field(description="The reading, left to right: each character's glyph (\"?\" where the models cannot "
                                  "tell), \".\" for a decimal point, \"-\" for a minus sign.")
    p: float = Field(description="How sure of the whole reading: the product of its characters' probabilities.")
    complete: bool = Field(description="Every character was told (no \"?\" in `text`).")
    characters: list[CharacterOut] = Field(description="The characters, left to right.")
    alternatives: list[AlternativeOut] = Field(description="Up to three other readings, likeliest first.")
    source: Literal["strokes", "image"] = Field(description="What the characters were found from.")
    versions: dict[str, int] = Field(description="The online models' versions that read them (all the same).")


class NumberCharacterIn(BaseModel):
    label: StrictInt | None = Field(None, ge=0, description="What this character is: a label of the deployment's "
                                                            "alphabet (0-9 for the digits). Exactly one of label and "
                                                            "symbol.")
    symbol: Literal[".", "-"] | None = Field(None, description="A decimal point or a minus sign (kept in the number, "
                                                               "not learned).")
    strokes: list[StrictInt] | None = Field(None, max_length=64,
                                            description="Its strokes: indices into the number's `strokes` (each "
                                                        "stroke in one character at most), as POST /api/read gave them.")
    box: list[StrictInt] | None = Field(None, min_length=4, max_length=4,
                                        description="Without strokes: where it is, [x0, y0, x1, y1] in pad pixels "
                                                    "(POST /api/read's `box`).")


class NumberIn(ImageIn):
    image: str = Field(..., min_length=1, max_length=MAX_IMAGE_CHARS,
                       description="The pad as a PNG data URL or plain base64 (as sent to POST /api/read).")
    strokes: list[list[list[float]]] | None = PAD_STROKES
    characters: list[NumberCharacterIn] = Field(
        ..., min_length=1, max_length=12,
        description="The number as the person confirmed it, left to right (at most `pad.max_characters`, 12): each "
                    "character's label (or symbol) and its strokes (or box). Each character of the alphabet is "
                    "stored and learned as a drawing of its own; the rate limit counts each as one drawing.")
    train: StrictBool = Field(True, description="Consent to train the online models on its characters.")
    wait: StrictBool = Field(True, description="Wait (up to ~2 s) until the models learned every character; false "
                                               "answers at once.")


class NumberDrawingOut(BaseModel):
    id: str = Field(description="The character's own drawing (GET /api/drawings/{id}).")
    label: int
    glyph: str
    queued: bool = Field(description="Enqueued for the learner (false: stored without consent, or held for review).")
    png_url: str


class NumberOut(BaseModel):
    id: str = Field(description="The number's id (each of its drawings' records names it).")
    text: str = Field(description="The number as saved.")
    stored: bool
    drawings: list[NumberDrawingOut] = Field(description="One drawing per character of the alphabet, left to right "
                                                         "(points and minus signs are kept in the number only).")
    learned: dict[str, int] | None = Field(description="Per online model, the version that learned the last of them "
                                                       "(null: not waited for, or still queued).")
    detail: str | None = None
