#!/usr/bin/env python
"""Does retraining on the crowd make better originals, and does the gate stop a crowd that would make them worse?

    python scripts/retrain_crowd.py [--scenario digits hiragana vandal flips20 ...] [--seed 0]
                                    [--json docs/retrain_crowd.json] [--job-arg=--epochs=5]
    python scripts/retrain_crowd.py --crowd-weights 2,8,32 --job-arg=--models=cnn   # choose the crowd weight

A crowd of writers no original ever trained on teaches a real running service (over HTTP, each writer with
their own id, as the page sends drawings; quarantine as configured), then ``python -m service.retrain`` runs
as a subprocess on the service's store, and the champion (the shipped original) and the challenger the job
trained are scored side by side:

* ``digits``: the 14 pendigits test writers, shuffled (the seed): 10 teach the service with the first half of
  their drawings (each writer's own order shuffled too), 4 teach nothing. Scored on the second half of the 10
  writers' drawings (*the crowd's held-out half*: neither trained nor judged on), on every drawing of the other
  4 (*unseen writers*) and on MNIST test.
* ``hiragana``: the same with 14 synthetic writers of unseen styles (``lab/kana.py``), each drawing every
  character 4 times; scored on the held-out synthetic writers instead of MNIST test.
* ``vandal``: the digits crowd with every label wrong (another digit at random), quarantine on and off.
* ``flips20``: the digits crowd with 20% of its labels wrong, quarantine off.

The gate judges on what the job holds out of the taught half (the newest drawings, after the cut-off); the
held-out half never reaches it. Errors are counted against the true labels. ``--crowd-weights`` teaches a
scenario's crowd once and runs the job on a copy of the store for each weight (the reviewed weight twice it):
choose on the gate's own figures (the judged drawings and the holdout), not on the held-out half. Writes JSON after
each scenario and prints a table.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np

from inkling_testkit.live_service import LiveService
from inkling_testkit.load_client import UNLIMITED
from lab.data import load_pendigits
from lab.recipe import base_data
from lab.render import render_pendigit
from models import model_class
from models.alphabets import load_alphabet
from models.preprocess import preprocess_drawing
from service.core.curation import ReviewStore, state_of
from service.core.lineup import KINDS, original
from service.core.promotions import PromotionStore
from service.core.storage import LocalDrawingStore, LocalObjects, WeightStore

TEACHERS, UNSEEN = 10, 4
KANA_REPEATS = 4  # each unseen-style synthetic writer draws each of the 71 this many times
SCENARIOS = {  # alphabet, wrong labels (share; 1.0: every one), quarantine on
    "digits": ("digits", 0.0, True),
    "hiragana": ("hiragana", 0.0, True),
    "vandal-quarantine": ("digits", 1.0, True),
    "vandal-no-quarantine": ("digits", 1.0, False),
    "flips20": ("digits", 0.2, False),
}
ALIASES = {"vandal": ["vandal-quarantine", "vandal-no-quarantine"]}


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the crowds ---------------------------------------------------------------------------------------

def digits_writers() -> dict[int, list[tuple[bytes, int]]]:
    by_writer = defaultdict(list)
    for d in load_pendigits("test"):
        by_writer[d.writer].append((render_pendigit(d), d.label))
    return dict(by_writer)


def kana_writers() -> dict[int, list[tuple[bytes, int]]]:
    from lab.kana import drawn_strokes, render_kana, synthetic_writers

    styles = dict(synthetic_writers("unseen", TEACHERS + UNSEEN))
    strokes, labels, ids = drawn_strokes("unseen", TEACHERS + UNSEEN, per_writer=KANA_REPEATS)
    by_writer = defaultdict(list)
    for s, label, w in zip(strokes, labels, ids):
        by_writer[int(w)].append((render_kana(s, styles[int(w)].canvas()), int(label)))
    return dict(by_writer)


def crowd(alphabet_name: str, wrong: float, seed: int) -> dict:
    """Who teaches what, in the order a crowd sends it, and what is kept back to score on."""
    rng = random.Random(seed)
    by_writer = digits_writers() if alphabet_name == "digits" else kana_writers()
    n_classes = load_alphabet(alphabet_name).n_classes
    writers = sorted(by_writer)
    rng.shuffle(writers)
    teachers, unseen = writers[:TEACHERS], writers[TEACHERS:TEACHERS + UNSEEN]
    sends, held = [], {}
    for w in teachers:
        drawings = list(by_writer[w])
        rng.shuffle(drawings)
        half = len(drawings) // 2
        for png, truth in drawings[:half]:
            flipped = wrong >= 1.0 or rng.random() < wrong
            label = rng.choice([c for c in range(n_classes) if c != truth]) if flipped else truth
            sends.append({"writer": f"retrain-crowd-{seed:02d}-{w:06d}-xxxxxxxx", "png": png, "truth": truth,
                          "label": label, "flipped": flipped})
        held[w] = drawings[half:]
    rng.shuffle(sends)  # one crowd, everyone at once
    return {"teachers": teachers, "unseen": unseen, "sends": sends, "held": held,
            "unseen_drawings": {w: by_writer[w] for w in unseen}}


# --- the service and the job ----------------------------------------------------------------------------

def teach(data_dir: Path, env: dict, sends: list[dict]) -> float:
    """Send the crowd's drawings to a live service on ``data_dir``; returns the seconds it took."""
    started = time.monotonic()
    with LiveService(data_dir, env, start_timeout=300) as service, \
            httpx.Client(base_url=service.base_url, timeout=120) as client:
        for i, send in enumerate(sends):
            r = client.post("/api/drawings", json={"image": data_url(send["png"]), "label": send["label"],
                                                   "writer": send["writer"], "wait": False})
            r.raise_for_status()
            send["id"] = r.json()["id"]
            if (i + 1) % 250 == 0:
                say(f"  taught {i + 1}/{len(sends)}")
    return time.monotonic() - started


