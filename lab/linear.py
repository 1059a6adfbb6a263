"""Softmax regression (784 -> 10): the classic first MNIST model, kept as a baseline row.

>>> rng = np.random.default_rng(0)
>>> X, y = rng.random((64, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
>>> SoftmaxRegression().fit(X, y, epochs=2).predict_proba(X).shape
(64, 10)
"""

from __future__ import annotations

import numpy as np

from models.base import as_batch


class SoftmaxRegression:
    kind = "softmax"

    def __init__(self, lr: float = 0.5, batch_size: int = 100, online_lr: float = 0.05, seed: int = 0,
                 n_classes: int = 10):
        self.lr, self.batch_size, self.online_lr, self.seed = lr, batch_size, online_lr, seed
        self.W = np.zeros((784, n_classes), np.float32)
        self.b = np.zeros(n_classes, np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = as_batch(X).reshape(-1, 784) @ self.W + self.b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def _step(self, X: np.ndarray, y: np.ndarray, lr: float) -> None:
        d = self.predict_proba(X)
        d[np.arange(len(y)), y] -= 1.0
        d /= len(y)
        self.W -= lr * (X.reshape(-1, 784).T @ d)
        self.b -= lr * d.sum(axis=0)

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> "SoftmaxRegression":
        self._step(as_batch(X), np.asarray(y, dtype=np.int64), self.online_lr)
        return self

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 5) -> "SoftmaxRegression":
        X, y = as_batch(X), np.asarray(y, dtype=np.int64)
        rng = np.random.default_rng(self.seed)
        for _ in range(epochs):
            order = rng.permutation(len(X))
            for start in range(0, len(X), self.batch_size):
                idx = order[start : start + self.batch_size]
                self._step(X[idx], y[idx], self.lr)
        return self
