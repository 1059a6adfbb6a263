#!/usr/bin/env python
"""Does Inkling learn a person's handwriting? Simulated with the 14 pendigits test writers.

    python scripts/learn_from_users.py [--mode both|isolated|crowd] [--alphabet digits|hiragana] [--writers 14]
        [--first-writer 0] [--sharpness-grid 0,10,20,40] [--out artifacts/learn_from_users]

The writers are people none of the models saw. Their drawings are rendered
exactly as the page would send them; each writer's first 5 drawings of each
digit are the teaching set, the rest (200 a writer) are held out. Each writer
has their own writer id, as the page gives every browser.

* **isolated**: each writer has a fresh service to themselves (an empty local store).
* **crowd**: all the writers teach **one** service at once: each round, every
  writer's next drawing of each digit is sent in one random interleaved order,
  4 at a time, as a crowd would.

Before teaching and after k = 1, 3, 5 drawings of each digit, every held-out
drawing is asked of the service twice through ``POST /api/predict``: with the
writer's id (the four models' cards and the *personal* answer, which uses the
writer's own memory) and without one (the *global* answer everyone gets). At
k = 5 (crowd) each is asked a third time with the id of a writer who taught
nothing, which must give the global answer exactly. The online models' MNIST
test accuracy is measured on the weights the service persisted, and (crowd)
the personalised path's MNIST accuracy with an empty memory in-process. With ``--sharpness-grid``
the personal answer is also re-scored in-process for each sharpness of a complete memory
(every writer teaches every class each round), on the same learned weights and memories:
how an alphabet's ``"memory"`` sharpness is chosen, on writers (``--first-writer``) other than
those it is then scored on, or by leave-one-writer-out cross-validation (printed: each writer
scored at the sharpness the others choose).
Prints tables, writes JSON and a plot.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np

from inkling_testkit.live_service import LiveService
from inkling_testkit.load_client import UNLIMITED, metric_value
from lab.data import load_mnist
from lab.data import load_pendigits
from lab.render import render_pendigit
from models.alphabets import load_alphabet
from models.ensemble import combine
from models.preprocess import preprocess_drawing
from models.prototypes import PrototypeMemory
from models.registry import model_class
from service.core.storage import LocalObjects, WeightStore

KS = (1, 3, 5)
MODELS = ("fnn_original", "fnn_online", "cnn_original", "cnn_online")
COLUMNS = (*MODELS, "global", "personal")
CLIENTS = 4


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def writer_id(writer: int, seed: int) -> str:
    return f"pendigits-{writer:02d}-{seed}"


def score(client: httpx.Client, held: list[tuple[str, int]], writer: str, untaught: str | None = None) -> dict:
    """Right answers of each model, the global answer and the personal one on ``held`` (abstaining is wrong).

    With ``untaught`` (a writer id that taught nothing) also counts answers that differ from the global one.
    """
    def one(item):
        image, label = item
        mine = client.post("/api/predict", json={"image": image, "writer": writer}).raise_for_status().json()
        anyone = client.post("/api/predict", json={"image": image}).raise_for_status().json()
        hits = {name: mine["models"][name][0]["label"] == label for name in MODELS}
        hits["global"], hits["personal"] = anyone["answer"]["label"] == label, mine["answer"]["label"] == label
        if untaught:
            nobody = client.post("/api/predict", json={"image": image, "writer": untaught}).raise_for_status().json()
            hits["untaught_differs"] = nobody["answer"] != anyone["answer"] or nobody["models"] != anyone["models"]
        return hits

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, held))
    return {name: int(sum(r[name] for r in results)) for name in results[0]}


def online_mnist(store_dir: Path, versions: dict, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MNIST test accuracy of the online models' persisted weights."""
    store, out = WeightStore(LocalObjects(store_dir)), {}
    for name, version in versions.items():
        model = model_class(name.split("_")[0], serving=True).from_bytes(store.load(name, version))
        out[name] = float(np.mean(model.predict_proba(X).argmax(1) == y))
    return out


