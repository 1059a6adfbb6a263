"""Inkling's models: data, canvas preprocessing, augmentation, and two digit classifiers.

The public interface the service and the checks use:

- :func:`load_mnist` ``(split) -> (uint8[N,28,28], uint8[N])``
- :func:`preprocess_drawing` ``(png) -> float32[28,28]``
- :func:`augment` ``(img28) -> float32[24,28,28]``
- :func:`load_original` ``(name) -> FNN | CNN`` with ``fit``, ``partial_fit``,
  ``predict_proba``, ``to_bytes``/``from_bytes``
"""

from .augment import augment
from .canvas import CANVAS, CanvasSpec
from .data import load_mnist, load_pendigits
from .errors import BlankDrawingError, DrawingError, InvalidImageError, MissingDataError
from .preprocess import preprocess_drawing
from .registry import MODEL_NAMES, load_original, model_class

__all__ = [
    "CANVAS", "CanvasSpec", "MODEL_NAMES", "BlankDrawingError", "DrawingError", "InvalidImageError",
    "MissingDataError", "augment", "load_mnist", "load_original", "load_pendigits", "model_class",
    "preprocess_drawing",
]
