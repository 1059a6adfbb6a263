"""A two-layer fully connected network in pure numpy.

784 inputs -> ``n_hidden`` ReLU units -> 10-way softmax, trained with
mini-batch SGD (momentum for offline training, plain SGD for online steps)
on softmax cross-entropy with an L2 penalty on the weights.

>>> rng = np.random.default_rng(0)
>>> X, y = rng.random((32, 28, 28), dtype=np.float32), rng.integers(0, 10, 32)
>>> model = FNN(n_classes=10, n_hidden=16, seed=0)
>>> before = model.loss(X, y)
>>> model.partial_fit(X, y).loss(X, y) < before
True
>>> FNN.from_bytes(model.to_bytes()).predict_proba(X).shape
(32, 10)
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import numpy as np

from .base import as_batch

_PARAMS = ("W1", "b1", "W2", "b2")


class FNN:
    """Two-layer numpy network with the shared estimator interface."""

    kind = "fnn"

    def __init__(
        self,
        *,
        n_classes: int,
        n_hidden: int = 256,
        lr: float = 0.05,
        momentum: float = 0.9,
        l2: float = 1e-4,
        batch_size: int = 128,
        online_lr: float = 0.02,
        seed: int = 0,
        online_clipnorm: float = 1.0,
    ):
        self.n_hidden, self.lr, self.momentum, self.l2 = n_hidden, lr, momentum, l2
        self.n_classes = n_classes
        self.batch_size, self.online_lr, self.seed = batch_size, online_lr, seed
        self.online_clipnorm = online_clipnorm
        rng = np.random.default_rng(seed)
        # He initialisation keeps ReLU activations at a sane scale from the first step.
        self.W1 = (rng.standard_normal((784, n_hidden)) * np.sqrt(2 / 784)).astype(np.float32)
        self.b1 = np.zeros(n_hidden, np.float32)
        self.W2 = (rng.standard_normal((n_hidden, n_classes)) * np.sqrt(2 / n_hidden)).astype(np.float32)
        self.b2 = np.zeros(n_classes, np.float32)
        self.steps_ = 0

    # --- inference ----------------------------------------------------------

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hidden = np.maximum(X.reshape(len(X), 784) @ self.W1 + self.b1, 0.0)
        logits = hidden @ self.W2 + self.b2
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return hidden, probs

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """float32[N,10] class probabilities for float32[N,28,28] images in [0,1]."""
        return self._forward(as_batch(X))[1].astype(np.float32, copy=False)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy of ``y`` under the model (without the L2 term)."""
        probs = self.predict_proba(X)
        return float(-np.mean(np.log(probs[np.arange(len(probs)), np.asarray(y)] + 1e-12)))

    # --- learning -----------------------------------------------------------

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        flat = X.reshape(len(X), 784)
        hidden, probs = self._forward(X)
        d_logits = probs
        d_logits[np.arange(len(X)), y] -= 1.0
        d_logits /= len(X)
        d_hidden = (d_logits @ self.W2.T) * (hidden > 0)
        return {
            "W1": flat.T @ d_hidden + self.l2 * self.W1,
            "b1": d_hidden.sum(axis=0),
            "W2": hidden.T @ d_logits + self.l2 * self.W2,
            "b2": d_logits.sum(axis=0),
        }

    def partial_fit(self, X: np.ndarray, y: np.ndarray) -> "FNN":
        """Exactly one plain SGD step on this batch at ``online_lr``, gradient norm clipped.

        The clip (as in the CNN) bounds what one mislabelled drawing can undo.
        """
        grads = self._gradients(as_batch(X), np.asarray(y, dtype=np.int64))
        norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        scale = min(1.0, self.online_clipnorm / norm) if self.online_clipnorm and norm > 0 else 1.0
        for name in _PARAMS:
            getattr(self, name)[...] -= (self.online_lr * scale) * grads[name]
        self.steps_ += 1
        return self

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int = 30,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        on_epoch: Callable[[int, "FNN", float], None] | None = None,
        progress: Callable | None = None,
    ) -> "FNN":
        """Train from the current weights: SGD with momentum and a cosine learning-rate schedule.

        ``augment(X, rng)`` returns a distorted copy of the training set each
        epoch; ``on_epoch(epoch, model, train_loss)`` is called after each
        epoch (logging); ``progress`` wraps the batch iterator (e.g. tqdm).
        """
        X, y = as_batch(X), np.asarray(y, dtype=np.int64)
        rng = np.random.default_rng(self.seed)
        velocity = {name: np.zeros_like(getattr(self, name)) for name in _PARAMS}
        n_batches = int(np.ceil(len(X) / self.batch_size))
        total = epochs * n_batches
        for epoch in range(epochs):
            X_epoch = augment(X, rng) if augment else X
            order = rng.permutation(len(X))
            batches = range(n_batches)
            running = 0.0
            for b in progress(batches, desc=f"fnn epoch {epoch + 1}/{epochs}") if progress else batches:
                step = epoch * n_batches + b
                lr = 0.5 * self.lr * (1 + np.cos(np.pi * step / total))
                idx = order[b * self.batch_size : (b + 1) * self.batch_size]
                grads = self._gradients(X_epoch[idx], y[idx])
                for name in _PARAMS:
                    velocity[name] = self.momentum * velocity[name] - lr * grads[name]
                    getattr(self, name)[...] += velocity[name]
                running += self.loss(X_epoch[idx[:32]], y[idx[:32]]) if b % 50 == 0 else 0.0
            if on_epoch:
                on_epoch(epoch, self, running / max(1, (n_batches + 49) // 50))
        return self

    # --- persistence --------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, in a fixed order."""
        return [getattr(self, name).copy() for name in _PARAMS]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        shapes = [np.shape(w) for w in weights]
        if shapes != [getattr(self, name).shape for name in _PARAMS]:
            raise ValueError(f"expected FNN weights of shapes {[getattr(self, n).shape for n in _PARAMS]}, got {shapes}")
        for name, value in zip(_PARAMS, weights, strict=True):
            setattr(self, name, np.array(value, dtype=np.float32))

    def _config(self) -> dict:
        return {
            "n_hidden": self.n_hidden, "lr": self.lr, "momentum": self.momentum, "l2": self.l2,
            "batch_size": self.batch_size, "online_lr": self.online_lr, "seed": self.seed,
            "online_clipnorm": self.online_clipnorm,
            **({"n_classes": self.n_classes} if self.n_classes != 10 else {}),  # digits' archives stay as they were
        }

    def to_bytes(self) -> bytes:
        """Weights and hyper-parameters as an ``.npz`` archive (no pickle)."""
        out = io.BytesIO()
        np.savez(out, config=np.array(json.dumps(self._config())), steps=np.int64(self.steps_),
                 **{name: getattr(self, name) for name in _PARAMS})
        return out.getvalue()

    @staticmethod
    def read_weights(data: bytes) -> list[np.ndarray]:
        """The weights in a :meth:`to_bytes` archive, in :meth:`get_weights` order."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return [archive[name].astype(np.float32) for name in _PARAMS]

    @classmethod
    def from_bytes(cls, data: bytes) -> "FNN":
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            config = json.loads(str(archive["config"]))
            config.setdefault("n_classes", len(archive["b2"]))  # as many classes as the archive's output layer
            model = cls(**config)
            for name in _PARAMS:
                setattr(model, name, archive[name].astype(np.float32))
            model.steps_ = int(archive["steps"])
        return model
