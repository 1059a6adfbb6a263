"""What a deployment recognises: an alphabet is data, not code.

One JSON file describes an alphabet: its labels (the glyph shown for each
class index), the canvas it is drawn on, its original weights, the sample
the online models replay and are guarded with, how the picker lays it out,
where its figures come from and, optionally, how each glyph is written. ``INKLING_ALPHABET`` names one shipped
here (``models/weights/<name>.json``) or gives the path of any such file:
a third alphabet needs that file and its weights, no code. Paths inside it
are relative to the file.

>>> digits = load_alphabet("digits")
>>> digits.n_classes, digits.glyphs[7], digits.canvas.line_width
(10, '7', 24)
>>> load_alphabet("hiragana").glyphs[:5]
('あ', 'い', 'う', 'え', 'お')
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .canvas import CanvasSpec
from .ensemble import DEFAULT_WEIGHTS
from .gate import Gate
from .preprocess import BOX, FIELD
from .prototypes import COMPLETE_SHARPNESS, SHARPNESS, Sharpness

ALPHABETS_DIR = Path(__file__).resolve().parent / "weights"
KINDS = ("fnn", "cnn")


@dataclass(frozen=True)
class Sample:
    """The alphabet's shipped sample, 28x28 uint8: ``holdout`` scores models (the guard's, every original's
    accuracy), ``replay`` is mixed into every online step beside a person's drawing."""

    holdout_x: np.ndarray
    holdout_y: np.ndarray
    replay_x: np.ndarray
    replay_y: np.ndarray

    @property
    def holdout(self) -> tuple[np.ndarray, np.ndarray]:
        """``(float32[N,28,28] in [0,1], int64[N])``, as the models read them."""
        return self.holdout_x.astype(np.float32) / 255, self.holdout_y.astype(np.int64)


