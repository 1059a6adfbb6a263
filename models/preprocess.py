"""Turn a canvas drawing into the 28x28 image MNIST models expect.

MNIST digits were made by fitting each digit's longer side into 20 px with
anti-aliasing, keeping its aspect ratio, and placing it in a 28x28 field
with its centre of mass at the centre. A drawing from a canvas only looks
like MNIST to a model after the same steps, so :func:`preprocess_drawing`
does exactly those, after working out which pixels are ink.

>>> from PIL import ImageDraw
>>> canvas = Image.new("L", (280, 280), 255)  # a "1" drawn on the page's canvas
>>> ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=0, width=24)
>>> img = preprocess_drawing(canvas, BOX)
>>> img.shape, img.dtype, float(img.max()) > 0.9
((28, 28), dtype('float32'), True)
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

import numpy as np
from PIL import Image

from .errors import BlankDrawingError, InvalidImageError

MAX_SIDE = 2048
# The page sends its 280 px canvas (78,400 pixels); a high-density screen might send 2-3x that a side.
# Past a million pixels an image costs a worker tens of MB and tenths of a second to decode, for a
# 28x28 result: refused from its header, before decoding.
MAX_PIXELS = 1024 * 1024
# Larger images are box-shrunk in 8 bits right after decoding (Image.reduce), to at most this a side:
# twice the canvas, still 28x the field the digit ends up in.
SHRINK_ABOVE = 560
# A drawing is stored as at most this many bytes: a canvas drawing at twice the canvas is ~10-20 kB.
MAX_STORED_BYTES = 64 * 1024
FIELD = 28
BOX = 20
# Ink below this (0..1) is anti-aliasing haze or sensor noise, not part of the digit's extent.
INK_THRESHOLD = 0.1
# Less total ink than this (in canvas pixels at full strength) is a stray tap, not a drawing.
MIN_INK_PIXELS = 4.0

_BLANK_MESSAGE = "Nothing drawn: the canvas is empty. Draw something and try again."


def decode_image_payload(payload: bytes | str) -> bytes:
    """PNG bytes from raw bytes, a ``data:image/png;base64,...`` URL or plain base64."""
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, str):
        raise InvalidImageError("The image must be a PNG as a data URL or base64 text.")
    text = payload.strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if not header.endswith(";base64"):
            raise InvalidImageError("The data URL must be base64-encoded (data:image/png;base64,...).")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError("The image is not valid base64: send the canvas as a PNG data URL.") from None


def open_png(png: bytes | str) -> Image.Image:
    """The decoded image of a PNG (bytes, data URL or base64), checked: at most 2048 px a side, no bombs."""
    data = decode_image_payload(png)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG"])
            width, height = image.size
            if width > MAX_SIDE or height > MAX_SIDE:
                raise InvalidImageError(
                    f"The image is {width}x{height} px; at most {MAX_SIDE}x{MAX_SIDE} is accepted."
                )
            if width < 1 or height < 1:
                raise InvalidImageError("The image has no pixels.")
            if width * height > MAX_PIXELS:
                raise InvalidImageError(
                    f"The image is {width}x{height} px ({width * height:,} pixels); at most {MAX_PIXELS:,} "
                    f"(1024x1024) are read. Send the canvas at its own size (the page sends 280x280)."
                )
            image.load()
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImageError("The image declares too many pixels to decode safely.") from None
    except Exception:  # Pillow raises many types for broken files; all mean the same to the sender.
        raise InvalidImageError("The image could not be read: send a complete PNG file.") from None
    return image


def _opened(png: bytes | str | Image.Image) -> Image.Image:
    return png if isinstance(png, Image.Image) else open_png(png)


def clean_png(png: bytes | str | Image.Image) -> bytes:
    """The drawing's pixels as a fresh PNG: none of the sender's text, ICC, EXIF or other chunks, and
    nothing after its end, so what is stored and served back is an image and only an image.

    >>> from PIL import ImageDraw
    >>> canvas = Image.new("L", (280, 280), 255)
    >>> ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=0, width=24)
    >>> png = io.BytesIO(); canvas.save(png, format="PNG"); png = png.getvalue()
    >>> clean = clean_png(png + b"<script>alert(1)</script>")
    >>> b"script" in clean, clean[-8:-4]
    (False, b'IEND')
    """
    image = _opened(png)
    if image.mode in ("P", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")  # the transparency lived in a chunk that is not copied
    else:
        image = image.copy()
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def load_ink(png: bytes | str | Image.Image, shrink_above: int = SHRINK_ABOVE) -> np.ndarray:
    """Ink coverage of a PNG as float32[H,W] in [0,1]: 1 is full ink, 0 is background; an image larger than
    ``shrink_above`` a side box-shrunk by a whole factor first (the number pad passes its own width).

    Handles L, LA, RGB, RGBA and palette images; a transparent background
    (ink is whatever is opaque) and either polarity (the background is the
    colour of the border).
    """
    image = _opened(png)
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    elif image.mode.startswith("I"):  # 16-bit gray ("I;16", or "I"): Pillow's "L" would clip it to white
        image = Image.fromarray((np.asarray(image).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8), "L")
    elif image.mode not in ("L", "LA", "RGB", "RGBA"):  # 1-bit, CMYK...
        image = image.convert("RGBA" if "A" in image.getbands() else "L")
    if max(image.size) > shrink_above:
        image = image.reduce(-(-max(image.size) // shrink_above))
    alpha = np.asarray(image.getchannel("A")) if image.mode in ("RGBA", "LA") else None
    if alpha is not None and _median_level(_border(alpha)) < 0.5:
        # Transparent background: whatever was painted is ink, whatever its colour.
        return LEVELS.take(alpha)
    gray = np.asarray(image.convert("L"))
    if alpha is not None and alpha.min() < 255:
        a = LEVELS[alpha]
        return _ink(LEVELS[gray] * a + (1.0 - a))  # flattened onto white, as a browser would show it
    # Opaque (a canvas always is): the same arithmetic on the 256 gray levels, then looked up
    # per pixel, instead of done per pixel: the same numbers in a third of the time.
    return _ink(LEVELS, background=float(_median_level(_border(gray)))).take(gray)


LEVELS = np.arange(256, dtype=np.float32) / np.float32(255.0)  # an 8-bit level as a float in [0,1]
# (`LEVELS.take(levels)` is `LEVELS[levels]` in half the time: 60 instead of 120 us for a canvas.)


def _median_level(levels: np.ndarray) -> np.float32:
    """``np.median(LEVELS[levels])`` for 8-bit ``levels``, in a third of its time (it is on every request).

    >>> border = np.array([255, 255, 0, 255, 7, 255], np.uint8)
    >>> bool(_median_level(border) == np.median(LEVELS[border])), float(_median_level(border))
    (True, 1.0)
    """
    at_or_below = np.cumsum(np.bincount(levels, minlength=256))  # how many levels are <= each of the 256
    n = len(levels)
    lower, upper = np.searchsorted(at_or_below, [(n - 1) // 2, n // 2], side="right")
    return (LEVELS[lower] + LEVELS[upper]) / 2


def _ink(gray: np.ndarray, background: float | None = None) -> np.ndarray:
    """Ink in [0,1] from gray levels in [0,1]: how far each is from the background (the border's median)."""
    if background is None:
        background = float(np.median(_border(gray)))
    if background > 0.5:  # dark ink on a light background: flip to MNIST's white-on-black
        gray, background = 1.0 - gray, 1.0 - background
    return np.clip((gray - background) / max(1.0 - background, 1e-3), 0.0, 1.0)


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def fit_and_center(ink: np.ndarray, box: int) -> np.ndarray:
    """Crop ``ink`` to its extent, fit the longer side into ``box`` px, centre by mass in 28x28."""
    mask = ink > INK_THRESHOLD
    if not mask.any():
        raise BlankDrawingError(_BLANK_MESSAGE)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    # Box filtering averages every source pixel when shrinking (true anti-aliasing);
    # bilinear is the gentler choice when a tiny drawing has to grow.
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), method))
    small = np.clip(small, 0.0, 1.0)
    return place_by_center_of_mass(small)


