"""Random distortions for offline training (TensorFlow ops, batched).

Different from :mod:`models.augment`, which makes 24 fixed variants of one
drawing for an online step: these are random per image and per epoch, so
the original models see MNIST with the variety people bring to a canvas --
slant, size, position, and stroke width (a canvas pen is uniform and often
bolder or thinner than MNIST's).
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_ROTATION = math.radians(12)
SCALE_RANGE = (0.85, 1.1)
MAX_SHEAR = 0.15
MAX_SHIFT = 2.0
P_THICKER, P_THINNER = 0.2, 0.15


def random_distort(images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor | None = None):
    """Distort a batch ``float32[N,28,28]``; labels pass through (a ``tf.data`` map function)."""
    n = tf.shape(images)[0]
    u = tf.random.uniform
    angle = u([n], -MAX_ROTATION, MAX_ROTATION)
    scale = u([n], *SCALE_RANGE)
    shear = u([n], -MAX_SHEAR, MAX_SHEAR)
    tx, ty = u([n], -MAX_SHIFT, MAX_SHIFT), u([n], -MAX_SHIFT, MAX_SHIFT)
    # The transform maps *output* pixel coordinates to input coordinates:
    # inverse of (rotate, shear, scale) about the centre (14, 14), then shift.
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos, sin + shear * cos
    b0, b1 = -sin, cos - shear * sin
    c = 14.0
    a2 = c - a0 * (c + tx) - a1 * (c + ty)
    b2 = c - b0 * (c + tx) - b1 * (c + ty)
    zeros = tf.zeros([n])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    x = tf.raw_ops.ImageProjectiveTransformV3(
        images=images[..., None], transforms=transforms, output_shape=[28, 28],
        interpolation="BILINEAR", fill_mode="CONSTANT", fill_value=0.0,
    )
    # Stroke width: a soft 3x3 dilation or erosion on a random subset.
    grown = tf.maximum(x, 0.7 * tf.nn.max_pool2d(x, 3, 1, "SAME"))
    shrunk = x * (0.4 + 0.6 * -tf.nn.max_pool2d(-x, 3, 1, "SAME"))
    shrunk /= tf.maximum(tf.reduce_max(shrunk, axis=[1, 2, 3], keepdims=True), 1e-3)  # keep full-strength ink
    pick = u([n, 1, 1, 1])
    x = tf.where(pick < P_THICKER, grown, tf.where(pick < P_THICKER + P_THINNER, shrunk, x))
    return tf.clip_by_value(x[..., 0], 0.0, 1.0), labels
