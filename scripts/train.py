#!/usr/bin/env python
"""Train the original FNN and CNN of an alphabet from scratch and write the shipped weights.

    python scripts/train.py                          # the digits, both models, seed 0 (the shipped weights)
    python scripts/train.py --alphabet hiragana      # the 71 hiragana, from synthetic writers (lab/kana.py)
    python scripts/train.py --model cnn --epochs 2 --out /tmp/w   # a quick try

Writes the alphabet's ``{fnn,cnn}`` weights (for the digits ``models/weights/{fnn,cnn}-original.npz``,
for hiragana ``models/weights/hiragana/``; ``--out`` elsewhere), ``training.json`` (command, seed,
time and accuracies per model) and ``MODEL_CARD.md`` rendered from it beside them; for hiragana also
``sample.npz``, the guard's holdout and the replay images. TensorBoard logs go to ``--logdir``
(``tensorboard --logdir runs``), with the first-layer filters before and after training.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import keras
from tqdm import tqdm

from lab.distort import random_distort
from lab.model_card import write_model_card
from lab.recipe import DEFAULT_EPOCHS, HIRAGANA_REPLAY_PER_CLASS, digits_base, hiragana_base
from models.alphabets import load_alphabet
from models.cnn import CNN, FEATURE_LAYERS
from models.fnn import FNN

# Hiragana: synthetic writers (lab/kana.py), each drawing each of the 71 once: kana.TRAIN_WRITERS
# of them to train, kana.TEST_WRITERS to evaluate and kana.HOLDOUT_WRITERS for the guard's holdout.
# The base data of each alphabet and the default epochs live in lab/recipe.py (the retrain job reads them too).


def accuracy(model, X, y) -> float:
    return float(np.mean(model.predict_proba(X).argmax(axis=1) == y))


def image_grid(maps: np.ndarray, columns: int = 8) -> np.ndarray:
    """float32[K,H,W] -> one [1,rows*H,columns*W,1] image, each map scaled to [0,1]."""
    k, h, w = maps.shape
    lo, hi = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    maps = (maps - lo) / np.maximum(hi - lo, 1e-6)
    rows = -(-k // columns)
    grid = np.zeros((rows * (h + 1), columns * (w + 1)), np.float32)
    for i, m in enumerate(maps):
        r, c = divmod(i, columns)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = m
    return grid[None, ..., None]


def distort_numpy(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The CNN's random distortions, for the numpy FNN (run in TF, in chunks)."""
    tf.random.set_seed(int(rng.integers(2**31)))
    return np.concatenate(
        [random_distort(tf.constant(X[i : i + 10000]), tf.zeros(0))[0].numpy() for i in range(0, len(X), 10000)]
    )


def train_fnn(args, data, writer) -> FNN:
    (X, y), (Xt, yt) = data
    model = FNN(seed=args.seed, n_classes=args.n_classes)
    with writer.as_default():
        tf.summary.image("first_layer_filters/start", image_grid(model.W1.T[:64].reshape(-1, 28, 28)), step=0)

    def on_epoch(epoch, m, train_loss):
        with writer.as_default():
            tf.summary.scalar("loss/train", train_loss, step=epoch)
            tf.summary.scalar("loss/test", m.loss(Xt, yt), step=epoch)
            tf.summary.scalar("accuracy/train", accuracy(m, X[:10000], y[:10000]), step=epoch)
            tf.summary.scalar("accuracy/test", accuracy(m, Xt, yt), step=epoch)
            for name in ("W1", "b1", "W2", "b2"):
                tf.summary.histogram(f"weights/{name}", getattr(m, name), step=epoch)
            tf.summary.histogram("activations/hidden", m._forward(Xt[:256])[0], step=epoch)
        tqdm.write(f"fnn epoch {epoch + 1}: test accuracy {accuracy(m, Xt, yt):.4f}")

    model.fit(X, y, epochs=args.epochs or DEFAULT_EPOCHS["fnn"], augment=distort_numpy,
              on_epoch=on_epoch, progress=lambda it, desc: tqdm(it, desc=desc, leave=False))
    with writer.as_default():
        tf.summary.image("first_layer_filters/end", image_grid(model.W1.T[:64].reshape(-1, 28, 28)), step=1)
    return model


