"""The shipped original models, by name."""

from __future__ import annotations

from pathlib import Path

from .alphabets import DIGITS, Alphabet, load_alphabet
from .base import DigitClassifier

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_NAMES = ("fnn", "cnn")


def model_class(name: str, serving: bool = False) -> type:
    """The estimator class of ``name``; with ``serving``, the class a web worker predicts with.

    Serving never needs TensorFlow: the FNN is numpy either way, and the CNN is
    served by its numpy forward pass (:mod:`models.cnn_numpy`) from the same weight archives.
    """
    if name == "cnn" and serving:
        from .cnn_numpy import NumpyCNN

        return NumpyCNN
    if name == "fnn":
        from .fnn import FNN

        return FNN
    if name == "cnn":
        from .cnn import CNN  # TensorFlow is imported only when a CNN is wanted

        return CNN
    raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")


def original_weights_path(name: str, alphabet: str | Alphabet = DIGITS) -> Path:
    alphabet = load_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    if name not in alphabet.weights:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    return alphabet.weights[name]


def load_original(name: str, serving: bool = False, alphabet: str | Alphabet = DIGITS) -> DigitClassifier:
    """A fresh instance of the shipped original ``"fnn"`` or ``"cnn"`` of ``alphabet`` (its serving twin
    with ``serving``)."""
    cls = model_class(name, serving)
    path = original_weights_path(name, alphabet)
    if not path.is_file():
        hint = "" if alphabet == DIGITS else f" --alphabet {getattr(alphabet, 'name', alphabet)}"
        raise FileNotFoundError(f"{path} is missing; train it with `python scripts/train.py --model {name}{hint}`")
    return cls.from_bytes(path.read_bytes())
