"""Synthetic hand-drawn hiragana: KanjiVG stroke templates drawn by simulated writers.

Stroke templates come from KanjiVG (KanjiVG, Ulrich Apel, CC BY-SA 3.0,
https://kanjivg.tagaini.net), installed from PyPI as ``kanjivg==20260714``:
one SVG path per pen stroke, in writing order, in a 109x109 box. A template
is one tidy character, not handwriting, so every drawing here passes through
a variation model meant to look like people drawing on the 280 px canvas.

The variation model has two levels.

* A **writer** (:class:`WriterStyle`, drawn once per writer from its seed)
  has habits that stay with all of their drawings: a slant (shear), a tilt
  (rotation), proportions (width/height), an overall size on the canvas, how
  loosely they place, turn and size individual strokes (standard deviations
  of per-stroke offset, angle and length), how shaky their lines are (wobble
  amplitude) and the pen width of their device.
* Each **drawing** by that writer differs a bit: slant, tilt, proportions
  and size wobble around the writer's own values (:data:`DRAWING_NOISE`),
  the character lands a little off centre, and every stroke gets its own
  random offset, rotation about its centre and length scale (with the
  writer's standard deviations) plus a smooth, low-frequency wobble along its
  length (a few sinusoids of arc length with random phases and wavelengths,
  so lines bend rather than jitter).

Training writers' habits come from :data:`TRAIN_RANGES`. "Unseen" writers
(``WriterStyle.sample(rng, unseen=True)``) take every habit from
:data:`UNSEEN_RANGES`, intervals entirely outside the training ranges
(stronger slant and tilt, narrower or wider proportions, looser strokes, more
wobble, thinner or thicker pens): writers whose style the training data
never showed. Writers are numbered by seed, in disjoint ranges per split
(:data:`WRITER_SEEDS`), and every drawing is a pure function of (writer seed,
label, repetition), so images and strokes always correspond.

>>> len(HIRAGANA), HIRAGANA[0], HIRAGANA[45], HIRAGANA[-1]
(71, 'あ', 'ん', 'ぽ')
>>> [HIRAGANA[i] if i is not None else "・" for i in HIRAGANA_ROWS[7]]
['や', '・', 'ゆ', '・', 'よ']
>>> [len(load_strokes(c)) for c in "あいうぱ"]
[3, 2, 2, 4]
>>> style = WriterStyle.sample(np.random.default_rng(0))
>>> drawing = vary(load_strokes("あ"), style, np.random.default_rng(1))
>>> image = preprocess_drawing(render_kana(drawing), hiragana_box())
>>> image.shape, bool(image.max() > 0.5)
((28, 28), True)
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import itertools
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from models.alphabets import load_alphabet
from models.canvas import CanvasSpec
from models.preprocess import preprocess_drawing

from .data import MissingDataError, default_mnist_dir
from .render import render_strokes

# --- the classes ----------------------------------------------------------------------------------

_BASIC = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
_VOICED = "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽ"
HIRAGANA: tuple[str, ...] = tuple(_BASIC + _VOICED)
"""The 71 classes in kana-table (gojūon) order: label ``i`` is ``HIRAGANA[i]``."""


def _table_rows() -> tuple[tuple[int | None, ...], ...]:
    index = {c: i for i, c in enumerate(HIRAGANA)}
    layout = [
        "あいうえお", "かきくけこ", "さしすせそ", "たちつてと", "なにぬねの", "はひふへほ", "まみむめも",
        "や・ゆ・よ", "らりるれろ", "わ・・・を", "ん・・・・",
        "がぎぐげご", "ざじずぜぞ", "だぢづでど", "ばびぶべぼ", "ぱぴぷぺぽ",
    ]
    return tuple(tuple(index.get(c) for c in row) for row in layout)


HIRAGANA_ROWS: tuple[tuple[int | None, ...], ...] = _table_rows()
"""The kana table, rows of 5 cells (a label index, or ``None`` for a gap): basic rows, then dakuten/handakuten."""

HIRAGANA_CANVAS = CanvasSpec(line_width=14)
"""The hiragana canvas: 280 px like the digits', with a thinner pen (kana have more, closer strokes)."""

