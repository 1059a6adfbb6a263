"""The gate every drawing passes before it gets an answer: is it one character of the alphabet?

A classifier trained only on digits calls a letter A "a 4, 100% sure": its softmax has no way to say
"none of these", and its own scores (the ensemble's confidence, the energy of its logits, the distance
to its training drawings) separate characters from the rest too little to refuse one without refusing
many real digits (``scripts/ood.py`` measures each beside the gate). The gate learns the difference
instead (outlier exposure): a small network on the original CNN's last feature maps (``pool2``, 7x7x64, computed for the
answer anyway) and its logits, trained on the alphabet's own drawings against drawings that are not
characters of it (:mod:`lab.outliers`: letters, symbols, other scripts, marks, scribbles) and against
several characters side by side. It answers three probabilities: ``character``, ``outlier``,
``several``; a drawing whose outlier and several together pass ``refuse_above`` gets "can't tell"
(and "draw one at a time" when several is the likelier).

Trained by ``scripts/train.py --model gate``; its threshold is chosen by ``scripts/ood.py`` and kept in
the alphabet file (``"gate": {"file", "refuse_above"}``). It reads the *original* CNN's features, so it
moves only when an original does.

>>> rng = np.random.default_rng(0)
>>> gate = Gate.random(n_features=8, seed=0)
>>> p = gate.probabilities(rng.random((2, 8), dtype=np.float32))
>>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
((2, 3), True)
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

OUTCOMES = ("character", "outlier", "several")


def gate_features(pool2: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """float32[N, 7*7*64 + classes]: what the gate reads from the original CNN (its ReLU maps, compressed by
    ``log1p`` so a few strong responses do not drown the rest, and its logits)."""
    return np.hstack([np.log1p(pool2.reshape(len(pool2), -1)), logits]).astype(np.float32)


@dataclass(frozen=True)
class Verdict:
    """What the gate says of one drawing."""

    character: float  # probability that it is one character of the alphabet
    outlier: float
    several: float
    refused: bool

    @property
    def reason(self) -> str | None:
        """``"several"`` (draw one at a time), ``"not_a_character"``, or None when it passes."""
        if not self.refused:
            return None
        return "several" if self.several > self.outlier else "not_a_character"


@dataclass(frozen=True)
class Gate:
    """A standardising step and a one-hidden-layer network (ReLU), softmax over :data:`OUTCOMES`."""

    mean: np.ndarray  # float32[F]
    scale: np.ndarray  # float32[F]
    w1: np.ndarray  # float32[F, H]
    b1: np.ndarray  # float32[H]
    w2: np.ndarray  # float32[H, 3]
    b2: np.ndarray  # float32[3]
    refuse_above: float = 0.5

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """float32[N, 3]: P(character), P(outlier), P(several) for each row of :func:`gate_features`."""
        hidden = np.maximum((features - self.mean) / self.scale @ self.w1 + self.b1, 0)
        logits = hidden @ self.w2 + self.b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def verdict(self, features: np.ndarray) -> Verdict:
        """The verdict on one drawing (``features``: one row, or a batch of one)."""
        character, outlier, several = (float(v) for v in self.probabilities(np.atleast_2d(features))[0])
        return Verdict(character, outlier, several, refused=outlier + several > self.refuse_above)

    def verdicts(self, features: np.ndarray) -> list[Verdict]:
        """The verdict on each row of ``features``, in one pass."""
        return [Verdict(float(c), float(o), float(s), refused=float(o) + float(s) > self.refuse_above)
                for c, o, s in self.probabilities(features)]

    def with_threshold(self, refuse_above: float) -> "Gate":
        return Gate(self.mean, self.scale, self.w1, self.b1, self.w2, self.b2, float(refuse_above))

    # --- persistence: an .npz of its arrays; the threshold lives in the alphabet file -------------------

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, mean=self.mean, scale=self.scale, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, refuse_above: float = 0.5) -> "Gate":
        with np.load(io.BytesIO(data), allow_pickle=False) as a:
            arrays = [np.asarray(a[k], np.float32) for k in ("mean", "scale", "w1", "b1", "w2", "b2")]
        mean, scale, w1, b1, w2, b2 = arrays
        if not (mean.shape == scale.shape == (w1.shape[0],) and b1.shape == (w1.shape[1],)
                and w2.shape == (w1.shape[1], len(OUTCOMES)) and b2.shape == (len(OUTCOMES),)):
            raise ValueError("a gate archive's arrays do not fit together")
        return cls(mean, scale, w1, b1, w2, b2, float(refuse_above))

    @classmethod
    def random(cls, n_features: int, hidden: int = 4, seed: int = 0) -> "Gate":
        """An untrained gate of the right shapes (tests, and alphabets made up for them)."""
        rng = np.random.default_rng(seed)
        return cls(np.zeros(n_features, np.float32), np.ones(n_features, np.float32),
                   rng.normal(0, 0.1, (n_features, hidden)).astype(np.float32), np.zeros(hidden, np.float32),
                   rng.normal(0, 0.1, (hidden, len(OUTCOMES))).astype(np.float32), np.zeros(len(OUTCOMES), np.float32))
