"""A drawing's pen strokes, as the page records them: Quick, Draw!'s raw format.

One stroke is ``[[x...], [y...], [t...]]``: canvas pixels (the canvas of ``GET /api/config``, origin
top left) and milliseconds since the drawing's first point, one entry per point. A drawing is a list
of strokes in the order they were drawn. The service keeps them beside the drawing's PNG (they say how
it was written, which a bitmap cannot: a two-stroke 4, a late-added dot) and checks them first:

>>> check_strokes([[[10, 20.5], [30, 40], [0, 16]]])
[[[10.0, 20.5], [30.0, 40.0], [0.0, 16.0]]]
>>> check_strokes([[[10], [30, 40], [0]]])
Traceback (most recent call last):
...
models.strokes.InvalidStrokesError: Invalid strokes: stroke 1 has 1 x, 2 y and 1 t values; each point needs all three.
"""

from __future__ import annotations

import json
import math

from .errors import DrawingError

MAX_STROKES = 64
MAX_POINTS = 4096
MAX_COORDINATE = 100_000.0  # pixels (the canvas is a few hundred); anything beyond is not a pen on it
MAX_DURATION_MS = 3_600_000.0


class InvalidStrokesError(DrawingError):
    """The strokes are not a drawing's strokes; the message says what is wrong."""


def _fail(why: str) -> InvalidStrokesError:
    return InvalidStrokesError(f"Invalid strokes: {why}.")


def _numbers(values, what: str, bound: float) -> list[float]:
    if not isinstance(values, list):
        raise _fail(f"{what} must be a list of numbers")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > bound:
            raise _fail(f"{what} holds {str(v)[:20]!r}; only finite numbers within ±{bound:g} are allowed")
        out.append(float(v))
    return out


def check_strokes(strokes) -> list[list[list[float]]]:
    """The strokes as floats, if they are a drawing's: at most 64 strokes and 4,096 points, every number
    finite, three equally long lists a stroke, and time never going back. Else InvalidStrokesError."""
    if not isinstance(strokes, list) or not strokes:
        raise _fail("send a list of strokes, each [[x...], [y...], [t...]]")
    if len(strokes) > MAX_STROKES:
        raise _fail(f"{len(strokes)} strokes; at most {MAX_STROKES} are accepted")
    checked, points, last_t = [], 0, -math.inf
    for i, stroke in enumerate(strokes, start=1):
        if not isinstance(stroke, list) or len(stroke) != 3:
            raise _fail(f"stroke {i} must be [[x...], [y...], [t...]]")
        xs = _numbers(stroke[0], f"stroke {i}'s x", MAX_COORDINATE)
        ys = _numbers(stroke[1], f"stroke {i}'s y", MAX_COORDINATE)
        ts = _numbers(stroke[2], f"stroke {i}'s t", MAX_DURATION_MS)
        if not (len(xs) == len(ys) == len(ts)) or not xs:
            raise _fail(f"stroke {i} has {len(xs)} x, {len(ys)} y and {len(ts)} t values; each point needs all three")
        points += len(xs)
        if points > MAX_POINTS:
            raise _fail(f"more than {MAX_POINTS} points; send the strokes the page recorded, not more")
        for t in ts:
            if t < last_t:
                raise _fail(f"time goes back in stroke {i} ({t:g} ms after {last_t:g} ms)")
            last_t = t
        checked.append([xs, ys, ts])
    return checked


def strokes_bytes(strokes: list[list[list[float]]]) -> bytes:
    """What is stored: compact JSON, the same bytes for the same strokes."""
    return json.dumps(strokes, separators=(",", ":")).encode("ascii")
