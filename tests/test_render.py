"""The stroke renderer draws what the page's canvas draws."""

import io

import numpy as np
from PIL import Image

from lab.render import render_strokes
from models import CANVAS


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_canvas_size_and_line_width():
    img = pixels(render_strokes([np.array([[40.0, 140.0], [240.0, 140.0]])]))
    assert img.shape == (CANVAS.size, CANVAS.size, 4)
    dark = img[..., 0] < 128
    column = dark[:, 140]
    assert abs(column.sum() - CANVAS.line_width) <= 1  # the stroke is line_width thick
    assert img[0, 0, :3].tolist() == [255, 255, 255]  # white background


def test_round_caps_and_antialiasing():
    img = pixels(render_strokes([np.array([[140.0, 140.0]])]))[..., 0]
    dark = img < 128
    ys, xs = np.nonzero(dark)
    assert abs((ys.max() - ys.min() + 1) - CANVAS.line_width) <= 1  # a tap is a dot of the pen's width
    assert abs((xs.max() - xs.min() + 1) - CANVAS.line_width) <= 1
    assert dark.sum() < 0.85 * CANVAS.line_width**2  # round, not square
    assert ((img > 20) & (img < 235)).sum() > 10  # anti-aliased edge, not a hard one


def test_transparent_background():
    img = pixels(render_strokes([np.array([[40.0, 40.0], [200.0, 200.0]])], transparent=True))
    assert img[0, 0, 3] == 0 and img[120, 120, 3] == 255


def test_source_size_scales_points():
    small = pixels(render_strokes([np.array([[250.0, 100.0], [250.0, 400.0]])], source_size=500))
    ys = np.nonzero(small[..., 0] < 128)[0]
    assert abs(ys.min() - (100 * CANVAS.size / 500 - CANVAS.line_width / 2)) <= 2
