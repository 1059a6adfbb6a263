"""Turn one labelled drawing into 24 training images: 4 sizes x 6 rotations.

A person teaches the online models with a single drawing; 24 plausible
variations of it make one learning step generalise to how *they* write that
digit, rather than memorising one bitmap. Every variant is re-normalised the
way :func:`models.preprocess.preprocess_drawing` normalises a drawing (fit
into a box, centre of mass at the centre), so variants look like inputs the
models will really see, not shifted copies.

Sizes are the digit's longer side in pixels: MNIST's own 20, and 16, 18, 22
for people who draw small or large strokes relative to the digit (0.8-1.1x
the box; an alphabet fitted into a larger box scales them, never beyond the
28-pixel field: 21, 23, 26, 28 for hiragana's 26). Angles
(degrees, counter-clockwise) cover the slant people give digits, +-15 at
most: beyond that a 6 starts to look like a 9-ish blob and a 1 like a 7.

>>> import numpy as np
>>> from models.preprocess import place_by_center_of_mass
>>> digit = place_by_center_of_mass(np.pad(np.ones((20, 4), np.float32), 0))
>>> augment(digit, box=20).shape
(24, 28, 28)
"""

from __future__ import annotations

import numpy as np

from .preprocess import FIELD, fit_and_center

SCALES = (0.8, 0.9, 1.0, 1.1)
ANGLES = (-15.0, -9.0, -3.0, 3.0, 9.0, 15.0)
N_VARIANTS = len(SCALES) * len(ANGLES)


def sizes(box: int) -> tuple[int, ...]:
    """The variants' longer sides for drawings fitted into ``box`` px: :data:`SCALES` of it, at most the field.

    >>> sizes(20), sizes(26)
    ((16, 18, 20, 22), (21, 23, 26, 28))
    """
    return tuple(min(FIELD, round(box * scale)) for scale in SCALES)



def augment(img28: np.ndarray, box: int) -> np.ndarray:
    """float32[24,28,28]: ``img28`` at each of :func:`sizes` ``(box)`` and each angle in :data:`ANGLES`.

    Deterministic: the same input always gives the same 24 images, ordered
    size-major (``out[i * 6 + j]`` is ``sizes(box)[i]``, ``ANGLES[j]``).
    """
    from skimage.transform import rotate  # the learner's package: a web worker imports this module, never calls it

    img = np.asarray(img28, dtype=np.float32)
    if img.shape != (28, 28):
        raise ValueError(f"augment expects a 28x28 image, got {img.shape}")
    out = np.empty((N_VARIANTS, 28, 28), dtype=np.float32)
    for j, angle in enumerate(ANGLES):
        # resize=True keeps the corners a rotation would otherwise cut off.
        rotated = rotate(img, angle, resize=True, order=1, mode="constant", cval=0.0)
        for i, size in enumerate(sizes(box)):
            out[i * len(ANGLES) + j] = fit_and_center(rotated, box=size)
    return out
