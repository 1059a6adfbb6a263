"""Render ``MODEL_CARD.md`` from the training record that ``scripts/train.py`` writes."""

from __future__ import annotations

from pathlib import Path

_DESCRIPTIONS = {
    "fnn": "Two-layer numpy network, 784 -> 256 ReLU -> {n} softmax; SGD with momentum 0.9, "
    "cosine learning-rate decay from 0.05, batch 128, L2 1e-4.",
    "cnn": "Keras CNN: conv 5x5x32 -> max-pool -> conv 5x5x64 -> max-pool -> dense 128 -> "
    "dropout 0.4 -> {n}; Adam with cosine decay from 1e-3, batch 128.",
}
_GATE = ("The gate (`models/gate.py`): is a drawing one character of the alphabet, not a character, or several? "
         "A network on the original CNN's last feature maps and logits -> {hidden} ReLU -> 3, trained with "
         "scikit-learn's MLPClassifier (Adam, L2 1e-2, {iterations} epochs) on {characters:,} of the alphabet's "
         "own training drawings against {outliers:,} outliers and {several:,} drawings of several characters "
         "(`lab/outliers.py`, training split, with the learner's variants). Its threshold is chosen by "
         "`scripts/ood.py --choose` and kept in the alphabet file; `scripts/ood.py` measures it.")


def _gate_lines(record: dict) -> list[str]:
    gate = record.get("gate")
    if not gate:
        return []
    return ["## gate", "", _GATE.format(hidden=gate["hidden"], iterations=gate["iterations"],
                                         **gate["training_images"]), "",
            f"- command: `{gate['command']}`", f"- training time: {gate['training_seconds'] / 60:.1f} min, "
            f"{gate['weights_bytes'] / 1e6:.2f} MB", f"- machine: {gate['machine']}", ""]

_HIRAGANA_INTRO = [
    "# Model card: Inkling's original hiragana models",
    "",
    "Written by `scripts/train.py --alphabet hiragana` from `training.json`; do not edit by hand.",
    "",
    "No real handwritten hiragana set can be redistributed here, so both models learn from",
    "synthetic writers: the stroke templates of KanjiVG (Ulrich Apel, CC BY-SA 3.0,",
    "https://kanjivg.tagaini.net), drawn by 800 writers with habits of their own (slant,",
    "rotation, proportions, size, pen width) and per-stroke jitter of position, angle and length",
    "with a wobble along each stroke (`lab/kana.py`), rendered on the hiragana canvas and",
    "preprocessed like any drawing from the page, with the digits' random distortions each epoch.",
    "Each drawing's longer side is fitted into {box} of the 28 pixels (the alphabet's `preprocess.box`;",
    "MNIST's is 20): a handakuten ring or a dakuten's two ticks is then a few pixels larger.",
    "They are evaluated on 40 held-out synthetic writers, whose seeds training never used",
    "(the guard's holdout is 15 more). Intended use: recognising one of the 71 hiragana (46",
    "basic, 25 with dakuten or handakuten) drawn on Inkling's canvas; how well it reads real",
    "people's kana is not measured by these figures, and teaching it is how it learns them.",
    "",
    "Reproducible: seeds are fixed and TensorFlow runs with op determinism.",
    "",
    "| model | held-out synthetic writers | epochs | seed | training time | weights |",
    "|---|---|---|---|---|---|",
]


def write_model_card(record: dict, path: Path, alphabet=None) -> None:
    if alphabet is not None and not alphabet.is_digits:
        lines = [line.format(box=alphabet.box) for line in _HIRAGANA_INTRO]
        models = {name: r for name, r in record.items() if name != "gate"}
        for name, r in models.items():
            lines.append(f"| {name} | {r['heldout_writers_accuracy']:.2%} | {r['epochs']} | {r['seed']} "
                         f"| {r['training_seconds'] / 60:.1f} min | {r['weights_bytes'] / 1e6:.2f} MB |")
        lines.append("")
        for name, r in models.items():
            lines += [f"## {name}", "", _DESCRIPTIONS.get(name, "").format(n=alphabet.n_classes), "",
                      f"- command: `{r['command']}`", f"- machine: {r['machine']}", ""]
        path.write_text("\n".join(lines + _gate_lines(record)))
        return
    lines = [
        "# Model card: Inkling's original models",
        "",
        "Written by `scripts/train.py` from `training.json`; do not edit by hand.",
        "",
        "Both are trained from scratch on the 60,000 MNIST training digits plus the 7,494",
        "digits of the 30 pendigits *training* writers rendered as canvas drawings (three",
        "times each per epoch: canvas users write 1, 7 and 9 the European way), with random",
        "distortions each epoch (rotation +-12 deg, scale 0.85-1.1, shear, shift +-2 px,",
        "thicker or thinner strokes; `lab/distort.py`), and evaluated on the 10,000",
        "MNIST test digits and on the 3,498 digits of the 14 pendigits *test* writers,",
        "rendered as canvas drawings and preprocessed like the page's (`lab/drawn.py`).",
        "Neither has seen a pendigits writer. Intended use: recognising single digits",
        "drawn on Inkling's canvas; not a general OCR model.",
        "",
        "Reproducible: seeds are fixed and TensorFlow runs with op determinism, so the same",
        "command gives bit-identical weights (checked for the CNN: a run on a busy machine and",
        "one on a quiet machine gave the same 8 weight arrays to the bit; the time is the quiet one).",
        "",
        "| model | MNIST test | pendigits test (drawn) | epochs | seed | training time | weights |",
        "|---|---|---|---|---|---|---|",
    ]
    models = {name: r for name, r in record.items() if name != "gate"}
    for name, r in models.items():
        lines.append(
            f"| {name} | {r['mnist_test_accuracy']:.2%} | {r['pendigits_test_accuracy']:.2%} | {r['epochs']} "
            f"| {r['seed']} | {r['training_seconds'] / 60:.1f} min | {r['weights_bytes'] / 1e6:.2f} MB |"
        )
    lines.append("")
    for name, r in models.items():
        lines += [f"## {name}", "", _DESCRIPTIONS.get(name, "").format(n=10), "", f"- command: `{r['command']}`",
                  f"- machine: {r['machine']}", ""]
    path.write_text("\n".join(lines + _gate_lines(record)))
