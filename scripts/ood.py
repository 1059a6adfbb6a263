#!/usr/bin/env python
"""How often the answer says "can't tell", for drawings that are characters and for drawings that are not.

    python scripts/ood.py                              # the digits: a table, and docs/ood.json
    python scripts/ood.py --choose                     # ... and write the chosen threshold and temperature
    python scripts/ood.py --alphabet hiragana --choose

Real characters (the digits: the 14 pendigits test writers drawn on the canvas, and the MNIST test set;
hiragana: the 40 held-out synthetic writers) against the evaluation split of lab/outliers.py (letters,
symbols, other scripts, marks, scribbles, several characters side by side; never the training split's
writers, kana or kanji). The held-out writers are split in two by writer: the *calibration* half chooses
the gate's threshold and the temperature of "% sure", the *report* half is scored with them. Every
figure is of the original models (a deployment's online models start as them).

For each way of telling a character from the rest (the ensemble's confidence, the disagreement of its
models, the energy of the CNN's logits, the distance to the nearest training drawings in the CNN's
embedding, the gate): AUROC, and the share of outliers refused when 1% of the calibration writers'
drawings are. Then, with the chosen threshold: the share of each kind of outlier answered "can't tell",
the share of real characters that wrongly are, the accuracy of the answered ones beside today's (no gate,
no temperature), and the expected calibration error of "% sure" before and after the temperature.

``--choose`` keeps the gate's threshold (the largest share of outliers refused while at most
``--budget`` of the calibration writers' drawings are answered "can't tell" for any reason) and the
temperature (the one that minimises the log-loss on the calibration writers) in the alphabet file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from lab import kana
from lab.data import load_mnist
from lab.drawn import load_drawn_pendigits
from lab.outliers import drawn_outliers
from models import load_original
from models.alphabets import ALPHABETS_DIR, load_alphabet
from models.ensemble import MIN_CONFIDENCE, log_product, softmax
from models.gate import Gate, gate_features
from models.prototypes import normalise

BUDGET = 0.008  # of real characters answered "can't tell", on the calibration writers (the target is 1%)
SLACK = 0.005  # of outliers refused, given up for the widest margin from the characters (see choose_threshold)
TEMPERATURES = np.round(np.arange(1.0, 4.01, 0.05), 2)  # never sharper than the models' own softmax
KNN = 5


def read_all(gate: Gate, models, X: np.ndarray) -> dict[str, np.ndarray]:
    """What every score needs, for images ``X``: each original's probabilities, the CNN's logits, its unit
    embedding and the gate's features, in batches."""
    out: dict[str, list] = {"fnn": [], "cnn": [], "logits": [], "embedding": [], "gate": []}
    for i in range(0, len(X), 500):
        forward = models["cnn"].forward(X[i:i + 500])
        out["fnn"].append(models["fnn"].predict_proba(X[i:i + 500]))
        out["cnn"].append(forward.probs)
        out["logits"].append(forward.logits)
        out["embedding"].append(forward.embedding)
        out["gate"].append(gate.probabilities(gate_features(forward.pool2, forward.logits)))
    return {k: np.concatenate(v) for k, v in out.items()}


def log_mean(alphabet, r: dict) -> np.ndarray:
    """The four models' combined log-probabilities (online = original, as on a deployment's first day)."""
    probs = {"fnn_original": r["fnn"], "fnn_online": r["fnn"], "cnn_original": r["cnn"], "cnn_online": r["cnn"]}
    return log_product(probs, alphabet.ensemble_weights)


def scores(alphabet, r: dict, reference: np.ndarray) -> dict[str, np.ndarray]:
    """Higher = less like a character, for each way of telling."""
    p = softmax(log_mean(alphabet, r))
    logits = r["logits"]
    top = logits.max(axis=1, keepdims=True)
    similarity = np.concatenate([np.sort(e @ reference.T, axis=1)[:, -KNN:] for e in np.array_split(r["embedding"], 20)])
    return {
        "ensemble confidence": 1 - p.max(axis=1),
        "models disagree": (r["fnn"].argmax(1) != r["cnn"].argmax(1)) + (1 - p.max(axis=1)),
        "energy": -(top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))),
        f"embedding distance ({KNN} nearest)": 1 - similarity.mean(axis=1),
        "gate": r["gate"][:, 1] + r["gate"][:, 2],
    }


def auroc(inliers: np.ndarray, outliers: np.ndarray) -> float:
    """P(an outlier scores above an inlier), ties counted half."""
    both = np.concatenate([inliers, outliers])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    for value in np.unique(both):  # average ranks over ties
        tied = both == value
        ranks[tied] = ranks[tied].mean()
    n_in, n_out = len(inliers), len(outliers)
    return float((ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))


def calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: |accuracy - confidence| over 15 equal-width bins of confidence, weighted."""
    confidence, right = p.max(axis=1), p.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            error += inside.mean() * abs(right[inside].mean() - confidence[inside].mean())
    return float(error)


def fit_temperature(lm: np.ndarray, y: np.ndarray) -> float:
    losses = [-np.log(softmax(lm / t)[np.arange(len(y)), y] + 1e-12).mean() for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def cannot_tell(refusal: np.ndarray, p: np.ndarray, threshold: float) -> np.ndarray:
    """Answered "can't tell": the gate refuses, or no label is sure enough (as models.ensemble.combine)."""
    return (refusal > threshold) | (p.max(axis=1) < MIN_CONFIDENCE)


UNSEEN_WRITERS = 20


def real_characters(alphabet) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]], str]:
    """``{name: (images, labels, writers or None)}`` of characters no model trained on (half the writers of
    the first set choose the threshold), and the name of the set whose first half fits the temperature.
    Hiragana fits it on writers whose habits training never saw: the held-out writers with training's
    habits make next to no error to calibrate on."""
    if alphabet.is_digits:
        X, y, writers = load_drawn_pendigits("test")
        mnist, mnist_y = load_mnist("test")
        return {"pendigits test writers": (X, y.astype(np.int64), writers),
                "MNIST test": (mnist.astype(np.float32) / 255, mnist_y.astype(np.int64), None)}, "pendigits test writers"
    return {"held-out writers": kana.load_drawn_hiragana("test", kana.TEST_WRITERS, box=alphabet.box),
            "unseen-style writers": kana.load_drawn_hiragana("unseen", UNSEEN_WRITERS, box=alphabet.box)}, \
        "unseen-style writers"


def reference_embeddings(alphabet, cnn, n: int = 10_000, seed: int = 0) -> np.ndarray:
    """Unit embeddings of the alphabet's training drawings, for the nearest-neighbour distance."""
    rng = np.random.default_rng(seed)
    if alphabet.is_digits:
        mnist, _ = load_mnist("train")
        X = mnist[rng.choice(len(mnist), n, replace=False)].astype(np.float32) / 255
    else:
        drawn, _, _ = kana.load_drawn_hiragana("train", kana.TRAIN_WRITERS, box=alphabet.box)
        X = drawn[rng.choice(len(drawn), n, replace=False)]
    return normalise(np.concatenate([cnn.predict_and_embed(X[i:i + 500])[1] for i in range(0, len(X), 500)]))


def choose_threshold(refusal: np.ndarray, p: np.ndarray, outliers: np.ndarray, budget: float,
                     harder: np.ndarray | None = None) -> float:
    """Of the thresholds at which at most ``budget`` of ``refusal``'s characters are answered "can't tell" (for
    any reason), and the gate refuses at most ``budget`` of the ``harder`` ones (writers whose habits training
    never saw), the highest that refuses nearly (within SLACK) as many outliers as the best: where the two
    are far apart, the widest margin from real characters for next to nothing."""
    candidates = np.unique(np.concatenate([refusal, outliers, [1.0]]))
    allowed = [t for t in candidates if 0 < t <= 1 and cannot_tell(refusal, p, t).mean() <= budget
               and (harder is None or np.mean(harder > t) <= budget)]
    if not allowed:
        return 1.0
    refused = {t: float(np.mean(outliers > t)) for t in allowed}
    best = max(refused.values())
    return float(max(t for t in allowed if refused[t] >= best - SLACK))


