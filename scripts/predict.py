#!/usr/bin/env python
"""Each shipped model's top-3 for image files (PNG drawings, any size, either polarity).

    python scripts/predict.py drawing.png [more.png ...] [--show out_dir] [--alphabet hiragana]

``--show DIR`` writes DIR/<name>.predict.png: the 28x28 input the models saw,
beside each model's probabilities.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from models import DrawingError, load_original, preprocess_drawing
from models.alphabets import load_alphabet
from models.ensemble import combine


def show(path: Path, img: np.ndarray, probs: dict[str, np.ndarray], out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(probs), figsize=(2.6 * (1 + len(probs)), 2.6))
    axes[0].imshow(img, cmap="gray", vmin=0, vmax=1)
    axes[0].set(title="input 28x28", xticks=[], yticks=[])
    for ax, (name, p) in zip(axes[1:], probs.items()):
        ax.barh(range(len(p)), p, color=["#d9480f" if d == p.argmax() else "#adb5bd" for d in range(len(p))])
        ax.set(title=name, xlim=(0, 1), yticks=range(len(p)))
        ax.invert_yaxis()
    fig.tight_layout()
    out = out_dir / f"{path.stem}.predict.png"
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--show", type=Path, metavar="DIR", help="write a picture of input and probabilities")
    parser.add_argument("--alphabet", default="digits", help="digits (default), hiragana, or an alphabet file")
    args = parser.parse_args()
    alphabet = load_alphabet(args.alphabet)
    models = {"fnn": load_original("fnn", alphabet), "cnn": load_original("cnn", alphabet)}
    status = 0
    for path in args.images:
        try:
            img = preprocess_drawing(path.read_bytes(), alphabet.box)
        except (OSError, DrawingError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 1
            continue
        probs = {name: m.predict_proba(img)[0] for name, m in models.items()}
        answer = combine({"fnn_original": probs["fnn"], "fnn_online": probs["fnn"],
                          "cnn_original": probs["cnn"], "cnn_online": probs["cnn"]}, alphabet.ensemble_weights)
        named = alphabet.glyph(answer.label) if answer.label is not None else "?"
        print(f"{path}: answer {named} ({answer.p:.0%})")
        for name, p in probs.items():
            top = np.argsort(-p)[:3]
            print(f"  {name}: " + ", ".join(f"{alphabet.glyph(d)} {p[d]:.1%}" for d in top))
        if args.show:
            print(f"  picture: {show(path, img, probs, args.show)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