def split_writer(drawings: list[tuple[str, int]]) -> tuple[dict[int, list[str]], list[tuple[str, int]]]:
    """A writer's drawings (in the order they drew them): the first 5 of each label to teach, the rest held out."""
    by_label = defaultdict(list)
    for image, label in drawings:
        by_label[label].append(image)
    teach = {label: images[: max(KS)] for label, images in by_label.items()}
    held = [(image, label) for label, images in by_label.items() for image in images[max(KS):]]
    return teach, held


def wait_until_learned(client: httpx.Client, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while metric_value(client.get("/metrics").text, "inkling_queue_depth") > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the learner did not catch up")
        time.sleep(0.2)


def teach_round(client: httpx.Client, lessons: list[tuple[str, str, int]]) -> None:
    def one(lesson):
        writer, image, label = lesson
        r = client.post("/api/drawings", json={"image": image, "label": label, "writer": writer})
        assert r.status_code == 201 and r.json()["personalised_by"] > 0, r.text

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, lessons))
    wait_until_learned(client)


def run_isolated(writers: dict[int, list], env: dict, X, y, seed: int, alphabet: str,
                 sharpness_grid: list[float] = ()) -> tuple[list[dict], dict]:
    results, by_sharpness = [], {str(k): {} for k in KS}
    for writer, drawings in writers.items():
        teach, held = split_writer(drawings)
        me = writer_id(writer, seed)
        result = {"writer": writer, "held_out": len(held), "errors": {}, "mnist": {}}
        with tempfile.TemporaryDirectory() as tmp, LiveService(Path(tmp), env) as service, \
                httpx.Client(base_url=service.base_url, timeout=60) as client:
            result["errors"]["0"] = errors_of(score(client, held, me), len(held))
            taught = 0
            for k in KS:
                for i in range(taught, k):  # one of each digit at a time, as a person in teach mode would
                    teach_round(client, [(me, teach[label][i], label) for label in sorted(teach)])
                taught = k
                result["errors"][str(k)] = errors_of(score(client, held, me), len(held))
                if sharpness_grid:
                    by_writer = personal_by_sharpness(Path(tmp), client.get("/healthz").json()["versions"],
                                                      {me: preprocessed(held, alphabet)}, alphabet, sharpness_grid)
                    for sharpness, errors in by_writer.items():
                        by_sharpness[str(k)].setdefault(sharpness, {}).update(errors)
            result["mnist"] = online_mnist(Path(tmp), client.get("/healthz").json()["versions"], X, y)
        results.append(result)
        e = result["errors"]
        print(f"isolated writer {writer:2d}: cnn_original {e['0']['cnn_original']} errors -> cnn_online "
              f"{e['5']['cnn_online']}, personal {e['5']['personal']} at k=5", flush=True)
    return results, (sharpness_summary(by_sharpness) if sharpness_grid else {})


def run_crowd(writers: dict[int, list], env: dict, X, y, seed: int, alphabet: str,
              sharpness_grid: list[float] = ()) -> tuple[list[dict], dict]:
    rng = random.Random(seed)
    split = {writer: split_writer(drawings) for writer, drawings in writers.items()}
    results = {w: {"writer": w, "held_out": len(held), "errors": {}, "mnist": {}} for w, (_, held) in split.items()}
    extra, by_sharpness = {}, {}
    if sharpness_grid:
        held_in = {writer_id(w, seed): preprocessed(held, alphabet) for w, (_, held) in split.items()}
    with tempfile.TemporaryDirectory() as tmp, LiveService(Path(tmp), env) as service, \
            httpx.Client(base_url=service.base_url, timeout=60) as client:
        def score_all(k: int, untaught: bool = False) -> None:
            for w, (_, held) in split.items():
                counts = score(client, held, writer_id(w, seed), f"never-taught-{w:02d}" if untaught else None)
                if untaught:
                    extra[w] = counts.pop("untaught_differs")
                results[w]["errors"][str(k)] = errors_of(counts, len(held))

        score_all(0)
        taught = 0
        for k in KS:
            for i in range(taught, k):
                lessons = [(writer_id(w, seed), teach[label][i], label) for w, (teach, _) in split.items()
                           for label in sorted(teach)]
                rng.shuffle(lessons)
                teach_round(client, lessons)
            taught = k
            score_all(k, untaught=k == max(KS))
            print(f"crowd k={k}: " + ", ".join(f"{c} {sum(r['errors'][str(k)][c] for r in results.values())}"
                                                for c in COLUMNS) + " errors", flush=True)
            if sharpness_grid:
                by_sharpness[str(k)] = personal_by_sharpness(Path(tmp), client.get("/healthz").json()["versions"],
                                                             held_in, alphabet, sharpness_grid)
                print(f"crowd k={k}, personal errors by complete memory sharpness: "
                      f"{ {s: sum(per.values()) for s, per in by_sharpness[str(k)].items()} }", flush=True)
        versions = client.get("/healthz").json()["versions"]
        mnist = online_mnist(Path(tmp), versions, X, y)
        for r in results.values():
            r["mnist"] = mnist
        extra = {"untaught_answers_differing": int(sum(extra.values())),
                 "mnist_personal_empty_memory": personal_mnist(Path(tmp), versions, X, y, alphabet),
                 **(sharpness_summary(by_sharpness) if sharpness_grid else {})}
    return list(results.values()), extra


