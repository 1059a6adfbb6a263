#!/usr/bin/env python
"""Accuracy of every model on MNIST test and on the pendigits test writers drawn on our canvas.

    python scripts/evaluate.py [--confusion artifacts/confusion.png]
    python scripts/evaluate.py --alphabet hiragana

Rows: a softmax-regression baseline (784 -> 10, trained here in seconds on
MNIST alone), the shipped FNN and CNN, and ensembles of them, so the table
shows what each step buys. The pendigits writers are people none of the
models saw, drawing the way people draw on the page.

For hiragana, the same rows on 40 held-out synthetic writers (seeds training
never used; ``lab/kana.py``), the baseline trained here on the training
writers, with Debian's Zinnia recogniser reading the same drawings' strokes
beside them, and the confusions that remain.
"""

from __future__ import annotations

import argparse
from pathlib import Path


import numpy as np

from lab.data import load_mnist
from lab.drawn import load_drawn_pendigits
from lab.linear import SoftmaxRegression
from models import load_original
from models.ensemble import DEFAULT_WEIGHTS, combine_probs


def arithmetic_mean(probs: dict[str, np.ndarray]) -> np.ndarray:
    return np.mean(list(probs.values()), axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphabet", default="digits", help="digits (default) or hiragana")
    parser.add_argument("--confusion", type=Path, default=Path("artifacts/confusion.png"))
    args = parser.parse_args()
    if args.alphabet != "digits":
        return evaluate_kana(args.alphabet)

    X, y = load_mnist("train")
    Xt, yt = load_mnist("test")
    Xt = Xt.astype(np.float32) / 255
    Xp, yp, writers = load_drawn_pendigits("test")
    sets = {"MNIST test": (Xt, yt), "pendigits test (drawn)": (Xp, yp)}

    baseline = SoftmaxRegression().fit(X.astype(np.float32) / 255, y, epochs=5)
    fnn, cnn = load_original("fnn", "digits"), load_original("cnn", "digits")
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


def evaluate_kana(name: str) -> None:
    from lab.kana import drawn_strokes, load_drawn_hiragana
    from lab.zinnia import zinnia_available, zinnia_top1, zinnia_unknown
    from models.alphabets import load_alphabet

    from lab.kana import TEST_WRITERS, TRAIN_WRITERS

    alphabet = load_alphabet(name)
    glyphs = alphabet.glyphs
    X, y, _ = load_drawn_hiragana("train", TRAIN_WRITERS)
    voiced = np.array([g in "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽ" for g in glyphs])  # dakuten, handakuten
    baseline = SoftmaxRegression(n_classes=alphabet.n_classes).fit(X, y, epochs=5)
    models = {"softmax regression (baseline)": baseline,
              "FNN": load_original("fnn", alphabet=alphabet), "CNN": load_original("cnn", alphabet=alphabet)}
    # Held-out writers have habits in the training ranges; "unseen" writers habits outside them
    # (stronger slant, shakier, narrower, odder pens): the harder, and the more honest, test.
    for split, title in (("test", "held-out synthetic writers"), ("unseen", "synthetic writers of unseen styles")):
        Xt, yt, writers = load_drawn_hiragana(split, TEST_WRITERS)
        predictions = {model_name: m.predict_proba(Xt).argmax(1) for model_name, m in models.items()}
        print(f"\n{alphabet.title}: {len(yt):,} drawings by {TEST_WRITERS} {title} "
              f"({alphabet.n_classes} classes; trained on {TRAIN_WRITERS} others)\n")
        print("| model | top-1, 71 classes | worst writer | 46 basic kana | 25 with (han)dakuten |\n"
              "|---|---|---|---|---|")
        for model_name, pred in predictions.items():
            right = pred == yt
            worst = min(np.mean(right[writers == w]) for w in np.unique(writers))
            print(f"| {model_name} | {right.mean():.2%} | {worst:.2%} | {right[~voiced[yt]].mean():.2%} "
                  f"| {right[voiced[yt]].mean():.2%} |")
        if zinnia_available():
            strokes, labels, _ = drawn_strokes(split, TEST_WRITERS)
            _, answers = zinnia_top1(strokes, labels, glyphs)
            right = np.array([a == glyphs[label] for a, label in zip(answers, labels)])
            worst = min(np.mean(right[writers == w]) for w in np.unique(writers))
            print(f"| Zinnia, Debian's Japanese model (strokes) | {right.mean():.2%} | {worst:.2%} "
                  f"| {right[~voiced[labels]].mean():.2%} | {right[voiced[labels]].mean():.2%} |")
        cnn = predictions["CNN"]
        pairs: dict[tuple[int, int], int] = {}
        for truth, guess in zip(yt[cnn != yt], cnn[cnn != yt]):
            pairs[(truth, guess)] = pairs.get((truth, guess), 0) + 1
        top = sorted(pairs.items(), key=lambda kv: -kv[1])[:12]
        print("\nThe CNN's commonest confusions (drawn -> read, times): "
              + ", ".join(f"{glyphs[a]}->{glyphs[b]} {n}" for (a, b), n in top))
    if zinnia_available():
        print(f"\nZinnia's model has no class for {len(zinnia_unknown(glyphs))} of the 71 (the kana with dakuten "
              "and handakuten): compare it on the 46 basic kana.")
    else:
        print("\nZinnia is not installed (scripts/install --dev installs it): no outside opinion this time.")


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
