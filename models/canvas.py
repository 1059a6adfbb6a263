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
