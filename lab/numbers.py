"""Numbers written by real people, made from pendigits: one writer's digits side by side on the number pad.

Pendigits keeps each digit's pen trajectory but not how its writer spaced digits in a row, nor when each point
was drawn (the tablet sampled every 100 ms). So a number here is a writer's own digits, at the scale a single
drawing is rendered (:data:`lab.render.PENDIGITS_VIEW`), placed left to right with gaps drawn from that
writer's own digit widths: most pairs a little apart (ink to ink, 5-50% of the writer's median width), and
``touching`` of them (10% by default) touching or overlapping (their ink boxes overlap by up to 12% of it).
Each digit is nudged up or down a little, as on an unruled line. A number wider than the pad is written
smaller, as a person would, to fit. Time is made up (20 ms a point, 200 ms between a digit's strokes, 400 ms
between digits): the segmenter does not read it (:mod:`models.segment`).

>>> from lab.data import PenDigit
>>> one = PenDigit(1, 0, (np.array([[50, 0], [50, 150]], np.float32),))
>>> number = make_number([one, one], np.random.default_rng(0), width=100.0, touching=0.0)
>>> number.labels, [len(s) for s in number.digit_strokes], len(number.strokes)
((1, 1), [1, 1], 2)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from models.canvas import PAD, PadSpec

from .data import PenDigit
from .render import PENDIGITS_VIEW

MARGIN = 20  # pad pixels kept free around a number
POINT_MS, STROKE_GAP_MS, DIGIT_GAP_MS = 20.0, 200.0, 400.0


@dataclass(frozen=True)
class Number:
    labels: tuple[int, ...]
    strokes: list  # the API's format, pad pixels: [[x...], [y...], [t...]] a stroke, in the order written
    digit_strokes: tuple[tuple[int, ...], ...]  # each digit's stroke indices
    touching: tuple[bool, ...]  # for each pair of neighbours: do their ink boxes touch or overlap
    writer: int
    scale: float  # pad pixels per pendigits unit (smaller than a single drawing's when squeezed to fit)
    digits: tuple[PenDigit, ...]


def writers_digits(digits) -> dict[int, list[PenDigit]]:
    by_writer: dict[int, list[PenDigit]] = defaultdict(list)
    for d in digits:
        by_writer[d.writer].append(d)
    return dict(by_writer)


def median_width(digits) -> float:
    return float(np.median([np.ptp(np.concatenate(d.strokes)[:, 0]) for d in digits]))


def make_number(digits: list[PenDigit], rng: np.random.Generator, width: float, touching: float = 0.1,
                pad: PadSpec = PAD) -> Number:
    """The ``digits`` (one writer's) written side by side; ``width``: that writer's median digit width (units)."""
    single = pad.height / PENDIGITS_VIEW  # pad pixels per unit when written as on the single canvas
    pen_units = pad.line_width / single
    placed, x, touches = [], 0.0, []
    for k, d in enumerate(digits):
        points = np.concatenate(d.strokes)
        lo, hi = points.min(axis=0), points.max(axis=0)
        if k:
            touch = bool(rng.random() < touching)
            gap = (-rng.uniform(0.0, 0.12) if touch else rng.uniform(0.05, 0.5)) * width
            x += pen_units + gap  # from the last digit's points to this one's: the pen, then the ink gap
            touches.append(touch)
        dy = rng.normal(0.0, 0.04) * (hi[1] - lo[1])
        shift = np.array([x - lo[0], -(lo[1] + hi[1]) / 2 + dy])
        placed.append([s + shift for s in d.strokes])
        x += hi[0] - lo[0]
    points = np.concatenate([s for strokes in placed for s in strokes])
    lo, hi = points.min(axis=0), points.max(axis=0)
    room = np.array([pad.width, pad.height]) - 2 * MARGIN - pad.line_width
    scale = min(single, *(room / np.maximum(hi - lo, 1e-6)))
    centre = np.array([pad.width, pad.height]) / 2
    strokes, digit_strokes, t = [], [], 0.0
    for k, digit in enumerate(placed):
        own = []
        for j, s in enumerate(digit):
            xy = (s - (lo + hi) / 2) * scale + centre
            ts = t + POINT_MS * np.arange(len(xy))
            strokes.append([np.round(xy[:, 0], 1).tolist(), np.round(xy[:, 1], 1).tolist(), ts.tolist()])
            own.append(len(strokes) - 1)
            t = float(ts[-1]) + (STROKE_GAP_MS if j < len(digit) - 1 else DIGIT_GAP_MS)
        digit_strokes.append(tuple(own))
    return Number(tuple(d.label for d in digits), strokes, tuple(digit_strokes), tuple(touches),
                  digits[0].writer, float(scale), tuple(digits))


def make_numbers(digits, n: int, rng: np.random.Generator, lengths: tuple[int, int] = (2, 8),
                 touching: float = 0.1, pad: PadSpec = PAD) -> list[Number]:
    """``n`` numbers, each from one writer (chosen at random) of ``digits``, of ``lengths`` digits (inclusive,
    uniform), labels uniform; no drawing is used twice in one number."""
    by_writer = writers_digits(digits)
    writers = sorted(by_writer)
    widths = {w: median_width(by_writer[w]) for w in writers}
    numbers = []
    for _ in range(n):
        writer = writers[rng.integers(len(writers))]
        own = by_writer[writer]
        by_label: dict[int, list[int]] = defaultdict(list)
        for i, d in enumerate(own):
            by_label[d.label].append(i)
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        used: set[int] = set()
        chosen = []
        for label in rng.integers(0, 10, size=length):
            free = [i for i in by_label[int(label)] if i not in used] or by_label[int(label)]
            i = free[rng.integers(len(free))]
            used.add(i)
            chosen.append(own[i])
        numbers.append(make_number(chosen, rng, widths[writer], touching, pad))
    return numbers