# --- KanjiVG templates ----------------------------------------------------------------------------

KANJIVG_DIST = "kanjivg"
KANJIVG_VERSION = "20260714"
INSTALL_COMMAND = f".venv/bin/pip install {KANJIVG_DIST}=={KANJIVG_VERSION}"
TEMPLATE_BOX = 109.0
SAMPLE_STEP = 2.0  # template units between sampled points along a stroke


def kanjivg_version() -> str:
    """The installed KanjiVG distribution's version; :class:`MissingDataError` if it is not installed."""
    try:
        return importlib.metadata.version(KANJIVG_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise MissingDataError(
            f"KanjiVG stroke data is not installed. Run `{INSTALL_COMMAND}` "
            "(it is in the [dev] extra: `pip install -e .[dev]`)."
        ) from None


@functools.lru_cache(maxsize=1)
def _kanji_dir() -> Path:
    """The installed ``kanji/`` folder of SVGs (beside the distribution's metadata, e.g. site-packages/kanji)."""
    kanjivg_version()
    dist = importlib.metadata.distribution(KANJIVG_DIST)
    folder = Path(dist.locate_file("kanji"))
    if not (folder / "03042.svg").is_file():  # あ: every KanjiVG release has it
        files = [f for f in dist.files or () if f.parent.name == "kanji" and f.suffix == ".svg"]
        if not files:
            raise MissingDataError(f"The KanjiVG installation has no kanji/*.svg files. Run `{INSTALL_COMMAND}`.")
        folder = Path(dist.locate_file(files[0])).parent
    return folder


def _svg_path(char: str) -> Path:
    path = _kanji_dir() / f"{ord(char):05x}.svg"
    if not path.is_file():
        raise MissingDataError(
            f"KanjiVG has no stroke file kanji/{path.name} for {char!r} (U+{ord(char):04X}), or the "
            f"installation is incomplete. Run `{INSTALL_COMMAND}`."
        )
    return path


_PATH_D = re.compile(r'<path\b[^>]*?\sd="([^"]*)"', re.DOTALL)
_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0}


def _sample_cubic(p0, p1, p2, p3, step: float) -> np.ndarray:
    """Points along a cubic Bézier, evenly spaced by arc length at most ``step`` apart, excluding ``p0``."""
    ctrl = np.array([p0, p1, p2, p3], dtype=float)
    bound = float(np.linalg.norm(np.diff(ctrl, axis=0), axis=1).sum())  # >= the curve's length
    t = np.linspace(0.0, 1.0, 8 * max(1, math.ceil(bound / step)) + 1)[:, None]
    u = 1.0 - t
    fine = u**3 * ctrl[0] + 3 * u**2 * t * ctrl[1] + 3 * u * t**2 * ctrl[2] + t**3 * ctrl[3]
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(fine, axis=0), axis=1))])
    n = max(1, math.ceil(arc[-1] / step))
    at = np.linspace(0.0, arc[-1], n + 1)[1:]
    return np.column_stack([np.interp(at, arc, fine[:, 0]), np.interp(at, arc, fine[:, 1])])