def preprocessed(held: list, alphabet: str) -> list[tuple[np.ndarray, int]]:
    """A writer's held-out drawings as the models read them, with their labels."""
    box = load_alphabet(alphabet).box
    return [(preprocess_drawing(image, box), label) for image, label in held]


def sharpness_summary(by_sharpness: dict[str, dict[str, dict[str, int]]]) -> dict:
    """The personal answer's errors pooled by complete memory sharpness at each k, and leave-one-writer-out
    cross-validation: each writer scored at the sharpness with the fewest errors (summed over k; ties to
    the quieter) on the other writers."""
    ks, grid = list(by_sharpness), list(next(iter(by_sharpness.values())))
    writers = list(by_sharpness[ks[0]][grid[0]])

    def errors(sharpness: str, among) -> int:
        return sum(by_sharpness[k][sharpness][w] for k in ks for w in among)

    chosen = {w: min(grid, key=lambda s: (errors(s, [o for o in writers if o != w]), float(s))) for w in writers}
    cross_validated = {k: sum(by_sharpness[k][chosen[w]][w] for w in writers) for k in ks}
    print(f"leave-one-writer-out: chosen {chosen}; personal errors at k = {', '.join(ks)}: "
          f"{list(cross_validated.values())}", flush=True)
    return {"personal_by_memory_sharpness": {k: {s: sum(per.values()) for s, per in by_s.items()}
                                             for k, by_s in by_sharpness.items()},
            "leave_one_writer_out": {"chosen": chosen, "personal_errors": cross_validated}}


def personal_mnist(store_dir: Path, versions: dict, X: np.ndarray, y: np.ndarray, alphabet: str) -> dict:
    """Accuracy on MNIST (the digits; hiragana: held-out synthetic writers) of the answer, global and through
    the personal path with an empty memory (in-process)."""
    from models import load_original

    spec = load_alphabet(alphabet)
    store = WeightStore(LocalObjects(store_dir))
    originals = {kind: load_original(kind, spec, serving=True) for kind in ("fnn", "cnn")}
    probs = {f"{kind}_original": model.predict_proba(X) for kind, model in originals.items()}
    for name, version in versions.items():
        probs[name] = model_class(name.split("_")[0], serving=True).from_bytes(store.load(name, version)).predict_proba(X)
    _, embeddings = originals["cnn"].predict_and_embed(X)
    empty, right_global, right_personal, differ = PrototypeMemory.empty(spec.n_classes), 0, 0, 0
    weights, sharpness = spec.ensemble_weights, spec.memory_sharpness
    for i in range(len(y)):
        one = {name: p[i] for name, p in probs.items()}
        g, p = combine(one, weights), combine(one, weights, memory=empty, embedding=embeddings[i], sharpness=sharpness)
        right_global += g.label == y[i]
        right_personal += p.label == y[i]
        differ += g.label != p.label or g.p != p.p
    return {"global": float(right_global / len(y)), "personal": float(right_personal / len(y)),
            "answers_differing": int(differ)}


