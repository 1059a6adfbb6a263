#!/usr/bin/env python
"""Does curation find the crowd's wrong labels? A crowd replayed into a running service, with writer ids.

    python scripts/curate_crowd.py [--scenario all|flips5|flips20|vandal] [--seed 0] [--json docs/curate_crowd.json]

The crowd: the 14 pendigits test writers (people no model trained on), 50 drawings each in their own
order, sent as the page sends them, each writer with their own id. Scenarios:

* ``flips5``: 5% of the honest writers' labels flipped to another digit at random;
* ``flips20``: 20% of them;
* ``vandal``: 5% flipped, plus one vandal (50 drawings of a pendigits *training* writer) whose every label
  is wrong.

For each, the service's review queue (``GET /api/admin/review``, most suspicious first) is held against the
truly flipped drawings: precision among its first k (k = the number flipped) and recall within its first
2k; side by side, in the same run, ``cleanlab.filter.find_label_issues`` over the same stored probabilities
(the four models' before learning, averaged: out-of-sample for each drawing, as confident learning wants),
its issues ranked by self-confidence. Then quarantine: the share of the vandal's drawings held, and of
honest, correctly labelled drawings. ``flips20`` and ``vandal`` also run with quarantine off
(``INKLING_QUARANTINE_ABOVE=1``) to compare the online CNN afterwards: its accuracy on the guard's holdout
and on every writer's held-out drawings (those not sent). Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import tempfile
from pathlib import Path

import cleanlab.filter
import httpx
import numpy as np

from inkling_testkit.live_service import LiveService
from inkling_testkit.load_client import UNLIMITED
from lab.data import load_pendigits
from lab.render import render_pendigit
from models import load_original
from models.alphabets import load_alphabet
from models.base import accuracy
from models.preprocess import preprocess_drawing
from service.core.storage import LocalDrawingStore, LocalObjects, WeightStore

PER_WRITER = 50
TOKEN = "curate-crowd-admin-token-0123"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
SCENARIOS = {"flips5": (0.05, False), "flips20": (0.20, False), "vandal": (0.05, True)}


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def crowd(flip_rate: float, vandal: bool, seed: int) -> tuple[list[dict], dict[str, list]]:
    """The drawings to send, interleaved as a crowd would send them, and each writer's held-out drawings."""
    rng = random.Random(seed)
    by_writer: dict[int, list] = {}
    for d in load_pendigits("test"):
        by_writer.setdefault(d.writer, []).append(d)
    sends, held = [], {}
    for writer, digits in sorted(by_writer.items()):
        rng.shuffle(digits)
        writer_id = f"crowd-writer-{seed:02d}-{writer:02d}-" + "x" * 8
        for d in digits[:PER_WRITER]:
            flipped = rng.random() < flip_rate
            label = rng.choice([c for c in range(10) if c != d.label]) if flipped else d.label
            sends.append({"writer": writer_id, "png": render_pendigit(d), "truth": d.label, "label": label,
                          "flipped": flipped, "vandal": False})
        held[writer_id] = digits[PER_WRITER:]
    if vandal:
        train = [d for d in load_pendigits("train") if d.writer == sorted({d.writer for d in load_pendigits("train")})[0]]
        for d in train[:PER_WRITER]:
            sends.append({"writer": "crowd-vandal-" + "v" * 16, "png": render_pendigit(d), "truth": d.label,
                          "label": (d.label + rng.randint(1, 9)) % 10, "flipped": True, "vandal": True})
    rng.shuffle(sends)  # one crowd, everyone at once
    return sends, held


def ranked_queue(client: httpx.Client) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/api/admin/review", params={"limit": 200, **({"cursor": cursor} if cursor else {})},
                          headers=ADMIN).json()
        items += page["items"]
        cursor = page["next"]
        if not cursor:
            return items


def precision_recall(ranked_ids: list[str], flipped: set[str]) -> dict:
    k = len(flipped)
    return {"flipped": k, "precision_at_k": round(len(set(ranked_ids[:k]) & flipped) / k, 3) if k else None,
            "recall_within_2k": round(len(set(ranked_ids[:2 * k]) & flipped) / k, 3) if k else None}


def cleanlab_ranking(store: Path, ids: list[str]) -> list[str]:
    drawings = LocalDrawingStore(store)
    records = [drawings.get(i) for i in ids]
    pred_probs = np.stack([np.mean([r.probs[m] for m in sorted(r.probs)], axis=0) for r in records])
    pred_probs /= pred_probs.sum(axis=1, keepdims=True)
    labels = np.array([r.label for r in records])
    issues = cleanlab.filter.find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence")
    return [ids[i] for i in issues]


