"""The drawing canvas, described once.

The web page and the stroke renderer (:mod:`lab.render`) must produce the
same pixels for the same strokes, otherwise accuracy measured on rendered
pen data says nothing about the page. Both read this one spec: the service
serves it at ``GET /api/config`` and the page sizes its canvas from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CanvasSpec:
    """Pixel size of the square canvas and the pen it is drawn with.

    ``line_width`` is in canvas pixels. The page keeps the canvas bitmap at
    ``size`` x ``size`` whatever its CSS size, so the stroke is the same
    fraction of the canvas on a phone and on a desktop.

    >>> CANVAS.size, CANVAS.line_width
    (280, 24)
    """

    size: int = 280
    line_width: int = 24
    ink: str = "#111111"
    background: str = "#ffffff"
    line_cap: str = "round"
    line_join: str = "round"

    def as_dict(self) -> dict:
        return asdict(self)


CANVAS = CanvasSpec()


# The number pad is this many canvases wide: room for about five digits at the size people draw one on the
# single canvas, and eight when written a little smaller (docs/numbers.md measures both).
PAD_WIDTH_IN_CANVASES = 3
MAX_CHARACTERS = 12  # a reading or a saved number holds at most this many characters


@dataclass(frozen=True)
class PadSpec:
    """The wider pad of the Number mode: the single canvas's height and pen, ``PAD_WIDTH_IN_CANVASES`` times
    its width. Same height and same pen, so a digit written on it at the size a person draws one on the
    single canvas is the same pixels, and reads the same (:mod:`models.segment`). The page keeps the pad's
    bitmap at ``width`` x ``height`` whatever its CSS size; strokes are in these pixels.

    >>> pad = PadSpec.for_canvas(CANVAS)
    >>> pad.width, pad.height, pad.line_width
    (840, 280, 24)
    """

    width: int = 840
    height: int = 280
    line_width: int = 24
    ink: str = "#111111"
    background: str = "#ffffff"
    line_cap: str = "round"
    line_join: str = "round"
    max_characters: int = MAX_CHARACTERS

    @classmethod
    def for_canvas(cls, canvas: CanvasSpec) -> "PadSpec":
        return cls(width=PAD_WIDTH_IN_CANVASES * canvas.size, height=canvas.size, line_width=canvas.line_width,
                   ink=canvas.ink, background=canvas.background, line_cap=canvas.line_cap,
                   line_join=canvas.line_join)

    def as_dict(self) -> dict:
        return asdict(self)


PAD = PadSpec.for_canvas(CANVAS)
