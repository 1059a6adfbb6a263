"""One answer from four models.

The combined distribution is a weighted geometric mean of the models'
probabilities (a product of experts): a digit wins only when no model finds
it implausible, which punishes the confident mistakes a single model makes on
odd drawings more than an arithmetic mean would. The online CNN counts most:
it is the most accurate model and, once people teach it, the one that knows
their hands; the originals keep a small say as an anchor. Measured on the
pendigits test writers (README, "Learning from users"): it tracks the best
single model at every stage of teaching; it cannot do much better, because
the four members learned from the same data and the FNNs are weaker.

A writer's own memory (:mod:`models.prototypes`) joins the product as one
more expert: its log-evidence is added to the mean of the four models' logs,
so an empty memory (zero evidence) leaves the answer exactly as it was.

>>> import numpy as np
>>> p = np.full(10, 0.01, np.float32); p[3] = 0.91
>>> answer = combine({"fnn_original": p, "fnn_online": p, "cnn_original": p, "cnn_online": p}, DEFAULT_WEIGHTS)
>>> answer.label, answer.agree
(3, 4)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prototypes import Sharpness

DEFAULT_WEIGHTS = {"fnn_original": 0.1, "fnn_online": 0.5, "cnn_original": 0.25, "cnn_online": 1.0}
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Answer:
    label: int | None  # the class (a digit, for the digits); None when not confident
    p: float
    agree: int
    reason: str | None
    probs: np.ndarray
    personalised_by: int = 0  # drawings in the writer's memory that shaped this answer


def combine_probs(probs: dict[str, np.ndarray], weights: dict[str, float],
                  evidence: np.ndarray | None = None) -> np.ndarray:
    """float32[..., 10]: the weighted geometric mean of ``probs`` times ``exp(evidence)``, renormalised."""
    total = sum(weights[name] for name in probs)
    log_mean = sum(weights[name] * np.log(np.clip(p, 1e-7, 1.0)) for name, p in probs.items()) / total
    if evidence is not None:
        log_mean = log_mean + evidence
    log_mean = log_mean - log_mean.max(axis=-1, keepdims=True)
    combined = np.exp(log_mean)
    return (combined / combined.sum(axis=-1, keepdims=True)).astype(np.float32)


def combine(probs: dict[str, np.ndarray], weights: dict[str, float], *, memory=None,
            embedding: np.ndarray | None = None, sharpness: Sharpness | None = None, glyphs=None,
            min_confidence: float = MIN_CONFIDENCE) -> Answer:
    """The ensemble's answer for one drawing; ``label`` (the class) is None when it is not confident.

    ``weights``: the alphabet's (:attr:`models.alphabets.Alphabet.ensemble_weights`). With a writer's
    ``memory`` (a :class:`models.prototypes.PrototypeMemory`), the drawing's ``embedding`` and the
    alphabet's memory ``sharpness``, the memory's evidence joins the product. ``glyphs``
    name the classes in the reason given when unsure (default: their numbers).
    """
    evidence, personalised_by = None, 0
    if memory is not None and len(memory):
        evidence, personalised_by = memory.evidence(embedding, sharpness), len(memory)
    combined = combine_probs(probs, weights, evidence)
    best = int(combined.argmax())
    p = float(combined[best])
    agree = sum(int(np.argmax(q)) == best for q in probs.values())
    if p >= min_confidence:
        return Answer(best, p, agree, None, combined, personalised_by)
    name = (lambda c: glyphs[c]) if glyphs else str
    votes = sorted({int(np.argmax(q)) for q in probs.values()})
    reason = (
        f"The models disagree ({' vs '.join(map(name, votes))}) and none is sure."
        if len(votes) > 1
        else f"The models lean to {name(best)} but only with {p:.0%} confidence."
    )
    return Answer(None, p, agree, reason, combined, personalised_by)
