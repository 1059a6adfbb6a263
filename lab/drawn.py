"""Pen-drawn digits as the models see them: rendered like the page, then preprocessed.

Rendering and preprocessing thousands of digits takes a while, so the result
is cached (keyed by the canvas spec and the source file's content, so a copy
rendered elsewhere, the full image's build, serves as well) in the MNIST cache
folder's sibling ``drawn/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from models.canvas import CANVAS
from models.preprocess import BOX, preprocess_drawing

from .data import PENDIGITS_FILES, default_mnist_dir, default_pendigits_dir, load_pendigits, pendigits_source
from .render import PENDIGITS_VIEW, render_pendigit


def load_drawn_pendigits(split: str = "test", cache: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(float32[N,28,28], uint8[N] labels, int16[N] writers)`` for pendigits ``split``."""
    source = pendigits_source(default_pendigits_dir(), PENDIGITS_FILES[split])
    key = hashlib.sha256(f"{CANVAS}{PENDIGITS_VIEW}".encode() + source.read_bytes()).hexdigest()[:16]
    path = Path(default_mnist_dir()).parent / "drawn" / f"pendigits-{split}-{key}.npz"
    if cache and path.is_file():
        with np.load(path) as archive:
            return archive["images"], archive["labels"], archive["writers"]
    digits = load_pendigits(split)
    images = np.stack([preprocess_drawing(render_pendigit(d), BOX) for d in digits])
    labels = np.array([d.label for d in digits], dtype=np.uint8)
    writers = np.array([d.writer for d in digits], dtype=np.int16)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, images=images, labels=labels, writers=writers)
        tmp.replace(path)
    return images, labels, writers
