#!/usr/bin/env python
"""How well numbers are read (POST /api/read's reader), on numbers written by people no model trained on.

    python scripts/read_numbers.py [--split test] [--numbers 1000] [--variants] [--json docs/numbers.json]

Numbers are made by :mod:`lab.numbers` from the pendigits writers of ``--split`` (the 14 *test* writers by
default; the segmentation's thresholds were tuned on the 30 *training* writers, ``--split train``): 2-8 digits,
each number one writer's, spaced from that writer's own digit widths with 10% of neighbouring pairs touching or
overlapping, drawn on the pad with the page's pen (:func:`lab.render.render_pad`). Each is read as the service
reads it (:func:`service.web.reader.read_number`, the shipped original models serving as both the originals and
the online models at version 0), with its strokes and from its PNG alone; and each of its digits is read alone,
drawn on the single canvas as :mod:`scripts.evaluate` draws pendigits. Reported, for numbers with and without
touching digits: string accuracy (the whole text right), digit accuracy (each digit right, by position when the
reading has the right length, else by the longest common subsequence), how often the characters were found
exactly (strokes only), how often the right text is the reading or one of its alternatives, and the same
digits read alone: their accuracy, and how often all of a number's digits are right alone (what its string accuracy
would be if finding the characters cost nothing). ``--variants`` also reads with parts of the
method switched off (docs/numbers.md: why each part is there).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from lab.data import load_pendigits  # noqa: E402
from lab.numbers import make_numbers  # noqa: E402
from lab.render import render_pad, render_pendigit  # noqa: E402
from models import load_original  # noqa: E402
from models.alphabets import load_alphabet  # noqa: E402
from models.canvas import PAD  # noqa: E402
from models.preprocess import preprocess_drawing  # noqa: E402
from service.core.lineup import KINDS, MODEL_ORDER, kind_of  # noqa: E402
from service.web import reader  # noqa: E402
from service.web.recognizer import Recognizer  # noqa: E402


class Served:
    """A model at version 0: the shipped original's weights (what a fresh deployment serves)."""

    def __init__(self, model):
        self.served, self.serving = (model, None), model


def recognizer() -> tuple[Recognizer, object]:
    alphabet = load_alphabet("digits")
    originals = {kind: load_original(kind, alphabet, serving=True) for kind in KINDS}
    models = {name: Served(originals[kind_of(name)]) for name in MODEL_ORDER}
    return Recognizer(models, originals["cnn"], alphabet), alphabet


def lcs(a: list, b: list) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def read_all(numbers, pngs, rec, alphabet, with_strokes: bool) -> list[dict]:
    rows = []
    for number, png in zip(numbers, pngs):
        reading = reader.read_number(rec.recognize_batch, png, number.strokes if with_strokes else None, PAD,
                                     alphabet.box)
        got = [c.recognition.answer.label if c.recognition else c.glyph for c in reading.characters]
        truth = list(number.labels)
        digits = (sum(g == t for g, t in zip(got, truth)) if len(got) == len(truth) else lcs(got, truth))
        found = (sorted(tuple(c.piece.parts) for c in reading.characters) == sorted(number.digit_strokes)
                 if with_strokes else None)
        text = "".join(map(str, truth))
        rows.append({"right": reading.text == text, "digits": digits, "n": len(truth),
                     "touching": any(number.touching), "found": found, "text": reading.text,
                     "offered": reading.text == text or any(a["text"] == text for a in reading.alternatives())})
    return rows