def write_choice(alphabet, threshold: float, temperature: float, command: str) -> Path:
    path = ALPHABETS_DIR / f"{alphabet.name}.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    folder = alphabet.weights["cnn"].parent.relative_to(ALPHABETS_DIR)
    spec["gate"] = {"file": str(folder / "gate.npz"), "refuse_above": round(threshold, 4),
                    "note": f"chosen by `{command}`: the most outliers refused while at most {BUDGET:.1%} of the "
                            "calibration writers' characters are answered \"can't tell\""}
    spec["calibration"] = {"temperature": temperature,
                           "note": f"chosen by `{command}`: the least log-loss on the calibration writers"}
    path.write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphabet", default="digits", help="digits (default) or hiragana (a shipped alphabet)")
    parser.add_argument("--choose", action="store_true", help="write the threshold and temperature it chooses")
    parser.add_argument("--json", type=Path, default=None, help="default: docs/ood.json (docs/ood_<alphabet>.json)")
    args = parser.parse_args()
    alphabet = load_alphabet(args.alphabet)
    trained = alphabet.weights["cnn"].parent / "gate.npz"
    if not trained.is_file():
        raise SystemExit(f"{alphabet.name} has no gate: train one with `python scripts/train_gate.py --alphabet "
                         f"{alphabet.name}`")
    gate = alphabet.gate or Gate.from_bytes(trained.read_bytes())  # trained, but no threshold chosen yet
    models = {kind: load_original(kind, alphabet, serving=True) for kind in ("fnn", "cnn")}
    reference = reference_embeddings(alphabet, models["cnn"])
    print("reading the held-out characters and the outliers...", file=sys.stderr, flush=True)
    sets, warmest = real_characters(alphabet)
    first = next(iter(sets))
    X, y, writers = sets[first]
    calibration = np.isin(writers, np.unique(writers)[::2])
    read = {name: read_all(gate, models, images) for name, (images, _, _) in sets.items()}
    outlier_images, kinds, _ = drawn_outliers(alphabet, "eval")
    outliers = read_all(gate, models, outlier_images)

    score = {name: scores(alphabet, r, reference) for name, r in read.items()}
    outlier_score = scores(alphabet, outliers, reference)
    cal = {k: v[calibration] for k, v in score[first].items()}
    ways = {}
    for way in outlier_score:
        at_one_percent = np.quantile(cal[way], 0.99)
        ways[way] = {"auroc": round(auroc(score[first][way][~calibration], outlier_score[way]), 4),
                     "outliers refused at 1% of characters": round(float(np.mean(outlier_score[way] > at_one_percent)), 4)}

    _, y_warm, w_warm = sets[warmest]
    fitting = np.isin(w_warm, np.unique(w_warm)[::2])
    temperature = fit_temperature(log_mean(alphabet, read[warmest])[fitting], y_warm[fitting])
    lm = log_mean(alphabet, read[first])
    p_cal = softmax(lm[calibration] / temperature)
    outlier_p = softmax(log_mean(alphabet, outliers) / temperature)
    harder = score[warmest]["gate"][fitting] if warmest != first else None
    threshold = choose_threshold(score[first]["gate"][calibration], p_cal, outlier_score["gate"], BUDGET, harder)
    if not args.choose and alphabet.extra.get("gate"):
        threshold, temperature = alphabet.gate.refuse_above, alphabet.temperature  # measure what is shipped

    refused = cannot_tell(outlier_score["gate"], outlier_p, threshold)
    result = {"alphabet": alphabet.name, "threshold": threshold, "temperature": temperature, "ways": ways,
              "outliers": {"all": round(float(refused.mean()), 4), "count": int(len(kinds)),
                           **{kind: round(float(refused[kinds == kind].mean()), 4) for kind in np.unique(kinds)}},
              "characters": {}}
    for name, (images, labels, _) in sets.items():
        lm = log_mean(alphabet, read[name])
        p_today, p_now = softmax(lm), softmax(lm / temperature)
        told = ~cannot_tell(score[name]["gate"], p_now, threshold)
        answered_today = p_today.max(axis=1) >= MIN_CONFIDENCE
        everything, wr = np.ones(len(labels), bool), sets[name][2]
        report = ~np.isin(wr, np.unique(wr)[::2]) if wr is not None else everything
        parts = {f"{name}, report half": report, f"{name}, all": everything} if name in (first, warmest) else {name: everything}
        for part, mask in parts.items():
            result["characters"][part] = {
                "drawings": int(mask.sum()),
                "can't tell": round(float(1 - told[mask].mean()), 4),
                "accuracy of the answered": round(float((p_now.argmax(1) == labels)[mask & told].mean()), 4),
                "accuracy of the answered, today": round(float((p_today.argmax(1) == labels)[mask & answered_today].mean()), 4),
                "calibration error, today": round(calibration_error(p_today[mask], labels[mask]), 4),
                "calibration error": round(calibration_error(p_now[mask], labels[mask]), 4),
            }
    command = "python scripts/ood.py" + ("" if alphabet.is_digits else f" --alphabet {alphabet.name}") + " --choose"
    if args.choose:
        print(f"wrote {write_choice(alphabet, threshold, temperature, command)}", file=sys.stderr)
    out = args.json or Path("docs") / ("ood.json" if alphabet.is_digits else f"ood_{alphabet.name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return 0


def print_table(result: dict) -> None:
    print(f"\n{result['alphabet']}: gate threshold {result['threshold']:.3f}, temperature {result['temperature']}\n")
    print("| way of telling | AUROC | outliers refused at 1% of characters |\n|---|---|---|")
    for way, r in result["ways"].items():
        print(f"| {way} | {r['auroc']:.3f} | {r['outliers refused at 1% of characters']:.1%} |")
    o = result["outliers"]
    print(f"\noutliers answered \"can't tell\": {o['all']:.1%} of {o['count']} ("
          + ", ".join(f"{k} {v:.0%}" for k, v in o.items() if k not in ("all", "count")) + ")\n")
    print("| characters | drawings | can't tell | accuracy of the answered (today) | calibration error (today) |")
    print("|---|---|---|---|---|")
    for name, r in result["characters"].items():
        refused = r["can't tell"]
        print(f"| {name} | {r['drawings']} | {refused:.2%} | {r['accuracy of the answered']:.2%} "
              f"({r['accuracy of the answered, today']:.2%}) | {r['calibration error']:.2%} "
              f"({r['calibration error, today']:.2%}) |")


if __name__ == "__main__":
    sys.exit(main())
