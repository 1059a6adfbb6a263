"""Inkling's models as the service runs them: canvas preprocessing, augmentation, the classifiers, the
ensemble and writers' memories, and the alphabets they are made for.

Web workers serve from here and the learner learns with it; the training
laboratory (data sets, synthetic writers, renderers, model cards) is :mod:`lab`,
which this package never imports. The public interface:

- :func:`preprocess_drawing` ``(png) -> float32[28,28]``
- :func:`augment` ``(img28) -> float32[24,28,28]``
- :func:`load_original` ``(name, alphabet) -> FNN | CNN`` with ``fit``, ``partial_fit``,
  ``predict_proba``, ``to_bytes``/``from_bytes``
"""

from .augment import augment
from .canvas import CANVAS, CanvasSpec
from .errors import BlankDrawingError, DrawingError, InvalidImageError
from .preprocess import preprocess_drawing
from .registry import MODEL_NAMES, load_original, model_class

__all__ = [
    "CANVAS", "CanvasSpec", "MODEL_NAMES", "BlankDrawingError", "DrawingError", "InvalidImageError", "augment",
    "load_original", "model_class", "preprocess_drawing",
]
