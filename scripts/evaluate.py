#!/usr/bin/env python
"""Accuracy of every model on MNIST test and on the pendigits test writers drawn on our canvas.

    python scripts/evaluate.py [--confusion artifacts/confusion.png]

Rows: a softmax-regression baseline (784 -> 10, trained here in seconds on
MNIST alone), the shipped FNN and CNN, and ensembles of them, so the table
shows what each step buys. The pendigits writers are people none of the
models saw, drawing the way people draw on the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from models import load_mnist, load_original  # noqa: E402
from models.drawn import load_drawn_pendigits  # noqa: E402
from models.ensemble import DEFAULT_WEIGHTS, combine_probs  # noqa: E402
from models.linear import SoftmaxRegression  # noqa: E402


def arithmetic_mean(probs: dict[str, np.ndarray]) -> np.ndarray:
    return np.mean(list(probs.values()), axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--confusion", type=Path, default=Path("artifacts/confusion.png"))
    args = parser.parse_args()

    X, y = load_mnist("train")
    Xt, yt = load_mnist("test")
    Xt = Xt.astype(np.float32) / 255
    Xp, yp, writers = load_drawn_pendigits("test")
    sets = {"MNIST test": (Xt, yt), "pendigits test (drawn)": (Xp, yp)}

    baseline = SoftmaxRegression().fit(X.astype(np.float32) / 255, y, epochs=5)
    fnn, cnn = load_original("fnn"), load_original("cnn")
    probs = {name: {s: m.predict_proba(data[0]) for s, data in sets.items()}
             for name, m in (("softmax regression (baseline)", baseline), ("FNN", fnn), ("CNN", cnn))}
    # At start-up the online models equal the originals, so the four-model ensemble
    # is the two-model one with the weights of both copies added.
    four = {s: {"fnn_original": probs["FNN"][s], "fnn_online": probs["FNN"][s],
                "cnn_original": probs["CNN"][s], "cnn_online": probs["CNN"][s]} for s in sets}
    probs["ensemble: mean of FNN and CNN"] = {s: arithmetic_mean(four[s]) for s in sets}
    probs["ensemble: weighted geometric mean (shipped)"] = {s: combine_probs(four[s], DEFAULT_WEIGHTS) for s in sets}

    print(f"| model | {' | '.join(sets)} | pendigits worst writer |")
    print("|---|" + "---|" * (len(sets) + 1))
    for name, by_set in probs.items():
        accs = [np.mean(by_set[s].argmax(1) == sets[s][1]) for s in sets]
        pen_pred = by_set["pendigits test (drawn)"].argmax(1)
        worst = min(np.mean(pen_pred[writers == w] == yp[writers == w]) for w in np.unique(writers))
        print(f"| {name} | " + " | ".join(f"{a:.2%}" for a in accs) + f" | {worst:.2%} |")

    shipped = probs["ensemble: weighted geometric mean (shipped)"]["pendigits test (drawn)"]
    confident = shipped.max(1) >= 0.5
    print(f"\nEnsemble abstains ('can't tell') on {1 - confident.mean():.2%} of pendigits drawings; "
          f"accuracy where it answers: {np.mean(shipped.argmax(1)[confident] == yp[confident]):.2%}")
    write_confusion(probs["CNN"]["pendigits test (drawn)"].argmax(1), yp, args.confusion)


def write_confusion(pred: np.ndarray, truth: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.zeros((10, 10), int)
    np.add.at(cm, (truth, pred), 1)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(np.log1p(cm), cmap="Blues")
    for i in range(10):
        for j in range(10):
            if cm[i, j]:
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 3 else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="drawn",
           title="Original CNN on the pendigits test writers")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"confusion matrix: {path}")


if __name__ == "__main__":
    main()