def parse_svg_path(d: str, step: float = SAMPLE_STEP) -> list[np.ndarray]:
    """Sample an SVG path ``d`` string into float[N,2] point arrays, one per subpath.

    Handles M L H V C S Q T Z, absolute and relative, implicit repeats and
    packed numbers such as ``-1.5.5``. Lines and quadratics are sampled as
    cubics, so every subpath has points about ``step`` apart.

    >>> [p.round(2).tolist() for p in parse_svg_path("M0,0l4-0.5.5.5", step=10)]
    [[[0.0, 0.0], [4.0, -0.5], [4.5, 0.0]]]
    >>> parse_svg_path("M10 10 C 10 20 20 20 20 10 s 10 -10 10 0")[0][-1].tolist()
    [30.0, 10.0]
    """
    tokens = _TOKEN.findall(d)
    subpaths: list[list[np.ndarray]] = []
    current: list[np.ndarray] = []
    pos = np.zeros(2)
    start = np.zeros(2)
    last_ctrl: np.ndarray | None = None  # reflected by S (cubic) / T (quadratic)
    last_cmd = ""
    cmd = ""
    i = 0

    def finish() -> None:
        nonlocal current
        if current:
            subpaths.append(np.concatenate(current))
        current = []

    def cubic(p1, p2, p3) -> None:
        current.append(_sample_cubic(pos, p1, p2, p3, step))

    while i < len(tokens):
        if tokens[i].isalpha():
            cmd = tokens[i]
            i += 1
            if cmd in "Zz":
                if current and not np.allclose(pos, start):
                    cubic(pos + (start - pos) / 3, pos + 2 * (start - pos) / 3, start)
                pos = start.copy()
                last_ctrl, last_cmd = None, "Z"
                continue
        elif not cmd:
            raise ValueError(f"SVG path data must start with a command: {d[:40]!r}")
        upper = cmd.upper()
        arity = _ARITY[upper]
        if upper == "Z" or i + arity > len(tokens) or any(t.isalpha() for t in tokens[i : i + arity]):
            raise ValueError(f"Malformed SVG path data near token {i}: {d[:60]!r}")
        args = np.array([float(t) for t in tokens[i : i + arity]])
        i += arity
        rel = cmd.islower()
        if upper == "H":
            args = np.array([args[0] + (pos[0] if rel else 0.0), pos[1]])
            upper, rel = "L", False
        elif upper == "V":
            args = np.array([pos[0], args[0] + (pos[1] if rel else 0.0)])
            upper, rel = "L", False
        pts = args.reshape(-1, 2) + (pos if rel else 0.0)
        if upper == "M":
            finish()
            pos = start = pts[0]
            current = [pos[None, :].copy()]
            cmd = "l" if rel else "L"  # further pairs are implicit lineto
            last_ctrl, last_cmd = None, "M"
            continue
        if not current:
            current = [pos[None, :].copy()]
        if upper == "L":
            cubic(pos + (pts[0] - pos) / 3, pos + 2 * (pts[0] - pos) / 3, pts[0])
            last_ctrl = None
        elif upper == "C":
            cubic(pts[0], pts[1], pts[2])
            last_ctrl = pts[1]
        elif upper == "S":
            p1 = 2 * pos - last_ctrl if last_ctrl is not None and last_cmd in "CS" else pos
            cubic(p1, pts[0], pts[1])
            last_ctrl = pts[0]
        elif upper in "QT":
            if upper == "Q":
                q, end = pts[0], pts[1]
            else:
                q = 2 * pos - last_ctrl if last_ctrl is not None and last_cmd in "QT" else pos
                end = pts[0]
            cubic(pos + 2 / 3 * (q - pos), end + 2 / 3 * (q - end), end)
            last_ctrl = q
        pos = pts[-1].copy()
        last_cmd = upper
    finish()
    return subpaths


@functools.cache
def _load_strokes(char: str) -> tuple[np.ndarray, ...]:
    svg = _svg_path(char).read_text(encoding="utf-8")
    strokes: list[np.ndarray] = []
    for d in _PATH_D.findall(svg):
        strokes.extend(parse_svg_path(d))
    if not strokes:
        raise MissingDataError(f"KanjiVG file {_svg_path(char)} holds no strokes. Run `{INSTALL_COMMAND}`.")
    for s in strokes:
        s.setflags(write=False)
    return tuple(strokes)


def load_strokes(char: str) -> list[np.ndarray]:
    """The pen strokes of ``char`` in writing order: float[N,2] (x, y) points in KanjiVG's 109x109 box
    (y grows downward, as on a canvas), about :data:`SAMPLE_STEP` units apart. Cached; the arrays are
    read-only."""
    return list(_load_strokes(char))