def census(data_dir: Path) -> dict:
    """What the store holds, as the job will see it: statuses of the crowd's drawings."""
    drawings, reviews = LocalDrawingStore(data_dir), ReviewStore(LocalObjects(data_dir))
    reviews.refresh()
    return dict(Counter(state_of(r, reviews.of(r.id)).status for r in drawings.iter_records()))


def run_job(data_dir: Path, env: dict, job_args: list[str]) -> dict:
    """``python -m service.retrain`` on ``data_dir``, as a deployment would run it."""
    started, load = time.monotonic(), os.getloadavg()[0]
    log = data_dir / f"retrain-{int(time.time())}.log"
    with open(log, "wb") as err:
        done = subprocess.run([sys.executable, "-m", "service.retrain", *job_args],
                              env={**os.environ, "INKLING_DATA_DIR": str(data_dir), **env},
                              stdout=subprocess.PIPE, stderr=err, timeout=6 * 3600)
    return {"exit": done.returncode, "reason": done.stdout.decode().strip(), "args": job_args,
            "wall_seconds": round(time.monotonic() - started, 1), "load_average": [round(load, 1),
                                                                                    round(os.getloadavg()[0], 1)],
            "log": log.read_text(errors="replace").splitlines()[-12:]}


# --- scoring ----------------------------------------------------------------------------------------------

def images(drawings: list[tuple[bytes, int]], box: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.stack([preprocess_drawing(png, box) for png, _ in drawings]),
            np.array([label for _, label in drawings], np.int64))


def errors(model, X: np.ndarray, y: np.ndarray) -> int:
    return int(sum((model.predict_proba(X[i:i + 1000]).argmax(1) != y[i:i + 1000]).sum()
                   for i in range(0, len(X), 1000)))


