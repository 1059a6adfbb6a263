#!/usr/bin/env python
"""Train an alphabet's gate (models/gate.py): one character of it, not a character, or several.

    python scripts/train_gate.py                       # the digits (the shipped gate, seed 0)
    python scripts/train_gate.py --alphabet hiragana

The gate reads the alphabet's original CNN (its last feature maps and logits), so train it again
whenever that CNN changes. Its examples: the alphabet's own training drawings (for the digits 20,000
MNIST training digits and the 7,494 drawn digits of the pendigits training writers; for hiragana 20,000
drawings of the synthetic writers, a quarter of them with habits outside the training ranges) against the training split of lab/outliers.py (letters,
symbols, other scripts, marks, scribbles, several characters side by side), each outlier also as three
of the learner's variants (models/augment.py). Writes ``gate.npz`` beside the alphabet's weights and its
entry in ``training.json`` (and the model card). Its threshold is chosen by ``scripts/ood.py --choose``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the same weights on every machine: one BLAS thread

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from lab import kana  # noqa: E402
from lab.data import load_mnist  # noqa: E402
from lab.drawn import load_drawn_pendigits  # noqa: E402
from lab.model_card import write_model_card  # noqa: E402
from lab.outliers import drawn_outliers  # noqa: E402
from models import augment, load_original  # noqa: E402
from models.alphabets import load_alphabet  # noqa: E402
from models.gate import OUTCOMES, Gate, gate_features  # noqa: E402

ID_IMAGES = 20_000  # the alphabet's own drawings (besides pendigits' drawn training digits, for the digits)
VARIANTS = 3  # of each outlier, besides itself
UNUSUAL_WRITERS, SCORED_UNSEEN_WRITERS = 200, 20  # hiragana: unseen-style writers 20-199 (0-19 are scored)


def characters(alphabet, n: int, rng: np.random.Generator) -> np.ndarray:
    """The alphabet's own training drawings, float32[N,28,28]."""
    if alphabet.is_digits:
        mnist, _ = load_mnist("train")
        pen, _, _ = load_drawn_pendigits("train")
        return np.concatenate([mnist[rng.choice(len(mnist), n, replace=False)].astype(np.float32) / 255, pen])
    drawn, _, _ = kana.load_drawn_hiragana("train", kana.TRAIN_WRITERS, box=alphabet.box)
    # Writers with habits outside the training ranges too (never those scripts/ood.py scores on): the models
    # learned the training habits only, but a gate that refused an unusual hand would refuse real people.
    unusual, _, writers = kana.load_drawn_hiragana("unseen", UNUSUAL_WRITERS, box=alphabet.box)
    unusual = unusual[writers >= writers.min() + SCORED_UNSEEN_WRITERS]
    return np.concatenate([drawn[rng.choice(len(drawn), n - n // 4, replace=False)],
                           unusual[rng.choice(len(unusual), n // 4, replace=False)]])


def features_of(cnn, X: np.ndarray) -> np.ndarray:
    out = []
    for i in range(0, len(X), 500):
        forward = cnn.forward(X[i:i + 500])
        out.append(gate_features(forward.pool2, forward.logits))
    return np.concatenate(out)


def train(alphabet, seed: int, hidden: int) -> tuple[Gate, dict]:
    rng = np.random.default_rng(seed)
    cnn = load_original("cnn", alphabet, serving=True)
    own = characters(alphabet, ID_IMAGES, rng)
    # Odd but honest characters must pass: the learner's variants (sizes, slants) of some of them too.
    own = np.concatenate([own, np.stack([augment(x, alphabet.box)[rng.integers(24)]
                                         for x in own[rng.choice(len(own), len(own) // 2, replace=False)]])])
    outliers, kinds, _ = drawn_outliers(alphabet, "train")
    variants = np.concatenate([augment(x, alphabet.box)[rng.choice(24, VARIANTS, replace=False)] for x in outliers])
    X = np.concatenate([own, outliers, variants])
    outcome = np.where(kinds == "several", OUTCOMES.index("several"), OUTCOMES.index("outlier"))
    y = np.concatenate([np.zeros(len(own), np.int64), outcome, np.repeat(outcome, VARIANTS)])
    print(f"{len(own)} characters, {len(outliers)} outliers (+{len(variants)} variants): features...",
          file=sys.stderr, flush=True)
    F = features_of(cnn, X)
    mean, scale = F.mean(axis=0), F.std(axis=0) + 1e-3
    print("training...", file=sys.stderr, flush=True)
    clf = MLPClassifier((hidden,), alpha=1e-2, max_iter=60, batch_size=256, random_state=seed)
    clf.fit((F - mean) / scale, y)
    gate = Gate(mean.astype(np.float32), scale.astype(np.float32), *(w.astype(np.float32) for w in
                (clf.coefs_[0], clf.intercepts_[0], clf.coefs_[1], clf.intercepts_[1])))
    counts = {"characters": int((y == 0).sum()), "outliers": int((y == 1).sum()), "several": int((y == 2).sum())}
    return gate, {"training_images": counts, "hidden": hidden, "iterations": int(clf.n_iter_)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphabet", default="digits", help="digits (default), hiragana, or an alphabet file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--out", type=Path, default=None, help="default: beside the alphabet's weights")
    args = parser.parse_args()
    alphabet = load_alphabet(args.alphabet)
    out = args.out or alphabet.weights["cnn"].parent
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    gate, facts = train(alphabet, args.seed, args.hidden)
    path = out / "gate.npz"
    path.write_bytes(gate.to_bytes())
    record_path = out / "training.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    record["gate"] = {
        "command": " ".join(["python scripts/train_gate.py", *map(shlex.quote, sys.argv[1:])]),
        "seed": args.seed, **facts, "training_seconds": round(time.perf_counter() - started, 1),
        "weights_bytes": path.stat().st_size,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}",
    }
    print(json.dumps({"gate": record["gate"]}, indent=2))
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    write_model_card(record, out / "MODEL_CARD.md", alphabet)


if __name__ == "__main__":
    main()
