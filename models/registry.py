"""The shipped original models of an alphabet, by kind."""

from __future__ import annotations

from pathlib import Path

from .alphabets import Alphabet, load_alphabet
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


def original_weights_path(name: str, alphabet: Alphabet | str) -> Path:
    alphabet = load_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    if name not in alphabet.weights:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    return alphabet.weights[name]


def load_original(name: str, alphabet: Alphabet | str, *, serving: bool = False) -> DigitClassifier:
    """A fresh instance of the shipped original ``"fnn"`` or ``"cnn"`` of ``alphabet`` (an :class:`Alphabet`, or
    the name of a shipped one), or its serving twin with ``serving``."""
    alphabet = load_alphabet(alphabet) if isinstance(alphabet, str) else alphabet
    cls = model_class(name, serving)
    path = original_weights_path(name, alphabet)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; train it with "
                                f"`python scripts/train.py --model {name} --alphabet {alphabet.name}`")
    return cls.from_bytes(path.read_bytes())
