#!/usr/bin/env python
"""A writer's personal answer before and after a promotion, on a store ``scripts/retrain_crowd.py`` retrained.

    python scripts/retrain_personal.py /work/retrain-measure/work/digits-seed0/retrained [--scenario digits]
                                       [--seed 0] [--json docs/retrain_personal.json] [--force]

What holds by construction, and is checked here on every drawing: a writer's memory keeps embeddings of the
*shipped* CNN (``Recognizer.features``), which no promotion changes, so the memory's own vote for a drawing
is the same before and after. What a promotion can change is the answer the page shows a writer (the four
models' product with their memory's evidence), through the original models' probabilities; that is what is
counted here, on the crowd's held-out half, per writer.

"Before" serves the originals at version 0 (the shipped weights), "after" at the version the run promoted;
the online twins are served at the newest version the crowd's teaching left in the store, both times (the
learner's rebase onto the new original does not run here: it replays the crowd's drawings after the cut-off,
which the held-out half is not among, so this is the promotion's own effect). Each writer's memory is the one
the service built from their taught half (``writers/`` in the store). ``--force``: the gate refused the
run's challengers, so promote them in a copy of the store as an admin's force would
(:meth:`PromotionStore.force <service.core.promotions.PromotionStore.force>`), and measure that; the store
given is never changed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrain_crowd import SCENARIOS, crowd  # noqa: E402

from models import load_original  # noqa: E402
from models.alphabets import load_alphabet  # noqa: E402
from models.preprocess import preprocess_drawing  # noqa: E402
from service.core.lineup import KINDS, ONLINE_MODELS, original  # noqa: E402
from service.core.promotions import PromotionStore  # noqa: E402
from service.core.storage import LocalObjects, WeightStore  # noqa: E402
from service.core.writers import WriterMemories  # noqa: E402
from service.web.recognizer import Recognizer  # noqa: E402


def recognizer(store: WeightStore, alphabet, promoted: bool) -> Recognizer:
    shipped = {kind: load_original(kind, alphabet, serving=True) for kind in KINDS}
    recognizer = Recognizer.following(shipped, store, alphabet)
    for name in ONLINE_MODELS + ((original("fnn"), original("cnn")) if promoted else ()):
        recognizer.models[name].refresh()
    return recognizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path, help="a store the job retrained (retrain_crowd.py --work .../retrained)")
    parser.add_argument("--scenario", default="digits", choices=[s for s, v in SCENARIOS.items() if v[1] == 0.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("docs/retrain_personal.json"))
    parser.add_argument("--force", action="store_true", help="force the refused challengers in a copy of the store")
    args = parser.parse_args()
    forced = None
    if args.force:
        copy = Path(tempfile.mkdtemp(prefix="retrain-personal-")) / "store"
        shutil.copytree(args.store, copy)
        objects = LocalObjects(copy)
        record = PromotionStore(objects).list(1)[0]
        forced, _ = PromotionStore(objects).force(WeightStore(objects), record.id, by="scripts/retrain_personal.py",
                                                  why="measuring a writer's personal answer after a promotion")
        args.store = copy
    alphabet_name = SCENARIOS[args.scenario][0]
    alphabet = load_alphabet(alphabet_name)
    people = crowd(alphabet_name, 0.0, args.seed)
    objects = LocalObjects(args.store)
    store = WeightStore(objects)
    record = next(iter(PromotionStore(objects).list(1)), None)  # None: nothing retrained (before = after)
    heads = {kind: (head.version if (head := store.current(original(kind))) else 0) for kind in KINDS}
    before, after = recognizer(store, alphabet, False), recognizer(store, alphabet, True)
    memories = WriterMemories(objects, n_classes=alphabet.n_classes)
    writer_of = {int(s["writer"].split("-")[3]): s["writer"] for s in people["sends"]}
    rows, vote_changes = {}, 0
    for w in people["teachers"]:
        memory = memories.read(writer_of[w])
        counts = {"n": 0, "before_errors": 0, "after_errors": 0, "before_unsure": 0, "after_unsure": 0,
                  "memory_votes_changed": 0, "memory_size": len(memory)}
        for png, truth in people["held"][w]:
            x28 = preprocess_drawing(png, alphabet.box)
            a, b = before.recognize(x28, memory), after.recognize(x28, memory)
            counts["n"] += 1
            for who, r in (("before", a), ("after", b)):
                counts[f"{who}_errors"] += r.answer.label != truth
                counts[f"{who}_unsure"] += r.answer.label is None
            changed = a.answer.memory_vote != b.answer.memory_vote or not np.array_equal(a.embedding, b.embedding)
            counts["memory_votes_changed"] += changed
        vote_changes += counts["memory_votes_changed"]
        rows[str(w)] = counts
    total = {k: sum(r[k] for r in rows.values()) for k in ("n", "before_errors", "after_errors", "before_unsure",
                                                           "after_unsure", "memory_votes_changed")}
    out = {"scenario": args.scenario, "seed": args.seed, "store": str(args.store), "promotion": record and record.id,
           "reason": record and record.reason, "forced": forced, "originals_after": heads,
           "online": {name: before.models[name].version for name in ONLINE_MODELS},
           "total": total, "worse_writers": sorted(w for w, r in rows.items() if r["after_errors"] > r["before_errors"]),
           "writers": rows}
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("originals_after", "online", "total", "worse_writers")}))
    assert vote_changes == 0, "a memory's vote changed with the originals: it must read the shipped CNN alone"


if __name__ == "__main__":
    main()
