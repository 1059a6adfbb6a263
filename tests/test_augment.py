"""24 variants per drawing: the right shape, deterministic, each re-centred like a drawing."""

import numpy as np

from lab.data import load_mnist
from models import augment
from models.augment import ANGLES, sizes
from models.preprocess import BOX


def mnist_digit(i: int) -> np.ndarray:
    return load_mnist("test")[0][i].astype(np.float32) / 255


def test_shape_dtype_and_range():
    out = augment(mnist_digit(0), BOX)
    assert out.shape == (24, 28, 28) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_deterministic():
    np.testing.assert_array_equal(augment(mnist_digit(3), BOX), augment(mnist_digit(3), BOX))


def test_every_variant_is_centred_and_sized():
    out = augment(mnist_digit(1), BOX)
    ys, xs = np.indices((28, 28))
    for k, img in enumerate(out):
        cy, cx = (ys * img).sum() / img.sum(), (xs * img).sum() / img.sum()
        assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6, k
        rows, cols = np.nonzero(img > 0.1)
        longer = max(np.ptp(rows) + 1, np.ptp(cols) + 1)
        assert abs(longer - sizes(BOX)[k // len(ANGLES)]) <= 1, k


def test_variants_differ_and_rotate_the_right_way():
    one = np.zeros((28, 28), np.float32)
    one[4:24, 13:15] = 1.0  # an upright stroke
    out = augment(one, BOX)
    assert len({v.tobytes() for v in out}) == 24
    ys, xs = np.nonzero(out[2 * 6 + 5] > 0.5)  # size 20, +15 degrees (counter-clockwise)
    slope = np.polyfit(ys, xs, 1)[0]
    assert slope > 0.15  # the top leans left, the bottom right: x grows with y