class CNNTensorBoardExtras(keras.callbacks.Callback):
    """What Keras' TensorBoard callback lacks: activation histograms, filter and feature-map images."""

    def __init__(self, cnn: CNN, writer, Xt: np.ndarray, yt: np.ndarray):
        super().__init__()
        self.cnn, self.writer, self.Xt, self.yt = cnn, writer, Xt, yt

    def log_filters(self, tag: str, step: int) -> None:
        kernel = self.cnn.network.get_layer("conv1").get_weights()[0]  # [5,5,1,32]
        with self.writer.as_default():
            tf.summary.image(f"first_layer_filters/{tag}", image_grid(np.moveaxis(kernel[:, :, 0], -1, 0)), step=step)

    def on_train_begin(self, logs=None):
        self.log_filters("start", 0)

    def on_epoch_end(self, epoch, logs=None):
        maps = self.cnn.activations(self.Xt[:256])
        with self.writer.as_default():
            for name, m in maps.items():
                tf.summary.histogram(f"activations/{name}", m, step=epoch)
            tf.summary.scalar("accuracy/test_full", accuracy(self.cnn, self.Xt, self.yt), step=epoch)

    def on_train_end(self, logs=None):
        self.log_filters("end", 1)
        maps = self.cnn.activations(self.Xt[:4])
        with self.writer.as_default():
            for i in range(4):
                tf.summary.image(f"input/{i}", self.Xt[i][None, ..., None], step=0)
                for name in FEATURE_LAYERS:
                    tf.summary.image(f"feature_maps/{i}/{name}", image_grid(np.moveaxis(maps[name][i], -1, 0)), step=0)


def train_cnn(args, data, writer, logdir: Path) -> CNN:
    (X, y), (Xt, yt) = data
    model = CNN(seed=args.seed, n_classes=args.n_classes)
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(logdir), histogram_freq=1, write_graph=False),
        CNNTensorBoardExtras(model, writer, Xt, yt),
    ]
    model.fit(X, y, epochs=args.epochs or DEFAULT_EPOCHS["cnn"], augment=random_distort,
              validation_data=(Xt, yt.astype(np.int32)), callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
    return model


def digits_data(args) -> tuple[tuple, dict]:
    """MNIST plus the pendigits training writers; evaluated on MNIST test and the pendigits test writers
    (:func:`lab.recipe.digits_base`: the same arrays this script has always trained on)."""
    base = digits_base(args.pen_repeat)
    return (base.train, base.holdout), base.evaluations


def hiragana_data(args, out: Path) -> tuple[tuple, dict]:
    """Synthetic writers' hiragana; evaluated on held-out writers (:func:`lab.recipe.hiragana_base`). Writes the
    service's sample.npz and the page's stroke-order guide (strokes.json, from KanjiVG) too."""
    from lab.kana import write_stroke_guide

    write_stroke_guide(out / "strokes.json")

    base = hiragana_base(args.box)
    X, y = base.train
    rng = np.random.default_rng(args.seed)
    replay = np.concatenate([rng.choice(np.flatnonzero(y == c), HIRAGANA_REPLAY_PER_CLASS, replace=False)
                             for c in range(args.n_classes)])
    as_uint8 = lambda images: np.round(images * 255).astype(np.uint8)
    holdout_x, holdout_y = base.guard_holdout
    np.savez_compressed(out / "sample.npz", replay_x=as_uint8(X[replay]), replay_y=y[replay],
                        holdout_x=as_uint8(holdout_x), holdout_y=holdout_y)
    return (base.train, base.holdout), base.evaluations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphabet", default="digits", help="digits (default) or hiragana")
    parser.add_argument("--model", choices=["fnn", "cnn", "all"], default="all")
    parser.add_argument("--epochs", type=int, default=None, help="default: fnn 30, cnn 15")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pen-repeat", type=int, default=3,
                        help="digits: times the 7,494 pendigits training drawings appear per epoch (default 3)")
    parser.add_argument("--out", type=Path, default=None, help="default: where the alphabet's weights live")
    parser.add_argument("--logdir", type=Path, default=Path("runs"))
    args = parser.parse_args()
    alphabet = load_alphabet(args.alphabet)
    args.n_classes, args.box = alphabet.n_classes, alphabet.box
    out = args.out or alphabet.weights["cnn"].parent
    out.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    data, evaluations = digits_data(args) if alphabet.is_digits else hiragana_data(args, out)
    X = data[0][0]
    record_path = out / "training.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}

    for name in ("fnn", "cnn") if args.model == "all" else (args.model,):
        keras.utils.set_random_seed(args.seed)
        logdir = args.logdir / (name if alphabet.is_digits else f"{alphabet.name}-{name}")
        writer = tf.summary.create_file_writer(str(logdir / "extras"))
        started = time.perf_counter()
        model = train_fnn(args, data, writer) if name == "fnn" else train_cnn(args, data, writer, logdir)
        seconds = time.perf_counter() - started
        weights = out / alphabet.weights[name].name
        weights.write_bytes(model.to_bytes())
        record[name] = {
            "command": " ".join(["python scripts/train.py", *map(shlex.quote, sys.argv[1:])]),
            "seed": args.seed,
            "epochs": args.epochs or DEFAULT_EPOCHS[name],
            "training_images": len(X),
            "box": alphabet.box,
            "training_seconds": round(seconds, 1),
            **{f"{set_name}_accuracy": round(accuracy(model, *xy), 4) for set_name, xy in evaluations.items()},
            "weights_bytes": weights.stat().st_size,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, numpy {np.__version__}",
        }
        print(json.dumps({name: record[name]}, indent=2))
        record_path.write_text(json.dumps(record, indent=2) + "\n")
        write_model_card(record, out / "MODEL_CARD.md", alphabet)


if __name__ == "__main__":
    main()
