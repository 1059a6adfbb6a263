"""Reading a number: pad -> characters (models/segment.py) -> each read as a single drawing, in one batch.

Each character is cut from the pad with its own ink only (its strokes', or its component's), fitted into the
alphabet's box as a single drawing is (:func:`models.preprocess.fit_and_center`: it crops to the ink and
centres it by mass, so where the character sat on the pad does not matter) and read by the same four models,
the writer's memory and the gate: every candidate character of the pad in one forward pass a model.

Where the geometry alone is unsure, the models decide (recognition-based segmentation):

* two neighbours that overlap a little in x, together no wider than one character, may be one (a 4 whose
  upright stands at the end of its bar, written as two strokes): read both ways, kept as one when the one reads
  better than the two do on average (:data:`MERGE_MARGIN`);
* a group wider than one character may be two touching: read as each of a few splits
  (:func:`models.segment.stroke_splits`, or :func:`models.segment.cut_columns` for ink), split when the best
  split's pieces read better on average than the whole (:data:`SPLIT_MARGIN`).

"Read better" is the log of the answer's probability plus the log of the gate's probability that it is one
character, so a crop that is two digits (the gate says "several") or half of one ("not a character") loses.
docs/numbers.md measures each choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from models.canvas import PadSpec
from models.errors import BlankDrawingError, TooManyCharactersError
from models.preprocess import MIN_INK_PIXELS, fit_and_center, load_ink, open_png
from models.prototypes import PrototypeMemory
from models.segment import (WIDE, WIDE_INK, Box, Piece, components, cut, cut_columns, group_parts, is_wide, line_height,
                            render_character, split_box, stroke_boxes, stroke_labels, stroke_splits, x_overlap)
from models.strokes import check_strokes

from .recognizer import TOP_K, Recognition

MERGE_OVERLAP = 0.05  # neighbours overlapping at least this much in x (of the narrower) may be one character
MERGE_WIDTH = 1.0  # ... if together no wider than this, against the line height
MERGE_MARGIN = 0.0  # the one must read better than the two on average by this (log-probability)
SPLIT_MARGIN = 0.0  # the best split must read better than the whole by this
INK_LEVEL = 0.5  # a PNG alone: pixels at least this dark are ink for its components
MIN_COMPONENT = 3  # ... and a component smaller than this (pixels, either way) is a speck, not a mark
MAX_MARKS = 64  # ... and more components than this (as many as strokes may be) are not a number
MERGES = SPLITS = True  # the two decisions above (scripts/read_numbers.py --variants reads without them)
SYMBOLS = {"point": ".", "minus": "-"}
UNSURE = "?"  # a character the models cannot tell, in `text`


@dataclass
class Character:
    piece: Piece
    recognition: Recognition | None = None  # None for a point or a minus (told by shape)

    @property
    def glyph(self) -> str:
        if self.piece.kind in SYMBOLS:
            return SYMBOLS[self.piece.kind]
        label = self.recognition.answer.label
        return UNSURE if label is None else self.recognition.alphabet.glyph(label)

    @property
    def p(self) -> float:
        return 1.0 if self.recognition is None else self.recognition.answer.p

    def to_json(self, scale: tuple[float, float], source: str) -> dict:
        sx, sy = scale
        b = self.piece.box
        box = [max(0, math.floor(b.x0 / sx)), max(0, math.floor(b.y0 / sy)), math.ceil(b.x1 / sx),
               math.ceil(b.y1 / sy)]
        out = {"kind": self.piece.kind, "glyph": self.glyph, "box": box,
               "strokes": list(self.piece.parts) if source == "strokes" else [],
               "answer": None, "top3": None, "models": None, "gate": None}
        if self.recognition is not None:
            full = self.recognition.to_json(include_input=False)
            alphabet, probs = self.recognition.alphabet, self.recognition.answer.probs
            top = [{"digit": int(c) if alphabet.is_digits else None, "label": int(c), "glyph": alphabet.glyph(int(c)),
                    "p": round(float(probs[c]), 4)} for c in np.argsort(-probs)[:TOP_K]]
            out.update(answer=full["answer"], top3=top, models=full["models"], gate=full["gate"])
        return out


@dataclass
class Reading:
    characters: list[Character]
    source: str  # "strokes" or "image"
    scale: tuple[float, float]  # ink pixels per pad pixel
    versions: dict[str, int]
    others: list[list[Character]] = field(default_factory=list)  # other segmentations that were read

    @property
    def text(self) -> str:
        return "".join(c.glyph for c in self.characters)

    @property
    def p(self) -> float:
        return float(np.prod([c.p for c in self.characters])) if self.characters else 0.0

    def alternatives(self, limit: int = 3) -> list[dict]:
        """Other readings, likeliest first: each unsure (or least sure) character's second choice, and the other
        segmentations that were read."""
        found: dict[str, dict] = {}
        base = self.p
        readable = [k for k, c in enumerate(self.characters) if c.recognition is not None]
        for k in sorted(readable, key=lambda k: self.characters[k].p)[:2]:
            rec = self.characters[k].recognition
            order = np.argsort(-rec.answer.probs)
            first = rec.answer.label if rec.answer.label is not None else -1
            second = int(next(c for c in order if c != first))
            glyphs = [c.glyph for c in self.characters]
            glyphs[k] = rec.alphabet.glyph(second)
            p = base / max(self.characters[k].p, 1e-9) * float(rec.answer.probs[second])
            text = "".join(glyphs)
            if text != self.text:
                found.setdefault(text, {"text": text, "p": round(p, 4), "kind": "second_choice",
                                        "characters": [k]})
        for other in self.others:
            text = "".join(c.glyph for c in other)
            p = float(np.prod([c.p for c in other]))
            if text != self.text:
                found.setdefault(text, {"text": text, "p": round(p, 4), "kind": "segmentation", "characters": []})
        return sorted(found.values(), key=lambda a: -a["p"])[:limit]

    def to_json(self) -> dict:
        return {"text": self.text, "p": round(self.p, 4),
                "complete": all(c.glyph != UNSURE for c in self.characters),
                "characters": [c.to_json(self.scale, self.source) for c in self.characters],
                "alternatives": self.alternatives(), "source": self.source, "versions": self.versions}


def score(recognition: Recognition) -> float:
    """How well a crop reads as one character: log P(answer) + log P(one character, by the gate)."""
    s = math.log(max(recognition.answer.p, 1e-6))
    if recognition.verdict is not None:
        s += math.log(max(recognition.verdict.character, 1e-3))
    return s


@dataclass
class _Pad:
    ink: np.ndarray
    _labels: np.ndarray | None  # which part drew each pixel (index + 1); painted from strokes when first needed
    boxes: list[Box]  # the parts', in ink pixels
    line_width: float  # the pen in ink pixels
    source: str
    scale: tuple[float, float]  # ink pixels per pad pixel
    strokes: list | None = None
    pen: float = 0.0  # the pen in pad pixels
    height: float = 0.0  # the line's height in pad pixels

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels = stroke_labels(self.strokes, self.ink.shape, self.pen, self.scale, joints=False)
        return self._labels

    def whole(self, piece: Piece) -> bool:
        """The piece is its parts whole (not a cut through one)."""
        full = self.boxes[piece.parts[0]]
        for i in piece.parts[1:]:
            full = full.union(self.boxes[i])
        return full == piece.box


def pad_ink(png, pad: PadSpec) -> tuple[np.ndarray, tuple[float, float]]:
    """The pad's ink at its own size (a larger PNG, say from a high-density screen, is shrunk to about it) and
    the ink pixels per pad pixel; BlankDrawingError for an empty pad."""
    ink = load_ink(open_png(png), shrink_above=max(pad.width, pad.height))
    if ink.sum() < MIN_INK_PIXELS:
        raise BlankDrawingError("Nothing written: the pad is empty. Write a number and try again.")
    s = ink.shape[0] / pad.height  # one scale both ways: a PNG of another shape is the pad's left part, or more
    return ink, (s, s)


def on_pad(strokes: list, pad: PadSpec) -> list:
    """The strokes with every point moved onto the pad (a pen dragged past its edge records points off it, which
    the PNG has no ink for): what is read is bounded by the pad, whatever numbers are sent."""
    return [[np.clip(xs, 0, pad.width).tolist(), np.clip(ys, 0, pad.height).tolist(), ts] for xs, ys, ts in strokes]


def _prepare(png, strokes, pad: PadSpec) -> _Pad:
    ink, scale = pad_ink(png, pad)
    line_width = pad.line_width * (scale[0] + scale[1]) / 2
    if strokes is not None:
        boxes = stroke_boxes(strokes, pad.line_width, scale)
        return _Pad(ink, None, boxes, line_width, "strokes", scale, strokes, pad.line_width,
                    line_height(boxes, line_width) / scale[1])
    mask = ink >= INK_LEVEL
    labels, boxes = components(mask)
    specks = [k + 1 for k, b in enumerate(boxes) if b.w < MIN_COMPONENT and b.h < MIN_COMPONENT]
    if specks:  # found again without them, so that part k is label k + 1
        labels, boxes = components(mask & ~np.isin(labels, specks))
    if not boxes:
        raise BlankDrawingError("Nothing written: the pad is empty. Write a number and try again.")
    if len(boxes) > MAX_MARKS:  # before grouping (pairs of marks): a speckled image is not a number
        raise TooManyCharactersError(f"The pad holds {len(boxes)} separate marks; a number written on it has at "
                                     f"most {MAX_MARKS}. Clear the pad and write the number again.")
    return _Pad(ink, labels, boxes, line_width, "image", scale)


RENDER = True  # with strokes: each character drawn anew at the single canvas's size (render_character)
SINGLE_HEIGHT = 168.0  # how tall people write a digit on the single canvas (pad pixels; pendigits' median)
RENDER_SIDE = 64.0  # ... and then, pen and all, zoomed to this longer side: it is read at 20, and drawing it at
# the single canvas's size costs 4x the time for the same 28x28 (docs/numbers.md)
JOINTS = "disc"  # ... its joints (render_character; scripts/read_numbers.py --variants reads with "pie")


def _x28(p: _Pad, piece: Piece, box: int) -> np.ndarray:
    """What the models read of a piece (all zeros for a piece with no ink: strokes that do not match the image)."""
    try:
        if RENDER and p.source == "strokes" and p.strokes is not None and piece.box.w > 0 and p.whole(piece):
            side = max(piece.box.w, piece.box.h) / p.scale[0]  # pad pixels
            grow = max(1.0, SINGLE_HEIGHT / p.height)  # as large as on the single canvas, and the pen as thick
            zoom = min(1.0, RENDER_SIDE / max(side * grow, 1.0))  # all of it, smaller: the same proportions
            crop = render_character(p.strokes, piece.parts, p.pen * zoom, grow * zoom, joints=JOINTS)
            if crop.sum() >= MIN_INK_PIXELS:
                return fit_and_center(crop, box)
        crop = cut(p.ink, piece.box, p.labels, piece.parts)
        if crop.sum() < MIN_INK_PIXELS:  # strokes that do not match the image: read the box as it is
            crop = cut(p.ink, piece.box)
        return fit_and_center(crop, box)
    except BlankDrawingError:
        return np.zeros((28, 28), np.float32)


def _splits(p: _Pad, piece: Piece) -> list[tuple[Piece, Piece]]:
    if p.source == "strokes" and len(piece.parts) > 1:
        return stroke_splits(piece, p.boxes)
    out = []
    for column in cut_columns(p.ink, piece.box):
        left, right = split_box(piece.box, column)
        out.append((Piece(piece.parts, left), Piece(piece.parts, right)))
    return out


def read_number(recognize_batch, png, strokes: list | None, pad: PadSpec, box: int,
                memory: PrototypeMemory | None = None, versions: dict | None = None) -> Reading:
    """Read the number on the pad (``png``; ``strokes`` in pad pixels when the page has them). ``recognize_batch``:
    :meth:`service.web.recognizer.Recognizer.recognize_batch`. Raises BlankDrawingError for an empty pad and
    TooManyCharactersError for more than ``pad.max_characters`` characters."""
    if strokes is not None:
        strokes = on_pad(check_strokes(strokes), pad)
    p = _prepare(png, strokes, pad)
    pieces = group_parts(p.boxes, p.line_width)
    limit = pad.max_characters
    if len(pieces) > 2 * limit:  # before any model runs: nothing this long is worth reading
        raise TooManyCharactersError(_too_many(len(pieces), limit))
    height = line_height(p.boxes, p.line_width)
    chars = [k for k, piece in enumerate(pieces) if piece.kind == "character"]

    # Every candidate character, read in one batch: the pieces, then merges of close pairs, then splits.
    candidates: list[Piece] = [pieces[k] for k in chars]
    merges, splits = [], []
    for a, b in zip(chars, chars[1:]):
        if b != a + 1:
            continue
        pa, pb = pieces[a], pieces[b]
        union = pa.box.union(pb.box)
        if MERGES and x_overlap(pa.box, pb.box) >= MERGE_OVERLAP and union.w <= MERGE_WIDTH * height:
            merges.append((a, b, len(candidates)))
            candidates.append(Piece(tuple(sorted(pa.parts + pb.parts)), union))
    for k in chars:
        if SPLITS and is_wide(pieces[k], height, WIDE if p.source == "strokes" else WIDE_INK):
            for left, right in _splits(p, pieces[k]):
                splits.append((k, len(candidates), len(candidates) + 1))
                candidates += [left, right]
    read = recognize_batch(np.stack([_x28(p, c, box) for c in candidates]), memory) if candidates else []
    by_piece = {k: read[i] for i, k in enumerate(chars)}
    scores = [score(r) for r in read]

    # Decide: merges first (best gain first, each piece merged at most once), then splits of what is left.
    others: list[list[Character]] = []
    final: dict[int, list[Character]] = {k: [Character(pieces[k], by_piece.get(k))] for k in range(len(pieces))}
    taken: set[int] = set()
    gains = sorted(((scores[m] - (scores[chars.index(a)] + scores[chars.index(b)]) / 2, a, b, m)
                    for a, b, m in merges), reverse=True)
    for gain, a, b, m in gains:
        merged = [Character(candidates[m], read[m])]
        apart = final[a] + final[b]
        if gain > MERGE_MARGIN and a not in taken and b not in taken:
            final[a], final[b] = merged, []
            taken |= {a, b}
            others.append(apart)
        else:
            others.append(merged)
    best_split: dict[int, tuple[float, int, int]] = {}
    for k, left, right in splits:
        s = (scores[left] + scores[right]) / 2
        if k not in best_split or s > best_split[k][0]:
            best_split[k] = (s, left, right)
    for k, (s, left, right) in best_split.items():
        if k in taken:
            continue
        halves = [Character(candidates[left], read[left]), Character(candidates[right], read[right])]
        if s - scores[chars.index(k)] > SPLIT_MARGIN:
            others.append(final[k])
            final[k] = halves
        else:
            others.append(halves)
    characters = [c for k in range(len(pieces)) for c in final[k]]
    if len(characters) > limit:
        raise TooManyCharactersError(_too_many(len(characters), limit))
    alternatives = [_replace_in(characters, o) for o in others]
    return Reading(characters, p.source, p.scale, versions or (read[0].versions if read else {}), alternatives)


def _replace_in(characters: list[Character], other: list[Character]) -> list[Character]:
    """The whole reading with ``other`` (another segmentation of some of it) in place of what it covers."""
    covered = [c for c in characters if any(_same_place(c.piece, o.piece) for o in other)]
    if not covered:  # the other covers pieces the reading merged or split: swap by position
        lo, hi = min(o.piece.box.x0 for o in other), max(o.piece.box.x1 for o in other)
        covered = [c for c in characters if lo <= c.piece.box.cx <= hi]
    kept = [c for c in characters if not any(c is d for d in covered)]
    return sorted(kept + other, key=lambda c: c.piece.box.cx)


def _same_place(a: Piece, b: Piece) -> bool:
    return bool(set(a.parts) & set(b.parts)) and a.box.x0 < b.box.x1 and b.box.x0 < a.box.x1


def _too_many(n: int, limit: int) -> str:
    return (f"Too many characters: the pad holds {n} and a number may have at most {limit}. Write a shorter "
            "number, or clear the pad and write it larger.")
