"""Render pen strokes to the PNG the web page would send.

The page draws with the Canvas 2D API: round caps and joins, ``CANVAS.line_width``
pixels wide, anti-aliased, dark ink on white. We reproduce that by drawing at
4x resolution with round joins and box-filtering down, which is how a
browser's coverage-based anti-aliasing looks to within a grey level or two.

>>> png = render_strokes([np.array([[40, 40], [240, 240]])])
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from models.canvas import CANVAS, PAD, CanvasSpec, PadSpec

_SUPERSAMPLE = 4


def render_strokes(
    strokes: Sequence[np.ndarray],
    canvas: CanvasSpec = CANVAS,
    *,
    source_size: float | None = None,
    transparent: bool = False,
) -> bytes:
    """Draw ``strokes`` (arrays of (x, y) points) and return PNG bytes.

    ``source_size``: the side of the square the points were drawn in (500 for
    pendigits); points are scaled from it to the canvas. ``None`` means the
    points are already canvas pixels. ``transparent`` leaves the background
    transparent (RGBA), as a page without a background fill would send.
    """
    scale = _SUPERSAMPLE * (canvas.size / source_size if source_size else 1.0)
    return _render(strokes, (canvas.size, canvas.size), canvas.line_width, canvas.ink, canvas.background, scale,
                   transparent)


def render_pad(strokes: Sequence, pad: PadSpec = PAD) -> bytes:
    """Draw strokes in the API's format (``[[x...], [y...], [t...]]`` each, pad pixels) on the number pad, as
    the page draws them: the same pen as :func:`render_strokes`."""
    arrays = [np.column_stack([s[0], s[1]]) for s in strokes]
    return _render(arrays, (pad.width, pad.height), pad.line_width, pad.ink, pad.background, float(_SUPERSAMPLE),
                   False)


def _render(strokes, size: tuple[int, int], line_width: int, ink_colour: str, background: str, scale: float,
            transparent: bool) -> bytes:
    width = line_width * _SUPERSAMPLE
    ink = Image.new("L", (size[0] * _SUPERSAMPLE, size[1] * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(ink)
    radius = width / 2
    for stroke in strokes:
        points = [(float(x) * scale, float(y) * scale) for x, y in np.asarray(stroke, dtype=float)]
        if len(points) > 1:
            draw.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]) if len(points) > 1 else points:  # round caps
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    coverage = ink.resize(size, Image.Resampling.BOX)
    ink_rgb = Image.new("RGB", coverage.size, ink_colour)
    if transparent:
        image = ink_rgb.convert("RGBA")
        image.putalpha(coverage)
    else:
        image = Image.new("RGB", coverage.size, background)
        image.paste(ink_rgb, mask=coverage)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# Pendigits writers drew in small tablet boxes (median digit 156 of 500 units
# tall); on a 280 px canvas people draw about 60% of its height. Mapping a
# 260-unit square to the canvas gives that median while keeping each writer's
# own size variation (their 95th percentile, 243 units, still fits).
PENDIGITS_VIEW = 260.0


def render_pendigit(digit, canvas: CanvasSpec = CANVAS, **kwargs) -> bytes:
    """Render a :class:`lab.data.PenDigit` centred on the canvas, as a person would draw it there."""
    points = np.concatenate(digit.strokes)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    shift = PENDIGITS_VIEW / 2 - centre
    return render_strokes([s + shift for s in digit.strokes], canvas, source_size=PENDIGITS_VIEW, **kwargs)
