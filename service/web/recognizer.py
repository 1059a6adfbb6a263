"""request -> preprocess -> four models (+ the writer's memory) -> ensemble: what the page shows for a drawing."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from models.alphabets import Alphabet
from models.base import Predictor
from models.ensemble import Answer, combine
from models.gate import Verdict, gate_features
from models.prototypes import PrototypeMemory

from ..core.lineup import MODEL_ORDER, ONLINE_MODELS, kind_of, original
from ..core.storage import WeightStore
from .versions import FollowedModel

TOP_K = 3


@dataclass(frozen=True)
class Recognition:
    probs: dict[str, np.ndarray]
    answer: Answer
    versions: dict[str, int]
    input28: np.ndarray
    embedding: np.ndarray  # the shipped original CNN's, what a writer's memory keeps (models.prototypes)
    alphabet: Alphabet
    verdict: Verdict | None = None  # the gate's (models.gate); None where the alphabet has none

    def to_json(self, include_input: bool = True) -> dict:
        """The shape of a ``POST /api/predict`` response (``input28`` only if ``include_input``).

        Every class is given as ``label`` and ``glyph``; for the digits also as ``digit``,
        as the API always has (null for other alphabets).
        """
        def named(label: int | None) -> dict:
            return {"digit": label if self.alphabet.is_digits else None, "label": label,
                    "glyph": None if label is None else self.alphabet.glyph(label)}

        top = {
            name: [{**named(int(c)), "p": round(float(p[c]), 4)} for c in np.argsort(-p)[:TOP_K]]
            for name, p in self.probs.items()
        }
        a = self.answer
        answer = {**named(a.label), "p": round(a.p, 4), "agree": a.agree, "why": a.why, "reason": a.reason,
                  "best": {**named(a.best), "p": round(a.p, 4)}, "personalised_by": a.personalised_by,
                  "memory": None if a.memory_vote is None else named(a.memory_vote)}
        gate = None if self.verdict is None else {"character": round(self.verdict.character, 4),
                                                  "outlier": round(self.verdict.outlier, 4),
                                                  "several": round(self.verdict.several, 4)}
        out = {"models": top, "answer": answer, "versions": self.versions, "gate": gate}
        if include_input:
            out["input28"] = np.round(self.input28, 3).tolist()
        return out


class Recognizer:
    """The four models, each at the version served, answering together.

    ``features`` is the shipped original CNN, fixed for the life of a deployment: writers' memories keep
    its embeddings and the gate reads its layers, so neither changes meaning when an original is promoted
    (:mod:`service.core.promotions`). While the original CNN served is the shipped one, one pass gives
    its probabilities and the features; after a promotion, the features cost one more pass.
    """

    def __init__(self, models: dict[str, FollowedModel], features: Predictor, alphabet: Alphabet):
        self.models = models
        self.online = {name: models[name] for name in ONLINE_MODELS}
        self.features = features
        self.alphabet = alphabet

    @classmethod
    def following(cls, shipped: dict[str, Predictor], store: WeightStore, alphabet: Alphabet) -> "Recognizer":
        """The four models following their versions in ``store``, from the ``shipped`` originals by kind."""
        models = {name: FollowedModel(name, shipped[kind_of(name)], store) for name in MODEL_ORDER}
        return cls(models, shipped["cnn"], alphabet)

    def versions(self) -> dict[str, int]:
        return {name: model.version for name, model in self.models.items()}

    def recognize(self, x28: np.ndarray, memory: PrototypeMemory | None = None) -> Recognition:
        """The four models' probabilities and the answer (with the writer's ``memory``, theirs);
        ``versions`` are those whose weights were used."""
        return self.recognize_batch(x28[None], memory)[0]

    def recognize_batch(self, batch: np.ndarray, memory: PrototypeMemory | None = None) -> list[Recognition]:
        """:meth:`recognize` for each of ``batch`` (float32[N,28,28]) in one forward pass a model, every drawing
        read by the same served versions: the characters of a number cost one pass, not one each."""
        probs, versions, forward = {}, {}, None
        for name in MODEL_ORDER:
            model, record = self.models[name].served  # taken once: these weights are that version's
            versions[name] = record.version if record else 0
            if name == original("cnn") and record is None:  # the shipped CNN: its pass gives the features too
                forward = model.forward(batch)
                probs[name] = forward.probs
            else:
                probs[name] = model.predict_proba(batch)
        if forward is None:
            forward = self.features.forward(batch)
        alphabet = self.alphabet
        verdicts = (alphabet.gate.verdicts(gate_features(forward.pool2, forward.logits)) if alphabet.gate
                    else [None] * len(batch))
        out = []
        for k, verdict in enumerate(verdicts):
            own = {name: p[k] for name, p in probs.items()}
            answer = combine(own, alphabet.ensemble_weights, temperature=alphabet.temperature, memory=memory,
                             embedding=forward.embedding[k], sharpness=alphabet.memory_sharpness, verdict=verdict,
                             glyphs=None if alphabet.is_digits else alphabet.glyphs)
            out.append(Recognition(own, answer, versions, batch[k], forward.embedding[k], alphabet, verdict))
        return out

    def activations(self, x28: np.ndarray) -> list[dict]:
        """The online CNN's feature maps as uint8 channel-major blocks, each layer scaled by its max."""
        maps = self.online["cnn_online"].serving.activations(x28[None])
        layers = []
        for name, m in maps.items():
            chw = np.moveaxis(m[0], -1, 0)
            scale = float(chw.max()) or 1.0
            data = np.round(chw / scale * 255).astype(np.uint8)
            layers.append({"name": name, "shape": list(chw.shape), "max": round(scale, 4),
                           "data": base64.b64encode(data.tobytes()).decode("ascii")})
        return layers
