"""scripts/export_dataset writes what was collected as MNIST-format idx files."""

import base64
import os
import subprocess
import sys

import numpy as np
from fastapi.testclient import TestClient

from lab.data import _parse_idx, load_pendigits
from lab.render import render_pendigit
from service.app import create_app
from service.core.settings import Settings
from service.core.storage import LocalDrawingStore


def test_export_round_trips(tmp_path):
    store_dir, out = tmp_path / "store", tmp_path / "out"
    digits = load_pendigits("test")[:5]
    with TestClient(create_app(Settings(data_dir=store_dir))) as client:
        for i, d in enumerate(digits):
            image = "data:image/png;base64," + base64.b64encode(render_pendigit(d)).decode()
            r = client.post("/api/drawings", json={"image": image, "label": d.label, "train": i % 2 == 0})
            assert r.status_code == 201
    env = {**os.environ, "INKLING_DATA_DIR": str(store_dir)}
    done = subprocess.run([sys.executable, "scripts/export_dataset", str(out), "--png", "--include-private"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    images = _parse_idx((out / "drawings-images-idx3-ubyte").read_bytes(), 3)
    labels = _parse_idx((out / "drawings-labels-idx1-ubyte").read_bytes(), 1)
    records = list(LocalDrawingStore(store_dir).iter_records())
    assert images.shape == (5, 28, 28) and labels.tolist() == [r.label for r in records]
    np.testing.assert_array_equal(images[0], np.frombuffer(records[0].input28, np.uint8).reshape(28, 28))
    assert sorted(p.name for p in (out / "png").rglob("*.png")) == sorted(f"{r.id}.png" for r in records)

    # By default only the drawings given with consent: the two sent with train: false stay private.
    only = subprocess.run([sys.executable, "scripts/export_dataset", str(tmp_path / "trainable"), "--png"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert only.returncode == 0 and "exported 3 drawings" in only.stdout
    consented = {f"{r.id}.png" for r in records if r.train}
    assert len(consented) == 3
    assert {p.name for p in (tmp_path / "trainable" / "png").rglob("*.png")} == consented