@dataclass(frozen=True)
class Alphabet:
    name: str
    title: str
    glyphs: tuple[str, ...]
    canvas: CanvasSpec
    weights: dict[str, Path]  # kind -> the original weights (.npz)
    sample: Path  # holdout_x/y (the guard) and replay_x/y (mixed into online steps), uint8 28x28
    rows: tuple[tuple[int | None, ...], ...] | None = None  # the picker's layout; None: label order, flowing
    # extra keys, e.g. "lang": the glyphs' language (BCP 47, "ja"), so the page picks fonts that have them
    source: str = ""  # where the training and evaluation data come from, for people
    # How each glyph is written, for the page's stroke-order guide ("strokes": a JSON file of
    # {"paths": [[SVG path data of each stroke, in order], ...one list a label], "box": the paths'
    # square viewBox side, "source": their credit}); None: no guide.
    strokes: dict | None = field(default=None, compare=False, repr=False)
    extra: dict = field(default_factory=dict, compare=False)
    folder: Path = field(default=Path("."), compare=False, repr=False)  # where the file's paths start

    @property
    def n_classes(self) -> int:
        return len(self.glyphs)

    @property
    def ensemble_weights(self) -> dict[str, float]:
        """The weights of the four models in the answer (``"ensemble"`` in the file); a file that gives none
        gets the digits' (:data:`models.ensemble.DEFAULT_WEIGHTS`, measured on digits)."""
        return self.extra.get("ensemble") or DEFAULT_WEIGHTS

    @property
    def memory_sharpness(self) -> Sharpness:
        """How loudly a writer's memory speaks in their answer (:class:`models.prototypes.Sharpness`), from
        ``"memory"`` in the file: ``"sharpness"`` for both a partial and a complete memory, or
        ``"complete_sharpness"`` for a complete one apart. Default the digits' (measured on digits)."""
        memory = self.extra.get("memory", {})
        partial = memory.get("sharpness", SHARPNESS)
        return Sharpness(float(partial), float(memory.get("complete_sharpness",
                                                          partial if "sharpness" in memory else COMPLETE_SHARPNESS)))

    @functools.cached_property
    def gate(self) -> Gate | None:
        """What refuses a drawing that is not one character of the alphabet (:mod:`models.gate`), from
        ``"gate": {"file", "refuse_above"}`` in the file; None: every drawing gets an answer."""
        spec = self.extra.get("gate")
        if not spec:
            return None
        return Gate.from_bytes((self.folder / spec["file"]).read_bytes(), spec["refuse_above"])

    @property
    def temperature(self) -> float:
        """What the four models' combined log-probabilities are divided by so that "% sure" is calibrated on
        held-out writers (``"calibration": {"temperature"}`` in the file, chosen by ``scripts/ood.py``); 1.0
        where the file gives none."""
        return float(self.extra.get("calibration", {}).get("temperature", 1.0))

    @property
    def box(self) -> int:
        """The pixels a drawing's longer side is fitted into, in the 28x28 field the models read
        (``"preprocess": {"box": ...}`` in the file); default MNIST's 20 (:data:`models.preprocess.BOX`).
        Its original weights were trained on drawings fitted so, and every drawing is fitted the same way."""
        return int(self.extra.get("preprocess", {}).get("box", BOX))

    @property
    def is_digits(self) -> bool:
        """Answers for the digits also carry ``digit`` (the API's first field), so old clients keep working."""
        return self.glyphs == tuple("0123456789")

    def load_sample(self) -> Sample:
        with np.load(self.sample) as sample:
            return Sample(sample["holdout_x"], sample["holdout_y"], sample["replay_x"], sample["replay_y"])

    def glyph(self, label: int) -> str:
        return self.glyphs[label]

    def check_label(self, label: int) -> int:
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < self.n_classes:
            raise ValueError(f"label must be an integer 0-{self.n_classes - 1} ({self.title})")
        return label

    def as_dict(self) -> dict:
        """What the page needs: labels with their glyphs, the layout of the picker."""
        return {"name": self.name, "title": self.title, "lang": self.extra.get("lang"),
                "labels": [{"label": i, "glyph": g} for i, g in enumerate(self.glyphs)],
                "rows": [list(row) for row in self.rows] if self.rows else None, "strokes": self.strokes,
                # what the page may say of its answers: "can't tell" for what is no character, and a
                # "% sure" calibrated on held-out writers (scripts/ood.py)
                "gate": "gate" in self.extra, "calibrated": "calibration" in self.extra}

    @classmethod
    def from_file(cls, path: Path) -> "Alphabet":
        d = json.loads(path.read_text(encoding="utf-8"))
        folder = path.parent
        glyphs = tuple(d["glyphs"])
        if len(set(glyphs)) != len(glyphs) or not glyphs:
            raise ValueError(f"{path}: glyphs must be distinct and not empty")
        rows = tuple(tuple(cell for cell in row) for row in d["rows"]) if d.get("rows") else None
        ensemble = d.get("ensemble")
        if ensemble is not None and (sorted(ensemble) != sorted(f"{k}_{v}" for k in KINDS for v in ("original", "online"))
                                     or any(not isinstance(w, (int, float)) or w < 0 for w in ensemble.values())):
            raise ValueError(f"{path}: ensemble must give each of the four models a weight >= 0")
        memory = d.get("memory", {})
        if set(memory) - {"sharpness", "complete_sharpness", "note"} or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
                for key, v in memory.items() if key != "note"):
            raise ValueError(f"{path}: memory may give a sharpness and a complete_sharpness, each a number >= 0 "
                             "(and a note), nothing else")
        box = d.get("preprocess", {}).get("box", BOX)
        if (set(d.get("preprocess", {})) - {"box", "note"} or isinstance(box, bool) or not isinstance(box, int)
                or not 8 <= box <= FIELD):
            raise ValueError(f"{path}: preprocess may give a box, whole pixels from 8 to {FIELD} (and a note), "
                             "nothing else")
        if rows and sorted(c for row in rows for c in row if c is not None) != list(range(len(glyphs))):
            raise ValueError(f"{path}: rows must place every label exactly once")
        gate = d.get("gate")
        if gate is not None and (not isinstance(gate, dict) or set(gate) - {"file", "refuse_above", "note"}
                                 or not isinstance(gate.get("file"), str) or not (folder / gate["file"]).is_file()
                                 or isinstance(gate.get("refuse_above"), bool)
                                 or not isinstance(gate.get("refuse_above"), (int, float))
                                 or not 0 < gate["refuse_above"] <= 1):
            raise ValueError(f"{path}: gate must name its file (beside the alphabet file) and a refuse_above "
                             "between 0 and 1 (and a note), nothing else")
        calibration = d.get("calibration", {})
        temperature = calibration.get("temperature", 1.0)
        if (set(calibration) - {"temperature", "note"} or isinstance(temperature, bool)
                or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0):
            raise ValueError(f"{path}: calibration may give a temperature, a number > 0 (and a note), nothing else")
        strokes = json.loads((folder / d["strokes"]).read_text(encoding="utf-8")) if d.get("strokes") else None
        if strokes is not None and not (
                len(strokes.get("paths", ())) == len(glyphs) and isinstance(strokes.get("box"), (int, float))
                and all(paths and all(isinstance(p, str) and p[:1] in "Mm" for p in paths) for paths in strokes["paths"])):
            raise ValueError(f"{path}: strokes must give a box and, for each label, its strokes as SVG path data")
        return cls(name=d["name"], title=d.get("title", d["name"]), glyphs=glyphs,
                   canvas=CanvasSpec(**d.get("canvas", {})),
                   weights={kind: folder / d["weights"][kind] for kind in KINDS},
                   sample=folder / d["sample"], rows=rows, source=d.get("source", ""), strokes=strokes, folder=folder,
                   extra={k: v for k, v in d.items() if k not in {"name", "title", "glyphs", "canvas", "weights",
                                                                   "sample", "rows", "source", "strokes"}})


@functools.lru_cache(maxsize=8)
def load_alphabet(name_or_path: str) -> Alphabet:
    """A shipped alphabet by name (``digits``, ``hiragana``), or any alphabet file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = ALPHABETS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        shipped = sorted(p.stem for p in ALPHABETS_DIR.glob("*.json"))
        raise ValueError(f"no alphabet {name_or_path!r}: choose one of {shipped} or give the path of an alphabet "
                         "file (see models/alphabets.py)")
    return Alphabet.from_file(path)