def online_cnn(store: Path, alphabet, held: dict[str, list]) -> dict:
    """The online CNN as the service left it: on the guard's holdout and on the writers' held-out drawings."""
    weights = WeightStore(LocalObjects(store))
    head = weights.current("cnn_online")
    model = load_original("cnn", alphabet, serving=True)
    if head is not None:
        model = type(model).from_bytes(weights.load("cnn_online", head.version))
    X, y = alphabet.load_sample().holdout
    kept = [d for digits in held.values() for d in digits]
    Xh = np.stack([preprocess_drawing(render_pendigit(d), alphabet.box) for d in kept])
    yh = np.array([d.label for d in kept])
    return {"holdout_accuracy": round(accuracy(model, X, y), 4), "crowd_held_out_accuracy": round(accuracy(model, Xh, yh), 4),
            "crowd_held_out_errors": int(round((1 - accuracy(model, Xh, yh)) * len(yh))), "version": head.version if head else 0}


def run(name: str, seed: int, quarantine: bool) -> dict:
    flip_rate, vandal = SCENARIOS[name]
    sends, held = crowd(flip_rate, vandal, seed)
    env = {**UNLIMITED, "INKLING_ADMIN_TOKEN": TOKEN, "INKLING_LISTINGS_BURST": "100000",
           "INKLING_LISTINGS_PER_MINUTE": "1000000", **({} if quarantine else {"INKLING_QUARANTINE_ABOVE": "1"})}
    alphabet = load_alphabet("digits")
    with tempfile.TemporaryDirectory() as tmp, LiveService(Path(tmp), env) as service, \
            httpx.Client(base_url=service.base_url, timeout=60) as client:
        for send in sends:
            r = client.post("/api/drawings", json={"image": data_url(send["png"]), "label": send["label"],
                                                   "writer": send["writer"], "wait": False})
            r.raise_for_status()
            send["id"] = r.json()["id"]
        client.post("/api/drawings", json={"image": data_url(sends[0]["png"]), "label": sends[0]["truth"],
                                           "wait": True})  # the learner has caught up when this is learned
        queue = ranked_queue(client)
        status = {item["id"]: item["status"] for item in queue}
        flipped = {s["id"] for s in sends if s["flipped"]}
        ours = [item["id"] for item in queue if item["id"] in {s["id"] for s in sends}]
        theirs = cleanlab_ranking(Path(tmp), [s["id"] for s in sends])
        honest_right = [s["id"] for s in sends if not s["flipped"]]
        vandal_ids = [s["id"] for s in sends if s["vandal"]]
        result = {"scenario": name, "quarantine": quarantine, "drawings": len(sends),
                  "queue": precision_recall(ours, flipped),
                  "cleanlab_find_label_issues": {**precision_recall(theirs, flipped), "flagged": len(theirs)},
                  "quarantined": {
                      "flipped": round(np.mean([status[i] == "quarantined" for i in flipped]), 3),
                      "honest_correct": round(np.mean([status[i] == "quarantined" for i in honest_right]), 4),
                      **({"vandal": round(np.mean([status[i] == "quarantined" for i in vandal_ids]), 3)}
                         if vandal_ids else {})},
                  "online_cnn": online_cnn(Path(tmp), alphabet, held)}
    return result


def print_results(results: list[dict]) -> None:
    print("\n| scenario | quarantine | flipped | queue P@k | queue R@2k | cleanlab P@k | cleanlab R@2k | flipped held "
          "| vandal held | honest held | CNN holdout | CNN on the crowd's held-out |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        q, c, held = r["queue"], r["cleanlab_find_label_issues"], r["quarantined"]
        print(f"| {r['scenario']} | {'on' if r['quarantine'] else 'off'} | {q['flipped']} | {q['precision_at_k']} "
              f"| {q['recall_within_2k']} | {c['precision_at_k']} | {c['recall_within_2k']} | {held['flipped']:.1%} "
              f"| {held.get('vandal', float('nan')):.1%} | {held['honest_correct']:.2%} "
              f"| {r['online_cnn']['holdout_accuracy']:.2%} | {r['online_cnn']['crowd_held_out_accuracy']:.2%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["all", *SCENARIOS], default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("docs/curate_crowd.json"))
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results = []
    for name in names:
        for quarantine in (True, False) if name != "flips5" else (True,):
            print(f"{name}, quarantine {'on' if quarantine else 'off'}...", flush=True)
            results.append(run(name, args.seed, quarantine))
            print_results(results[-1:])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"seed": args.seed, "results": results}, indent=2) + "\n")
    print_results(results)


if __name__ == "__main__":
    main()