def summarise(rows: list[dict], alone: list[bool] | None = None, numbers=None) -> dict:
    out = {}
    for name, keep in (("apart", lambda r: not r["touching"]), ("touching", lambda r: r["touching"]),
                       ("all", lambda r: True)):
        idx = [k for k, r in enumerate(rows) if keep(r)]
        sel = [rows[k] for k in idx]
        entry = {"numbers": len(sel), "string_accuracy": float(np.mean([r["right"] for r in sel])),
                 "digit_accuracy": sum(r["digits"] for r in sel) / sum(r["n"] for r in sel),
                 "found_exactly": None if sel and sel[0]["found"] is None else float(np.mean([r["found"] for r in sel]))}
        entry["right_or_offered"] = float(np.mean([r["offered"] for r in sel]))
        if alone is not None:
            same = [a for k in idx for a in alone[k]]
            entry["alone_digit_accuracy"] = float(np.mean(same))
            entry["alone_string_accuracy"] = float(np.mean([all(alone[k]) for k in idx]))
        out[name] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=("test", "train"))
    parser.add_argument("--numbers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--variants", action="store_true", help="also read with parts of the method switched off")
    parser.add_argument("--json", type=Path, default=Path("artifacts/numbers.json"))
    args = parser.parse_args()

    rec, alphabet = recognizer()
    numbers = make_numbers(load_pendigits(args.split), args.numbers, np.random.default_rng(args.seed))
    pngs = [render_pad(n.strokes) for n in numbers]
    digits = [d for n in numbers for d in n.digits]
    alone_read = []
    for start in range(0, len(digits), 256):
        batch = np.stack([preprocess_drawing(render_pendigit(d), alphabet.box) for d in digits[start:start + 256]])
        alone_read += [r.answer.label for r in rec.recognize_batch(batch)]
    alone, k = [], 0
    for n in numbers:
        alone.append([alone_read[k + j] == d.label for j, d in enumerate(n.digits)])
        k += len(n.digits)

    variants = {"strokes + PNG": dict(with_strokes=True), "PNG alone": dict(with_strokes=False)}
    if args.variants:
        variants.update({
            "strokes + PNG, cut from the pad (not drawn anew)": dict(with_strokes=True, RENDER=False),
            "strokes + PNG, drawn anew with Pillow's pie-slice joints": dict(with_strokes=True, JOINTS="pie"),
            "strokes + PNG, grouping only (no merge or split by the models)": dict(with_strokes=True, MERGES=False,
                                                                                   SPLITS=False),
            "PNG alone, components only (no merge or split by the models)": dict(with_strokes=False, MERGES=False,
                                                                                SPLITS=False),
        })
    results = {"split": args.split, "numbers": args.numbers, "seed": args.seed, "pad": PAD.as_dict(),
               "digits": len(digits), "alone_digit_accuracy": float(np.mean(np.concatenate(alone))), "variants": {}}
    defaults = {name: getattr(reader, name) for name in ("RENDER", "JOINTS", "MERGES", "SPLITS")}
    for name, variant in variants.items():
        for key, value in variant.items():
            if key != "with_strokes":
                setattr(reader, key, value)
        started = time.process_time()
        rows = read_all(numbers, pngs, rec, alphabet, variant["with_strokes"])
        seconds = time.process_time() - started
        for key, value in defaults.items():
            setattr(reader, key, value)
        results["variants"][name] = {**summarise(rows, alone), "cpu_ms_per_number": seconds / len(numbers) * 1000,
                                     "wrong": [r["text"] for r in rows if not r["right"]][:20]}
        print(f"read: {name}", file=sys.stderr)

    print(f"{args.numbers} numbers of 2-8 digits ({len(digits)} digits) from the pendigits {args.split} writers; "
          f"the same digits read alone: {results['alone_digit_accuracy']:.2%}\n")
    print("| reading | numbers | string accuracy | ... read alone | ... or among the alternatives | digit accuracy | "
          "... read alone | characters found exactly |\n|---|---|---|---|---|---|---|---|")
    for name, r in results["variants"].items():
        for part in ("apart", "touching", "all"):
            e = r[part]
            label = {"apart": "no touching digits", "touching": "with touching digits", "all": "all"}[part]
            print(f"| {name}: {label} | {e['numbers']} | {e['string_accuracy']:.1%} | {e['alone_string_accuracy']:.1%} | "
                  f"{e['right_or_offered']:.1%} | {e['digit_accuracy']:.2%} | {e['alone_digit_accuracy']:.2%} | "
                  f"{'-' if e['found_exactly'] is None else format(e['found_exactly'], '.1%')} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