def score(data_dir: Path, alphabet, people: dict, holdout_name: str, holdout) -> dict:
    """Champion (the shipped original) and challenger (the job's, promoted or not) on each set."""
    promotions = PromotionStore(LocalObjects(data_dir))
    records = promotions.list()
    if not records:
        return {"record": None}
    record = records[0]
    weights = WeightStore(LocalObjects(data_dir))
    out = {"record": record.id, "status": record.status, "reason": record.reason, "cutoff": record.cutoff,
           "card": {k: record.card.get(k) for k in ("data", "crowd_share", "training_seconds", "epochs", "machine",
                                                    "resumed")}, "models": {}}
    if record.status != "judged":
        return out
    held = images([d for w in people["teachers"] for d in people["held"][w]], alphabet.box)
    unseen = {w: images(people["unseen_drawings"][w], alphabet.box) for w in people["unseen"]}
    for kind, verdict in record.models.items():
        champion = model_class(kind).from_bytes(alphabet.weights[kind].read_bytes())
        challenger = model_class(kind).from_bytes(promotions.challenger(record, kind))
        head = weights.current(original(kind))
        sets = {"crowd_held_out": held, holdout_name: holdout,
                "unseen_writers": (np.concatenate([x for x, _ in unseen.values()]),
                                   np.concatenate([y for _, y in unseen.values()]))}
        figures = {}
        for name, (X, y) in sets.items():
            ch, cl = errors(champion, X, y), errors(challenger, X, y)
            figures[name] = {"n": len(y), "champion_errors": ch, "challenger_errors": cl,
                             "ratio": round(cl / ch, 3) if ch else None}
        figures["unseen_writers"]["per_writer"] = {
            str(w): [errors(champion, X, y), errors(challenger, X, y), len(y)] for w, (X, y) in unseen.items()}
        out["models"][kind] = {"gate_passed": verdict["promote"], "gate_reason": verdict["reason"],
                               "gate": verdict["figures"]["crowd"], "gate_holdout": verdict["figures"]["holdout"],
                               "promoted_as": head.version if head and head.meta.get("promotion") == record.id
                               else None, "sets": figures}
    return out


# --- the scenarios ----------------------------------------------------------------------------------------

def scenario(name: str, seed: int, job_args: list[str], weights: list[int] | None, env_extra: dict,
             work_dir: Path | None) -> list[dict]:
    alphabet_name, wrong, quarantine = SCENARIOS[name]
    alphabet = load_alphabet(alphabet_name)
    people = crowd(alphabet_name, wrong, seed)
    base = base_data(alphabet)
    holdout_name = {"MNIST test": "mnist_test"}.get(base.holdout_name, "heldout_synthetic_writers")
    env = {**UNLIMITED, "INKLING_ALPHABET": alphabet_name, **({} if quarantine else {"INKLING_QUARANTINE_ABOVE": "1"}),
           **env_extra}
    results = []
    with tempfile.TemporaryDirectory(prefix=f"retrain-crowd-{name}-") as tmp:
        work = Path(work_dir or tmp) / f"{name}-seed{seed}"
        taught = work / "taught"
        if (taught / "taught.json").is_file():  # taught by an earlier invocation with --work: the same crowd
            teach_seconds = json.loads((taught / "taught.json").read_text())["seconds"]
            say(f"{name}: the crowd taught {taught} already")
        else:
            shutil.rmtree(taught, ignore_errors=True)
            say(f"{name}: {len(people['sends'])} drawings from {TEACHERS} writers to a live service "
                f"(quarantine {'on' if quarantine else 'off'})")
            teach_seconds = teach(taught, env, people["sends"])
            (taught / "taught.json").write_text(json.dumps({"seconds": teach_seconds}))
        statuses = census(taught)
        say(f"{name}: stored {statuses} in {teach_seconds:.0f} s")
        for weight in weights or [None]:
            job_env = {"INKLING_ALPHABET": alphabet_name, **env_extra}
            data_dir = work / ("retrained" if weight is None else f"weight-{weight}")
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.copytree(taught, data_dir)  # the taught store stays as taught, for the next run
            if weight is not None:
                job_env.update(INKLING_RETRAIN_CROWD_WEIGHT=str(weight), INKLING_RETRAIN_REVIEWED_WEIGHT=str(2 * weight))
            say(f"{name}: python -m service.retrain {' '.join(job_args)} ({job_env})")
            job = run_job(data_dir, job_env, job_args)
            say(f"{name}: exit {job['exit']} after {job['wall_seconds'] / 60:.1f} min: {job['reason']}")
            result = {"scenario": name, "alphabet": alphabet_name, "wrong_labels": wrong, "quarantine": quarantine,
                      "crowd_weight": weight, "seed": seed, "teachers": [int(w) for w in people["teachers"]],
                      "unseen": [int(w) for w in people["unseen"]], "sent": len(people["sends"]),
                      "flipped": sum(s["flipped"] for s in people["sends"]), "stored": statuses,
                      "teach_seconds": round(teach_seconds, 1), "job": job,
                      **score(data_dir, alphabet, people, holdout_name, base.holdout)}
            results.append(result)
            print_results([result])
    return results


