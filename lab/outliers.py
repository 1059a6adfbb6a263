"""Drawings that are not one character of the alphabet, drawn from strokes as people would draw them.

What "can't tell" is trained on (:mod:`models.gate`, ``scripts/train.py --model gate``) and measured on
(``scripts/ood.py``). Every kind is made here, from stroke data installed from the registries, and drawn
by the synthetic writers of :mod:`lab.kana` (their slant, size, proportions and wobble), with the page's
pen, on the alphabet's canvas:

* ``letters``: the 52 Latin letters in five styles of the Hershey fonts (A. V. Hershey, 1967: simplex sans,
  simplex roman, simplex script, cursive, italic; the ``Hershey-Fonts`` package, MIT), plus Greek and
  Cyrillic capitals in the training split;
* ``symbols``: punctuation and signs (``+ = # @ & % ? ! $ * < > / ~ ^`` and brackets) in the same styles;
* ``kana`` and ``kanji``: katakana (and, for the digits, hiragana) and kanji from KanjiVG (Ulrich Apel,
  CC BY-SA 3.0); the training and evaluation splits use different characters (the training split many
  more kanji than the 43 common ones it is scored on);
* ``shapes``: a triangle, a square, a star, a heart, a smiley, arrows, a spiral, a zigzag, a wave, a tick;
* ``marks``: a dot or a few, a dash, a slanted line: what a tap or a slip makes;
* ``scribbles``: a random walk of the pen;
* ``several``: two or three characters of the alphabet side by side (``models.gate`` answers these
  "draw one at a time").

For a deployment of another alphabet, the digits (pendigits' pen strokes) are outliers too. Splits:
``train`` uses the training writers, ``eval`` the held-out ones, and never the same kana or kanji.

>>> [o.kind for o in sample("digits", "eval", per_kind=1)]  # doctest: +SKIP
['letters', 'symbols', 'kana', 'kanji', 'marks', 'scribbles', 'several']
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from models.alphabets import Alphabet, load_alphabet
from models.canvas import CanvasSpec
from models.errors import DrawingError
from models.preprocess import preprocess_drawing

from .data import MissingDataError, load_pendigits
from .kana import HIRAGANA, REFERENCE_HEIGHT, WriterStyle, draw, load_strokes, synthetic_writers, vary
from .render import render_strokes

SPLITS = ("train", "eval")
HERSHEY_DIST, HERSHEY_VERSION = "Hershey-Fonts", "2.1.0"
LETTER_STYLES = ("futural", "rowmans", "scripts", "cursive", "timesi")
EXTRA_LETTER_STYLES = ("greek", "cyrillic")  # more shapes to learn from (training split only)
SYMBOLS = "+=#@&%?!$*<>/\\~^{}[]()"
HERSHEY_CAP_HEIGHT = 21.0  # font units from the top of a capital to the baseline
KATAKANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
# Katakana a hiragana writer could fairly draw for the hiragana of the same sound: not outliers there.
KATAKANA_LIKE_HIRAGANA = "カキセヘモヤリ"
KANJI = ("一二三四五六七八九十日月火水木金土山川田人口目耳手足力上下左右大小中本学生先年名字文子女男白赤青空雨花竹石気天",
         "王玉犬虫貝見音草村町森林糸車正立休出入早夕円百千雪風夏秋冬春朝昼夜東西南北馬鳥魚肉米茶")
MORE_KANJI = 400  # of KanjiVG's, for the training split only (every n-th by code point, none of the above)
SHAPES = ("triangle", "square", "star", "heart", "smiley", "arrow", "spiral", "zigzag", "wave", "tick")
WRITERS = {"train": "train", "eval": "test"}  # lab.kana's writer splits
COUNTS = {"train": {"marks": 300, "scribbles": 400, "several": 400, "digits": 400, "shapes": 300},
          "eval": {"marks": 150, "scribbles": 200, "several": 200, "digits": 200, "shapes": 150}}


@dataclass(frozen=True)
class Outlier:
    kind: str
    name: str  # what it is: "A (scripts)", "ア", "two digits", ...
    strokes: tuple[np.ndarray, ...]  # canvas pixels


@functools.lru_cache(maxsize=1)
def _hershey():
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        raise MissingDataError(f"The Hershey fonts are not installed. Run `.venv/bin/pip install "
                               f"{HERSHEY_DIST}=={HERSHEY_VERSION}` (it is in the [dev] extra).") from None
    return HersheyFonts()


def hershey_strokes(char: str, style: str) -> list[np.ndarray]:
    """``char`` in the Hershey font ``style`` as strokes in :mod:`lab.kana`'s template units (y down)."""
    fonts = _hershey()
    fonts.load_default_font(style)
    scale = REFERENCE_HEIGHT / HERSHEY_CAP_HEIGHT
    return [np.asarray(s, float) * scale for s in fonts.strokes_for_text(char) if len(s)]