def stroke_paths(char: str) -> list[str]:
    """KanjiVG's SVG path data for each stroke of ``char``, in writing order, in its 109x109 box."""
    return _PATH_D.findall(_svg_path(char).read_text(encoding="utf-8"))


def write_stroke_guide(path: Path) -> None:
    """The hiragana alphabet's stroke-order guide (``"strokes"`` in its file): each label's stroke paths,
    for the page to show a learner how a character is written, with KanjiVG's credit (CC BY-SA 3.0)."""
    import json

    guide = {"source": f"KanjiVG {kanjivg_version()} (Ulrich Apel), CC BY-SA 3.0, https://kanjivg.tagaini.net",
             "box": TEMPLATE_BOX, "paths": [stroke_paths(char) for char in HIRAGANA]}
    path.write_text(json.dumps(guide, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


# --- writers --------------------------------------------------------------------------------------

TRAIN_RANGES: dict[str, tuple[float, float]] = {
    "slant": (-0.15, 0.15),  # shear: x moves right by slant * height above the centre (0.15 ~ 8.5 deg)
    "rotation": (-6.0, 6.0),  # degrees, positive = clockwise on screen
    "aspect": (0.86, 1.14),  # width scale relative to height
    "size": (0.60, 0.75),  # a median-height character's height, as a fraction of the canvas
    "stroke_shift": (1.0, 3.0),  # s.d. of each stroke's offset, template units (of 109)
    "stroke_angle": (2.0, 6.0),  # s.d. of each stroke's rotation about its centre, degrees
    "stroke_length": (0.03, 0.08),  # s.d. of each stroke's length scale about its centre
    "wobble": (0.3, 1.4),  # amplitude of the low-frequency wobble along strokes, template units
    "pen_width": (12, 16),  # canvas px, inclusive integers
}
UNSEEN_RANGES: dict[str, tuple[tuple[float, float], ...]] = {
    "slant": ((-0.32, -0.20), (0.20, 0.32)),
    "rotation": ((-13.0, -8.0), (8.0, 13.0)),
    "aspect": ((0.66, 0.80), (1.20, 1.30)),
    "size": ((0.48, 0.56), (0.79, 0.85)),
    "stroke_shift": ((3.3, 4.3),),
    "stroke_angle": ((7.0, 9.0),),
    "stroke_length": ((0.09, 0.12),),
    "wobble": ((1.6, 2.2),),
    "pen_width": ((9, 10), (17, 18)),
}
DRAWING_NOISE: dict[str, float] = {
    "slant": 0.03,  # s.d. around the writer's slant, per drawing
    "rotation": 2.0,  # degrees
    "aspect": 0.03,  # relative
    "size": 0.04,  # relative
    "offset": 0.03,  # the character's centre, s.d. as a fraction of the canvas
}
WOBBLE_WAVELENGTH = (25.0, 70.0)  # template units along the stroke
WOBBLE_WAVES = 2
REFERENCE_HEIGHT = 75.0  # template units: about the median height of the 71 KanjiVG hiragana (measured 75.4)
CANVAS_MARGIN = 0.04  # keep ink at least this fraction of the canvas (plus half the pen) from its edges


@dataclass(frozen=True)
class WriterStyle:
    """One synthetic writer's habits; see the module docstring and :data:`TRAIN_RANGES` for the units."""

    slant: float = 0.0
    rotation: float = 0.0
    aspect: float = 1.0
    size: float = 0.68
    stroke_shift: float = 0.0
    stroke_angle: float = 0.0
    stroke_length: float = 0.0
    wobble: float = 0.0
    pen_width: int = HIRAGANA_CANVAS.line_width
    unseen: bool = False

    @classmethod
    def sample(cls, rng: np.random.Generator, unseen: bool = False) -> WriterStyle:
        """A writer with habits uniform in :data:`TRAIN_RANGES`, or in :data:`UNSEEN_RANGES` if ``unseen``."""
        values = {}
        for name, train_range in TRAIN_RANGES.items():
            intervals = UNSEEN_RANGES[name] if unseen else (train_range,)
            lo, hi = intervals[int(rng.integers(len(intervals)))]
            if name == "pen_width":
                values[name] = int(rng.integers(int(lo), int(hi) + 1))
            else:
                values[name] = float(rng.uniform(lo, hi))
        return cls(**values, unseen=unseen)

    def in_training_ranges(self) -> dict[str, bool]:
        """For each habit, whether it lies within :data:`TRAIN_RANGES`."""
        return {n: lo <= getattr(self, n) <= hi for n, (lo, hi) in TRAIN_RANGES.items()}

    def canvas(self, base: CanvasSpec = HIRAGANA_CANVAS) -> CanvasSpec:
        """``base`` drawn with this writer's pen width."""
        return replace(base, line_width=self.pen_width)


WRITER_SEEDS: dict[str, tuple[int, int]] = {"train": (0, 10_000), "test": (100_000, 110_000), "unseen": (200_000, 210_000)}


def synthetic_writers(split: str, n: int) -> list[tuple[int, WriterStyle]]:
    """The first ``n`` writers of ``split`` as ``(writer id = seed, style)``.

    Seed ranges are disjoint: "train" 0..9999, "test" 100000.. (held-out writers with training-range
    habits, never used for training), "unseen" 200000.. (habits outside the training ranges).

    >>> [w for w, _ in synthetic_writers("test", 2)], synthetic_writers("unseen", 1)[0][1].unseen
    ([100000, 100001], True)
    """
    if split not in WRITER_SEEDS:
        raise ValueError(f"split must be one of {sorted(WRITER_SEEDS)}, not {split!r}")
    first, end = WRITER_SEEDS[split]
    if not 0 <= n <= end - first:
        raise ValueError(f"split {split!r} has at most {end - first} writers, asked for {n}")
    return [
        (seed, WriterStyle.sample(np.random.default_rng([seed, 0x6B616E61]), unseen=split == "unseen"))
        for seed in range(first, first + n)
    ]


# --- drawing --------------------------------------------------------------------------------------


def _rotation(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def _wobble(stroke: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth displacement along ``stroke``: a few sinusoids of arc length per axis, random phases."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))])
    out = np.zeros_like(stroke)
    for _ in range(WOBBLE_WAVES):
        wavelength = rng.uniform(*WOBBLE_WAVELENGTH)
        phase = rng.uniform(0, 2 * np.pi, size=2)
        amp = amplitude * rng.uniform(0.5, 1.0, size=2) / math.sqrt(WOBBLE_WAVES)
        amp *= min(1.0, arc[-1] / WOBBLE_WAVELENGTH[0])  # dots and ticks are too short to wander
        out += amp * np.sin(2 * np.pi * arc[:, None] / wavelength + phase)
    return out


def vary(
    strokes: Sequence[np.ndarray],
    style: WriterStyle,
    rng: np.random.Generator,
    canvas: CanvasSpec = HIRAGANA_CANVAS,
) -> list[np.ndarray]:
    """``strokes`` (template units) as ``style``'s writer would draw them once, in canvas pixels.

    Per stroke: random offset, rotation about the stroke's centre and length scale (s.d. from the
    style), plus a smooth wobble along it; then the drawing's slant, tilt, proportions and size
    (the writer's, with per-drawing noise), centred on the canvas with a small random offset and
    kept inside it. A median-height character ends up ``style.size`` (~0.60-0.75) of the canvas high.
    """
    rng = np.random.default_rng(rng)
    out: list[np.ndarray] = []
    for stroke in strokes:
        s = np.asarray(stroke, dtype=float)
        centre = (s.min(axis=0) + s.max(axis=0)) / 2
        length = max(0.2, 1.0 + rng.normal(0.0, style.stroke_length))
        turn = _rotation(rng.normal(0.0, style.stroke_angle))
        s = (s - centre) @ turn.T * length + centre + rng.normal(0.0, style.stroke_shift, size=2)
        if style.wobble > 0 and len(s) > 1:
            s = s + _wobble(s, style.wobble, rng)
        out.append(s)

    slant = style.slant + rng.normal(0.0, DRAWING_NOISE["slant"])
    aspect = style.aspect * math.exp(rng.normal(0.0, DRAWING_NOISE["aspect"]))
    size = style.size * math.exp(rng.normal(0.0, DRAWING_NOISE["size"]))
    # y grows downward: a right slant moves points above the centre (negative y) to the right.
    shear = np.array([[1.0, -slant], [0.0, 1.0]])
    matrix = _rotation(style.rotation + rng.normal(0.0, DRAWING_NOISE["rotation"])) @ shear @ np.diag([aspect, 1.0])
    offset = rng.normal(0.0, DRAWING_NOISE["offset"] * canvas.size, size=2)
    return _place(out, size * matrix, canvas, style.pen_width, offset)


def _place(
    strokes: Sequence[np.ndarray], matrix: np.ndarray, canvas: CanvasSpec, pen_width: float, offset: np.ndarray
) -> list[np.ndarray]:
    """Apply ``matrix`` (at 1.0 a :data:`REFERENCE_HEIGHT` character fills the canvas) about the strokes'
    centre, then centre them on the canvas plus ``offset`` px, shrinking and shifting only as needed to
    keep the ink :data:`CANVAS_MARGIN` inside the edges."""
    points = np.concatenate(strokes)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    matrix = np.asarray(matrix) * (canvas.size / REFERENCE_HEIGHT)
    out = [(np.asarray(s, dtype=float) - centre) @ matrix.T for s in strokes]
    points = np.concatenate(out)
    lo, hi = points.min(axis=0), points.max(axis=0)
    room = canvas.size * (1 - 2 * CANVAS_MARGIN) - pen_width
    shrink = min(1.0, room / max(float((hi - lo).max()), 1e-6))
    lo, hi = lo * shrink, hi * shrink
    target = canvas.size / 2 + np.asarray(offset, dtype=float)
    shift = np.clip(target - (lo + hi) / 2, (canvas.size - room) / 2 - lo, (canvas.size + room) / 2 - hi)
    return [s * shrink + shift for s in out]


def clean_drawing(char: str, canvas: CanvasSpec = HIRAGANA_CANVAS, size: float = 0.68) -> list[np.ndarray]:
    """The unvaried KanjiVG template of ``char`` in canvas pixels: centred, a median-height character
    ``size`` of the canvas high."""
    return _place(load_strokes(char), size * np.eye(2), canvas, canvas.line_width, np.zeros(2))


def render_kana(strokes: Sequence[np.ndarray], canvas: CanvasSpec = HIRAGANA_CANVAS) -> bytes:
    """PNG bytes of ``strokes`` (canvas pixels) as the page would send them, on the hiragana canvas."""
    return render_strokes(strokes, canvas)


def _drawing_rng(seed: int, label: int, repetition: int) -> np.random.Generator:
    return np.random.default_rng([seed, label, repetition, 0x64726177])


def draw(writer: tuple[int, WriterStyle], label: int, repetition: int = 0) -> list[np.ndarray]:
    """Drawing number ``repetition`` of ``HIRAGANA[label]`` by ``writer`` (from :func:`synthetic_writers`)."""
    seed, style = writer
    return vary(load_strokes(HIRAGANA[label]), style, _drawing_rng(seed, label, repetition))


def _plan(split: str, writers: int, per_writer: int):
    """The drawings of a set, in order: writer, then repetition, then label."""
    for writer in synthetic_writers(split, writers):
        for repetition in range(per_writer):
            for label in range(len(HIRAGANA)):
                yield writer, label, repetition


def drawn_strokes(
    split: str, writers: int, per_writer: int = 1
) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray]:
    """``(strokes per drawing in canvas pixels, int64[N] labels, int32[N] writer ids)`` for the same
    drawings, in the same order, as :func:`load_drawn_hiragana`."""
    plan = list(_plan(split, writers, per_writer))
    strokes = [draw(writer, label, rep) for writer, label, rep in plan]
    labels = np.array([label for _, label, _ in plan], dtype=np.int64)
    ids = np.array([writer[0] for writer, _, _ in plan], dtype=np.int32)
    return strokes, labels, ids


def hiragana_box() -> int:
    """The box the shipped hiragana weights were trained with (``hiragana.json``): images default to it."""
    return load_alphabet("hiragana").box


def _render_writer(args: tuple[tuple[int, WriterStyle], int, int]) -> np.ndarray:
    writer, per_writer, box = args
    canvas = writer[1].canvas()
    return np.stack(
        [
            preprocess_drawing(render_kana(draw(writer, label, rep), canvas), box)
            for rep in range(per_writer)
            for label in range(len(HIRAGANA))
        ]
    )


def _cache_key_material() -> bytes:
    """What defines the images: the variation model's code and constants, the renderer and the preprocessing.
    (Not this module's loading or caching code, so editing those keeps existing caches.)"""
    import inspect

    from models import preprocess

    from . import render

    parts = [inspect.getsource(f).encode() for f in (
        _sample_cubic, parse_svg_path, _load_strokes, WriterStyle, synthetic_writers, _rotation, _wobble, vary,
        _place, _drawing_rng, draw, _render_writer,
    )]
    constants = (HIRAGANA, HIRAGANA_CANVAS, SAMPLE_STEP, TRAIN_RANGES, UNSEEN_RANGES, DRAWING_NOISE,
                 WOBBLE_WAVELENGTH, WOBBLE_WAVES, REFERENCE_HEIGHT, CANVAS_MARGIN, WRITER_SEEDS)
    parts.append(repr(constants).encode())
    parts += [Path(module.__file__).read_bytes() for module in (render, preprocess)]
    return b"\0".join(parts)


def _cache_path(split: str, writers: int, per_writer: int, box: int) -> Path:
    key = hashlib.sha256(
        repr((split, writers, per_writer, box, kanjivg_version())).encode() + _cache_key_material()
    ).hexdigest()[:16]
    return Path(default_mnist_dir()).parent / "drawn" / f"hiragana-{split}-{writers}x{per_writer}-{key}.npz"


def _render_range(split: str, start: str, stop: str, per_writer: str, box: str, out: str) -> None:
    """Worker entry point: render writers ``start:stop`` of ``split`` into the .npy file ``out``."""
    writers = synthetic_writers(split, int(stop))[int(start) :]
    np.save(out, np.concatenate([_render_writer((w, int(per_writer), int(box))) for w in writers]))


def _render_in_subprocesses(split: str, writers: int, per_writer: int, box: int, processes: int) -> np.ndarray:
    """Render in ``processes`` fresh Python processes, each a contiguous block of writers.

    Plain subprocesses rather than a multiprocessing pool: nothing is forked from a caller that may
    hold TensorFlow's threads, and nothing re-imports the caller's ``__main__`` (which a spawn pool
    does, and which fails for ``python -`` or re-runs an unguarded script).
    """
    import subprocess
    import sys
    import tempfile

    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    code = "import sys; from lab.kana import _render_range; _render_range(*sys.argv[1:])"
    bounds = np.linspace(0, writers, min(processes, writers) + 1).round().astype(int)
    with tempfile.TemporaryDirectory(prefix="inkling-kana-") as tmp:
        jobs = []
        try:
            for k, (a, b) in enumerate(itertools.pairwise(bounds)):
                out, log = Path(tmp) / f"{k}.npy", Path(tmp) / f"{k}.log"
                with log.open("wb") as err:
                    cmd = [sys.executable, "-c", code, split, str(a), str(b), str(per_writer), str(box), str(out)]
                    jobs.append((subprocess.Popen(cmd, env=env, cwd=root, stdout=err, stderr=err), out, log))
            for proc, _, log in jobs:
                if proc.wait() != 0:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"rendering hiragana in a worker process failed (exit {proc.returncode}):\n{tail}")
            return np.concatenate([np.load(out) for _, out, _ in jobs])
        finally:
            for proc, _, _ in jobs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


# How many synthetic writers the shipped hiragana weights were trained and evaluated on
# (scripts/train.py, scripts/evaluate.py): the evaluation writers and the guard's holdout
# writers are "test" writers, whose seeds training never uses.
TRAIN_WRITERS, TEST_WRITERS, HOLDOUT_WRITERS = 800, 40, 15


def load_drawn_hiragana(
    split: str, writers: int, per_writer: int = 1, cache: bool = True, processes: int | None = None,
    box: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(float32[N,28,28] images, int64[N] labels, int32[N] writer ids)``: each of ``split``'s first
    ``writers`` writers draws each of the 71 hiragana ``per_writer`` times, rendered with the writer's
    pen on the hiragana canvas and preprocessed like a drawing from the page, fitted into ``box`` px
    (default :func:`hiragana_box`, what the shipped weights read).

    Order: writer, then repetition, then label (as :func:`drawn_strokes`). Cached as .npz beside the
    pendigits cache (``<MNIST cache>/../drawn/``), keyed by the parameters, the KanjiVG version and
    the code that defines the images. Large sets are rendered in ``processes`` worker processes
    (default: all CPUs when there are more than 2,000 drawings); the images do not depend on it.
    """
    box = box or hiragana_box()
    path = _cache_path(split, writers, per_writer, box)
    if cache and path.is_file():
        with np.load(path) as archive:
            return archive["images"], archive["labels"], archive["writers"]
    styles = synthetic_writers(split, writers)
    n = writers * per_writer * len(HIRAGANA)
    if processes is None:
        processes = (os.cpu_count() or 1) if n > 2000 else 1
    if processes > 1 and writers > 1:
        images = _render_in_subprocesses(split, writers, per_writer, box, processes)
    else:
        images = np.concatenate([_render_writer((w, per_writer, box)) for w in styles]) if styles else None
    if images is None:
        images = np.zeros((0, 28, 28), np.float32)
    labels = np.tile(np.arange(len(HIRAGANA), dtype=np.int64), writers * per_writer)
    ids = np.repeat(np.array([seed for seed, _ in styles], dtype=np.int32), per_writer * len(HIRAGANA))
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, images=images, labels=labels, writers=ids)
        tmp.replace(path)
    return images, labels, ids


def time_per_drawing(n: int = 200) -> float:
    """Seconds to vary, render and preprocess one drawing, measured on ``n`` training drawings."""
    plan = list(_plan("train", max(1, -(-n // len(HIRAGANA))), 1))[:n]
    for char in HIRAGANA:
        load_strokes(char)  # parsing the SVGs once per process is not per-drawing work
    box = hiragana_box()
    start = time.perf_counter()
    for writer, label, rep in plan:
        preprocess_drawing(render_kana(draw(writer, label, rep), writer[1].canvas()), box)
    return (time.perf_counter() - start) / len(plan)


__all__ = [
    "DRAWING_NOISE",
    "HIRAGANA",
    "HIRAGANA_CANVAS",
    "HIRAGANA_ROWS",
    "TRAIN_RANGES",
    "UNSEEN_RANGES",
    "WRITER_SEEDS",
    "WriterStyle",
    "clean_drawing",
    "draw",
    "drawn_strokes",
    "hiragana_box",
    "kanjivg_version",
    "load_drawn_hiragana",
    "load_strokes",
    "parse_svg_path",
    "render_kana",
    "stroke_paths",
    "synthetic_writers",
    "time_per_drawing",
    "vary",
    "write_stroke_guide",
]
