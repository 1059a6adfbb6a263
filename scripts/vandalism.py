#!/usr/bin/env python
"""Can vandals wreck the online models? 300 deliberately mislabelled drawings through the real API.

    python scripts/vandalism.py [--drawings 300] [--json artifacts/vandalism.json]

Half the drawings get a random wrong label, half a systematic one (every 1
labelled 7, every 7 labelled 1, 3 -> 8, 4 -> 9, ...), all pen-drawn pendigits
digits sent as the page sends them; the per-client rate limit (itself a
defence) is lifted, as if many vandals came at once. Afterwards each online
model's holdout accuracy, measured here on the weights the service persisted,
must be within 1 point of its original, and the guard's rollbacks must show in
/metrics.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from inkling_testkit.live_service import LiveService
from inkling_testkit.load_client import UNLIMITED
from lab.data import load_pendigits
from lab.render import render_pendigit
from models.registry import WEIGHTS_DIR, load_original, model_class
from service.core.storage import LocalObjects, WeightStore

SYSTEMATIC = {0: 6, 1: 7, 2: 5, 3: 8, 4: 9, 5: 2, 6: 0, 7: 1, 8: 3, 9: 4}


def vandal_labels(true_labels: list[int], seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    half = len(true_labels) // 2
    random_wrong = [int((t + rng.integers(1, 10)) % 10) for t in true_labels[:half]]
    return random_wrong + [SYSTEMATIC[t] for t in true_labels[half:]]


def wait_for_writers(client: httpx.Client, quiet_s: float = 3.0, limit_s: float = 60.0) -> None:
    """Guard checks run queued behind the steps: wait until the versions stop moving."""
    deadline, last, since = time.monotonic() + limit_s, None, time.monotonic()
    while time.monotonic() < deadline:
        versions = client.get("/healthz").json()["versions"]
        if versions != last:
            last, since = versions, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.5)


def run(n: int, data_dir: Path, env: dict | None = None) -> dict:
    digits = load_pendigits("train")[:n]  # writers the service's holdout never saw either
    labels = vandal_labels([d.label for d in digits])
    with np.load(WEIGHTS_DIR / "mnist-sample.npz") as sample:
        hx, hy = sample["holdout_x"].astype(np.float32) / 255, sample["holdout_y"]
    original = {f"{k}_online": float(np.mean(load_original(k, "digits").predict_proba(hx).argmax(1) == hy)) for k in ("fnn", "cnn")}
    env = {**UNLIMITED, **(env or {})}
    with LiveService(data_dir, env) as service, httpx.Client(base_url=service.base_url, timeout=120) as client:
        for digit, label in zip(digits, labels):
            image = "data:image/png;base64," + base64.b64encode(render_pendigit(digit)).decode()
            r = client.post("/api/drawings", json={"image": image, "label": label})
            assert r.status_code == 201, r.text
        wait_for_writers(client)
        stats = client.get("/api/stats").json()
        metrics = client.get("/metrics").text
        versions = client.get("/healthz").json()["versions"]
    result = {"drawings": n, "models": {}}
    for name, version in versions.items():
        weights = WeightStore(LocalObjects(data_dir)).load(name, version)
        model = model_class(name.split("_")[0]).from_bytes(weights)
        final = float(np.mean(model.predict_proba(hx).argmax(1) == hy))
        counted = re.search(rf'inkling_rollbacks_total\{{model="{name}"\}} ([\d.]+)', metrics)
        history = stats["online"][name]["history"]
        result["models"][name] = {
            "original_holdout": original[name], "final_holdout": final, "version": version,
            "rollbacks": len(stats["online"][name]["rollbacks"]),
            "rollbacks_in_metrics": float(counted.group(1)) if counted else 0.0,
            "lowest_checked_holdout": min((h["holdout_accuracy"] for h in history), default=None),
            "within_one_point": final >= original[name] - 0.01,
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drawings", type=int, default=300)
    parser.add_argument("--json", type=Path, default=Path("artifacts/vandalism.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.drawings, Path(tmp))
    print(f"{args.drawings} mislabelled drawings (half random, half systematic):\n")
    print("| model | original holdout | after vandals | lowest at a check | rollbacks (/metrics) | within 1 point |")
    print("|---|---|---|---|---|---|")
    for name, r in result["models"].items():
        print(f"| {name} | {r['original_holdout']:.2%} | {r['final_holdout']:.2%} | {r['lowest_checked_holdout']:.2%} "
              f"| {r['rollbacks']} ({r['rollbacks_in_metrics']:.0f}) | {'yes' if r['within_one_point'] else 'NO'} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(r["within_one_point"] for r in result["models"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