def place_by_center_of_mass(small: np.ndarray) -> np.ndarray:
    """Paste ``small`` (at most 28x28) into a 28x28 field so its centre of mass is at the centre.

    The shift is whole pixels, as MNIST's was (a sub-pixel shift would blur
    the strokes), and clamped so no ink falls off the field.
    """
    h, w = small.shape
    mass = small.sum()
    cy = (small.sum(axis=1) @ np.arange(h)) / mass
    cx = (small.sum(axis=0) @ np.arange(w)) / mass
    centre = FIELD / 2  # MNIST's centres of mass sit at pixel (14, 14), measured: 13.99, 14.01
    top = int(np.clip(round(centre - cy), 0, FIELD - h))
    left = int(np.clip(round(centre - cx), 0, FIELD - w))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + h, left : left + w] = small
    return field


def preprocess_drawing(png: bytes | str | Image.Image, box: int) -> np.ndarray:
    """A canvas drawing (PNG bytes or data URL) as float32[28,28] in [0,1], white ink on black, its longer
    side fitted into ``box`` px (MNIST's 20 by default; an alphabet may choose its own, see
    :attr:`models.alphabets.Alphabet.box`).

    Raises :class:`InvalidImageError` for anything that is not a PNG up to
    2048x2048, and :class:`BlankDrawingError` when nothing is drawn.
    """
    ink = load_ink(png)
    if ink.sum() < MIN_INK_PIXELS:
        raise BlankDrawingError(_BLANK_MESSAGE)
    return fit_and_center(ink, box)