def _writers(split: str, n: int, canvas: CanvasSpec) -> list[WriterStyle]:
    """Writers of the split, drawing with the page's pen on this canvas."""
    return [replace(style, pen_width=canvas.line_width) for _, style in synthetic_writers(WRITERS[split], n)]


def _drawn(kind: str, name: str, template: Sequence[np.ndarray], writer: WriterStyle, seed: Sequence[int],
           canvas: CanvasSpec) -> Outlier:
    return Outlier(kind, name, tuple(vary(template, writer, np.random.default_rng(list(seed)), canvas)))


def _letters(split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    styles = LETTER_STYLES + (EXTRA_LETTER_STYLES if split == "train" else ())
    writers = _writers(split, 60, canvas)
    repeats = 2 if split == "train" else 1
    for s, style in enumerate(styles):
        for c, char in enumerate(string.ascii_letters):
            template = hershey_strokes(char, style)
            for r in range(repeats):
                yield _drawn("letters", f"{char} ({style})", template, writers[(7 * c + 13 * s + r) % 60],
                             (s, c, r, 1), canvas)


def _symbols(split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    writers = _writers(split, 60, canvas)
    for s, style in enumerate(LETTER_STYLES):
        for c, char in enumerate(SYMBOLS):
            template = hershey_strokes(char, style)
            for r in range(2):
                yield _drawn("symbols", f"{char} ({style})", template, writers[(5 * c + 11 * s + r) % 60],
                             (s, c, r, 2), canvas)


def _characters(kind: str, chars: str, split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    writers = _writers(split, 60, canvas)
    for c, char in enumerate(chars):
        for r in range(2):
            yield _drawn(kind, char, load_strokes(char), writers[(3 * c + r) % 60], (c, r, 3), canvas)


def more_kanji(n: int = MORE_KANJI) -> str:
    """``n`` kanji of KanjiVG's spread over its code points, none of :data:`KANJI`'s."""
    from .kana import _kanji_dir

    names = sorted(p.name for p in _kanji_dir().glob("?????.svg"))
    chars = [chr(int(name[:5], 16)) for name in names if 0x4E00 <= int(name[:5], 16) <= 0x9FFF]
    chars = [c for c in chars if c not in KANJI[0] + KANJI[1]]
    return "".join(chars[:: max(1, len(chars) // n)][:n])


def shape_strokes(shape: str, rng: np.random.Generator) -> list[np.ndarray]:
    """A simple shape in :mod:`lab.kana`'s template units (a median character is 75 high; y down)."""
    t = np.linspace(0, 2 * np.pi, 60)
    r = 36.0
    if shape == "triangle":
        corners = np.array([[0, -r], [r, r * 0.8], [-r, r * 0.8], [0, -r]])
        return [np.concatenate([np.linspace(a, b, 12) for a, b in zip(corners[:-1], corners[1:])])]
    if shape == "square":
        corners = np.array([[-r, -r], [r, -r], [r, r], [-r, r], [-r, -r]]) * 0.8
        return [np.concatenate([np.linspace(a, b, 12) for a, b in zip(corners[:-1], corners[1:])])]
    if shape == "star":
        angles = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        return [np.stack([np.cos(angles), np.sin(angles)], axis=1) * r]
    if shape == "heart":
        x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return [np.stack([x, y], axis=1) * (r / 17)]
    if shape == "smiley":
        face = np.stack([np.cos(t), np.sin(t)], axis=1) * r
        smile = np.stack([np.cos(np.linspace(0.2, np.pi - 0.2, 20)), np.sin(np.linspace(0.2, np.pi - 0.2, 20))], axis=1)
        return [face, np.array([[-r / 3, -r / 3]]), np.array([[r / 3, -r / 3]]), smile * r / 2 + [0, r / 8]]
    if shape == "arrow":
        direction = rng.choice(4)
        arrow = [np.array([[-r, 0], [r, 0]]), np.array([[r * 0.5, -r * 0.4], [r, 0], [r * 0.5, r * 0.4]])]
        turn = np.array([[1, 0], [0, 1]]) if direction == 0 else np.array([[0, -1], [1, 0]]) @ np.linalg.matrix_power(
            np.array([[0, -1], [1, 0]]), int(direction) - 1)
        return [a @ turn.T for a in arrow]
    if shape == "spiral":
        turn = np.linspace(0, 4 * np.pi, 80)
        return [np.stack([np.cos(turn), np.sin(turn)], axis=1) * (turn / (4 * np.pi))[:, None] * r]
    if shape == "zigzag":
        n = int(rng.integers(4, 8))
        return [np.stack([np.linspace(-r, r, n), np.tile([-r / 2, r / 2], n)[:n]], axis=1)]
    if shape == "wave":
        x = np.linspace(-r, r, 50)
        return [np.stack([x, np.sin(x / r * np.pi * rng.uniform(1.5, 3)) * r / 3], axis=1)]
    if shape == "tick":
        return [np.array([[-r, 0], [-r / 3, r * 0.7], [r, -r]])]
    raise ValueError(f"no shape {shape!r}")


def _shapes(split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    writers = _writers(split, 60, canvas)
    for i in range(COUNTS[split]["shapes"]):
        rng = np.random.default_rng([i, SPLITS.index(split), 7])
        shape = SHAPES[i % len(SHAPES)]
        yield _drawn("shapes", shape, shape_strokes(shape, rng), writers[i % 60], (i, 7), canvas)


def _marks(split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    side = canvas.size
    for i in range(COUNTS[split]["marks"]):
        rng = np.random.default_rng([i, SPLITS.index(split), 4])
        centre = rng.uniform(0.3, 0.7, 2) * side
        kind = i % 3
        if kind == 0:  # a dot, or two or three close together
            strokes = [centre[None] + rng.normal(0, 0.01 * side, (1, 2)) for _ in range(int(rng.integers(1, 4)))]
            name = "dot"
        elif kind == 1:
            half = rng.uniform(0.15, 0.4) * side
            strokes = [np.array([centre - [half, 0], centre + [half, rng.normal(0, 0.02 * side)]])]
            name = "dash"
        else:
            angle = rng.uniform(np.pi / 8, 3 * np.pi / 8) * rng.choice([-1, 1])
            half = np.array([np.cos(angle), np.sin(angle)]) * rng.uniform(0.15, 0.4) * side
            strokes = [np.array([centre - half, centre + half])]
            name = "slanted line"
        yield Outlier("marks", name, tuple(strokes))


def _scribbles(split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    side = canvas.size
    for i in range(COUNTS[split]["scribbles"]):
        rng = np.random.default_rng([i, SPLITS.index(split), 5])
        walk = np.cumsum(rng.normal(0, 0.09 * side, (int(rng.integers(15, 60)), 2)), axis=0)
        walk = np.clip(walk - walk.mean(axis=0) + side / 2, 0.07 * side, 0.93 * side)
        yield Outlier("scribbles", "scribble", (walk,))


def _digit_templates(split: str) -> list:
    """Pendigits' pen-drawn digits of the split's writers (training writers for ``train``, test for ``eval``)."""
    return load_pendigits("train" if split == "train" else "test")


def side_by_side(parts: Sequence[Sequence[np.ndarray]], gaps: Sequence[float], canvas: CanvasSpec) -> list:
    """``parts`` (strokes, any units, y down) in a row with the given gaps (fractions of a part's height),
    scaled to fill most of the canvas's width."""
    row, x = [], 0.0
    for part, gap in zip(parts, gaps):
        points = np.concatenate(part)
        lo, hi = points.min(axis=0), points.max(axis=0)
        height = max(hi[1] - lo[1], 1e-6)
        row += [(np.asarray(s, float) - lo) / height + [x, 0] for s in part]
        x += (hi[0] - lo[0]) / height + gap
    points = np.concatenate(row)
    lo, hi = points.min(axis=0), points.max(axis=0)
    scale = 0.8 * canvas.size / max(hi - lo)
    return [(s - (lo + hi) / 2) * scale + canvas.size / 2 for s in row]


def _several(alphabet: Alphabet, split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    if alphabet.is_digits:
        digits = _digit_templates(split)
        pick = lambda rng: list(digits[int(rng.integers(len(digits)))].strokes)  # noqa: E731
    else:
        writers = synthetic_writers(WRITERS[split], 30)
        pick = lambda rng: draw(writers[int(rng.integers(30))], int(rng.integers(alphabet.n_classes)))  # noqa: E731
    for i in range(COUNTS[split]["several"]):
        rng = np.random.default_rng([i, SPLITS.index(split), 6])
        n = 2 + i % 2
        gaps = rng.uniform(-0.05, 0.4, n)  # some touch or overlap a little
        yield Outlier("several", f"{n} characters", tuple(side_by_side([pick(rng) for _ in range(n)], gaps, canvas)))


def _digits(split: str, canvas: CanvasSpec) -> Iterator[Outlier]:
    digits = _digit_templates(split)
    for i in range(COUNTS[split]["digits"]):
        digit = digits[(i * 7) % len(digits)]
        yield Outlier("digits", str(digit.label), tuple(side_by_side([digit.strokes], [0.0], canvas)))


def sample(alphabet: Alphabet | str, split: str) -> list[Outlier]:
    """Every outlier of ``split`` for a deployment of ``alphabet``, in a fixed order."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    alphabet = load_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    canvas = alphabet.canvas
    half = SPLITS.index(split)
    own = set(alphabet.glyphs)
    kana = KATAKANA if alphabet.is_digits else "".join(c for c in KATAKANA if c not in KATAKANA_LIKE_HIRAGANA)
    if alphabet.is_digits:
        kana += "".join(HIRAGANA[:46])
    kana = "".join(c for c in kana[half::2] if c not in own)
    kanji = KANJI[half] + (more_kanji() if split == "train" else "")
    kinds = [_letters(split, canvas), _symbols(split, canvas), _characters("kana", kana, split, canvas),
             _characters("kanji", kanji, split, canvas), _shapes(split, canvas), _marks(split, canvas),
             _scribbles(split, canvas), _several(alphabet, split, canvas)]
    if not alphabet.is_digits:
        kinds.append(_digits(split, canvas))
    return [outlier for kind in kinds for outlier in kind]


def drawn_outliers(alphabet: Alphabet | str, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`sample` as the models read it: ``(float32[N,28,28], kinds, names)``, each outlier rendered as
    the page would send it and preprocessed into the alphabet's box (those too faint to be a drawing at all,
    which the service refuses as blank, left out)."""
    alphabet = load_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    images, kinds, names = [], [], []
    for outlier in sample(alphabet, split):
        try:
            images.append(preprocess_drawing(render_strokes(outlier.strokes, alphabet.canvas), alphabet.box))
        except DrawingError:
            continue
        kinds.append(outlier.kind)
        names.append(outlier.name)
    return np.stack(images), np.array(kinds), np.array(names)