def personal_by_sharpness(store_dir: Path, versions: dict, held: dict[str, list[tuple[np.ndarray, int]]],
                          alphabet: str, grid: list[float]) -> dict[str, dict[str, int]]:
    """Errors of the personal answer on each writer's held-out drawings (``held``: writer id -> preprocessed
    drawings and labels) for each complete memory sharpness in ``grid`` (sharpness -> writer -> errors),
    re-scored in-process from the weights and the memories the service holds now: one learning run for
    every value, so the comparison is paired."""
    from models import load_original
    from service.core.writers import WriterMemories

    spec = load_alphabet(alphabet)
    store = WeightStore(LocalObjects(store_dir))
    originals = {kind: load_original(kind, spec, serving=True) for kind in ("fnn", "cnn")}
    models = {f"{kind}_original": model for kind, model in originals.items()}
    for name, version in versions.items():
        models[name] = originals[name.split("_")[0]] if version == 0 else \
            model_class(name.split("_")[0], serving=True).from_bytes(store.load(name, version))
    memories = WriterMemories(store.objects, n_classes=spec.n_classes)
    errors = {str(sharpness): {} for sharpness in grid}
    for writer, drawings in held.items():
        X, y = np.stack([x for x, _ in drawings]), [label for _, label in drawings]
        probs = {name: model.predict_proba(X) for name, model in models.items()}
        _, embeddings = originals["cnn"].predict_and_embed(X)
        memory = memories.read(writer)
        for value in grid:
            sharpness = replace(spec.memory_sharpness, complete=value)
            errors[str(value)][writer] = sum(
                combine({name: p[i] for name, p in probs.items()}, spec.ensemble_weights,
                        memory=memory, embedding=embeddings[i], sharpness=sharpness).label != y[i]
                for i in range(len(y)))
    return errors


def errors_of(hits: dict, n: int) -> dict[str, int]:
    return {name: n - count for name, count in hits.items()}


def summarise(results: list[dict]) -> dict:
    """Errors pooled over writers, their ratio to the original CNN's, the mean and worst per-writer ratios."""
    before = {r["writer"]: r["errors"]["0"]["cnn_original"] for r in results}
    pooled_before = sum(before.values())
    table = {}
    for k in ("0", *map(str, KS)):
        row = {}
        for name in COLUMNS:
            errors = {r["writer"]: r["errors"][k][name] for r in results}
            ratios = [errors[w] / before[w] for w in errors if before[w]]
            row[name] = {"errors": sum(errors.values()), "ratio": sum(errors.values()) / pooled_before,
                         "mean_writer_ratio": float(np.mean(ratios)), "worst_writer_ratio": float(max(ratios)),
                         "writers_worse": sum(errors[w] > before[w] for w in errors)}
        table[k] = row
    return {"held_out": sum(r["held_out"] for r in results), "original_cnn_errors": pooled_before,
            "by_k": table, "mnist_online_mean": {name: float(np.mean([r["mnist"][name] for r in results]))
                                                 for name in ("fnn_online", "cnn_online")}}