def print_results(results: list[dict]) -> None:
    print("\n| scenario | weight | model | gate | champion / challenger errors: crowd's held-out half | unseen "
          "writers | holdout | retrain min |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        if not r.get("models"):
            print(f"| {r['scenario']} | {r['crowd_weight'] or ''} | - | {r.get('reason')} | | | | "
                  f"{r['job']['wall_seconds'] / 60:.1f} |")
            continue
        for kind, m in sorted(r["models"].items(), key=lambda kv: kv[0] != "cnn"):
            sets = m["sets"]
            hold = next(k for k in sets if k not in ("crowd_held_out", "unseen_writers"))
            cell = lambda s: (f"{s['champion_errors']} / {s['challenger_errors']} of {s['n']}"
                              + (f" ({s['ratio']:.2f}x)" if s["ratio"] is not None else ""))
            print(f"| {r['scenario']} | {r['crowd_weight'] or ''} | {kind.upper()} | {m['gate_reason']} "
                  f"| {cell(sets['crowd_held_out'])} | {cell(sets['unseen_writers'])} | {cell(sets[hold])} "
                  f"| {r['job']['wall_seconds'] / 60:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", nargs="+", default=["digits", "hiragana", "vandal", "flips20"],
                        choices=[*SCENARIOS, *ALIASES])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crowd-weights", type=lambda t: [int(v) for v in t.split(",")], default=None,
                        help="teach each scenario's crowd once and run the job for each of these crowd weights")
    parser.add_argument("--job-arg", action="append", default=[], metavar="ARG",
                        help="passed to python -m service.retrain, e.g. --job-arg=--models=cnn")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra INKLING_* settings for the service and the job")
    parser.add_argument("--json", type=Path, default=Path("docs/retrain_crowd.json"))
    parser.add_argument("--work", type=Path, default=None,
                        help="keep each crowd's taught store here and reuse it next time (default: a temporary folder)")
    args = parser.parse_args()
    names = [n for s in args.scenario for n in ALIASES.get(s, [s])]
    env_extra = dict(e.split("=", 1) for e in args.env)
    # A measurement is not bounded by the deployment's default (2 hours); a shared machine can be slow.
    job_args = args.job_arg if any(a.startswith("--max-minutes") for a in args.job_arg) else \
        [*args.job_arg, "--max-minutes=600"]
    out = {"seed": args.seed, "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
           "job_args": job_args, "env": env_extra, "results": []}
    if args.json.is_file():  # keep earlier scenarios' results: each run adds or replaces its own
        earlier = json.loads(args.json.read_text())
        out["results"] = [r for r in earlier.get("results", [])
                          if (r["scenario"], r.get("crowd_weight")) not in
                          {(n, w) for n in names for w in (args.crowd_weights or [None])}]
    for name in names:
        for result in scenario(name, args.seed, job_args, args.crowd_weights, env_extra, args.work):
            out["results"].append(result)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=2) + "\n")
    print_results(out["results"])


if __name__ == "__main__":
    main()
