#!/usr/bin/env python
"""Which few-shot classifier should a writer's memory be? Measured, offline, on the pendigits test writers.

    python scripts/choose_memory.py

The 14 pendigits test writers' drawings as the page would send them; each
writer's first k (1, 3, 5) drawings of each digit are their memory, the rest
(200 a writer) are held out, as in ``scripts/learn_from_users.py``. Every
memory lives in the original CNN's embedding space (its last hidden layer).
Errors are pooled over writers, beside the original CNN's on the same drawings.

1. The memory alone: nearest drawing (Teachable Machine's kNN) or prototype
   (the mean of a digit's drawings, a prototypical network's classifier), by
   cosine distance; each drawing alone or with its 24 augmented variants.
2. The memory as one more expert beside the four original models (the
   product of :func:`models.ensemble.combine`): how loudly it should speak.
   With every digit taught, by sharpness, and each writer scored at the
   sharpness the other 13 choose (leave-one-writer-out). With only some
   digits taught (2, 5, 8, 9 of 10: a writer who corrected a few answers), by
   sharpness and by ``ABSENT``, and the most one writer loses.
3. The shipped constants (:mod:`models.prototypes`), with and without trust;
   the partial memories again; a careless writer; how far a writer's drawings
   are from their own prototype.
"""

from __future__ import annotations

import argparse
import itertools
from collections import defaultdict

import numpy as np

from lab.drawn import load_drawn_pendigits
from models import augment, load_original
from models.alphabets import load_alphabet
from models.ensemble import combine_probs
from models.prototypes import ABSENT, COMPLETE_SHARPNESS, SHARPNESS, PrototypeMemory, normalise

KS = (1, 3, 5)


def split(writers, labels, writer, k):
    teach, held, seen = [], [], defaultdict(int)
    for i in np.flatnonzero(writers == writer):
        if seen[labels[i]] < max(KS):
            if seen[labels[i]] < k:
                teach.append(i)
            seen[labels[i]] += 1
        else:
            held.append(i)
    return np.array(teach, int), np.array(held, int)


