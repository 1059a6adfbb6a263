"""How suspicious a drawing's label is, the moment it is stored: 0 (surely right) to 1 (surely wrong).

Confident learning (Northcutt et al.; the ``cleanlab`` library) judges a label by *out-of-sample*
predicted probabilities: the models' belief in the given label before they ever learned from it.
Inkling has exactly that for every drawing, since it predicts each one before learning it. Three things
are weighed, each from a source the writer cannot fake by labelling alone:

1. **The label's quality** under the writer's own answer distribution (the four models, calibrated, and
   their memory: :func:`models.ensemble.combine_probs`): cleanlab's *self-confidence* score,
   ``p[label]`` (``cleanlab.rank.get_label_quality_scores(method="self_confidence")``; a test checks
   the two agree). The writer's memory matters: a person whose 7 the models read as 1 has taught
   their 7s, so their next 7 is not suspicious.
2. **Whether it is a character at all** (:mod:`models.gate`): a letter A labelled "4" is a wrong label
   for a dataset of digits, however honest.
3. **The writer's track record** (:class:`TrackRecord`): how many of their labels were suspicious, and
   what reviewers found. A writer's prior odds of a wrong label move the drawing's odds: a vandal's
   plausible-looking labels are suspicious too, a careful writer's odd drawing less so.

``suspicion = sigmoid(logit(item) + logit(r) - logit(BASE_RATE))``, where ``item`` is the chance that
the label is wrong or the drawing no character (1 and 2) and ``r`` the writer's smoothed rate of wrong
labels (3). A writer with no record (or exactly the usual one) leaves ``item`` as it is.

>>> probs = np.array([0.01, 0.9, 0.09])
>>> round(suspicion(probs, label=1).score, 3), round(suspicion(probs, label=0).score, 3)
(0.1, 0.99)
>>> vandal = TrackRecord(labelled=20, flagged=18)
>>> round(suspicion(probs, label=1, record=vandal).score, 3) > 0.5
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BASE_RATE = 0.05  # the share of wrong labels an ordinary writer makes (the prior's mean)
PRIOR_LABELS = 20  # the prior counts as this many labels at BASE_RATE: a record moves once it is longer
FLAGGED_ABOVE = 0.5  # a label counts against its writer's record when its item score passes this
REVIEW_WEIGHT = 2.0  # a reviewer's verdict counts as this many flags (it is a person's, not a model's)


@dataclass(frozen=True)
class TrackRecord:
    """What a writer's labels have been so far (kept in their memory, :mod:`service.core.writers`)."""

    labelled: int = 0  # drawings labelled with consent
    flagged: int = 0  # of them, suspicious by themselves (item score > FLAGGED_ABOVE)
    quarantined: int = 0  # held for review
    confirmed: int = 0  # accepted by a reviewer as labelled
    corrected: int = 0  # relabelled or discarded by a reviewer

    @property
    def wrong_rate(self) -> float:
        """The writer's smoothed rate of wrong labels: the prior's BASE_RATE with PRIOR_LABELS behind it,
        moved by flags and reviewers' verdicts (a confirmation takes back a flag's weight)."""
        wrong = self.flagged + REVIEW_WEIGHT * (self.corrected - self.confirmed)
        n = self.labelled + REVIEW_WEIGHT * (self.corrected + self.confirmed)
        rate = (max(0.0, wrong) + BASE_RATE * PRIOR_LABELS) / (n + PRIOR_LABELS)
        return min(max(rate, 1e-3), 1 - 1e-3)

    @property
    def mostly_quarantined(self) -> bool:
        """At least 10 labels, and most of them suspicious by themselves: the rest of theirs are held too.
        (Suspicious by themselves, not held: a label held because of the record itself must not count,
        or an unlucky writer's record would hold all of their drawings by its own feedback.)"""
        return self.labelled >= 10 and self.flagged * 2 > self.labelled

    def after(self, item: float, quarantined: bool) -> "TrackRecord":
        """The record once one more label, with this item score, has been stored."""
        return TrackRecord(self.labelled + 1, self.flagged + int(item > FLAGGED_ABOVE),
                           self.quarantined + int(quarantined), self.confirmed, self.corrected)

    def to_json(self) -> dict:
        return {"labelled": self.labelled, "flagged": self.flagged, "quarantined": self.quarantined,
                "confirmed": self.confirmed, "corrected": self.corrected}

    @classmethod
    def from_json(cls, d: dict | None) -> "TrackRecord":
        d = d or {}
        return cls(*(int(d.get(k, 0)) for k in ("labelled", "flagged", "quarantined", "confirmed", "corrected")))


@dataclass(frozen=True)
class Suspicion:
    score: float  # 0..1
    item: float  # the drawing alone: the chance its label is wrong or it is no character
    quality: float  # cleanlab's self-confidence: the probability of the given label
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def suspicion(probs: np.ndarray, label: int, *, not_a_character: float = 0.0, record: TrackRecord | None = None,
              memory_vote: int | None = None) -> Suspicion:
    """The suspicion of ``label`` for a drawing whose answer distribution (before learning it) was ``probs``.

    ``not_a_character``: the gate's probability that it is no character of the alphabet (outlier or
    several); ``record``: the writer's track record (None: an anonymous client, the prior alone);
    ``memory_vote``: the label of the writer's own drawings nearest this one (for the reasons).
    """
    quality = float(probs[label])
    item = 1.0 - quality * (1.0 - not_a_character)
    rate = (record or TrackRecord()).wrong_rate
    score = 1.0 / (1.0 + math.exp(-(_logit(item) + _logit(rate) - _logit(BASE_RATE))))
    reasons = []
    if quality < 0.5:
        reasons.append("models_disagree")
    if not_a_character > 0.5:
        reasons.append("not_a_character")
    if memory_vote is not None and memory_vote != label:
        reasons.append("memory_disagrees")
    if rate > 2 * BASE_RATE:
        reasons.append("writer_record")
    return Suspicion(round(score, 4), item, quality, tuple(reasons))
