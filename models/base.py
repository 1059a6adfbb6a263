"""The interfaces the digit classifiers share, so the service treats them alike."""

from __future__ import annotations

import io
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    """What serving needs: probabilities over float32[N,28,28] images in [0,1], and weights in and out.

    A web worker holds predictors only (:func:`models.registry.model_class`
    with ``serving``); they read the weight archives the learner's estimators write.
    """

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    def get_weights(self) -> list[np.ndarray]: ...

    def set_weights(self, weights: list[np.ndarray]) -> None: ...

    def to_bytes(self) -> bytes: ...

    @staticmethod
    def read_weights(data: bytes) -> list[np.ndarray]: ...

    @classmethod
    def from_bytes(cls, data: bytes) -> "Predictor": ...


@runtime_checkable
class DigitClassifier(Predictor, Protocol):
    """scikit-learn-style estimator: a :class:`Predictor` that also learns.

    State lives in attributes; ``partial_fit`` is the online-learning path
    and takes exactly one optimisation step at the model's ``online_lr``.
    """

    online_lr: float

    def fit(self, X: np.ndarray, y: np.ndarray, **kwargs) -> "DigitClassifier": ...

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> "DigitClassifier": ...

    def loss(self, X: np.ndarray, y: np.ndarray) -> float: ...


def read_layer_weights(data: bytes) -> list[np.ndarray]:
    """The arrays ``w00``, ``w01``, ... of a CNN weight archive, in layer order (no network needed)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return [archive[k] for k in sorted(k for k in archive.files if k.startswith("w"))]


def as_batch(X: np.ndarray) -> np.ndarray:
    """float32[N,28,28] from one image or a batch; rejects anything else loudly."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1:] != (28, 28):
        raise ValueError(f"expected images of shape (N, 28, 28), got {X.shape}")
    return X


def accuracy(model: Predictor, X: np.ndarray, y: np.ndarray, batch: int = 100) -> float:
    """Share of ``X`` that ``model`` labels ``y`` (in batches, so a web worker's peak memory stays small).

    >>> class Always3:
    ...     def predict_proba(self, X): return np.eye(10, dtype=np.float32)[[3] * len(X)]
    >>> accuracy(Always3(), np.zeros((4, 28, 28), np.float32), np.array([3, 3, 1, 3]))
    0.75
    """
    right = sum(int(np.sum(model.predict_proba(X[i:i + batch]).argmax(axis=1) == y[i:i + batch]))
                for i in range(0, len(X), batch))
    return right / len(X)
