"""What each learning step mixes in besides the new drawing's 24 variants.

A step on 24 copies of one "7" alone would pull the network towards calling
everything a 7. Mixing in a few images of the alphabet's own sample (general
knowledge: MNIST digits, for the digits) and a few earlier drawings people
made (the crowd's hands) keeps each step local to what the new drawing teaches.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np


class ReplayBuffer:
    """The alphabet's replay images plus the most recent stored drawings (thread-safe)."""

    def __init__(self, base_x: np.ndarray, base_y: np.ndarray, n_base: int = 16, n_drawings: int = 8,
                 capacity: int = 2000, seed: int = 0):
        self.base_x = base_x.astype(np.float32) / 255 if base_x.dtype == np.uint8 else base_x
        self.base_y = base_y.astype(np.int64)
        self.n_base, self.n_drawings = n_base, n_drawings
        self._drawings: deque[tuple[str | None, np.ndarray, int]] = deque(maxlen=capacity)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()

    def add(self, x28: np.ndarray, label: int, drawing_id: str | None = None) -> None:
        with self._lock:
            self._drawings.append((drawing_id, np.asarray(x28, np.float32), int(label)))

    def hold(self, drawing_id: str, x28: np.ndarray, label: int | None) -> None:
        """After a review: replay the drawing with ``label`` from now on, or never again (None)."""
        with self._lock:
            kept = [entry for entry in self._drawings if entry[0] != drawing_id]
            self._drawings.clear()
            self._drawings.extend(kept)
        if label is not None:
            self.add(x28, label, drawing_id)

    def __contains__(self, drawing_id: str) -> bool:
        with self._lock:
            return any(entry[0] == drawing_id for entry in self._drawings)

    def batch(self, variants: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
        """``variants`` of a drawing labelled ``label`` plus the replay sample, as (X, y)."""
        with self._lock:
            picks = self._rng.choice(len(self.base_x), self.n_base, replace=False)
            xs, ys = [variants, self.base_x[picks]], [np.full(len(variants), label), self.base_y[picks]]
            if self._drawings and self.n_drawings:
                chosen = self._rng.choice(len(self._drawings), min(self.n_drawings, len(self._drawings)), replace=False)
                xs.append(np.stack([self._drawings[i][1] for i in chosen]))
                ys.append(np.array([self._drawings[i][2] for i in chosen]))
        return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)
