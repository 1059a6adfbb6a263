"""Canvas drawings become MNIST-like 28x28 images; bad images get clear errors."""

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lab.data import load_mnist
from models import BlankDrawingError, InvalidImageError, load_original, preprocess_drawing
from models.preprocess import BOX, MAX_SIDE


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array, mode=mode).save(out, format="PNG")
    return out.getvalue()


def canvas_with_box(top: int, left: int, h: int, w: int, size: int = 280) -> np.ndarray:
    """Black ink rectangle on a white canvas."""
    img = np.full((size, size), 255, np.uint8)
    img[top : top + h, left : left + w] = 0
    return img


def blown_up_mnist(index: int) -> tuple[np.ndarray, bytes]:
    """MNIST test digit ``index``, 10x larger, inverted to dark ink on white, as a PNG."""
    images, _ = load_mnist("test")
    big = Image.fromarray(images[index]).resize((280, 280), Image.Resampling.BILINEAR)
    return images[index].astype(np.float32) / 255, png_bytes(255 - np.asarray(big))


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(img.shape)
    return float((ys * img).sum() / img.sum()), float((xs * img).sum() / img.sum())


def extent(img: np.ndarray, threshold: float = 0.1) -> tuple[int, int]:
    rows, cols = np.nonzero(img > threshold)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 7, 11, 18])
def test_blown_up_mnist_digit_comes_back(index):
    original, png = blown_up_mnist(index)
    img = preprocess_drawing(png, BOX)
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert np.corrcoef(img.ravel(), original.ravel())[0, 1] > 0.9
    assert np.abs(img - original).mean() < 0.08


def test_blown_up_digits_are_classified_the_same():
    cnn = load_original("cnn", "digits")
    indices = list(range(40))
    originals = np.stack([blown_up_mnist(i)[0] for i in indices])
    drawn = np.stack([preprocess_drawing(blown_up_mnist(i)[1], BOX) for i in indices])
    agree = cnn.predict_proba(originals).argmax(1) == cnn.predict_proba(drawn).argmax(1)
    assert agree.mean() >= 0.975


@pytest.mark.parametrize("h,w", [(200, 50), (50, 200), (120, 240)])
def test_aspect_ratio_is_kept(h, w):
    img = preprocess_drawing(png_bytes(canvas_with_box(20, 20, h, w)), BOX)
    eh, ew = extent(img)
    assert max(eh, ew) == 20
    assert abs(eh / ew - h / w) < 0.25 * (h / w)


def test_off_centre_drawings_are_centred():
    corner = preprocess_drawing(png_bytes(canvas_with_box(5, 5, 120, 40)), BOX)
    middle = preprocess_drawing(png_bytes(canvas_with_box(80, 120, 120, 40)), BOX)
    np.testing.assert_allclose(corner, middle, atol=1e-5)
    cy, cx = centre_of_mass(corner)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_polarity_and_transparency_give_the_same_image():
    dark_on_white = canvas_with_box(40, 100, 150, 60)
    expected = preprocess_drawing(png_bytes(dark_on_white), BOX)
    white_on_black = preprocess_drawing(png_bytes(255 - dark_on_white), BOX)
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255 - dark_on_white  # ink opaque, background transparent
    transparent = preprocess_drawing(png_bytes(rgba, "RGBA"), BOX)
    rgb = preprocess_drawing(png_bytes(np.stack([dark_on_white] * 3, axis=-1)), BOX)
    for other in (white_on_black, transparent, rgb):
        np.testing.assert_allclose(other, expected, atol=1e-5)


def test_data_url_and_plain_base64_are_accepted():
    png = png_bytes(canvas_with_box(40, 100, 150, 60))
    b64 = base64.b64encode(png).decode()
    np.testing.assert_array_equal(preprocess_drawing("data:image/png;base64," + b64, BOX), preprocess_drawing(b64, BOX))


def test_any_size_up_to_the_limit():
    small = np.full((30, 20), 255, np.uint8)
    small[5:25, 8:12] = 0
    assert extent(preprocess_drawing(png_bytes(small), BOX))[0] == 20
    big = np.full((MAX_SIDE, 300), 255, np.uint8)
    big[100:1900, 100:200] = 0
    assert extent(preprocess_drawing(png_bytes(big), BOX))[0] == 20


@pytest.mark.parametrize("image", [np.full((280, 280), 255, np.uint8), np.zeros((280, 280), np.uint8)])
def test_blank_canvas(image):
    with pytest.raises(BlankDrawingError, match="Nothing drawn"):
        preprocess_drawing(png_bytes(image), BOX)


def test_transparent_blank_canvas():
    with pytest.raises(BlankDrawingError):
        preprocess_drawing(png_bytes(np.zeros((280, 280, 4), np.uint8), "RGBA"), BOX)


def test_too_large():
    with pytest.raises(InvalidImageError, match="at most 2048x2048"):
        preprocess_drawing(png_bytes(np.zeros((10, MAX_SIDE + 1), np.uint8)), BOX)


def test_decompression_bomb_declared_size():
    """A tiny file whose header claims 100000x100000 pixels is refused before decoding."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
    with pytest.raises(InvalidImageError):
        preprocess_drawing(bomb, BOX)


@pytest.mark.parametrize("payload", [
    b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "data:image/png;base64,@@@",
    "data:text/plain,hello", 12345,
])
def test_not_an_image(payload):
    with pytest.raises(InvalidImageError):
        preprocess_drawing(payload, BOX)


def test_truncated_png():
    png = png_bytes(canvas_with_box(40, 100, 150, 60))
    with pytest.raises(InvalidImageError):
        preprocess_drawing(png[: len(png) // 2], BOX)


def test_jpeg_is_refused():
    out = io.BytesIO()
    Image.fromarray(canvas_with_box(40, 100, 150, 60)).save(out, format="JPEG")
    with pytest.raises(InvalidImageError):
        preprocess_drawing(out.getvalue(), BOX)


def test_the_border_median_is_numpys_median():
    """The background level every request computes, without np.median: the same number, odd or even, any mix."""
    from models.preprocess import LEVELS, _median_level

    rng = np.random.default_rng(0)
    for n in [1, 2, 3, 1116, 1120, *rng.integers(1, 1200, 200)]:
        levels = rng.integers(0, 256, n).astype(np.uint8)
        if rng.random() < 0.5:  # mostly one colour, as a canvas border is
            levels[rng.random(n) < 0.9] = rng.integers(0, 256)
        assert _median_level(levels) == np.float32(np.median(LEVELS[levels])), n