def print_table(title: str, summary: dict) -> None:
    print(f"\n{title}: errors on {summary['held_out']} held-out drawings (ratio to the original CNN's "
          f"{summary['original_cnn_errors']}; mean of per-writer ratios)")
    print("| k | " + " | ".join(COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
    for k, row in summary["by_k"].items():
        print(f"| {k} | " + " | ".join(f"{row[c]['errors']} ({row[c]['ratio']:.2f}x; {row[c]['mean_writer_ratio']:.2f}x)"
                                        for c in COLUMNS) + " |")
    personal = summary["by_k"]["5"]["personal"]
    print(f"personal at k=5: {personal['ratio']:.2f}x pooled, worst writer {personal['worst_writer_ratio']:.2f}x, "
          f"{personal['writers_worse']} writers with more errors than the original CNN")


def plot(summaries: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [0, *KS]
    fig, axes = plt.subplots(1, len(summaries), figsize=(5.2 * len(summaries), 3.6), sharey=True, squeeze=False)
    for ax, (mode, summary) in zip(axes[0], summaries.items()):
        for name, style in zip(("cnn_original", "cnn_online", "global", "personal"), ("--", "-", ":", "-")):
            ax.plot(ks, [100 * summary["by_k"][str(k)][name]["ratio"] for k in ks], style, marker="o", label=name,
                    linewidth=2.5 if name == "personal" else 1.5)
        ax.set(xlabel="drawings of each digit taught (k)", xticks=ks, title=f"{mode}: 14 unseen writers")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("errors, % of the original CNN's")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def pendigits_writers(n: int, first: int = 0) -> dict[int, list[tuple[str, int]]]:
    by_writer = defaultdict(list)
    for d in load_pendigits("test"):
        by_writer[d.writer].append((data_url(render_pendigit(d)), d.label))
    return {w: by_writer[w] for w in sorted(by_writer)[first:first + n]}


def kana_writers(n: int, first: int = 0, held_out: int = 3) -> dict[int, list[tuple[str, int]]]:
    """Synthetic writers with habits outside the training ranges (``lab/kana.py``, "unseen"), each drawing
    every character 5 times to teach and ``held_out`` more times to be scored on; the ``first`` are skipped."""
    from lab.kana import drawn_strokes, render_kana, synthetic_writers

    styles = dict(synthetic_writers("unseen", first + n))
    strokes, labels, ids = drawn_strokes("unseen", first + n, per_writer=max(KS) + held_out)
    chosen = sorted(styles)[first:]
    by_writer = defaultdict(list)
    for s, label, w in zip(strokes, labels, ids):
        if int(w) in chosen:
            by_writer[int(w)].append((data_url(render_kana(s, styles[int(w)].canvas())), int(label)))
    return dict(by_writer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("both", "isolated", "crowd"), default="both")
    parser.add_argument("--alphabet", default="digits",
                        help="digits: the 14 pendigits test writers; hiragana: synthetic writers of unseen styles")
    parser.add_argument("--writers", type=int, default=None, help="default: 14 (digits), 5 (hiragana)")
    parser.add_argument("--first-writer", type=int, default=0,
                        help="skip this many writers (hiragana: 5 gives the writers its memory sharpness was chosen on)")
    parser.add_argument("--sharpness-grid", type=lambda text: [float(v) for v in text.split(",")], default=[],
                        help="also re-score the personal answer for each of these complete memory sharpnesses, "
                             "e.g. 0,10,20,40")
    parser.add_argument("--seed", type=int, default=0, help="order of the crowd's drawings")
    parser.add_argument("--out", type=Path, default=Path("artifacts/learn_from_users"))
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra INKLING_* settings for the services (e.g. INKLING_CNN_ONLINE_LR=0.02)")
    args = parser.parse_args()
    env = {**UNLIMITED, "INKLING_ALPHABET": args.alphabet, **dict(e.split("=", 1) for e in args.env)}

    if args.alphabet == "digits":
        X, y = load_mnist("test")
        X = X.astype(np.float32) / 255
        writers = pendigits_writers(args.writers or 14, args.first_writer)
    else:  # the general knowledge the online models must keep: the held-out synthetic writers
        from lab.kana import load_drawn_hiragana

        X, y, _ = load_drawn_hiragana("test", 40)
        writers = kana_writers(args.writers or 5, args.first_writer)

    out: dict = {"env": env, "seed": args.seed}
    summaries = {}
    if args.mode in ("both", "crowd"):
        results, extra = run_crowd(writers, env, X, y, args.seed, args.alphabet, args.sharpness_grid)
        summaries["crowd"] = summarise(results)
        out["crowd"] = {"summary": summaries["crowd"], **extra, "writers": results}
    if args.mode in ("both", "isolated"):
        results, extra = run_isolated(writers, env, X, y, args.seed, args.alphabet, args.sharpness_grid)
        summaries["isolated"] = summarise(results)
        out["isolated"] = {"summary": summaries["isolated"], **extra, "writers": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(out, indent=2))
    plot(summaries, args.out / "learn_from_users.png")
    for mode, summary in summaries.items():
        print_table(mode, summary)
        general = "MNIST test" if args.alphabet == "digits" else "held-out synthetic writers"
        print(f"{general}: the online models afterwards (mean): "
              + ", ".join(f"{k} {v:.2%}" for k, v in summary["mnist_online_mean"].items()))
    if "crowd" in out:
        print(f"crowd, a writer who taught nothing: {out['crowd']['untaught_answers_differing']} answers differ "
              f"from the global ones; {general} with an empty memory: {out['crowd']['mnist_personal_empty_memory']}")


if __name__ == "__main__":
    main()