def class_distances(queries, memory, memory_labels, *, prototype, absent=np.inf):
    """Cosine distance from each query to each digit's nearest member (or prototype); ``absent`` where none."""
    out = np.full((len(queries), 10), absent, np.float64)
    for c in np.unique(memory_labels):
        members = memory[memory_labels == c]
        if prototype:
            members = members.mean(0, keepdims=True)
        out[:, c] = (1 - normalise(queries) @ normalise(members).T).min(1)
    return out


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    X, y, w = load_drawn_pendigits("test")
    alphabet = load_alphabet("digits")
    cnn, fnn = load_original("cnn", alphabet, serving=True), load_original("fnn", alphabet, serving=True)
    p_cnn, raw = cnn.predict_and_embed(X)  # embeddings of unit length
    p_fnn = fnn.predict_proba(X)
    models = {"fnn_original": p_fnn, "fnn_online": p_fnn, "cnn_original": p_cnn, "cnn_online": p_cnn}
    global_log = np.log(combine_probs(models, alphabet.ensemble_weights))
    print("augmenting every drawing (24 variants each)...", flush=True)
    E_aug = np.stack([cnn.predict_and_embed(augment(x, alphabet.box))[1] for x in X])
    writers = np.unique(w)
    cnn_errors = {wr: int((p_cnn[split(w, y, wr, 5)[1]].argmax(1) != y[split(w, y, wr, 5)[1]]).sum()) for wr in writers}
    print(f"original CNN: {sum(cnn_errors.values())} errors on {sum(len(split(w, y, wr, 5)[1]) for wr in writers)} "
          "held-out drawings\n")

    def memory_of(teach, with_variants):
        if with_variants:
            return (np.concatenate([np.concatenate([raw[i:i + 1], E_aug[i]]) for i in teach]),
                    np.repeat(y[teach], 1 + augment_count))
        return raw[teach], y[teach]

    augment_count = E_aug.shape[1]
    print("1. the memory alone: errors at k = 1, 3, 5")
    for prototype, with_variants in itertools.product((False, True), (False, True)):
        errors = []
        for k in KS:
            total = 0
            for wr in writers:
                teach, held = split(w, y, wr, k)
                M, ml = memory_of(teach, with_variants)
                d = class_distances(raw[held], M, ml, prototype=prototype)
                total += int((d.argmin(1) != y[held]).sum())
            errors.append(total)
        print(f"   {'prototype' if prototype else 'nearest drawing':16s} "
              f"{'+ 24 variants' if with_variants else 'drawing only':13s} {errors}")

    def personal_errors(ws, k, sharpness=None, absent=ABSENT, *, prototype=True, with_variants=False, shipped=False,
                        digits=None, labels=y):
        """Errors of the four models with each writer's memory of their first k drawings of each digit (of
        ``digits(writer)`` only, if given), pooled and per writer. ``shipped``: the memory as served
        (:meth:`PrototypeMemory.evidence`: trust earned on ``labels``, and its sharpness by whether every digit
        is taught); otherwise at full trust with this ``sharpness`` and ``absent``."""
        total, per_writer = 0, {}
        for wr in ws:
            teach, held = split(w, y, wr, k)
            if digits is not None:
                teach = teach[np.isin(y[teach], digits(wr))]
            if shipped:
                memory = memory_with_trust(teach, labels)
                evidence = np.stack([memory.evidence(e, alphabet.memory_sharpness) for e in raw[held]])
            else:
                M, ml = memory_of(teach, with_variants)
                evidence = -sharpness * class_distances(raw[held], M, ml, prototype=prototype, absent=absent)
            wrong = int(((global_log[held] + evidence).argmax(1) != y[held]).sum())
            total, per_writer[wr] = total + wrong, wrong
        return total, per_writer

    def personal_errors_untrusted(wr, k, labels):
        teach, held = split(w, y, wr, k)
        memory = PrototypeMemory.from_entries(raw[teach], labels[teach], alphabet.n_classes)
        evidence = np.stack([-alphabet.memory_sharpness.of(memory) * memory.distances(e) for e in raw[held]])
        return int(((global_log[held] + evidence).argmax(1) != y[held]).sum())

    def memory_with_trust(teach, labels):
        guesses = [PrototypeMemory.from_entries(raw[teach[:j]], labels[teach[:j]], alphabet.n_classes).guess(raw[i])
                   if j and labels[i] in labels[teach[:j]] else None for j, i in enumerate(teach)]
        return PrototypeMemory.from_entries(raw[teach], labels[teach], alphabet.n_classes, guesses)

    some = {n: {wr: np.random.default_rng(int(wr)).choice(10, n, replace=False) for wr in writers} for n in (2, 5, 8, 9)}
    held_out = {wr: split(w, y, wr, 5)[1] for wr in writers}
    global_errors = {wr: int((global_log[held_out[wr]].argmax(1) != y[held_out[wr]]).sum()) for wr in writers}

    def most_lost(rows) -> int:
        return max(max(per[wr] - global_errors[wr] for wr in writers) for _, per in rows)

    grid = (20, 30, 40, 50, 60, 70, 80, 100)
    print("\n2. the memory beside the four models, every digit taught: errors at k = 1, 3, 5 by sharpness")
    per_writer = {}
    for sharpness in grid:
        rows = [personal_errors(writers, k, sharpness) for k in KS]
        per_writer[sharpness] = {wr: sum(per[wr] for _, per in rows) for wr in writers}
        print(f"   {sharpness:5}: {[r[0] for r in rows]}")
    chosen = {wr: min(grid, key=lambda b: (sum(per_writer[b][o] for o in writers if o != wr), b)) for wr in writers}
    print(f"   leave-one-writer-out (each writer scored at the sharpness the other {len(writers) - 1} choose): "
          f"{sorted(set(chosen.values()))} chosen, {sum(per_writer[chosen[wr]][wr] for wr in writers)} errors over k")
    for prototype in (False, True):
        errors = [personal_errors(writers, k, COMPLETE_SHARPNESS, prototype=prototype)[0] for k in KS]
        print(f"   all writers, {COMPLETE_SHARPNESS}, {'prototype' if prototype else 'nearest drawing'}: {errors}")
    print(f"   only some digits taught (the four models alone: {sum(global_errors.values())} errors): errors at "
          "k = 1, 3, 5 and the most one writer loses, by sharpness")
    for sharpness in grid:
        rows = {n: [personal_errors(writers, k, sharpness, digits=pick.get) for k in KS]
                for n, pick in some.items()}
        print(f"   {sharpness:5}: " + "; ".join(f"{n} digits {[r[0] for r in rs]} +{most_lost(rs)}"
                                           for n, rs in rows.items()))
    print(f"   ABSENT, with only 2 digits taught, sharpness {SHARPNESS}:")
    for absent in (0.15, 0.2, 0.3, 0.4, 0.6):
        rows = [personal_errors(writers, k, SHARPNESS, absent, digits=some[2].get) for k in KS]
        print(f"     {absent}: {[r[0] for r in rows]} errors, at most {most_lost(rows)} more for one writer")

    before = sum(cnn_errors.values())
    print(f"\n3. shipped: prototype, cosine, sharpness {SHARPNESS} (partial memory) and {COMPLETE_SHARPNESS} (complete), "
          f"ABSENT {ABSENT} (original CNN: {before} errors)")
    for trust in (False, True):
        rows = [personal_errors(writers, k, COMPLETE_SHARPNESS, shipped=trust) for k in KS]
        worse = [sum(per[wr] > cnn_errors[wr] for wr in writers) for _, per in rows]
        print(f"   {'with trust' if trust else 'full trust':10s}: {[r[0] for r in rows]} errors "
              f"({', '.join(f'{r[0] / before:.2f}x' for r in rows)}); writers worse than before: {worse}")
    for n, pick in some.items():
        rows = [personal_errors(writers, k, shipped=True, digits=pick.get) for k in KS]
        print(f"   only {n} digits taught: {[r[0] for r in rows]} errors against the four models' "
              f"{sum(global_errors.values())}; most added for one writer: {most_lost(rows)}")
    noisy = np.where(np.random.default_rng(1).random(len(y)) < 0.5, np.random.default_rng(2).integers(0, 10, len(y)), y)
    for trust in (False, True):
        errors = [personal_errors(writers, k, shipped=True, labels=noisy)[0] if trust else
                  sum(personal_errors_untrusted(wr, k, noisy) for wr in writers) for k in KS]
        print(f"   a careless writer (half their labels random), {'with' if trust else 'without'} trust: {errors} "
              f"errors on their true labels (the four models alone: {sum(global_errors.values())})")
    own = []
    for wr in writers:
        teach, held = split(w, y, wr, 5)
        memory = PrototypeMemory.from_entries(raw[teach], y[teach], alphabet.n_classes)
        own += [memory.distances(raw[i])[y[i]] for i in held]
    print(f"   held-out drawing to its writer's own prototype (k = 5): median {np.median(own):.3f}, "
          f"95th percentile {np.percentile(own, 95):.3f}")


if __name__ == "__main__":
    main()
