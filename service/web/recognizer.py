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

from ..core.lineup import MODEL_ORDER, original
from .versions import OnlineModel

TOP_K = 3


@dataclass(frozen=True)
class Recognition:
    probs: dict[str, np.ndarray]
    answer: Answer
    versions: dict[str, int]
    input28: np.ndarray
    embedding: np.ndarray  # the original CNN's, what a writer's memory keeps (models.prototypes)
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
    """The original models (fixed) and the online ones (learning), answering together."""

    def __init__(self, originals: dict[str, Predictor], online: dict[str, OnlineModel], alphabet: Alphabet):
        self.originals = {original(kind): model for kind, model in originals.items()}
        self.online = online
        self.alphabet = alphabet

    def versions(self) -> dict[str, int]:
        return {name: model.version for name, model in self.online.items()}

    def recognize(self, x28: np.ndarray, memory: PrototypeMemory | None = None) -> Recognition:
        """The four models' probabilities and the answer (with the writer's ``memory``, theirs);
        ``versions`` are those whose weights were used."""
        return self.recognize_batch(x28[None], memory)[0]

    def recognize_batch(self, batch: np.ndarray, memory: PrototypeMemory | None = None) -> list[Recognition]:
        """:meth:`recognize` for each of ``batch`` (float32[N,28,28]) in one forward pass a model, every drawing
        read by the same served versions: the characters of a number cost one pass, not one each."""
        probs, versions = {}, {}
        for name in MODEL_ORDER:
            if name in self.online:  # the served pair, taken once: these weights are that version's
                model, record = self.online[name].served
                versions[name] = record.version if record else 0
                probs[name] = model.predict_proba(batch)
            elif name == "cnn_original":  # the fixed features of writers' memories and of the gate, in one pass
                forward = self.originals[name].forward(batch)
                probs[name] = forward.probs
            else:
                probs[name] = self.originals[name].predict_proba(batch)
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
