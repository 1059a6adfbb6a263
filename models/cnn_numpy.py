"""The CNN's forward pass in numpy: how a web worker serves it, without TensorFlow.

A web worker never learns, so it needs the CNN's inference only: the network
of :mod:`models.cnn` (5x5 'same' convolutions with ReLU, 2x2 max-pools, a
dense layer, dropout off), computed from the same ``.npz`` archive every
version of the Keras model is published as. So any version the learner
publishes is servable at once, with no conversion step.

Each convolution is one matrix product over image patches (im2col, as cuDNN
and oneDNN lower small convolutions): ``conv2`` is 196 patches of 800 numbers
times 64 filters a drawing, 10 of the network's 11 million multiply-adds.
Why numpy and not an inference runtime, measured on one drawing on this
project's 2-core machine (docs/performance.md, "Serving without TensorFlow"): Keras
0.69 ms, ONNX Runtime 0.26 ms, this 0.40 ms; but ONNX Runtime costs a worker
~30 MB to import and ~10 MB a session, a third of a 150 MB budget, for 0.3 ms
of a ~2.5 ms request. The probabilities equal Keras' within 2e-6.

>>> rng = np.random.default_rng(0)
>>> X = rng.random((3, 28, 28), dtype=np.float32)
>>> model = NumpyCNN.from_bytes(NumpyCNN(random_weights(n_classes=10, seed=0)).to_bytes())
>>> p = model.predict_proba(X)
>>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
((3, 10), True)
>>> {name: m.shape for name, m in model.activations(X[:1]).items()}
{'conv1': (1, 28, 28, 32), 'pool1': (1, 14, 14, 32), 'conv2': (1, 14, 14, 64), 'pool2': (1, 7, 7, 64)}
"""

from __future__ import annotations

import io
import json
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import as_batch, read_layer_weights
from .prototypes import normalise

FEATURE_LAYERS = ("conv1", "pool1", "conv2", "pool2")


class Forward(NamedTuple):
    probs: np.ndarray  # float32[N, classes]
    embedding: np.ndarray  # float32[N, 128], unit rows
    logits: np.ndarray  # float32[N, classes]
    pool2: np.ndarray  # float32[N, 7, 7, 64]
# The Keras network's weights in ``get_weights`` order, but for the logits (then (128, classes), (classes,)).
HIDDEN_SHAPES = ((5, 5, 1, 32), (32,), (5, 5, 32, 64), (64,), (3136, 128), (128,))


def shapes(n_classes: int) -> tuple:
    return (*HIDDEN_SHAPES, (128, n_classes), (n_classes,))


def conv2d_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ReLU of a stride-1 'same' convolution: float32[N,H,W,C] and a Keras kernel [k,k,C,F] -> [N,H,W,F]."""
    n, h, w, c = x.shape
    k = kernel.shape[0]
    pad = k // 2
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad, c), np.float32)
    padded[:, pad:pad + h, pad:pad + w] = x
    sn, sy, sx, sc = padded.strides  # a [N,H,W,k,k,C] view of every window, in the kernel's (dy, dx, c) order
    windows = as_strided(padded, (n, h, w, k, k, c), (sn, sy, sx, sy, sx, sc), writeable=False)
    patches = windows.reshape(n * h * w, k * k * c)  # the one copy
    out = patches @ kernel.reshape(k * k * c, -1)
    out += bias
    return np.maximum(out, 0, out=out).reshape(n, h, w, -1)


def max_pool2(x: np.ndarray) -> np.ndarray:
    """2x2 max-pool with stride 2: [N,H,W,C] -> [N,H/2,W/2,C]."""
    return np.maximum(np.maximum(x[:, 0::2, 0::2], x[:, 0::2, 1::2]), np.maximum(x[:, 1::2, 0::2], x[:, 1::2, 1::2]))


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def random_weights(n_classes: int, seed: int = 0) -> list[np.ndarray]:
    """He-scaled random weights of the right shapes (tests and doctests; the service loads trained ones)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * np.sqrt(2 / np.prod(shape[:-1]))).astype(np.float32) if len(shape) > 1
            else np.zeros(shape, np.float32) for shape in shapes(n_classes)]


class NumpyCNN:
    """Inference twin of :class:`models.cnn.CNN`: the same archives in and out, predictions and feature maps.

    Learning stays with the Keras model in the learner; this is the predicting
    half of the estimator interface (:class:`models.base.Predictor`).
    """

    kind = "cnn"

    def __init__(self, weights: list[np.ndarray], config: dict | None = None, steps: int = 0):
        self.config, self.steps_ = dict(config or {}), steps
        self.set_weights(weights)

    def set_weights(self, weights: list[np.ndarray]) -> None:
        got = tuple(tuple(np.shape(w)) for w in weights)
        expected = shapes(got[-1][0] if got and len(got[-1]) == 1 else -1)  # -1: no logits, so no match
        if got != expected:
            raise ValueError(f"expected CNN weights of shapes {expected}, got {got}")
        self._weights = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self._weights]

    # --- inference ----------------------------------------------------------

    def activations(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Hidden feature maps by layer name: ``{name: float32[N,H,W,C]}`` (ReLU outputs, >= 0)."""
        conv1_kernel, conv1_bias, conv2_kernel, conv2_bias = self._weights[:4]
        conv1 = conv2d_relu(as_batch(X)[..., None], conv1_kernel, conv1_bias)
        pool1 = max_pool2(conv1)
        conv2 = conv2d_relu(pool1, conv2_kernel, conv2_bias)
        return {"conv1": conv1, "pool1": pool1, "conv2": conv2, "pool2": max_pool2(conv2)}

    def forward(self, X: np.ndarray) -> Forward:
        """Everything one pass computes that anyone reads: class probabilities, the unit embedding (the last
        hidden layer's ReLU outputs, L2-normalised: what a writer's memory compares,
        :mod:`models.prototypes`), the logits and the last feature maps (what :mod:`models.gate` reads)."""
        fc1_kernel, fc1_bias, logits_kernel, logits_bias = self._weights[4:]
        pool2 = self.activations(X)["pool2"]
        hidden = pool2.reshape(len(pool2), -1) @ fc1_kernel  # NHWC order, as Keras' Flatten
        hidden += fc1_bias
        np.maximum(hidden, 0, out=hidden)
        logits = hidden @ logits_kernel + logits_bias
        return Forward(softmax(logits), normalise(hidden), logits, pool2)

    def predict_and_embed(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32[N,classes] class probabilities and float32[N,128] unit embeddings (see :meth:`forward`)."""
        out = self.forward(X)
        return out.probs, out.embedding

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """float32[N,10] class probabilities for float32[N,28,28] images in [0,1]."""
        return self.predict_and_embed(X)[0]

    # --- persistence (the archive format of models.cnn.CNN) ---------------------

    read_weights = staticmethod(read_layer_weights)

    @classmethod
    def from_bytes(cls, data: bytes) -> "NumpyCNN":
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            config = json.loads(str(archive["config"])) if "config" in archive.files else {}
            steps = int(archive["steps"]) if "steps" in archive.files else 0
        return cls(cls.read_weights(data), config, steps)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, config=np.array(json.dumps(self.config)), steps=np.int64(self.steps_),
                 **{f"w{i:02d}": w for i, w in enumerate(self._weights)})
        return out.getvalue()
