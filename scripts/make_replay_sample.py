#!/usr/bin/env python
"""Write ``models/weights/mnist-sample.npz``: the MNIST images the service ships with.

- ``replay_x/replay_y``: 4,000 training digits (400 per class) mixed into every
  online learning step so the online models keep general digits in mind.
- ``holdout_x/holdout_y``: 1,000 test digits (100 per class) on which the
  guard checks every online model against its original.

Seeded, so it is reproducible: ``python scripts/make_replay_sample.py``.
"""

from __future__ import annotations

import argparse

import numpy as np

from lab.data import load_mnist
from models.registry import WEIGHTS_DIR


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    picks = [rng.permutation(np.flatnonzero(labels == d))[:per_class] for d in range(10)]
    return rng.permutation(np.concatenate(picks))


def main(seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    X, y = load_mnist("train")
    Xt, yt = load_mnist("test")
    replay, holdout = stratified(y, 400, rng), stratified(yt, 100, rng)
    path = WEIGHTS_DIR / "mnist-sample.npz"
    np.savez_compressed(path, replay_x=X[replay], replay_y=y[replay], holdout_x=Xt[holdout], holdout_y=yt[holdout])
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="the shipped sample's is 0")
    main(parser.parse_args().seed)