def read_drawing(png: bytes | str, box: int, max_side: int = SHRINK_ABOVE,
                 max_bytes: int = MAX_STORED_BYTES) -> tuple[np.ndarray, bytes]:
    """A labelled drawing from one decode: what the models see (:func:`preprocess_drawing`) and what is
    stored (:func:`ink_png`: dark ink on white, 8-bit gray, at most ``max_side`` a side and ``max_bytes``)."""
    ink = load_ink(open_png(png))
    if ink.sum() < MIN_INK_PIXELS:
        raise BlankDrawingError(_BLANK_MESSAGE)
    return fit_and_center(ink, box), ink_png(ink, max_side, max_bytes)


def ink_png(ink: np.ndarray, max_side: int = SHRINK_ABOVE, max_bytes: int = MAX_STORED_BYTES) -> bytes:
    """The ink as a drawing is stored: an 8-bit gray PNG, dark ink on white (whatever the sender's colours,
    polarity or transparency), at most ``max_side`` px a side, and at most ``max_bytes``: an image that does not
    compress like a drawing is halved until it does. Only pixels: nothing the sender wrote besides them.

    A canvas drawing (dark on white, opaque) comes back with its own gray levels:

    >>> from PIL import ImageDraw
    >>> canvas = Image.new("L", (280, 280), 255)
    >>> ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=17, width=24)
    >>> stored = Image.open(io.BytesIO(ink_png(load_ink(canvas))))
    >>> stored.mode, stored.size, np.array_equal(np.asarray(stored), np.asarray(canvas))
    ('L', (280, 280), True)
    >>> noise = np.random.default_rng(0).random((560, 560), dtype=np.float32)
    >>> len(ink_png(noise, max_bytes=64_000)) <= 64_000, Image.open(io.BytesIO(ink_png(noise, max_bytes=64_000))).size
    (True, (140, 140))
    """
    image = Image.fromarray((255 - np.rint(ink * 255)).clip(0, 255).astype(np.uint8), "L")
    if max(image.size) > max_side:
        image = image.reduce(-(-max(image.size) // max_side))
    while True:
        out = io.BytesIO()
        image.save(out, format="PNG")
        if out.tell() <= max_bytes or max(image.size) <= FIELD:
            return out.getvalue()
        image = image.reduce(2)
