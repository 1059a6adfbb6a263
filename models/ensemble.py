"""One answer from four models, or "can't tell".

The combined distribution is a weighted geometric mean of the models'
probabilities (a product of experts): a digit wins only when no model finds
it implausible, which punishes the confident mistakes a single model makes on
odd drawings more than an arithmetic mean would. The online CNN counts most:
it is the most accurate model and, once people teach it, the one that knows
their hands; the originals keep a small say as an anchor. Measured on the
pendigits test writers (docs/learning-from-users.md): it tracks the best
single model at every stage of teaching; it cannot do much better, because
the four members learned from the same data and the FNNs are weaker.

"% sure" is that distribution divided by the alphabet's temperature
(:attr:`models.alphabets.Alphabet.temperature`, fitted on held-out writers by
``scripts/ood.py``), so that of the answers given "90% sure", about nine in ten
are right. The answer is "can't tell" when the gate (:mod:`models.gate`) says
the drawing is not one character of the alphabet, or several, and when even
the likeliest label is less than :data:`MIN_CONFIDENCE` sure; the best guess is
given all the same.

A writer's own memory (:mod:`models.prototypes`) joins the product as one more
expert: its log-evidence is added to the mean of the four models' logs, so an
empty memory (zero evidence) leaves the answer exactly as it was. It may move
the answer only to a label it holds drawings of: its evidence *against* the
labels it knows (a drawing unlike the writer's own 4) is no evidence *for* a
label it has never seen, so a memory of 2s, 4, 7 and 8 cannot turn the models'
4 into a 6. And a drawing very like one of the writer's own (their own odd 7,
which the gate has never seen) is a character, whatever the gate says.

>>> import numpy as np
>>> p = np.full(10, 0.01, np.float32); p[3] = 0.91
>>> answer = combine({"fnn_original": p, "fnn_online": p, "cnn_original": p, "cnn_online": p}, DEFAULT_WEIGHTS)
>>> answer.label, answer.agree, answer.why
(3, 4, None)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prototypes import Sharpness

DEFAULT_WEIGHTS = {"fnn_original": 0.1, "fnn_online": 0.5, "cnn_original": 0.25, "cnn_online": 1.0}
MIN_CONFIDENCE = 0.5
# A drawing this near (cosine distance) to the writer's own prototype of a label is one of their characters,
# whatever the gate says: about the median distance of a writer's drawings to their own prototype (0.03 on
# the pendigits test writers, scripts/choose_memory.py). scripts/ood.py measures what it lets through.
VOUCH_DISTANCE = 0.05
WHY = ("not_a_character", "several", "unsure")


@dataclass(frozen=True)
class Answer:
    label: int | None  # what is answered; None: "can't tell" (see ``why``)
    best: int  # the likeliest label all the same (the best guess beside "can't tell")
    p: float  # how sure, calibrated: the probability of ``best``
    agree: int  # how many of the four models have ``best`` first
    why: str | None  # None, or why it cannot tell: one of :data:`WHY`
    reason: str | None  # the same for a person
    probs: np.ndarray  # the distribution ``best`` was read from
    personalised_by: int = 0  # drawings in the writer's memory that shaped this answer
    memory_vote: int | None = None  # the label of the writer's own prototype nearest the drawing


def log_product(probs: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted mean of the models' log-probabilities (the product of experts, before normalising)."""
    total = sum(weights[name] for name in probs)
    return sum(weights[name] * np.log(np.clip(p, 1e-7, 1.0)) for name, p in probs.items()) / total


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def combine_probs(probs: dict[str, np.ndarray], weights: dict[str, float],
                  evidence: np.ndarray | None = None, temperature: float = 1.0) -> np.ndarray:
    """float32[..., classes]: the weighted geometric mean of ``probs`` times ``exp(evidence)``, renormalised
    (at ``temperature``, which changes how sure, never which label)."""
    log_mean = log_product(probs, weights)
    if evidence is not None:
        log_mean = log_mean + evidence
    return softmax(log_mean / temperature)


def combine(probs: dict[str, np.ndarray], weights: dict[str, float], *, temperature: float = 1.0, memory=None,
            embedding: np.ndarray | None = None, sharpness: Sharpness | None = None, verdict=None, glyphs=None,
            min_confidence: float = MIN_CONFIDENCE) -> Answer:
    """The answer for one drawing.

    ``weights`` and ``temperature``: the alphabet's. With a writer's ``memory`` (a
    :class:`models.prototypes.PrototypeMemory`), the drawing's ``embedding`` and the alphabet's memory
    ``sharpness``, the memory's evidence joins the product. ``verdict``: the gate's
    (:class:`models.gate.Verdict`), None where the alphabet has no gate. ``glyphs`` name the classes in
    the reason given when unsure (default: their numbers).
    """
    global_ = combine_probs(probs, weights, temperature=temperature)
    best = int(global_.argmax())
    combined, personalised_by, vote, vouched = global_, 0, None, False
    if memory is not None and len(memory):
        personalised_by = len(memory)
        combined = combine_probs(probs, weights, memory.evidence(embedding, sharpness), temperature)
        taught = memory.counts_ > 0
        allowed = taught.copy()
        allowed[best] = True  # the memory may keep the models' answer, or move it to a label it holds
        best = int(np.where(allowed, combined, -1.0).argmax())
        vote = memory.guess(embedding)
        vouched = bool(memory.distances(embedding)[vote] <= VOUCH_DISTANCE)
    p = float(combined[best])
    agree = sum(int(np.argmax(q)) == best for q in probs.values())
    name = (lambda c: glyphs[c]) if glyphs else str
    if verdict is not None and verdict.refused and not vouched:
        why = verdict.reason
        reason = ("That looks like more than one character: draw one at a time." if why == "several"
                  else "I can't tell what this is: it does not look like any character I know.")
    elif p < min_confidence:
        votes = sorted({int(np.argmax(q)) for q in probs.values()})
        why, reason = "unsure", (f"The models disagree ({' vs '.join(map(name, votes))}) and none is sure."
                                 if len(votes) > 1 else f"The models lean to {name(best)} but only with {p:.0%} "
                                                        "confidence.")
    else:
        why, reason = None, None
    return Answer(None if why else best, best, p, agree, why, reason, combined, personalised_by, vote)
